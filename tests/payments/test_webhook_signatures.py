"""`t=…,v1=…` webhook signatures: forged, stale and replayed events are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evbill.payments.provider import WebhookReplayed, WebhookSignatureInvalid, WebhookStale
from evbill.payments.webhooks import (
    ReplayGuard,
    header_value,
    parse_signature_header,
    sign,
    verify_signature,
    verify_timestamp,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"id":"evt_1","type":"capture.succeeded"}'


def test_signature_round_trip() -> None:
    header = sign(BODY, "whsec_a", T)
    assert header.startswith(f"t={T},v1=")
    assert verify_signature(header, BODY, ("whsec_a",)) == T


def test_known_vector_matches_the_stripe_scheme() -> None:
    # printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac whsec_a
    assert sign(b"{}", "whsec_a", 1700000000) == (
        "t=1700000000,v1=04339dc4f01d6541e8d3b7e4bd93cd2d4f680ccb28592270900b08e49cc09e57"
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [(None, "missing"), ("", "missing"), ("garbage", "not key=value"),
     ("v1=abc", "no timestamp"), (f"t={T}", "no v1"), ("t=abc,v1=00", "not a unix")],
)
def test_malformed_headers_are_refused(header: str | None, message: str) -> None:
    with pytest.raises(WebhookSignatureInvalid, match=message):
        verify_signature(header, BODY, ("whsec_a",))


def test_wrong_secret_or_tampered_body_is_a_forgery() -> None:
    forged = sign(BODY, "whsec_attacker", T)
    with pytest.raises(WebhookSignatureInvalid, match="no v1 signature matches"):
        verify_signature(forged, BODY, ("whsec_a",))
    genuine = sign(BODY, "whsec_a", T)
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(genuine, BODY.replace(b"capture", b"refund"), ("whsec_a",))


def test_moving_the_timestamp_breaks_the_signature() -> None:
    genuine = sign(BODY, "whsec_a", T - 3600)
    moved = genuine.replace(f"t={T - 3600}", f"t={T}")
    with pytest.raises(WebhookSignatureInvalid):
        verify_signature(moved, BODY, ("whsec_a",))


def test_secret_rotation_accepts_either_secret_and_several_signatures() -> None:
    header = sign(BODY, "whsec_new", T) + "," + sign(BODY, "whsec_old", T).split(",")[1]
    assert len(parse_signature_header(header)[1]) == 2
    assert verify_signature(header, BODY, ("whsec_old",)) == T
    assert verify_signature(sign(BODY, "whsec_old", T), BODY, ("whsec_new", "whsec_old")) == T


def test_timestamp_tolerance_both_ways() -> None:
    tolerance = timedelta(minutes=5)
    verify_timestamp(T - 300, NOW, tolerance)
    verify_timestamp(T + 300, NOW, tolerance)
    with pytest.raises(WebhookStale, match="outside the 300s tolerance"):
        verify_timestamp(T - 301, NOW, tolerance)
    with pytest.raises(WebhookStale):
        verify_timestamp(T + 301, NOW, tolerance)


def test_replay_guard_refuses_a_second_delivery_and_forgets_old_ids() -> None:
    guard = ReplayGuard(timedelta(minutes=5))
    guard.check_and_remember("evt_1", NOW)
    with pytest.raises(WebhookReplayed, match="evt_1"):
        guard.check_and_remember("evt_1", NOW + timedelta(seconds=30))
    guard.check_and_remember("evt_2", NOW + timedelta(minutes=11))
    assert len(guard) == 1  # evt_1 is past twice the tolerance; a replay would be stale


def test_header_lookup_is_case_insensitive() -> None:
    assert header_value({"stripe-signature": "x"}, "Stripe-Signature") == "x"
    assert header_value({}, "Stripe-Signature") is None
