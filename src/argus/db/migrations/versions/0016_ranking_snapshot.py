"""ranking_snapshot: the live global ranking rendered by the writer, per scenario revision

On PostgreSQL a live score batch also stores the global ranking's JSON for the revision it
produced, in the same transaction (``argus.tewa.service.store_ranking_snapshot``), so readers
that miss their cache after a batch read it instead of re-ranking the board. SQLite has the
table too (same schema on both databases) but does not fill it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ranking_snapshot",
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("scores_rev", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_ranking_snapshot_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scenario_id", name=op.f("pk_ranking_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("ranking_snapshot")
