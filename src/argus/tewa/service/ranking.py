"""Reading stored scores back: the latest per pair, the ranking, a pair's history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Select, Text, case, cast, false, func, literal, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from argus.db.models import (
    DefendedAsset,
    Scenario,
    ScenarioAsset,
    ThreatScore,
    ThreatScoreLatest,
    Track,
)
from argus.db.models.tewa import RankingSnapshot, ThreatScoreWhatIf
from argus.tewa.service._common import _columns, _flat_json, _iso, _or_inf
from argus.tewa.service.errors import InvalidInput, NotFoundError
from argus.tewa.service.evaluation import SCORE_FIELDS


@dataclass
class RankedThreat:
    rank: int
    track_id: str
    da_id: int
    da_name: str
    score: float
    cpa_km: float
    tcpa_s: float
    tdb_km: float
    twrp_s: float
    n_cpa: float | None
    n_tcpa: float | None
    n_tdb: float | None
    n_twrp: float | None
    #: The time the score describes.
    computed_at: dt.datetime
    #: When it was computed (wall-clock UTC).
    evaluated_at: dt.datetime
    #: True when the row is a stored what-if (threat_score_what_if), never the live board.
    what_if: bool = False

    def as_json(self) -> dict[str, Any]:
        return _flat_json(self)


def latest_scores(
    session: Session,
    scenario: Scenario,
    *,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    best_per_track: bool = False,
    what_if: bool = False,
) -> list[Any]:
    """Rows of :func:`latest_scores_query` (see there), as plain tuples."""
    q = latest_scores_query(
        scenario, at=at, da_id=da_id, best_per_track=best_per_track, what_if=what_if
    )
    # Core execution: plain tuples, without the ORM's per-row loading machinery.
    return list(session.connection().execute(q).all())


def latest_scores_query(
    scenario: Scenario,
    *,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    best_per_track: bool = False,
    what_if: bool = False,
) -> Select[Any]:
    """For each (track, DA) of the scenario, its latest score row at or before ``at``.

    Live (``what_if`` False): without ``at``, the most recently evaluated live row of each
    pair (threat_score_latest, kept by triggers): the live board follows the scenario's own
    "now", which for a replay scenario goes back to the start after every loop. With ``at``:
    the row describing the newest time <= ``at`` (the most recently evaluated of equals).
    ``what_if``: the same two rules over the stored what-ifs (threat_score_what_if).

    With ``best_per_track`` the database also keeps only each track's best pair (highest score,
    then the smaller TCPA with unknown or negative TCPA last, then the smaller DA id), so a
    global ranking fetches one row per track instead of one per (track, DA). Both steps are
    window functions (``row_number() OVER (PARTITION BY …)``), the same SQL on PostgreSQL and
    SQLite (>= 3.25); on PostgreSQL the first reads the unique (scenario_id, track_id, da_id,
    computed_at) index in order, where the former ``GROUP BY`` + join probed it once per pair.
    """
    ts: Any = ThreatScoreWhatIf if what_if else ThreatScore
    conds = [ts.scenario_id == scenario.id]
    if at is not None:
        conds.append(ts.computed_at <= at)
    if da_id is not None:
        conds.append(ts.da_id == da_id)
    cols = [
        ts.track_id,
        ts.da_id,
        ts.score,
        ts.cpa_km,
        ts.tcpa_s,
        ts.tdb_km,
        ts.twrp_s,
        ts.n_cpa,
        ts.n_tcpa,
        ts.n_tdb,
        ts.n_twrp,
        ts.computed_at,
        ts.evaluated_at,
    ]
    rows: Any
    if at is None and not what_if:
        # "Now": the newest row of each pair is kept by triggers in threat_score_latest
        # (migration 0010), one row per pair whatever the stored history.
        lt = ThreatScoreLatest
        lconds = [lt.scenario_id == scenario.id]
        if da_id is not None:
            lconds.append(lt.da_id == da_id)
        rows = (
            select(*cols)
            .select_from(lt)
            .join(ts, ts.id == lt.score_id)
            .where(*lconds)
            .subquery("pairs")
        )
    else:
        order = (
            (ts.evaluated_at.desc(), ts.id.desc())
            if at is None
            else (ts.computed_at.desc(), ts.evaluated_at.desc(), ts.id.desc())
        )
        newest = func.row_number().over(partition_by=(ts.track_id, ts.da_id), order_by=order)
        latest = select(*cols, newest.label("rn")).where(*conds).subquery("latest")
        rows = select(latest).where(latest.c.rn == 1).subquery("pairs")
    if best_per_track:
        not_urgent = or_(rows.c.tcpa_s.is_(None), rows.c.tcpa_s < 0)
        no_urgency = case((not_urgent, 1), else_=0)
        # Unknown and negative TCPA are equally "no urgency" (ties go to the smaller DA id):
        # ordering those by the raw tcpa_s would rank a NULL against a -10 differently on
        # SQLite (NULLs first) and PostgreSQL (NULLs last), and unlike rank()'s own sort.
        urgent_tcpa = case((not_urgent, None), else_=rows.c.tcpa_s)
        best = func.row_number().over(
            partition_by=rows.c.track_id,
            order_by=(rows.c.score.desc(), no_urgency, urgent_tcpa, rows.c.da_id),
        )
        ranked = select(rows, best.label("bn")).subquery("ranked")
        rows = select(ranked).where(ranked.c.bn == 1).subquery("best")
    q = (
        select(
            Track.track_id,
            rows.c.da_id,
            DefendedAsset.name.label("da_name"),
            *(rows.c[c.key] for c in cols[2:]),
        )
        .select_from(rows)
        .join(Track, Track.id == rows.c.track_id)
        .join(DefendedAsset, DefendedAsset.id == rows.c.da_id)
    )
    return q


def _check_rank_args(
    session: Session, scenario: Scenario, *, da_id: int | None, top_n: int | None
) -> None:
    if top_n is not None and top_n < 1:
        raise InvalidInput(f"top_n: must be >= 1, got {top_n}")
    if da_id is not None and session.get(ScenarioAsset, (scenario.id, da_id)) is None:
        # An empty board would read as "no threats to this DA". A DA outside the set is an
        # error unless the scenario stored scores for it (detached later: its history stays).
        scored = session.scalar(
            select(ThreatScore.id)
            .where(ThreatScore.scenario_id == scenario.id, ThreatScore.da_id == da_id)
            .limit(1)
        )
        if scored is None:
            have = session.scalars(
                select(ScenarioAsset.da_id)
                .where(ScenarioAsset.scenario_id == scenario.id)
                .order_by(ScenarioAsset.da_id)
            ).all()
            raise NotFoundError(
                f"da_id: defended asset {da_id} is not in scenario {scenario.name!r} "
                f"(it has {list(have)}) and no score was stored for it"
            )


def rank(
    session: Session,
    scenario: Scenario,
    *,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    top_n: int | None = None,
    what_if: bool = False,
) -> list[RankedThreat]:
    """Latest-per-track ranking at ``at`` (default: now), per DA or global; ``what_if``:
    over the stored what-ifs instead of the live scores (see :func:`latest_scores`).

    Per DA: one row per track, by score descending, ties broken by smaller tcpa_s (unknown
    last) then track_id. Global: each track once, with its highest score over the DAs and
    that DA (a tie between DAs goes to the smaller tcpa_s, then the smaller DA id).
    """
    _check_rank_args(session, scenario, da_id=da_id, top_n=top_n)
    rows = latest_scores(
        session, scenario, at=at, da_id=da_id, best_per_track=da_id is None, what_if=what_if
    )
    if not rows:
        return []
    c = _columns(rows)
    track = np.array(c["track_id"], dtype=object)
    score = np.array(c["score"], dtype=np.float64)
    tcpa = np.array([_or_inf(x) for x in c["tcpa_s"]], dtype=np.float64)
    tcpa = np.where(tcpa < 0, np.inf, tcpa)  # a closest point behind the track is no urgency
    da = np.array(c["da_id"], dtype=np.int64)
    # Sort keys, last is primary: score desc, tcpa asc, track_id asc, da asc.
    order = np.lexsort((da, track.astype(str), tcpa, -score))
    if da_id is None:
        _, first = np.unique(track[order].astype(str), return_index=True)
        order = order[np.sort(first)]
    if top_n is not None:
        order = order[:top_n]
    out = []
    for rank_k, i in enumerate(order.tolist(), start=1):
        out.append(
            RankedThreat(
                rank=rank_k,
                track_id=c["track_id"][i],
                da_id=c["da_id"][i],
                da_name=c["da_name"][i],
                score=c["score"][i],
                cpa_km=_or_inf(c["cpa_km"][i]),
                tcpa_s=_or_inf(c["tcpa_s"][i]),
                tdb_km=_or_inf(c["tdb_km"][i]),
                twrp_s=_or_inf(c["twrp_s"][i]),
                n_cpa=c["n_cpa"][i],
                n_tcpa=c["n_tcpa"][i],
                n_tdb=c["n_tdb"][i],
                n_twrp=c["n_twrp"][i],
                computed_at=c["computed_at"][i],
                evaluated_at=c["evaluated_at"][i],
                what_if=what_if,
            )
        )
    return out


def _pg_finite(x: Any) -> Any:
    """``x``, or SQL NULL for +/-Infinity and NaN (as ``_flat_json`` writes them)."""
    return case((x.in_([float("inf"), float("-inf"), float("nan")]), None), else_=x)


def _pg_iso_z(t: Any) -> Any:
    """A timestamptz as ``iso_z`` writes it: ``2026-12-07T15:00:00Z``, with ``.ffffff`` only
    when the microseconds are not zero (Python's ``isoformat``)."""
    utc = func.timezone("UTC", t)
    micros = func.mod(func.cast(func.date_part("microseconds", t), BigInteger), 1_000_000)
    return (
        func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
        + case((micros != 0, func.to_char(utc, ".US")), else_="")
        + "Z"
    )


def ranking_json_postgres(
    session: Session,
    scenario: Scenario,
    *,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    top_n: int | None = None,
) -> bytes:
    """The live ranking's ``results`` as a JSON array, built by PostgreSQL in one statement.

    The same rows, order and values as ``[r.as_json() for r in rank(...)]`` (a test compares
    them): the ranking's order is a ``row_number()`` over rank()'s sort keys (score desc, no
    urgency last, TCPA asc, track id in code-point order — ``COLLATE "C"`` — then DA id), and
    ``json_agg`` writes the body. The API process then only receives one text value: while the
    database ranks, the worker's event loop keeps serving cached bodies (rendered in Python the
    same board held the GIL for ~30 ms per revision, the tail of ``bench_api.py``'s ranking
    with scores landing every few seconds). Numbers may be written differently (``2`` for
    ``2.0``); their values are the same.
    """
    _check_rank_args(session, scenario, da_id=da_id, top_n=top_n)
    q = _ranking_json_select(scenario, at=at, da_id=da_id, top_n=top_n)
    body = session.connection().execute(q).scalar_one()
    return str(body).encode()


def _ranking_json_select(
    scenario: Scenario,
    *,
    at: dt.datetime | None = None,
    da_id: int | None = None,
    top_n: int | None = None,
) -> Any:
    """The one-row, one-column SELECT of ``ranking_json_postgres`` (arguments checked)."""
    r = latest_scores_query(
        scenario, at=at, da_id=da_id, best_per_track=da_id is None, what_if=False
    ).subquery("r")
    not_urgent = or_(r.c.tcpa_s.is_(None), r.c.tcpa_s < 0)
    rank_k = func.row_number().over(
        order_by=(
            r.c.score.desc(),
            case((not_urgent, 1), else_=0),
            case((not_urgent, None), else_=r.c.tcpa_s),
            r.c.track_id.collate("C"),
            r.c.da_id,
        )
    )
    ranked = select(r, rank_k.label("rank_k")).subquery("ranked")
    c = ranked.c
    fields: list[Any] = ["rank", c.rank_k, "track_id", c.track_id, "da_id", c.da_id]
    fields += ["da_name", c.da_name, "score", _pg_finite(c.score)]
    for name in ("cpa_km", "tcpa_s", "tdb_km", "twrp_s", "n_cpa", "n_tcpa", "n_tdb", "n_twrp"):
        fields += [name, _pg_finite(c[name])]
    fields += ["computed_at", _pg_iso_z(c.computed_at), "evaluated_at", _pg_iso_z(c.evaluated_at)]
    fields += ["what_if", false()]
    obj = func.json_build_object(*(literal(f) if isinstance(f, str) else f for f in fields))
    q = select(func.coalesce(cast(func.json_agg(aggregate_order_by(obj, c.rank_k)), Text), "[]"))
    if top_n is not None:
        q = q.where(c.rank_k <= top_n)
    return q


def store_ranking_snapshot(session: Session, scenario: Scenario) -> None:
    """Render the live global ranking in the database and keep it for the scenario's current
    revision, in the caller's transaction (PostgreSQL only; a no-op elsewhere).

    Called by the writer of a live batch after its rows (and so the revision triggers) are in:
    readers see the new revision only when this transaction commits, and then the body for it
    is already there (``ranking_snapshot_body``). Concurrent writers of one scenario are
    serialized by the revision bump's row lock on ``scenario``, and under READ COMMITTED each
    one's statement sees the rows of every batch committed before it, so the last writer's
    snapshot is the ranking of all of them. One ``INSERT … SELECT``: the body never leaves the
    database here.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    sel = _ranking_json_select(scenario).subquery("j")
    rev = select(Scenario.scores_rev).where(Scenario.id == scenario.id).scalar_subquery()
    stmt = pg_insert(RankingSnapshot).from_select(
        ["scenario_id", "scores_rev", "body"],
        select(literal(scenario.id), rev, sel.c[0]),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[RankingSnapshot.scenario_id],
        set_={"scores_rev": stmt.excluded.scores_rev, "body": stmt.excluded.body},
    )
    session.execute(stmt)


def ranking_snapshot_body(session: Session, scenario_id: int, scores_rev: int) -> bytes | None:
    """The global ranking's ``results`` JSON the writer stored for exactly this revision, or
    None (no snapshot, or the revision moved since: a rename, a deletion, SQLite)."""
    body = session.execute(
        select(RankingSnapshot.body).where(
            RankingSnapshot.scenario_id == scenario_id,
            RankingSnapshot.scores_rev == scores_rev,
        )
    ).scalar_one_or_none()
    return None if body is None else body.encode()


def _score_row_json(r: Any, what_if: bool) -> dict[str, Any]:
    return {
        "computed_at": _iso(r.computed_at),
        "evaluated_at": _iso(r.evaluated_at),
        "what_if": what_if,
        "score": r.score,
        "cpa_km": r.cpa_km,
        "tcpa_s": r.tcpa_s,
        "tdb_km": r.tdb_km,
        "twrp_s": r.twrp_s,
        "n_cpa": r.n_cpa,
        "n_tcpa": r.n_tcpa,
        "n_tdb": r.n_tdb,
        "n_twrp": r.n_twrp,
        "weights": None
        if r.w_cpa is None
        else {"cpa": r.w_cpa, "tcpa": r.w_tcpa, "tdb": r.w_tdb, "twrp": r.w_twrp},
        "quality": r.quality,
    }


def _track_pk(session: Session, scenario: Scenario, track_id: str) -> int:
    pk = session.scalar(
        select(Track.id).where(Track.scenario_id == scenario.id, Track.track_id == track_id)
    )
    if pk is None:
        raise NotFoundError(f"no track {track_id!r} in scenario {scenario.name!r}")
    return int(pk)


def score_history(
    session: Session,
    scenario: Scenario,
    track_id: str,
    da_id: int,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    what_if: bool = False,
) -> list[dict[str, Any]]:
    """Every stored score of one (track, DA) pair describing a time in [start, end], by
    described time then evaluation (for plots); live scores, or with ``what_if`` the stored
    what-ifs."""
    pk = _track_pk(session, scenario, track_id)
    ts: Any = ThreatScoreWhatIf if what_if else ThreatScore
    q = select(ts).where(ts.scenario_id == scenario.id, ts.track_id == pk, ts.da_id == da_id)
    if start is not None:
        q = q.where(ts.computed_at >= start)
    if end is not None:
        q = q.where(ts.computed_at <= end)
    rows = session.scalars(q.order_by(ts.computed_at, ts.evaluated_at, ts.id))
    return [_score_row_json(r, what_if) for r in rows]


def latest_score(
    session: Session, scenario: Scenario, track_id: str, da_id: int, *, what_if: bool = False
) -> dict[str, Any] | None:
    """The score of one (track, DA) the board shows: the most recently evaluated live one (the
    entry of threat_score_latest), or with ``what_if`` the most recently evaluated what-if;
    None when none is stored."""
    pk = _track_pk(session, scenario, track_id)
    r: Any
    if what_if:
        w = ThreatScoreWhatIf
        r = session.scalar(
            select(w)
            .where(w.scenario_id == scenario.id, w.track_id == pk, w.da_id == da_id)
            .order_by(w.evaluated_at.desc(), w.id.desc())
            .limit(1)
        )
    else:
        lt = ThreatScoreLatest
        r = session.scalar(
            select(ThreatScore)
            .join(lt, lt.score_id == ThreatScore.id)
            .where(lt.scenario_id == scenario.id, lt.track_id == pk, lt.da_id == da_id)
        )
    return None if r is None else _score_row_json(r, what_if)


def board_time(session: Session, scenario: Scenario) -> dt.datetime | None:
    """The time the live board describes: that of its most recently evaluated entry (over one
    row per pair, not the whole history); None before any live score. Not the newest described
    time: a replay scenario's "now" goes back to its start after every loop."""
    lt = ThreatScoreLatest
    return session.scalar(
        select(lt.computed_at)
        .where(lt.scenario_id == scenario.id)
        .order_by(lt.evaluated_at.desc(), lt.computed_at.desc())
        .limit(1)
    )


def iter_score_rows(
    session: Session,
    scenario: Scenario,
    *,
    what_if: bool = False,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    page: int = 2000,
) -> Iterator[list[Any]]:
    """The scenario's stored scores (live, or with ``what_if`` the stored what-ifs) with
    ``start`` <= computed_at < ``end``, one list of rows per ``page`` rows, ordered by
    computed_at, evaluated_at, track_id, da_name. Each row: computed_at, evaluated_at,
    track_id, da_name, then the SCORE_FIELDS. Read through a streaming cursor (server-side on
    PostgreSQL): the whole result is never in memory."""
    ts: Any = ThreatScoreWhatIf if what_if else ThreatScore
    stmt = (
        select(
            ts.computed_at,
            ts.evaluated_at,
            Track.track_id,
            DefendedAsset.name,
            *(getattr(ts, f) for f in SCORE_FIELDS),
        )
        .join(Track, Track.id == ts.track_id)
        .join(DefendedAsset, DefendedAsset.id == ts.da_id)
        .where(ts.scenario_id == scenario.id)
        .order_by(ts.computed_at, ts.evaluated_at, Track.track_id, DefendedAsset.name)
    )
    if start is not None:
        stmt = stmt.where(ts.computed_at >= start)
    if end is not None:
        stmt = stmt.where(ts.computed_at < end)
    result = session.execute(stmt.execution_options(yield_per=page))
    for rows in result.partitions():
        yield list(rows)
