"""Drop track_sample's (lat, lon) index: it slowed every bulk ingest.

Samples are written in (track, time) order, so the unique (track_id, t) index grows at its
right edge, but a (lat, lon) B-tree takes every row at a random place: 12-27 % of the load time
on 1 M sorted rows (benchmarks/README.md). Location queries go to track positions (indexed,
PostGIS on PostgreSQL), not to the raw sample history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_track_sample_lat_lon", table_name="track_sample")


def downgrade() -> None:
    op.create_index("ix_track_sample_lat_lon", "track_sample", ["lat", "lon"], unique=False)
