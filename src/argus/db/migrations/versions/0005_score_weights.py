"""threat_score.w_*: the weights a score was computed with, so a breakdown explains it later.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("w_cpa", "w_tcpa", "w_tdb", "w_twrp")


def upgrade() -> None:
    with op.batch_alter_table("threat_score", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("threat_score", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
