"""scenario.scores_rev: a counter the database bumps whenever a scenario's ranking can change.

The API caches each rendered ranking under (scenario, scores_rev, query) and checks the
counter on the scenario row it reads anyway, so a ranking is computed once per change instead of
once per request, and every API process (and the WebSocket push) sees a change made by any
writer — the in-process scheduler, a Celery worker, the CLI, or plain SQL — at once.

The counter moves, in the writing transaction, when:
- threat_score rows of the scenario are inserted, updated or deleted (including the deletes
  cascaded from a track, a defended asset or the scenario);
- a track of the scenario changes its ``track_id`` (its name in the ranking);
- a defended asset with scores in the scenario changes its ``name``.

PostgreSQL: statement-level triggers on threat_score read the transition table once per
statement (one UPDATE per scenario touched, not per row). SQLite has row-level triggers only:
one ``UPDATE scenario`` by primary key per score row written (about 5 us each: inserting a
10,000-score batch took 167 ms with it and 119 ms without, medians of 4 interleaved runs,
benchmarks/bench_triggers.py). Note for later SQLite migrations: these triggers refer to
``scenario``, ``track``, ``defended_asset`` and ``threat_score``; a batch-mode rebuild of one of
those tables must drop and recreate them around it (as 0002/0003 do for 0001's trigger).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP_TRACK_RENAME = "UPDATE scenario SET scores_rev = scores_rev + 1 WHERE id = NEW.scenario_id"
_BUMP_DA_RENAME = (
    "UPDATE scenario SET scores_rev = scores_rev + 1 "
    "WHERE id IN (SELECT DISTINCT scenario_id FROM threat_score WHERE da_id = NEW.id)"
)

PG_UPGRADE = [
    """
    CREATE FUNCTION argus_bump_scores_rev() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE scenario SET scores_rev = scores_rev + 1
      WHERE id IN (SELECT DISTINCT scenario_id FROM changed);
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER threat_score_rev_ins AFTER INSERT ON threat_score
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_bump_scores_rev()
    """,
    """
    CREATE TRIGGER threat_score_rev_upd AFTER UPDATE ON threat_score
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_bump_scores_rev()
    """,
    """
    CREATE TRIGGER threat_score_rev_del AFTER DELETE ON threat_score
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_bump_scores_rev()
    """,
    f"""
    CREATE FUNCTION argus_bump_scores_rev_track() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      {_BUMP_TRACK_RENAME};
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER track_rename_rev AFTER UPDATE OF track_id ON track
    FOR EACH ROW WHEN (OLD.track_id IS DISTINCT FROM NEW.track_id)
    EXECUTE FUNCTION argus_bump_scores_rev_track()
    """,
    f"""
    CREATE FUNCTION argus_bump_scores_rev_da() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      {_BUMP_DA_RENAME};
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER defended_asset_rename_rev AFTER UPDATE OF name ON defended_asset
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION argus_bump_scores_rev_da()
    """,
]

PG_DOWNGRADE = [
    "DROP TRIGGER defended_asset_rename_rev ON defended_asset",
    "DROP FUNCTION argus_bump_scores_rev_da()",
    "DROP TRIGGER track_rename_rev ON track",
    "DROP FUNCTION argus_bump_scores_rev_track()",
    "DROP TRIGGER threat_score_rev_del ON threat_score",
    "DROP TRIGGER threat_score_rev_upd ON threat_score",
    "DROP TRIGGER threat_score_rev_ins ON threat_score",
    "DROP FUNCTION argus_bump_scores_rev()",
]

SQLITE_UPGRADE = [
    """
    CREATE TRIGGER threat_score_rev_ins AFTER INSERT ON threat_score BEGIN
      UPDATE scenario SET scores_rev = scores_rev + 1 WHERE id = NEW.scenario_id;
    END
    """,
    """
    CREATE TRIGGER threat_score_rev_upd AFTER UPDATE ON threat_score BEGIN
      UPDATE scenario SET scores_rev = scores_rev + 1
      WHERE id IN (OLD.scenario_id, NEW.scenario_id);
    END
    """,
    """
    CREATE TRIGGER threat_score_rev_del AFTER DELETE ON threat_score BEGIN
      UPDATE scenario SET scores_rev = scores_rev + 1 WHERE id = OLD.scenario_id;
    END
    """,
    f"""
    CREATE TRIGGER track_rename_rev AFTER UPDATE OF track_id ON track
    WHEN OLD.track_id IS NOT NEW.track_id BEGIN
      {_BUMP_TRACK_RENAME};
    END
    """,
    f"""
    CREATE TRIGGER defended_asset_rename_rev AFTER UPDATE OF name ON defended_asset
    WHEN OLD.name IS NOT NEW.name BEGIN
      {_BUMP_DA_RENAME};
    END
    """,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER defended_asset_rename_rev",
    "DROP TRIGGER track_rename_rev",
    "DROP TRIGGER threat_score_rev_del",
    "DROP TRIGGER threat_score_rev_upd",
    "DROP TRIGGER threat_score_rev_ins",
]


def upgrade() -> None:
    op.add_column(
        "scenario",
        sa.Column("scores_rev", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_UPGRADE if pg else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWNGRADE if pg else SQLITE_DOWNGRADE:
        op.execute(statement)
    # Native on both (SQLite >= 3.35): no batch rebuild, which 0001's trigger on scenario forbids.
    op.execute("ALTER TABLE scenario DROP COLUMN scores_rev")
