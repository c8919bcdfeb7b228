"""Weapons, kill probabilities, assignment plans; asset value, IFF, track quality, doctrine.

Adds the weapon-assignment data of the TEWA engine issue, the logistic-normalization and
track-quality options of model_params, and the normalized terms on threat_score.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:14:17.031734
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _suspend_sqlite_trigger()
    op.create_table(
        "kill_probability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weapon_type", sa.String(length=60), nullable=False),
        sa.Column("threat_class", sa.String(length=40), nullable=False),
        sa.Column("pk", sa.Float(), nullable=False),
        sa.CheckConstraint("pk >= 0 AND pk <= 1", name=op.f("ck_kill_probability_pk_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_probability")),
        sa.UniqueConstraint(
            "weapon_type", "threat_class", name=op.f("uq_kill_probability_weapon_type_threat_class")
        ),
    )
    op.create_table(
        "weapon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("call_sign", sa.String(length=100), nullable=False),
        sa.Column("weapon_type", sa.String(length=60), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("min_range_km", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_range_km", sa.Float(), nullable=False),
        sa.Column("max_target_speed_mps", sa.Float(), nullable=False),
        sa.Column("fire_channels", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "interceptor_speed_mps", sa.Float(), server_default=sa.text("1000.0"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("fire_channels >= 1", name=op.f("ck_weapon_fire_channels_positive")),
        sa.CheckConstraint("lat >= -90 AND lat <= 90", name=op.f("ck_weapon_lat_range")),
        sa.CheckConstraint("lon >= -180 AND lon <= 180", name=op.f("ck_weapon_lon_range")),
        sa.CheckConstraint("max_range_km > min_range_km", name=op.f("ck_weapon_range_order")),
        sa.CheckConstraint("max_target_speed_mps > 0", name=op.f("ck_weapon_max_speed_positive")),
        sa.CheckConstraint("min_range_km >= 0", name=op.f("ck_weapon_min_range_nonneg")),
        sa.CheckConstraint("rounds >= 0", name=op.f("ck_weapon_rounds_nonneg")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_weapon_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weapon")),
        sa.UniqueConstraint(
            "scenario_id", "call_sign", name=op.f("uq_weapon_scenario_id_call_sign")
        ),
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("weapon_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("kill_probability", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rounds >= 1", name=op.f("ck_assignment_rounds_positive")),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
            name=op.f("fk_assignment_scenario_id_scenario"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.id"],
            name=op.f("fk_assignment_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["weapon_id"],
            ["weapon.id"],
            name=op.f("fk_assignment_weapon_id_weapon"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
        sa.UniqueConstraint(
            "scenario_id",
            "computed_at",
            "weapon_id",
            "track_id",
            name=op.f("uq_assignment_scenario_id_computed_at_weapon_id_track_id"),
        ),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignment_scenario_time", ["scenario_id", "computed_at"], unique=False
        )

    with op.batch_alter_table("defended_asset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("value", sa.Float(), server_default=sa.text("1.0"), nullable=False)
        )
        batch_op.add_column(sa.Column("weapon_range_km", sa.Float(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_defended_asset_value_nonneg"), "value >= 0")
        batch_op.create_check_constraint(
            op.f("ck_defended_asset_weapon_range_positive"),
            "weapon_range_km IS NULL OR weapon_range_km > 0",
        )

    with op.batch_alter_table("model_params", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpa_logistic", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tcpa_logistic", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tdb_logistic", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("twrp_logistic", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "use_track_quality", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )

    with op.batch_alter_table("scenario", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "doctrine",
                sa.String(length=40),
                server_default=sa.text("'default'"),
                nullable=False,
            )
        )

    with op.batch_alter_table("threat_score", schema=None) as batch_op:
        batch_op.add_column(sa.Column("n_cpa", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("n_tcpa", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("n_tdb", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("n_twrp", sa.Float(), nullable=True))

    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "iff", sa.String(length=10), server_default=sa.text("'unknown'"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "threat_class",
                sa.String(length=40),
                server_default=sa.text("'unknown'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("quality", sa.Float(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_track_iff_values"), "iff IN ('hostile', 'unknown', 'friendly')"
        )
        batch_op.create_check_constraint(
            op.f("ck_track_quality_range"), "quality IS NULL OR (quality >= 0 AND quality <= 1)"
        )

    # The wildcard row: a kill-probability lookup always finds a value.
    kp = sa.table(
        "kill_probability", sa.column("weapon_type"), sa.column("threat_class"), sa.column("pk")
    )
    op.bulk_insert(kp, [{"weapon_type": "*", "threat_class": "*", "pk": 0.7}])
    _resume_sqlite_trigger()


def downgrade() -> None:
    _suspend_sqlite_trigger()
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_track_quality_range"), type_="check")
        batch_op.drop_constraint(op.f("ck_track_iff_values"), type_="check")
        batch_op.drop_column("quality")
        batch_op.drop_column("threat_class")
        batch_op.drop_column("iff")

    with op.batch_alter_table("threat_score", schema=None) as batch_op:
        batch_op.drop_column("n_twrp")
        batch_op.drop_column("n_tdb")
        batch_op.drop_column("n_tcpa")
        batch_op.drop_column("n_cpa")

    with op.batch_alter_table("scenario", schema=None) as batch_op:
        batch_op.drop_column("doctrine")

    with op.batch_alter_table("model_params", schema=None) as batch_op:
        batch_op.drop_column("use_track_quality")
        batch_op.drop_column("twrp_logistic")
        batch_op.drop_column("tdb_logistic")
        batch_op.drop_column("tcpa_logistic")
        batch_op.drop_column("cpa_logistic")

    with op.batch_alter_table("defended_asset", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_defended_asset_weapon_range_positive"), type_="check")
        batch_op.drop_constraint(op.f("ck_defended_asset_value_nonneg"), type_="check")
        batch_op.drop_column("weapon_range_km")
        batch_op.drop_column("value")

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_scenario_time")

    op.drop_table("assignment")
    op.drop_table("weapon")
    op.drop_table("kill_probability")
    _resume_sqlite_trigger()


# SQLite rebuilds tables in batch mode (copy, drop, rename), and renaming fails while a trigger
# refers to a table being rebuilt; so on SQLite the default-params trigger of 0001 is dropped
# for the duration and created again, unchanged.


def _suspend_sqlite_trigger() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS trg_scenario_default_params")


def _resume_sqlite_trigger() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            """
            CREATE TRIGGER trg_scenario_default_params AFTER INSERT ON scenario
            BEGIN
                INSERT OR IGNORE INTO model_params (scenario_id) VALUES (NEW.id);
            END
            """
        )
