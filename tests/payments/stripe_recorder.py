"""A `stripe.HTTPClient` that records every request the SDK sends and answers from fixtures.

Given a real client (`live=`), it forwards instead of reading fixtures, so the same tests can
run against a Stripe test account (docs/payments.md); injected faults still apply then.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stripe"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]
    form: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    @property
    def params(self) -> dict[str, str]:
        return dict(self.form)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass(frozen=True)
class _Step:
    fixture: str | None
    status: int = 200
    fault: str | None = None  # "timeout_before" | "timeout_after" | "unavailable"


class RecordingHTTPClient(stripe.HTTPClient):
    name = "evbill-recorded"

    def __init__(self, live: stripe.HTTPClient | None = None) -> None:
        super().__init__()
        self.live = live
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Step] = deque()

    # --- scripting -------------------------------------------------------------------
    def serve(self, fixture: str, status: int = 200) -> RecordingHTTPClient:
        """Answer the next request with tests/data/stripe/<fixture>.json and `status`."""
        self._script.append(_Step(fixture, status))
        return self

    def timeout(self, *, after_execution: bool, fixture: str | None = None) -> RecordingHTTPClient:
        """The next request times out, before reaching Stripe or after it executed."""
        fault = "timeout_after" if after_execution else "timeout_before"
        self._script.append(_Step(fixture, 200, fault))
        return self

    def unavailable(self) -> RecordingHTTPClient:
        """The next request gets HTTP 500 from Stripe without being executed."""
        self._script.append(_Step("error_api_500", 500, "unavailable"))
        return self

    @property
    def pending(self) -> int:
        return len(self._script)

    # --- stripe.HTTPClient -----------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        form = tuple(parse_qsl(post_data or "", keep_blank_values=True))
        self.requests.append(RecordedRequest(method, url, dict(headers or {}), form))
        if not self._script:
            raise AssertionError(f"unexpected Stripe request {method.upper()} {url}")
        step = self._script.popleft()
        if step.fault == "timeout_before":
            raise stripe.APIConnectionError("Request timed out", should_retry=True)
        if self.live is not None and step.fault != "unavailable":
            body, status, rheaders = self.live.request(method, url, headers, post_data)
        else:
            assert step.fixture is not None
            body = (FIXTURES / f"{step.fixture}.json").read_text(encoding="utf-8")
            status, rheaders = step.status, {"request-id": f"req_{len(self.requests):04d}"}
        if step.fault == "timeout_after":
            raise stripe.APIConnectionError("Request timed out", should_retry=True)
        return body, status, rheaders

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        raise AssertionError("streaming requests are not used by evbill")

    def close(self) -> None:
        if self.live is not None:
            self.live.close()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data
