"""Surveys and observations: create, read, list (id-paged), update, delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from argus.astro.service._common import Actor, as_uuid, audit
from argus.astro.service.errors import InvalidInput, NotFoundError
from argus.db.models.astro import Observation, ObservationStatus, Survey

_SURVEY_FIELDS = ("name", "description", "base_url", "api_endpoint", "is_active")


def _survey_values(s: Survey) -> dict[str, Any]:
    return {k: getattr(s, k) for k in _SURVEY_FIELDS}


def get_survey(session: Session, survey_id: uuid.UUID | str) -> Survey:
    s = session.get(Survey, as_uuid(survey_id, "survey_id"))
    if s is None:
        raise NotFoundError(f"survey_id: no survey {survey_id}")
    return s


def find_survey(session: Session, name: str) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.name == name))


def list_surveys(session: Session, *, active_only: bool = False) -> list[Survey]:
    q = select(Survey).order_by(Survey.name)
    if active_only:
        q = q.where(Survey.is_active.is_(True))
    return list(session.scalars(q))


def create_survey(
    session: Session,
    name: str,
    *,
    description: str | None = None,
    base_url: str | None = None,
    api_endpoint: str | None = None,
    is_active: bool = True,
    actor: Actor | None = None,
) -> Survey:
    """A new survey; InvalidInput when the name is empty or taken."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name: a survey needs a name")
    if find_survey(session, name) is not None:
        raise InvalidInput(f"name: a survey named {name!r} exists")
    s = Survey(
        name=name,
        description=description,
        base_url=base_url,
        api_endpoint=api_endpoint,
        is_active=is_active,
    )
    session.add(s)
    session.flush()
    audit(session, actor, "survey", s.id, "create", new=_survey_values(s))
    return s


def get_or_create_survey(session: Session, name: str, *, actor: Actor | None = None) -> Survey:
    return find_survey(session, name) or create_survey(session, name, actor=actor)


def update_survey(
    session: Session, survey: Survey, *, actor: Actor | None = None, **changes: Any
) -> Survey:
    unknown = set(changes) - set(_SURVEY_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not a survey field")
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise InvalidInput("name: a survey needs a name")
        other = find_survey(session, name)
        if other is not None and other.id != survey.id:
            raise InvalidInput(f"name: a survey named {name!r} exists")
        changes["name"] = name
    old = _survey_values(survey)
    for k, v in changes.items():
        setattr(survey, k, v)
    session.flush()
    audit(session, actor, "survey", survey.id, "update", old=old, new=_survey_values(survey))
    return survey


def delete_survey(session: Session, survey: Survey, *, actor: Actor | None = None) -> None:
    """Delete a survey that has no observations (InvalidInput otherwise)."""
    n = session.scalar(select(func.count()).where(Observation.survey_id == survey.id)) or 0
    if n:
        raise InvalidInput(f"survey_id: survey {survey.name!r} still has {n} observations")
    audit(session, actor, "survey", survey.id, "delete", old=_survey_values(survey))
    session.delete(survey)
    session.flush()


# ---- observations -------------------------------------------------------------------------


def get_observation(session: Session, observation_id: uuid.UUID | str) -> Observation:
    o = session.get(Observation, as_uuid(observation_id, "observation_id"))
    if o is None:
        raise NotFoundError(f"observation_id: no observation {observation_id}")
    return o


def find_observation(session: Session, survey: Survey, external_id: str) -> Observation | None:
    return session.scalar(
        select(Observation).where(
            Observation.survey_id == survey.id, Observation.observation_id == external_id
        )
    )


def list_observations(
    session: Session,
    *,
    survey_id: uuid.UUID | None = None,
    status: ObservationStatus | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> Sequence[Observation]:
    """Observations by id (keyset paging: the ones with id > ``after``)."""
    q = select(Observation).order_by(Observation.id).limit(limit)
    if survey_id is not None:
        q = q.where(Observation.survey_id == survey_id)
    if status is not None:
        q = q.where(Observation.status == status)
    if after is not None:
        q = q.where(Observation.id > after)
    return list(session.scalars(q))


def set_observation_status(
    session: Session,
    observation: Observation,
    status: ObservationStatus,
    *,
    actor: Actor | None = None,
) -> Observation:
    old = observation.status
    observation.status = status
    session.flush()
    audit(
        session,
        actor,
        "observation",
        observation.id,
        "status",
        old={"status": str(old)},
        new={"status": str(status)},
    )
    return observation


def delete_observation(
    session: Session, observation: Observation, *, actor: Actor | None = None
) -> None:
    """Delete an observation and (by cascade) its runs, candidates and detections. The FITS
    object stays in the store; the store's sweeper removes unreferenced keys."""
    audit(
        session,
        actor,
        "observation",
        observation.id,
        "delete",
        old={"observation_id": observation.observation_id, "fits_key": observation.fits_key},
    )
    session.delete(observation)
    session.flush()
