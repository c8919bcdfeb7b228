"""Schemathesis against the OpenAPI document, on SQLite and on PostgreSQL.

- Per operation: generated requests to every operation of the document (valid inputs, and
  invalid ones for operations that take inputs), as an admin, never get a 5xx, an undocumented
  status code or content type, or a body that violates the documented schema.
- Stateful: schemathesis' state machine chains operations along the links it infers from the
  document (a create's ``id`` feeds the ``{scenario_id}`` / ``{da_id}`` of the get, patch and
  delete, and so on), with the same checks plus its stateful ones (a deleted resource is gone,
  a created one is there).

Each backend is a database of its own made for this module (a SQLite file; a PostgreSQL database
created and dropped by the fixture, ``pg`` marker), seeded with the demo scenario and the three
users of tests/api. The admin token comes from a real login (POST /api/auth/login). Examples are
bounded (EXAMPLES per operation and mode, STATEFUL_EXAMPLES scenarios of at most STATEFUL_STEPS
calls), so the module takes well under a minute and a half on two cores.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi import checks as oa_checks
from schemathesis.specs.openapi.stateful import collect_transitions

from argus.accounts import service as accounts
from argus.api.app import create_app
from argus.db import migrate
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.defense.service.runtime import DefenseRuntime
from tests.api._support import PASSWORDS, make_settings, seed_database
from tests.astro._support import seed_walk
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.defense._support import seed_defense

#: The budget; ARGUS_FUZZ_EXAMPLES raises it for a longer hunt (the stateful run scales along).
EXAMPLES = int(os.environ.get("ARGUS_FUZZ_EXAMPLES", "15"))
STATEFUL_EXAMPLES = max(25, 2 * EXAMPLES)
STATEFUL_STEPS = 6
#: Calls the stateful test aims for, in at most STATEFUL_ROUNDS runs of the machine (a run can
#: end early, see the test); at least 100 must be made.
STATEFUL_MIN_CALLS = 4 * STATEFUL_EXAMPLES
STATEFUL_ROUNDS = 8
ADMIN = "admin"
CHECKS = [
    not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
]
#: The stateful run adds the checks that follow a resource through its links.
STATEFUL_CHECKS = [*CHECKS, oa_checks.use_after_free, oa_checks.ensure_resource_availability]


# POST /api/sim/scenario takes a TOML file: schemathesis generates no bodies for that media
# type itself, so it draws from the example scenario (which must play), the example broken in
# a field, non-TOML text and arbitrary bytes.
_EXAMPLE_TOML = (
    Path(__file__).resolve().parents[2] / "src/argus/scenario/examples/defense.toml"
).read_bytes()
schemathesis.openapi.media_type(
    "application/toml",
    st.one_of(
        st.just(_EXAMPLE_TOML),
        st.just(_EXAMPLE_TOML.replace(b"rounds = 16", b"rounds = -1", 1)),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
        st.binary(max_size=200),
    ),
)


def _settings(url: str, **overrides: Any) -> Any:
    # The fuzz's failed logins all come from one client address: keep that address's limit out
    # of the way of the admin's re-login (the username limit still answers 429 as documented).
    return make_settings(url, login_max_failures_per_address=1_000_000, **overrides)


# The operations are parametrized at collection time from the document, which does not depend on
# the database: an app on a throwaway SQLite URL serves the same document (nothing connects).
DOCUMENT = create_app(_settings("sqlite://")).openapi()
OPERATIONS = sorted(
    r.ok().label for r in schemathesis.openapi.from_dict(DOCUMENT).get_all_operations()
)
#: Operations with inputs, which can also be sent invalid ones.
WITH_INPUTS = sorted(
    r.ok().label
    for r in schemathesis.openapi.from_dict(DOCUMENT).get_all_operations()
    if list(r.ok().iter_parameters()) or len(r.ok().body)
)
CASES = [(k, GenerationMode.POSITIVE) for k in OPERATIONS] + [
    (k, GenerationMode.NEGATIVE) for k in WITH_INPUTS
]

#: Links the state machine must know (source operation, status, target operation), so that the
#: stateful test cannot silently test nothing. Inferred by schemathesis from the document.
EXPECTED_LINKS = {
    ("POST /api/scenarios", "201", "GET /api/scenarios/{scenario_id}"),
    ("POST /api/scenarios", "201", "PATCH /api/scenarios/{scenario_id}"),
    ("POST /api/scenarios", "201", "DELETE /api/scenarios/{scenario_id}"),
    ("POST /api/scenarios", "201", "GET /api/scenarios/{scenario_id}/params"),
    ("POST /api/scenarios", "201", "PUT /api/scenarios/{scenario_id}/params"),
    ("POST /api/scenarios", "201", "PUT /api/scenarios/{scenario_id}/assets"),
    ("POST /api/scenarios", "201", "POST /api/scenarios/{scenario_id}/weapons"),
    ("POST /api/scenarios", "201", "GET /api/scenarios/{scenario_id}/tracks"),
    ("PATCH /api/scenarios/{scenario_id}", "200", "DELETE /api/scenarios/{scenario_id}"),
    ("POST /api/assets", "201", "PATCH /api/assets/{da_id}"),
    ("POST /api/assets", "201", "DELETE /api/assets/{da_id}"),
    ("PATCH /api/assets/{da_id}", "200", "DELETE /api/assets/{da_id}"),
    ("POST /api/users", "201", "PATCH /api/users/{username}"),
    (
        "GET /api/scenarios/{scenario_id}/tracks",
        "200",
        "PATCH /api/scenarios/{scenario_id}/tracks/{track_id}",
    ),
    (
        "GET /api/scenarios/{scenario_id}/tracks",
        "200",
        "GET /api/scenarios/{scenario_id}/tracks/{track_id}/samples",
    ),
}


@dataclass
class Target:
    """One backend: its app, the schema loaded from that app, and the admin's current token."""

    backend: str
    url: str
    app: FastAPI
    client: TestClient
    schema: Any
    token: str = ""
    operations: dict[str, Any] = field(default_factory=dict)

    def login(self) -> None:
        r = self.client.post(
            "/api/auth/login", data={"username": ADMIN, "password": PASSWORDS[ADMIN]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["role"] == ADMIN
        self.token = r.json()["access_token"]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def follow(self, case: Any, status_code: int) -> None:
        """The fuzz may change the admin's own password (a link from GET /api/auth/me leads
        there), which revokes the admin's tokens: put the password back and log in again."""
        if (
            case.operation.label == "PATCH /api/users/{username}"
            and case.path_parameters.get("username") == ADMIN
            and status_code == 200
        ):
            engine = make_engine(self.url)
            try:
                with session_scope(make_sessionmaker(engine)) as s:
                    accounts.update_user(s, ADMIN, password=PASSWORDS[ADMIN], active=True)
            finally:
                engine.dispose()
            self.login()


@contextlib.contextmanager
def _database(backend: str, tmp: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/argus.db"
        return
    url, admin = _create_pg_database()  # a missing server: skip, or fail with CI=true
    try:
        yield url
    finally:
        _drop_pg_database(url, admin)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)],
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    backend = str(request.param)
    with tempfile.TemporaryDirectory(prefix="argus-fuzz-") as tmp, _database(backend, tmp) as url:
        migrate.upgrade(url)
        seed_database(url)
        sid = seed_defense(url, users=False)
        seed_walk(url, Path(tmp) / "var")  # astro rows (issue 12) with their stored products
        app = create_app(_settings(url, var_dir=Path(tmp) / "var"))
        # the defense routes answer from a live runtime (not started: a few cycles stepped here,
        # POST /api/controller/restart starts its thread, stopped at the end)
        rt = DefenseRuntime(app.state.sessionmaker, sid)
        rt.launch(31.2, -121.6, 34.05, -118.25, "SCUD-C")
        for _ in range(4):
            rt.step()
        app.state.defense = rt
        with TestClient(app) as client:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            t = Target(backend, url, app, client, schema)
            t.operations = {r.ok().label: r.ok() for r in schema.get_all_operations()}
            t.login()
            try:
                yield t
            finally:
                rt.stop()


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 35 and len(WITH_INPUTS) >= 28
    paths = {f"{m.upper()} {p}" for p, item in DOCUMENT["paths"].items() for m in item}
    assert set(OPERATIONS) == paths


def test_the_backend_serves_the_collected_document(target: Target) -> None:
    assert sorted(target.operations) == OPERATIONS
    assert target.client.get("/openapi.json").json() == DOCUMENT


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{k} {m.value}" for k, m in CASES])
def test_no_server_error_and_no_schema_violation(
    target: Target, label: str, mode: GenerationMode
) -> None:
    op = target.operations[label]

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: against a database it takes minutes
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Any) -> None:
        response = case.call(headers=target.headers())
        target.follow(case, response.status_code)
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
        case.validate_response(response, checks=CHECKS)

    run()


def test_inputs_the_fuzz_broke_are_422s(target: Target) -> None:
    # Found by the fuzz on PostgreSQL, which cannot store U+0000 in text: a DataError (500) from
    # any text input; now a 422. SQLite stores the character, so there the create succeeds.
    r = target.client.post(
        "/api/assets",
        json={"name": "nul\u0000name", "lat": 0, "lon": 0, "radius_km": 1},
        headers=target.headers(),
    )
    if target.backend == "postgresql":
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "NUL" in r.json()["detail"]
    else:
        assert r.status_code == 201, r.text
    # The fuzz may have deleted the seeded scenarios by now: a scenario of this test's own.
    r = target.client.post(
        "/api/scenarios", json={"name": f"nul-test-{uuid.uuid4().hex}"}, headers=target.headers()
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = target.client.put(
        f"/api/scenarios/{sid}/params", json={"tcpa_logistic": {"a": 1.0}}, headers=target.headers()
    )
    assert r.status_code == 422 and "tcpa_logistic" in r.json()["detail"], r.text
    # Found by the fuzz on both backends: a weapon's integers beyond the INTEGER column were a
    # 500 (OverflowError on SQLite, DataError on PostgreSQL); now a 422 from the bounds.
    weapon = {"call_sign": "W1", "weapon_type": "sam", "lat": 0, "lon": 0, "max_range_km": 10}
    for name in ("rounds", "fire_channels", "max_salvo"):
        r = target.client.post(
            f"/api/scenarios/{sid}/weapons",
            json={**weapon, "rounds": 1, name: 2**31},
            headers=target.headers(),
        )
        assert r.status_code == 422 and name in r.json()["detail"], r.text


def _curl(case: Any) -> str:
    try:
        return str(case.as_curl_command(headers={"Authorization": "Bearer [admin token]"}))
    except Exception:
        return repr(case)


def _links(schema: Any) -> set[tuple[str, str, str]]:
    schema.as_state_machine()  # injects the inferred links into the schema
    operations = [r.ok() for r in schema.get_all_operations()]
    return {
        (source, str(link.status_code), link.target.label)
        for source, entry in collect_transitions(operations).operations.items()
        for link in entry.outgoing
    }


def test_the_state_machine_knows_the_expected_links() -> None:
    links = _links(schemathesis.openapi.from_dict(DOCUMENT))
    missing = EXPECTED_LINKS - links
    assert not missing, f"links not inferred: {sorted(missing)}"


def test_stateful_sequences_follow_the_links(target: Target) -> None:
    base = target.schema.as_state_machine()
    assert _links(target.schema) >= EXPECTED_LINKS
    calls: list[tuple[str, int]] = []
    failures: list[str] = []

    class Machine(base):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": target.headers()}

        def call(self, case: Any, **kwargs: Any) -> Any:
            try:
                return super().call(case, **kwargs)
            except Exception as exc:  # an exception out of the app: a 500 (see below)
                failures.append(
                    f"{case.operation.label}: {type(exc).__name__}: {exc}\n{_curl(case)}"
                )
                raise

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            calls.append((case.operation.label, response.status_code))
            target.follow(case, response.status_code)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            # Failures are collected, not raised: the database is state outside Hypothesis, so a
            # replayed scenario can take another path (a name now taken, a resource gone), which
            # Hypothesis reports as flaky instead of the failure. Like schemathesis' own runner,
            # record each failure as it happens and end the run when the replay diverges.
            try:
                case.validate_response(
                    response,
                    checks=STATEFUL_CHECKS,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except Exception as exc:
                failures.append(f"{case.operation.label} -> {response.status_code}: {exc}")

    # A replay that diverges ends a run early (see validate_response): run again, with a new
    # seed, until the sequences made enough calls.
    for _ in range(STATEFUL_ROUNDS):
        with contextlib.suppress(Flaky):  # the failures recorded so far are what counts
            run_state_machine_as_test(
                Machine,
                settings=settings(
                    max_examples=STATEFUL_EXAMPLES,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        if len(calls) >= STATEFUL_MIN_CALLS or failures:
            break
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    # Sequences did run, and some went from a create into the created resource.
    assert len(calls) >= 100, calls
    created = {label for label, code in calls if code == 201}
    assert created & {"POST /api/scenarios", "POST /api/assets", "POST /api/users"}, calls
    assert any("{" in label and code < 300 for label, code in calls), calls
    # The admin stayed logged in (see Target.follow): the calls were not refused wholesale.
    assert sum(code == 401 for _, code in calls) <= len(calls) // 20, calls
    assert target.client.get("/api/auth/me", headers=target.headers()).status_code == 200
