"""Schemathesis over the whole OpenAPI surface, as each role (issue 11: fuzzing that keeps
the findings closed): every documented operation is called with generated parameters and
bodies, as a driver, an operator admin, finance staff and an anonymous caller, against the
ASGI app on a migrated database with a populated world. No answer may be a 5xx, and every
answer must match what the document says for its status (schema and content type).

Kept short for CI: a handful of examples per operation and role, no shrinking, no example
database; the run takes well under a minute on SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_world import T0, Clock, World, api_settings, build_world
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from evbill.api.app import create_app
from evbill.api.auth import issue_token
from evbill.config import Settings, sqlite_url_for
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.store.database import Database
from evbill.store.migrate import ensure_schema

ROLES = {"driver": "driver", "operator_admin": "admin", "finance": "finance", "anonymous": None}
EXAMPLES = int(os.environ.get("EVBILL_FUZZ_EXAMPLES", "8"))  # more: a deeper run
#: Operations that end the caller's sessions: each call gets a token of its own.
REVOKING = {"/api/v1/auth/logout", "/api/v1/me/password"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


class Fuzzed:
    def __init__(self, app: Any, world: World) -> None:
        self.app, self.world = app, world
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    url = sqlite_url_for(data_dir)
    ensure_schema(url)
    db = Database.open(url)
    clock = Clock(T0)
    app = create_app(Settings(data_dir=data_dir), api_settings=api_settings(), db=db,
                     clock=clock, provider=SandboxProvider(clock=clock, namespace="fz"))
    world = build_world(db, app.state.evbill, clock)
    try:
        yield Fuzzed(app, world)
    finally:
        db.dispose()


def _headers(fuzzed: Fuzzed, label: str | None, path: str) -> dict[str, str]:
    if label is None:
        return {}
    world = fuzzed.world
    token = (issue_token(fuzzed.app.state.evbill, world.users[label]) if path in REVOKING
             else world.tokens[label])
    return {"Authorization": f"Bearer {token}"}


def _fuzz(fuzzed: Fuzzed, operation: Any, role: str, failures: list[str],
          statuses: dict[int, int]) -> None:
    """Run the generated cases of one operation as `role`, noting statuses and failures."""
    label, path = ROLES[role], operation.path

    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        headers = {**(case.headers or {}), **_headers(fuzzed, label, path)}
        case.headers = headers
        response = case.call()
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # collected and reported by the test
            found = [ln[2:] for ln in str(exc).splitlines() if ln.startswith("- ")]
            failures.append(f"{role} {operation.method.upper()} {path}: {response.status_code} "
                            f"{'; '.join(found) or str(exc).splitlines()[0]}"[:300])
            raise

    try:
        call()
    except (Exception, BaseExceptionGroup):  # the failure is in `failures`
        return


@pytest.mark.parametrize("role", list(ROLES))
def test_no_5xx_and_every_answer_as_documented(fuzzed: Fuzzed, role: str) -> None:
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = [result.ok() for result in fuzzed.schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        _fuzz(fuzzed, operation, role, failures, statuses)
    print(role, sorted(statuses.items()))
    assert sum(statuses.values()) >= len(operations) * 2  # the fuzzer really called them
    assert failures == [], "\n".join(sorted(set(failures)))
