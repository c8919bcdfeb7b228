"""TEWA core schema: assets, scenarios, tracks, samples, model params, threat scores.

Also a trigger that gives every new scenario its default model_params row, and on
PostgreSQL a PostGIS geography column (generated from lat/lon, GiST-indexed) on
defended_asset and track.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 06:02:07.614798
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "defended_asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_km", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("lat >= -90 AND lat <= 90", name=op.f("ck_defended_asset_lat_range")),
        sa.CheckConstraint("lon >= -180 AND lon <= 180", name=op.f("ck_defended_asset_lon_range")),
        sa.CheckConstraint("radius_km >= 0", name=op.f("ck_defended_asset_radius_km_nonneg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_defended_asset")),
        sa.UniqueConstraint("name", name=op.f("uq_defended_asset_name")),
    )
    with op.batch_alter_table("defended_asset", schema=None) as batch_op:
        batch_op.create_index("ix_defended_asset_lat_lon", ["lat", "lon"], unique=False)

    op.create_table(
        "scenario",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "start_time IS NULL OR end_time IS NULL OR end_time >= start_time",
            name=op.f("ck_scenario_time_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario")),
        sa.UniqueConstraint("name", name=op.f("uq_scenario_name")),
    )
    op.create_table(
        "model_params",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("w_cpa", sa.Float(), server_default=sa.text("0.35"), nullable=False),
        sa.Column("w_tcpa", sa.Float(), server_default=sa.text("0.25"), nullable=False),
        sa.Column("w_tdb", sa.Float(), server_default=sa.text("0.25"), nullable=False),
        sa.Column("w_twrp", sa.Float(), server_default=sa.text("0.15"), nullable=False),
        sa.Column("cpa_scale_km", sa.Float(), server_default=sa.text("10.0"), nullable=False),
        sa.Column("tcpa_scale_s", sa.Float(), server_default=sa.text("300.0"), nullable=False),
        sa.Column("tdb_scale_km", sa.Float(), server_default=sa.text("25.0"), nullable=False),
        sa.Column("twrp_scale_s", sa.Float(), server_default=sa.text("180.0"), nullable=False),
        sa.Column("clamp_0_1", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("weapon_range_km", sa.Float(), server_default=sa.text("20.0"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("cpa_scale_km > 0", name=op.f("ck_model_params_cpa_scale_km_positive")),
        sa.CheckConstraint("tcpa_scale_s > 0", name=op.f("ck_model_params_tcpa_scale_s_positive")),
        sa.CheckConstraint("tdb_scale_km > 0", name=op.f("ck_model_params_tdb_scale_km_positive")),
        sa.CheckConstraint("twrp_scale_s > 0", name=op.f("ck_model_params_twrp_scale_s_positive")),
        sa.CheckConstraint("w_cpa >= 0 AND w_cpa <= 1", name=op.f("ck_model_params_w_cpa_range")),
        sa.CheckConstraint(
            "w_tcpa >= 0 AND w_tcpa <= 1", name=op.f("ck_model_params_w_tcpa_range")
        ),
        sa.CheckConstraint("w_tdb >= 0 AND w_tdb <= 1", name=op.f("ck_model_params_w_tdb_range")),
        sa.CheckConstraint(
            "w_twrp >= 0 AND w_twrp <= 1", name=op.f("ck_model_params_w_twrp_range")
        ),
        sa.CheckConstraint(
            "weapon_range_km > 0", name=op.f("ck_model_params_weapon_range_positive")
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_model_params_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_params")),
        sa.UniqueConstraint("scenario_id", name=op.f("uq_model_params_scenario_id")),
    )
    op.create_table(
        "scenario_asset",
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("da_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["da_id"],
            ["defended_asset.id"],
            name=op.f("fk_scenario_asset_da_id_defended_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_scenario_asset_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scenario_id", "da_id", name=op.f("pk_scenario_asset")),
    )
    with op.batch_alter_table("scenario_asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scenario_asset_da_id"), ["da_id"], unique=False)

    op.create_table(
        "track",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.String(length=100), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("speed_mps", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("heading_deg", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "heading_deg >= 0 AND heading_deg < 360", name=op.f("ck_track_heading_range")
        ),
        sa.CheckConstraint("lat >= -90 AND lat <= 90", name=op.f("ck_track_lat_range")),
        sa.CheckConstraint("lon >= -180 AND lon <= 180", name=op.f("ck_track_lon_range")),
        sa.CheckConstraint("speed_mps >= 0", name=op.f("ck_track_speed_nonneg")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_track_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track")),
        sa.UniqueConstraint("scenario_id", "track_id", name=op.f("uq_track_scenario_id_track_id")),
    )
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.create_index("ix_track_lat_lon", ["lat", "lon"], unique=False)

    op.create_table(
        "threat_score",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("da_id", sa.Integer(), nullable=False),
        sa.Column("cpa_km", sa.Float(), nullable=True),
        sa.Column("tcpa_s", sa.Float(), nullable=True),
        sa.Column("tdb_km", sa.Float(), nullable=True),
        sa.Column("twrp_s", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["da_id"],
            ["defended_asset.id"],
            name=op.f("fk_threat_score_da_id_defended_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_threat_score_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.id"],
            name=op.f("fk_threat_score_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threat_score")),
        sa.UniqueConstraint(
            "scenario_id",
            "track_id",
            "da_id",
            "computed_at",
            name=op.f("uq_threat_score_scenario_id_track_id_da_id_computed_at"),
        ),
    )
    with op.batch_alter_table("threat_score", schema=None) as batch_op:
        batch_op.create_index(
            "ix_threat_score_scenario_da_time",
            ["scenario_id", "da_id", "computed_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_threat_score_scenario_track_time",
            ["scenario_id", "track_id", "computed_at"],
            unique=False,
        )

    op.create_table(
        "track_sample",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("t", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "heading_deg >= 0 AND heading_deg < 360", name=op.f("ck_track_sample_heading_range")
        ),
        sa.CheckConstraint("lat >= -90 AND lat <= 90", name=op.f("ck_track_sample_lat_range")),
        sa.CheckConstraint("lon >= -180 AND lon <= 180", name=op.f("ck_track_sample_lon_range")),
        sa.CheckConstraint("speed_mps >= 0", name=op.f("ck_track_sample_speed_nonneg")),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.id"],
            name=op.f("fk_track_sample_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_sample")),
        sa.UniqueConstraint("track_id", "t", name=op.f("uq_track_sample_track_id_t")),
    )
    with op.batch_alter_table("track_sample", schema=None) as batch_op:
        batch_op.create_index("ix_track_sample_lat_lon", ["lat", "lon"], unique=False)

    _create_default_params_trigger()
    if op.get_bind().dialect.name == "postgresql":
        _add_geography_columns()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _drop_geography_columns()
    _drop_default_params_trigger()
    with op.batch_alter_table("track_sample", schema=None) as batch_op:
        batch_op.drop_index("ix_track_sample_lat_lon")

    op.drop_table("track_sample")
    with op.batch_alter_table("threat_score", schema=None) as batch_op:
        batch_op.drop_index("ix_threat_score_scenario_track_time")
        batch_op.drop_index("ix_threat_score_scenario_da_time")

    op.drop_table("threat_score")
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_index("ix_track_lat_lon")

    op.drop_table("track")
    with op.batch_alter_table("scenario_asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scenario_asset_da_id"))

    op.drop_table("scenario_asset")
    op.drop_table("model_params")
    op.drop_table("scenario")
    with op.batch_alter_table("defended_asset", schema=None) as batch_op:
        batch_op.drop_index("ix_defended_asset_lat_lon")

    op.drop_table("defended_asset")


# ---- hand-written parts (Alembic cannot autogenerate triggers or PostGIS columns) ----

_GEOG_TABLES = ("defended_asset", "track")


def _create_default_params_trigger() -> None:
    """Every scenario gets its model_params row from the database itself (column defaults)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION argus_scenario_default_params() RETURNS trigger AS $$
            BEGIN
                INSERT INTO model_params (scenario_id) VALUES (NEW.id)
                ON CONFLICT (scenario_id) DO NOTHING;
                RETURN NEW;
            END
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER trg_scenario_default_params AFTER INSERT ON scenario "
            "FOR EACH ROW EXECUTE FUNCTION argus_scenario_default_params()"
        )
    else:
        op.execute(
            """
            CREATE TRIGGER trg_scenario_default_params AFTER INSERT ON scenario
            BEGIN
                INSERT OR IGNORE INTO model_params (scenario_id) VALUES (NEW.id);
            END
            """
        )


def _drop_default_params_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_scenario_default_params ON scenario")
        op.execute("DROP FUNCTION IF EXISTS argus_scenario_default_params()")
    else:
        op.execute("DROP TRIGGER IF EXISTS trg_scenario_default_params")


def _add_geography_columns() -> None:
    """geog = the (lon, lat) point as WGS-84 geography, generated so it can never drift from lat/lon."""
    from geoalchemy2 import Geography

    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
    ).scalar_one()
    if not available:
        raise RuntimeError(
            "PostgreSQL has no PostGIS extension available: install it on the server "
            "(Debian: apt-get install postgresql-15-postgis-3) and run `argus db upgrade` again"
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for table in _GEOG_TABLES:
        op.add_column(
            table,
            sa.Column(
                "geog",
                Geography(geometry_type="POINT", srid=4326, spatial_index=False),
                sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography", persisted=True),
                nullable=True,
            ),
        )
        op.create_index(f"ix_{table}_geog", table, ["geog"], postgresql_using="gist")


def _drop_geography_columns() -> None:
    for table in _GEOG_TABLES:
        op.drop_index(f"ix_{table}_geog", table_name=table)
        op.drop_column(table, "geog")
