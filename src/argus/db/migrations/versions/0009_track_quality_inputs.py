"""Track-quality inputs and output: track_sample.pos_sigma_m, threat_score.quality.

``track_sample.pos_sigma_m`` is the tracker's radial RMS position error (m) at that sample
(NULL when the source did not give one; the importer refuses a negative one); with the track's age it sets the quality factor of a
score (argus.tewa.quality). ``threat_score.quality`` is the factor a stored score was multiplied
by (NULL when the scenario did not use track quality), so every score stays explainable.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no batch table copy: on SQLite that would trip over
    # migration 0008's triggers, which name threat_score).
    op.add_column("track_sample", sa.Column("pos_sigma_m", sa.Float(), nullable=True))
    op.add_column("threat_score", sa.Column("quality", sa.Float(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite >= 3.35 drops a column in place
        op.execute("ALTER TABLE threat_score DROP COLUMN quality")
        op.execute("ALTER TABLE track_sample DROP COLUMN pos_sigma_m")
    else:
        op.drop_column("threat_score", "quality")
        op.drop_column("track_sample", "pos_sigma_m")
