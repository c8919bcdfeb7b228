"""PostgreSQL: track_sample -> track checked once per statement instead of once per row.

A foreign key is enforced by a row-level trigger: one lookup of ``track`` and one row lock per
inserted sample. On a 1 M-sample ingest that was about half of the load time (105 k rows/s
against 251-275 k rows/s without it, benchmarks/README.md). Samples arrive in batches that
reference a few hundred tracks, so the same rule is checked here once per statement, on the
statement's transition table:

- AFTER INSERT / AFTER UPDATE on ``track_sample`` (FOR EACH STATEMENT): lock the distinct
  referenced tracks ``FOR KEY SHARE`` (what the foreign key does per row, done once per track)
  and raise ``foreign_key_violation`` (SQLSTATE 23503, an IntegrityError to SQLAlchemy) naming
  the first track id that does not exist. The lock makes a concurrent ``DELETE FROM track`` wait
  for the inserting transaction, exactly as the foreign key would.
- AFTER DELETE on ``track`` (FOR EACH STATEMENT): delete the samples of the deleted tracks
  (the ``ON DELETE CASCADE`` of the foreign key). Scenario deletes reach it through the
  ``track.scenario_id`` cascade.
- BEFORE UPDATE OF id on ``track``: a track's primary key never changes (the foreign key had
  no ON UPDATE action, so it refused such updates too).

SQLite keeps the declared foreign key: its check is a cheap B-tree probe in the same process.
The model still declares the foreign key (the ORM relationship needs it); the Alembic
comparison skips it on PostgreSQL (``argus.db.migrate.include_object``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_track_sample_track_id_track"

UPGRADE = [
    f"ALTER TABLE track_sample DROP CONSTRAINT {FK_NAME}",
    # Deletes by track_id (the cascade below) use the unique (track_id, t) index.
    """
    CREATE FUNCTION argus_sample_track_exists() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      ids bigint[];
      locked bigint;
      missing bigint;
    BEGIN
      -- One pass over the transition table (a hash aggregate down to the few distinct tracks),
      -- then one index probe and one key-share lock per track.
      SELECT coalesce(array_agg(track_id), '{}') INTO ids
        FROM (SELECT DISTINCT track_id FROM new_rows) AS d;
      SELECT count(*) INTO locked FROM (
        SELECT 1 FROM track WHERE id = ANY (ids) FOR KEY SHARE) AS l;
      IF locked < cardinality(ids) THEN
        SELECT m INTO missing FROM unnest(ids) AS m
        WHERE NOT EXISTS (SELECT 1 FROM track t WHERE t.id = m)
        ORDER BY m LIMIT 1;
        RAISE EXCEPTION
          'insert or update on table "track_sample" violates foreign key constraint "%"', TG_ARGV[0]
          USING ERRCODE = 'foreign_key_violation',
                DETAIL = format('Key (track_id)=(%s) is not present in table "track".', missing),
                TABLE = 'track_sample',
                CONSTRAINT = TG_ARGV[0];
      END IF;
      RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER track_sample_track_exists_ins AFTER INSERT ON track_sample
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION argus_sample_track_exists('{FK_NAME}')
    """,
    f"""
    CREATE TRIGGER track_sample_track_exists_upd AFTER UPDATE ON track_sample
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION argus_sample_track_exists('{FK_NAME}')
    """,
    """
    CREATE FUNCTION argus_track_delete_samples() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM track_sample s USING old_rows o WHERE s.track_id = o.id;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER track_delete_samples AFTER DELETE ON track
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION argus_track_delete_samples()
    """,
    """
    CREATE FUNCTION argus_track_id_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'track.id cannot change (track % would become %)', OLD.id, NEW.id
          USING ERRCODE = 'foreign_key_violation', TABLE = 'track';
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER track_id_immutable BEFORE UPDATE OF id ON track
    FOR EACH ROW EXECUTE FUNCTION argus_track_id_immutable()
    """,
]

DOWNGRADE = [
    "DROP TRIGGER track_id_immutable ON track",
    "DROP FUNCTION argus_track_id_immutable()",
    "DROP TRIGGER track_delete_samples ON track",
    "DROP FUNCTION argus_track_delete_samples()",
    "DROP TRIGGER track_sample_track_exists_upd ON track_sample",
    "DROP TRIGGER track_sample_track_exists_ins ON track_sample",
    "DROP FUNCTION argus_sample_track_exists()",
    f"""
    ALTER TABLE track_sample ADD CONSTRAINT {FK_NAME}
    FOREIGN KEY (track_id) REFERENCES track (id) ON DELETE CASCADE
    """,
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DOWNGRADE:
        op.execute(statement)
