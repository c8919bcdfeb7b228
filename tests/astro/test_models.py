"""The astronomy schema's constraints are enforced by the database itself, on both backends."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from argus.db.models.astro import (
    Alert,
    Candidate,
    Detection,
    DifferenceRun,
    Model,
    ModelRun,
    ModelType,
    Observation,
    Survey,
)

T = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _survey(session: Session) -> Survey:
    s = Survey(name=f"s-{uuid.uuid4().hex[:6]}")
    session.add(s)
    session.flush()
    return s


def _obs(session: Session, **over: Any) -> Observation:
    s = _survey(session)
    values: dict[str, Any] = {
        "survey_id": s.id,
        "observation_id": uuid.uuid4().hex,
        "ra": 10.0,
        "dec": -5.0,
        "healpix": 1,
        "observation_time": T,
        "exposure_time": 30.0,
        "airmass": 1.1,
        "seeing": 1.0,
        "pixel_scale": 0.5,
    }
    values.update(over)
    o = Observation(**values)
    session.add(o)
    session.flush()
    return o


def _rejected(session: Session, make: Callable[[], Any]) -> None:
    """``make`` flushes a row the database must refuse."""
    nested = session.begin_nested()
    with pytest.raises(IntegrityError) as err:
        make()
        session.flush()
    nested.rollback()
    assert "check" in str(err.value).lower() or "constraint" in str(err.value).lower()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ra", 360.0),
        ("ra", -0.001),
        ("dec", 90.5),
        ("dec", -91.0),
        ("exposure_time", 0.0),
        ("exposure_time", -1.0),
        ("airmass", 0.0),
        ("seeing", -0.3),
        ("pixel_scale", 0.0),
    ],
)
def test_observation_bounds_are_checked_by_the_database(
    session: Session, field: str, value: float
) -> None:
    _rejected(session, lambda: _obs(session, **{field: value}))
    # the same row with a good value is stored: the refusal was about that one field
    o = _obs(session, **{field: {"ra": 359.999, "dec": 89.9}.get(field, 2.0)})
    assert session.get(Observation, o.id) is not None


def test_bounds_hold_for_raw_sql_too(session: Session) -> None:
    """Not the ORM: an UPDATE through plain SQL is refused by the CHECK as well."""
    o = _obs(session)
    for sql in (
        "UPDATE astro_observation SET dec = 95 WHERE observation_id = :oid",
        "UPDATE astro_observation SET airmass = -1 WHERE observation_id = :oid",
        "UPDATE astro_observation SET ra = 400 WHERE observation_id = :oid",
    ):
        nested = session.begin_nested()
        with pytest.raises(IntegrityError):
            session.execute(sa.text(sql), {"oid": o.observation_id})
        nested.rollback()
    session.expire_all()
    assert session.get(Observation, o.id).dec == -5.0  # type: ignore[union-attr]


def test_observation_id_unique_within_a_survey(session: Session) -> None:
    o = _obs(session)
    dup = {c: getattr(o, c) for c in ("survey_id", "observation_id", "ra", "dec", "healpix")}
    _rejected(
        session,
        lambda: session.add(Observation(**dup, observation_time=T, exposure_time=1.0)),
    )


def _candidate(session: Session, **over: Any) -> Candidate:
    o = _obs(session)
    run = DifferenceRun(observation_id=o.id)
    session.add(run)
    session.flush()
    values: dict[str, Any] = {
        "difference_run_id": run.id,
        "observation_id": o.id,
        "ra": 1.0,
        "dec": 1.0,
        "healpix": 5,
        "pixel_x": 1.0,
        "pixel_y": 2.0,
        "flux": 10.0,
    }
    values.update(over)
    c = Candidate(**values)
    session.add(c)
    session.flush()
    return c


@pytest.mark.parametrize(
    ("field", "value"),
    [("ellipticity", 1.2), ("rb_score", -0.1), ("rb_score", 1.01), ("flux_error", -1.0)],
)
def test_candidate_bounds(session: Session, field: str, value: float) -> None:
    _rejected(session, lambda: _candidate(session, **{field: value}))


def _model_run(session: Session) -> tuple[ModelRun, Candidate]:
    c = _candidate(session)
    m = Model(name="rb", version=uuid.uuid4().hex[:8], model_type=ModelType.REAL_BOGUS)
    session.add(m)
    session.flush()
    r = ModelRun(model_id=m.id, observation_id=c.observation_id, total_predictions=1)
    session.add(r)
    session.flush()
    return r, c


@pytest.mark.parametrize("confidence", [1.5, -0.2])
def test_detection_confidence_in_unit_interval(session: Session, confidence: float) -> None:
    r, c = _model_run(session)

    def make() -> None:
        session.add(
            Detection(
                model_run_id=r.id, observation_id=c.observation_id, candidate_id=c.id, ra=1.0,
                dec=1.0, healpix=5, pixel_x=1.0, pixel_y=1.0, confidence_score=confidence,
            )
        )  # fmt: skip

    _rejected(session, make)


def test_model_run_high_confidence_within_total(session: Session) -> None:
    r, _ = _model_run(session)
    nested = session.begin_nested()
    r.high_confidence_predictions = 2  # > total_predictions = 1
    with pytest.raises(IntegrityError):
        session.flush()
    nested.rollback()


def test_difference_run_reference_is_not_the_observation(session: Session) -> None:
    o = _obs(session)
    _rejected(
        session,
        lambda: session.add(DifferenceRun(observation_id=o.id, reference_observation_id=o.id)),
    )


def test_enum_values_are_checked_in_the_database(session: Session) -> None:
    o = _obs(session)
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(
            sa.text("UPDATE astro_observation SET status = 'exploded' WHERE id = :id"),
            {"id": o.id.hex if session.bind.dialect.name == "sqlite" else o.id},  # type: ignore[union-attr]
        )
    nested.rollback()
    # and the ORM refuses an unknown value before it reaches the database
    o.status = "exploded"  # type: ignore[assignment]
    with pytest.raises(StatementError):
        session.flush()
    session.rollback()


def test_one_active_model_per_type(session: Session) -> None:
    session.add(Model(name="a", version="1", model_type=ModelType.REAL_BOGUS, is_active=True))
    session.add(Model(name="b", version="1", model_type=ModelType.CLASSIFIER, is_active=True))
    session.flush()
    _rejected(
        session,
        lambda: session.add(
            Model(name="c", version="1", model_type=ModelType.REAL_BOGUS, is_active=True)
        ),
    )
    session.add(Model(name="c", version="2", model_type=ModelType.REAL_BOGUS, is_active=False))
    session.flush()


def test_alert_unique_per_detection_and_type_and_cascade(session: Session) -> None:
    r, c = _model_run(session)
    d = Detection(
        model_run_id=r.id, observation_id=c.observation_id, candidate_id=c.id, ra=1.0, dec=1.0,
        healpix=5, pixel_x=1.0, pixel_y=1.0, confidence_score=0.9,
    )  # fmt: skip
    session.add(d)
    session.flush()
    session.add(Alert(detection_id=d.id, alert_type="new_transient", title="t", message="m"))
    session.flush()
    _rejected(
        session,
        lambda: session.add(
            Alert(detection_id=d.id, alert_type="new_transient", title="t", message="m")
        ),
    )
    # deleting the observation removes its candidates, detections and alerts (ON DELETE CASCADE)
    session.execute(sa.delete(Observation).where(Observation.id == c.observation_id))
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


def test_a_survey_with_observations_cannot_be_deleted(session: Session) -> None:
    o = _obs(session)
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(sa.delete(Survey).where(Survey.id == o.survey_id))
    nested.rollback()
