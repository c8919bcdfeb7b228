"""Schemathesis against the OpenAPI document: generated requests to every operation, as an
admin, never get a 5xx, an undocumented status code or content type, or a body that violates
the documented schema. Examples per operation are bounded (valid and invalid inputs)."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as oa_checks

from argus.accounts import service as accounts
from argus.accounts import tokens
from argus.api.app import create_app
from argus.config import Settings
from argus.db import migrate
from argus.db.session import make_engine, make_sessionmaker, session_scope
from argus.tewa import service

SECRET = "schemathesis-secret-0123456789abcdefghij"
EXAMPLES = 15
CHECKS = [
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
]


def _build_app() -> Any:
    # Built at import: the operations are parametrized from the schema at collection time.
    url = f"sqlite:///{tempfile.mkdtemp(prefix='argus-fuzz-')}/argus.db"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(make_sessionmaker(engine)) as s:
        service.seed_demo(s)
        accounts.create_user(s, "fuzz-admin", "fuzz-admin-pass", "admin")
    engine.dispose()
    return create_app(Settings(database_url=url, jwt_secret=SECRET, compute_interval_s=0))


SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", _build_app())
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())
}


#: Operations with inputs, which can also be sent invalid ones.
WITH_INPUTS = sorted(
    k for k, op in OPERATIONS.items() if list(op.iter_parameters()) or len(op.body)
)
CASES = [(k, GenerationMode.POSITIVE) for k in sorted(OPERATIONS)] + [
    (k, GenerationMode.NEGATIVE) for k in WITH_INPUTS
]


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 35 and len(WITH_INPUTS) >= 28


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{k} {m.value}" for k, m in CASES])
def test_no_server_error_and_no_schema_violation(label: str, mode: GenerationMode) -> None:
    op = OPERATIONS[label]
    headers = {"Authorization": f"Bearer {tokens.issue(SECRET, 'fuzz-admin', 'admin')}"}

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
        case.validate_response(response, checks=CHECKS)

    run()
