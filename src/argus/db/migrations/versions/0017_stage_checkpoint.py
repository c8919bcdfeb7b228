"""stage_checkpoint: a bus stage's state after its last finished cycle (command-centre restarts)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_checkpoint",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=60), nullable=False),
        sa.Column("cycle", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "stage", name=op.f("pk_stage_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("stage_checkpoint")
