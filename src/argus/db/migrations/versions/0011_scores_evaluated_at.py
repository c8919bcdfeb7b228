"""Scores keep the time they describe apart from when they were computed; what-ifs apart from
the live board; idempotency keys scoped to their scenario and caller.

- ``threat_score.evaluated_at`` (wall-clock UTC): when the score was computed.
  ``computed_at`` keeps its meaning of the time the score *describes* (for a replay
  scenario, the point of its loop). Existing rows get ``evaluated_at = computed_at``.
- ``threat_score_latest`` (the live board's index, kept by triggers) now follows the most
  recently *evaluated* live row of each pair, not the newest described time: a replay
  scenario's "now" goes back to its start after every loop. It gains ``evaluated_at`` and is
  rebuilt from the stored scores. The triggers of 0010 are replaced: insert and update (a
  replay re-evaluating a point of its loop it already scored updates that row in place)
  move the entry to the row when it was evaluated later; delete falls back to the pair's most
  recently evaluated remaining row. PostgreSQL: statement-level over transition tables;
  SQLite: row-level.
- ``threat_score_what_if``: persisted what-ifs (``compute_at`` with ``persist``), the same
  columns as threat_score, no trigger: writing one never touches the live board or the
  scenario's ``scores_rev``.
- ``job.created_by`` and the unique (scenario_id, created_by, idempotency_key) in place of the
  global unique idempotency_key.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL_LATEST = """
    INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, evaluated_at,
                                     score_id)
    SELECT scenario_id, track_id, da_id, computed_at, evaluated_at, id FROM (
      SELECT scenario_id, track_id, da_id, computed_at, evaluated_at, id, row_number() OVER (
        PARTITION BY scenario_id, track_id, da_id ORDER BY evaluated_at DESC, id DESC) AS rn
      FROM threat_score) AS t
    WHERE rn = 1
"""

# One function for inserts and updates: an entry moves to a row evaluated later (or to the
# same row, re-evaluated in place).
PG_UPGRADE = [
    """
    CREATE FUNCTION argus_latest_scores_upsert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, evaluated_at,
                                       score_id)
      SELECT DISTINCT ON (scenario_id, track_id, da_id)
             scenario_id, track_id, da_id, computed_at, evaluated_at, id
      FROM changed
      ORDER BY scenario_id, track_id, da_id, evaluated_at DESC, id DESC
      ON CONFLICT (scenario_id, track_id, da_id) DO UPDATE
        SET computed_at = EXCLUDED.computed_at, evaluated_at = EXCLUDED.evaluated_at,
            score_id = EXCLUDED.score_id
        WHERE EXCLUDED.evaluated_at > threat_score_latest.evaluated_at
           OR (EXCLUDED.evaluated_at = threat_score_latest.evaluated_at
               AND EXCLUDED.score_id >= threat_score_latest.score_id)
           OR EXCLUDED.score_id = threat_score_latest.score_id;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER threat_score_latest_ins AFTER INSERT ON threat_score
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_latest_scores_upsert()
    """,
    """
    CREATE TRIGGER threat_score_latest_upd AFTER UPDATE ON threat_score
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION argus_latest_scores_upsert()
    """,
    """
    CREATE FUNCTION argus_latest_scores_del() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM threat_score_latest l USING changed c WHERE l.score_id = c.id;
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, evaluated_at,
                                       score_id)
      SELECT DISTINCT ON (t.scenario_id, t.track_id, t.da_id)
             t.scenario_id, t.track_id, t.da_id, t.computed_at, t.evaluated_at, t.id
      FROM threat_score t
      JOIN (SELECT DISTINCT scenario_id, track_id, da_id FROM changed) p
        ON t.scenario_id = p.scenario_id AND t.track_id = p.track_id AND t.da_id = p.da_id
      ORDER BY t.scenario_id, t.track_id, t.da_id, t.evaluated_at DESC, t.id DESC
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
    "DROP TRIGGER threat_score_latest_upd ON threat_score",
    "DROP TRIGGER threat_score_latest_ins ON threat_score",
    "DROP FUNCTION argus_latest_scores_upsert()",
]

_SQLITE_UPSERT = """
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, evaluated_at,
                                       score_id)
      VALUES (NEW.scenario_id, NEW.track_id, NEW.da_id, NEW.computed_at, NEW.evaluated_at, NEW.id)
      ON CONFLICT (scenario_id, track_id, da_id) DO UPDATE
        SET computed_at = excluded.computed_at, evaluated_at = excluded.evaluated_at,
            score_id = excluded.score_id
        WHERE excluded.evaluated_at > threat_score_latest.evaluated_at
           OR (excluded.evaluated_at = threat_score_latest.evaluated_at
               AND excluded.score_id >= threat_score_latest.score_id)
           OR excluded.score_id = threat_score_latest.score_id;
"""

SQLITE_UPGRADE = [
    f"CREATE TRIGGER threat_score_latest_ins AFTER INSERT ON threat_score BEGIN {_SQLITE_UPSERT} END",
    "CREATE TRIGGER threat_score_latest_upd AFTER UPDATE OF evaluated_at, computed_at "
    f"ON threat_score BEGIN {_SQLITE_UPSERT} END",
    """
    CREATE TRIGGER threat_score_latest_del AFTER DELETE ON threat_score
    WHEN EXISTS (SELECT 1 FROM threat_score_latest WHERE score_id = OLD.id) BEGIN
      DELETE FROM threat_score_latest WHERE score_id = OLD.id;
      INSERT INTO threat_score_latest (scenario_id, track_id, da_id, computed_at, evaluated_at,
                                       score_id)
      SELECT scenario_id, track_id, da_id, computed_at, evaluated_at, id FROM threat_score
      WHERE scenario_id = OLD.scenario_id AND track_id = OLD.track_id AND da_id = OLD.da_id
      ORDER BY evaluated_at DESC, id DESC LIMIT 1;
    END
    """,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER threat_score_latest_del",
    "DROP TRIGGER threat_score_latest_upd",
    "DROP TRIGGER threat_score_latest_ins",
]

#: SQLite adds a NOT NULL column only with a constant default; every row is then set from
#: computed_at, and writers always give the value.
_EPOCH_SQLITE = "'1970-01-01 00:00:00.000000'"


def _rev0010() -> object:
    return importlib.import_module("argus.db.migrations.versions.0010_threat_score_latest")


def _create_latest(with_evaluated_at: bool) -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "threat_score_latest",
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("da_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        *(
            [sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False)]
            if with_evaluated_at
            else []
        ),
        sa.Column("score_id", big_id, nullable=False),
        sa.PrimaryKeyConstraint(
            "scenario_id", "track_id", "da_id", name=op.f("pk_threat_score_latest")
        ),
    )
    op.create_index(op.f("ix_threat_score_latest_score_id"), "threat_score_latest", ["score_id"])


def _drop_latest() -> None:
    op.drop_index(op.f("ix_threat_score_latest_score_id"), table_name="threat_score_latest")
    op.drop_table("threat_score_latest")


def _create_what_if() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "threat_score_what_if",
        sa.Column("id", big_id, nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("da_id", sa.Integer(), nullable=False),
        sa.Column("cpa_km", sa.Float(), nullable=True),
        sa.Column("tcpa_s", sa.Float(), nullable=True),
        sa.Column("tdb_km", sa.Float(), nullable=True),
        sa.Column("twrp_s", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        *(
            sa.Column(name, sa.Float(), nullable=True)
            for name in (
                "n_cpa",
                "n_tcpa",
                "n_tdb",
                "n_twrp",
                "w_cpa",
                "w_tcpa",
                "w_tdb",
                "w_twrp",
                "quality",
            )
        ),
        sa.ForeignKeyConstraint(
            ["da_id"],
            ["defended_asset.id"],
            name=op.f("fk_threat_score_what_if_da_id_defended_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_threat_score_what_if_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.id"],
            name=op.f("fk_threat_score_what_if_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threat_score_what_if")),
        sa.UniqueConstraint(
            "scenario_id",
            "track_id",
            "da_id",
            "computed_at",
            "evaluated_at",
            name="uq_threat_score_what_if_pair_times",
        ),
    )
    op.create_index(
        "ix_threat_score_what_if_scenario_time",
        "threat_score_what_if",
        ["scenario_id", "computed_at"],
    )
    op.create_index(
        "ix_threat_score_what_if_scenario_track",
        "threat_score_what_if",
        ["scenario_id", "track_id", "da_id"],
    )


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    old = _rev0010()
    for statement in old.PG_DOWNGRADE if pg else old.SQLITE_DOWNGRADE:  # type: ignore[attr-defined]
        op.execute(statement)
    _drop_latest()

    if pg:
        op.add_column("threat_score", sa.Column("evaluated_at", sa.DateTime(timezone=True)))
        op.execute("UPDATE threat_score SET evaluated_at = computed_at")
        op.alter_column("threat_score", "evaluated_at", nullable=False)
    else:
        op.add_column(
            "threat_score",
            sa.Column(
                "evaluated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text(_EPOCH_SQLITE),
            ),
        )
        op.execute("UPDATE threat_score SET evaluated_at = computed_at")

    _create_latest(with_evaluated_at=True)
    op.execute(_BACKFILL_LATEST)
    for statement in PG_UPGRADE if pg else SQLITE_UPGRADE:
        op.execute(statement)

    _create_what_if()

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.String(length=80), nullable=True))
        batch_op.drop_constraint("uq_job_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_job_scenario_id_created_by_idempotency_key"),
            ["scenario_id", "created_by", "idempotency_key"],
        )


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    # A key reused by several callers or scenarios: only the oldest job keeps it, so the global
    # unique constraint of 0003 holds again.
    op.execute(
        """
        UPDATE job SET idempotency_key = NULL
        WHERE idempotency_key IS NOT NULL AND EXISTS (
          SELECT 1 FROM job AS first
          WHERE first.idempotency_key = job.idempotency_key
            AND (first.created_at < job.created_at
                 OR (first.created_at = job.created_at AND first.id < job.id)))
        """
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint("uq_job_scenario_id_created_by_idempotency_key", type_="unique")
        batch_op.create_unique_constraint("uq_job_idempotency_key", ["idempotency_key"])
        batch_op.drop_column("created_by")

    op.drop_index("ix_threat_score_what_if_scenario_track", table_name="threat_score_what_if")
    op.drop_index("ix_threat_score_what_if_scenario_time", table_name="threat_score_what_if")
    op.drop_table("threat_score_what_if")

    for statement in PG_DOWNGRADE if pg else SQLITE_DOWNGRADE:
        op.execute(statement)
    _drop_latest()
    op.drop_column("threat_score", "evaluated_at")
    _create_latest(with_evaluated_at=False)
    old = _rev0010()
    op.execute(old._BACKFILL)  # type: ignore[attr-defined]
    for statement in old.PG_UPGRADE if pg else old.SQLITE_UPGRADE:  # type: ignore[attr-defined]
        op.execute(statement)
