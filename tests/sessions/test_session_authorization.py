"""Authorization per token type and status (policy in evbill.sessions.authorization)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from session_builders import STATION, T0, Clock, at, start_cmd

from evbill.accounts.tokens import TokenError, TokenRegistry, normalize_token
from evbill.config import Settings
from evbill.sessions.commands import AuthorizationStatus, Authorize, IdToken, IdTokenType
from evbill.sessions.service import SessionService
from evbill.store import Database

S = AuthorizationStatus


@pytest.fixture
def tokens(db: Database, station: str) -> TokenRegistry:
    registry = TokenRegistry(db)
    registry.add("de:ad:be:ef:00:01", type_=IdTokenType.MAC_ADDRESS, now=T0, account="car-1")
    registry.add("DE-8EO-C12E45A67-3", type_=IdTokenType.EMAID, now=T0, group_id="fleet")
    registry.add("BLOCKED01", now=T0, status="Blocked")
    registry.add("INVALID01", now=T0, status="Invalid")
    registry.add("OLDCARD01", now=T0, expires_at=T0 + timedelta(days=1))
    registry.add("1234", type_=IdTokenType.KEY_CODE, now=T0)
    registry.add("OPS-CENTRAL-9", type_=IdTokenType.CENTRAL, now=T0, status="Blocked")
    return registry


def ask(service: SessionService, value: str, type_: IdTokenType = IdTokenType.ISO14443,
        when: int = 0) -> AuthorizationStatus:
    cmd = Authorize(STATION, IdToken(value, type_), T0 + timedelta(hours=when))
    return service.authorize(cmd).status


@pytest.mark.parametrize(
    ("value", "type_", "when", "expected"),
    [
        ("04a1b2c3d4e5f6", IdTokenType.ISO14443, 0, S.ACCEPTED),  # case-insensitive hex UID
        ("04:A1:B2:C3:D4:E5:F6", IdTokenType.ISO14443, 0, S.ACCEPTED),
        ("FFFFFFFF", IdTokenType.ISO14443, 0, S.UNKNOWN),
        ("BLOCKED01", IdTokenType.ISO14443, 0, S.BLOCKED),
        ("INVALID01", IdTokenType.ISO14443, 0, S.INVALID),
        ("OLDCARD01", IdTokenType.ISO14443, 1, S.ACCEPTED),
        ("OLDCARD01", IdTokenType.ISO14443, 48, S.EXPIRED),
        ("DEADBEEF0001", IdTokenType.MAC_ADDRESS, 0, S.ACCEPTED),  # Autocharge
        ("de-ad-be-ef-00-02", IdTokenType.MAC_ADDRESS, 0, S.UNKNOWN),
        ("de8eoc12e45a673", IdTokenType.EMAID, 0, S.ACCEPTED),  # Plug & Charge
        ("DE-8EO-C99E45A67-3", IdTokenType.EMAID, 0, S.UNKNOWN),
        ("1234", IdTokenType.KEY_CODE, 0, S.ACCEPTED),
        ("1234", IdTokenType.LOCAL, 0, S.ACCEPTED),  # card-like types: one namespace
        ("04a1b2c3d4e5f6", IdTokenType.LOCAL, 0, S.ACCEPTED),  # a 2.0.1 "Local" card
        ("DEADBEEF0001", IdTokenType.ISO14443, 0, S.UNKNOWN),  # a MAC is not a card
        ("DE8EOC12E45A673", IdTokenType.ISO14443, 0, S.UNKNOWN),  # nor is an eMAID
        ("ANY-REMOTE-START", IdTokenType.CENTRAL, 0, S.ACCEPTED),
        ("OPS-CENTRAL-9", IdTokenType.CENTRAL, 0, S.BLOCKED),
        ("", IdTokenType.NO_AUTHORIZATION, 0, S.ACCEPTED),
    ],
)
def test_authorize_per_type_and_status(
    service: SessionService, tokens: TokenRegistry, value: str, type_: IdTokenType, when: int,
    expected: AuthorizationStatus,
) -> None:  # fmt: skip
    assert ask(service, value, type_, when) is expected


def test_1_6_id_tags_find_tokens_of_any_type(service: SessionService,
                                             tokens: TokenRegistry) -> None:
    # 1.6 has no token type: the adapter sends ISO14443, the token is registered as KeyCode
    assert ask(service, "1234", IdTokenType.ISO14443) is S.ACCEPTED


def test_no_authorization_can_be_refused(db: Database, clock: Clock, station: str) -> None:
    strict = SessionService(db, Settings(accept_no_authorization=False), clock=clock)
    assert ask(strict, "", IdTokenType.NO_AUTHORIZATION) is S.INVALID


def test_start_with_a_rejected_token_is_recorded_and_flagged(
    service: SessionService, tokens: TokenRegistry
) -> None:
    result = service.start(start_cmd(id_token=IdToken("BLOCKED01")))
    assert result.authorization.status is S.BLOCKED
    detail = service.find_session(STATION, result.transaction_id)
    assert detail is not None and "authorization_rejected" in detail.session.flags
    free = service.start(start_cmd(evse_id=2, started_at=at(1),
                                   id_token=IdToken("", IdTokenType.NO_AUTHORIZATION)))  # fmt: skip
    view = service.find_session(STATION, free.transaction_id)
    assert view is not None and view.session.id_token is None and view.session.flags == ()


def test_token_registry_rules(tokens: TokenRegistry) -> None:
    with pytest.raises(TokenError, match="already registered"):
        tokens.add("04:a1:b2:c3:d4:e5:f6", now=T0)
    with pytest.raises(TokenError, match="status"):
        tokens.add("NEWCARD", now=T0, status="Maybe")
    assert normalize_token(" de-ad-be-ef-00-01 ", IdTokenType.MAC_ADDRESS) == "DEADBEEF0001"
    assert normalize_token("NOT HEX", IdTokenType.ISO14443) == "NOT HEX"
