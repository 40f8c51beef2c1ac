"""One physical token, one identity: the credential key, the registry's refusal whatever the
type, the lookup's kind rules, and migration 0013 on a database that holds duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from evbill.accounts.credentials import (
    ClaimCodes,
    CredentialKind,
    credential_key,
    credential_kind,
    find_credential,
)
from evbill.accounts.tokens import ClaimRefused, TokenError, TokenRegistry
from evbill.sessions.commands import IdTokenType as T
from evbill.store.database import Database
from evbill.store.migrate import alembic_config

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CARD_TYPES = [T.ISO14443, T.ISO15693, T.LOCAL, T.CENTRAL, T.KEY_CODE]


@pytest.mark.parametrize(
    ("value", "type_", "key"),
    [
        ("04:a1:b2:c3", T.ISO14443, "04A1B2C3"),
        (" 04-a1-b2-c3 ", T.LOCAL, "04A1B2C3"),
        ("04.A1.B2.C3", T.CENTRAL, "04A1B2C3"),
        ("04 a1 b2 c3", T.ISO15693, "04A1B2C3"),
        ("1234", T.KEY_CODE, "1234"),
        ("fleet-card-7", T.CENTRAL, "fleet-card-7"),  # not hex: as sent, trimmed
        ("de:ad:be:ef:00:01", T.MAC_ADDRESS, "DEADBEEF0001"),
        ("de-8eo-c12e45a67-3", T.EMAID, "DE8EOC12E45A673"),
    ],
)
def test_the_credential_key(value: str, type_: T, key: str) -> None:
    assert credential_key(value, type_) == key


def test_kinds() -> None:
    assert {credential_kind(t) for t in CARD_TYPES} == {CredentialKind.CARD}
    assert credential_kind(T.EMAID) is CredentialKind.EMAID
    assert credential_kind(T.MAC_ADDRESS) is CredentialKind.MAC


@pytest.mark.parametrize("other", [*CARD_TYPES, T.MAC_ADDRESS])
def test_a_registered_uid_cannot_be_registered_again_under_any_type(db: Database,
                                                                    other: T) -> None:  # fmt: skip
    tokens = TokenRegistry(db)
    tokens.add("04:A1:B2:C3:D4:E5", now=T0, account="driver.victim")
    with pytest.raises(TokenError, match="already registered"):
        tokens.add("04a1b2c3d4e5", type_=other, now=T0, account="driver.attacker")
    with db.read_sessions() as s:
        found = find_credential(s, "04A1B2C3D4E5")
    assert found is not None and found.account == "driver.victim"


def test_the_lookup_matches_cards_across_card_types_and_never_across_kinds(db: Database) -> None:
    tokens = TokenRegistry(db)
    tokens.add("04A1B2C3", now=T0, account="driver.a")
    tokens.add("AABBCCDDEEFF", type_=T.MAC_ADDRESS, now=T0, account="car.b")
    tokens.add("DE8EOC12E45A673", type_=T.EMAID, now=T0, account="contract.c")
    with db.read_sessions() as s:
        for kind in CARD_TYPES:
            row = find_credential(s, "04:a1:b2:c3", kind)
            assert row is not None and row.account == "driver.a", kind
        assert find_credential(s, "04A1B2C3", T.MAC_ADDRESS) is None
        assert find_credential(s, "04A1B2C3", T.EMAID) is None
        assert find_credential(s, "aa:bb:cc:dd:ee:ff", T.ISO14443) is None  # a MAC, not a card
        assert find_credential(s, "aa:bb:cc:dd:ee:ff", T.MAC_ADDRESS) is not None
        assert find_credential(s, "DE8EOC12E45A673", T.CENTRAL) is None
        assert find_credential(s, "DE-8EO-C12E45A67-3", T.EMAID) is not None


def test_an_issued_card_is_claimed_only_with_its_code(db: Database) -> None:
    codes, tokens = ClaimCodes("installation-secret"), TokenRegistry(db)
    issued = tokens.issue("04:0a:0b:0c", codes, now=T0)
    assert issued.row.claim_code_hash is not None and issued.code not in issued.row.claim_code_hash
    with pytest.raises(ClaimRefused):
        tokens.claim("040A0B0C", codes.new(), "driver.attacker", codes)
    with pytest.raises(ClaimRefused):  # the right code under another installation's key
        tokens.claim("040A0B0C", issued.code, "driver.a", ClaimCodes("another-secret"))
    with pytest.raises(ClaimRefused):  # a code is bound to its card
        other = tokens.issue("040A0B0D", codes, now=T0)
        tokens.claim("040A0B0C", other.code, "driver.a", codes)
    row = tokens.claim("040a0b0c", issued.code.replace("-", " ").lower(), "driver.a", codes,
                       type_=T.LOCAL)  # fmt: skip
    assert row.account == "driver.a" and row.claim_code_hash is None
    assert tokens.claim("040A0B0C", "anything", "driver.a", codes).id == row.id  # idempotent
    with pytest.raises(ClaimRefused):
        tokens.claim("040A0B0C", issued.code, "driver.b", codes)
    with pytest.raises(ClaimRefused):  # registered directly by the operator: no code, no claim
        tokens.add("04FFFFFF", now=T0)
        tokens.claim("04FFFFFF", "", "driver.b", codes)


def _tokens_table() -> sa.TableClause:
    return sa.table("id_tokens", sa.column("value", sa.String()), sa.column("type", sa.String()),
                    sa.column("status", sa.String()), sa.column("account", sa.String()),
                    sa.column("created_at", sa.DateTime()))  # fmt: skip


def test_migration_0013_refuses_duplicates_and_normalises_card_values(
    empty_database_url: str,
) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0009_dedup_retention")
    engine = sa.create_engine(empty_database_url)
    rows = [("04A1B2C3", "ISO14443", "driver.victim"), ("04A1B2C3", "Central", "driver.evil"),
            ("0a:0b:0c", "Local", None), ("KEY-1", "KeyCode", None)]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(_tokens_table()), [
            {"value": v, "type": t, "status": "Accepted", "account": a, "created_at": T0}
            for v, t, a in rows])  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO stations (id, time_zone, auto_registered, connected, created_at) "
            "VALUES ('CS-1', 'Europe/Berlin', false, false, :t)"), {"t": T0})
        conn.execute(sa.text(
            "INSERT INTO sessions (station_id, evse_id, connector_id, state, id_token, "
            "id_token_type, started_at, energy_wh, energy_source, time_zone, start_received, "
            "stop_received, flags, created_at, updated_at) VALUES ('CS-1', 1, 1, 'completed', "
            ":tok, :type, :t, '0', 'meter', 'Europe/Berlin', true, true, '[]', :t, :t)"),
            [{"tok": "0a:0b:0c", "type": "Local", "t": T0},
             {"tok": "04a1b2c3", "type": "ISO14443", "t": T0}])
        conn.execute(sa.text(
            "INSERT INTO payment_token_bindings (id_token, mode, account, created_at) "
            "VALUES ('0a:0b:0c', 'postpaid', 'fleet.x', :t)"), {"t": T0})
    with pytest.raises(Exception, match=r"04A1B2C3: id 1 \(ISO14443, account driver.victim\), "
                                        r"id 2 \(Central, account driver.evil\)"):
        command.upgrade(config, "head")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM id_tokens WHERE type = 'Central'"))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT type, value FROM id_tokens")).all())
        sessions = set(conn.execute(sa.text("SELECT id_token FROM sessions")).scalars())
        bound = set(conn.execute(sa.text("SELECT id_token FROM payment_token_bindings"))
                    .scalars())  # fmt: skip
    engine.dispose()
    assert stored == {"ISO14443": "04A1B2C3", "Local": "0A0B0C", "KeyCode": "KEY-1"}
    assert sessions == {"0A0B0C", "04A1B2C3"} and bound == {"0A0B0C"}  # under the new keys
    db = Database.open(empty_database_url)
    try:
        with pytest.raises(TokenError, match="already registered"):
            TokenRegistry(db).add("0A0B0C", type_=T.ISO15693, now=T0)
    finally:
        db.dispose()
