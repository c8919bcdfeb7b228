"""weapon.max_salvo: most rounds a battery fires at one target per engagement (default 2).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("weapon", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_salvo", sa.Integer(), server_default=sa.text("2"), nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_weapon_max_salvo_positive"), "max_salvo >= 1")


def downgrade() -> None:
    with op.batch_alter_table("weapon", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_weapon_max_salvo_positive"), type_="check")
        batch_op.drop_column("max_salvo")
