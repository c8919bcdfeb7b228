"""threat_score_latest: the newest score row of each (scenario, track, DA), kept by triggers.

The live ranking (no ``at``) used to find each pair's newest score with a window over every
stored score of the scenario, so its cost grew with the history: 38 ms at one 10,000-score
batch, 676 ms at 60 batches (five minutes of a 5 s periodic job) on PostgreSQL. This table
holds one row per pair, maintained in the writing transaction by triggers on threat_score
(whoever writes: the service, a Celery worker, plain SQL):

- insert: the pair's entry moves to the new row when it is newer;
- delete (pruning, or cascaded from a track, DA or scenario): an entry pointing at a deleted
  row moves to the pair's newest remaining row, or goes when there is none.

PostgreSQL: statement-level triggers over the transition tables (one INSERT … ON CONFLICT per
statement). SQLite: row-level triggers. No foreign keys on this derived table (so cascaded
deletes never race with it); readers join track and defended_asset. The table is filled from
the existing scores on upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = """
    INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, score_id)
    SELECT scenario_id, track_id, da_id, computed_at, id FROM (
      SELECT scenario_id, track_id, da_id, computed_at, id, row_number() OVER (
        PARTITION BY scenario_id, track_id, da_id ORDER BY computed_at DESC, id DESC) AS rn
      FROM threat_score) AS t
    WHERE rn = 1
"""

PG_UPGRADE = [
    """
    CREATE FUNCTION argus_latest_scores_ins() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, score_id)
      SELECT DISTINCT ON (scenario_id, track_id, da_id)
             scenario_id, track_id, da_id, computed_at, id
      FROM changed
      ORDER BY scenario_id, track_id, da_id, computed_at DESC, id DESC
      ON CONFLICT (scenario_id, track_id, da_id) DO UPDATE
        SET computed_at = EXCLUDED.computed_at, score_id = EXCLUDED.score_id
        WHERE EXCLUDED.computed_at > threat_score_latest.computed_at;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER threat_score_latest_ins AFTER INSERT ON threat_score
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_latest_scores_ins()
    """,
    """
    CREATE FUNCTION argus_latest_scores_del() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM threat_score_latest l USING changed c WHERE l.score_id = c.id;
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, score_id)
      SELECT DISTINCT ON (t.scenario_id, t.track_id, t.da_id)
             t.scenario_id, t.track_id, t.da_id, t.computed_at, t.id
      FROM threat_score t
      JOIN (SELECT DISTINCT scenario_id, track_id, da_id FROM changed) p
        ON t.scenario_id = p.scenario_id AND t.track_id = p.track_id AND t.da_id = p.da_id
      ORDER BY t.scenario_id, t.track_id, t.da_id, t.computed_at DESC, t.id DESC
      ON CONFLICT (scenario_id, track_id, da_id) DO NOTHING;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER threat_score_latest_del AFTER DELETE ON threat_score
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_latest_scores_del()
    """,
]

PG_DOWNGRADE = [
    "DROP TRIGGER threat_score_latest_del ON threat_score",
    "DROP FUNCTION argus_latest_scores_del()",
    "DROP TRIGGER threat_score_latest_ins ON threat_score",
    "DROP FUNCTION argus_latest_scores_ins()",
]

SQLITE_UPGRADE = [
    """
    CREATE TRIGGER threat_score_latest_ins AFTER INSERT ON threat_score BEGIN
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, score_id)
      VALUES (NEW.scenario_id, NEW.track_id, NEW.da_id, NEW.computed_at, NEW.id)
      ON CONFLICT (scenario_id, track_id, da_id) DO UPDATE
        SET computed_at = excluded.computed_at, score_id = excluded.score_id
        WHERE excluded.computed_at > threat_score_latest.computed_at;
    END
    """,
    """
    CREATE TRIGGER threat_score_latest_del AFTER DELETE ON threat_score
    WHEN EXISTS (SELECT 1 FROM threat_score_latest WHERE score_id = OLD.id) BEGIN
      DELETE FROM threat_score_latest WHERE score_id = OLD.id;
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, score_id)
      SELECT scenario_id, track_id, da_id, computed_at, id FROM threat_score
      WHERE scenario_id = OLD.scenario_id AND track_id = OLD.track_id AND da_id = OLD.da_id
      ORDER BY computed_at DESC, id DESC LIMIT 1;
    END
    """,
]

SQLITE_DOWNGRADE = ["DROP TRIGGER threat_score_latest_del", "DROP TRIGGER threat_score_latest_ins"]


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "threat_score_latest",
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("da_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score_id", big_id, nullable=False),
        sa.PrimaryKeyConstraint(
            "scenario_id", "track_id", "da_id", name=op.f("pk_threat_score_latest")
        ),
    )
    op.create_index(op.f("ix_threat_score_latest_score_id"), "threat_score_latest", ["score_id"])
    op.execute(_BACKFILL)
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_UPGRADE if pg else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWNGRADE if pg else SQLITE_DOWNGRADE:
        op.execute(statement)
    op.drop_index(op.f("ix_threat_score_latest_score_id"), table_name="threat_score_latest")
    op.drop_table("threat_score_latest")
