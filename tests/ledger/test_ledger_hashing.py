"""Canonical encoding: a golden vector (the format is a published contract) and its rules."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from evbill.ledger import accounts as acc
from evbill.ledger.hashing import (
    GENESIS_HASH,
    ChainHead,
    canonical_amount,
    canonical_time,
    chain_transaction,
    encode_entry,
    hash_entry,
    parse_time,
    restore_transaction,
)
from evbill.ledger.journal import Entry, build_transaction
from evbill.money import Money

CAPTURE = build_transaction(
    idempotency_key="capture:sess-1", kind="capture", reference="sess-1",
    occurred_at=datetime(2025, 3, 1, 12, 0, 5, 250000, tzinfo=UTC),
    entries=[Entry.debit(acc.provider_clearing("stripe"), Money.of("11.90", "EUR")),
             Entry.credit(acc.revenue("op-1"), Money.of("10.00", "EUR")),
             Entry.credit(acc.vat_payable("DE", "19"), Money.of("1.90", "EUR"))],
)

# Written out by hand from docs/ledger.md: if this test fails, the published format changed.
GOLDEN_FIRST = (
    b"22:evbill-ledger-entry-v1,36:580e264e-4af7-5e89-9508-894cd9287100,14:capture:sess-1,"
    b"7:capture,6:sess-1,0:,27:2025-03-01T12:00:05.250000Z,1:1,64:" + b"0" * 64 + b","
    b"21:asset:clearing:stripe,4:11.9,3:EUR,"
)
GOLDEN_HASHES = [
    "cf41f0d0ce7a814c7e97c3a79c903b51804cb17a68913f54ffaa2c09cb47b331",
    "70bff6d4e6e0f5a76db2655d6ea07c5db7ad43f4219e60c71ca1125940f3afca",
    "c5848d384aa1a8841767cb78d0917bf5e02b08bf65975f42211ca579ea6f2ffd",
]


def test_golden_vector() -> None:
    entries = chain_transaction(CAPTURE, ChainHead())
    assert encode_entry(entries[0]) == GOLDEN_FIRST
    assert entries[0].hash == hashlib.sha256(GOLDEN_FIRST).hexdigest()
    assert [e.hash for e in entries] == GOLDEN_HASHES
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.amount for e in entries] == ["11.9", "-10", "-1.9"]


def test_the_chain_links_each_entry_to_the_previous_hash() -> None:
    entries = chain_transaction(CAPTURE, ChainHead())
    assert entries[0].prev_hash == GENESIS_HASH == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    later = chain_transaction(CAPTURE, ChainHead(3, entries[-1].hash))
    assert later[0].seq == 4 and later[0].prev_hash == entries[-1].hash
    assert later[0].hash != entries[0].hash


def test_encoding_is_deterministic_and_ignores_decimal_spelling() -> None:
    again = build_transaction(
        idempotency_key="capture:sess-1", kind="capture", reference="sess-1",
        occurred_at=datetime(2025, 3, 1, 13, 0, 5, 250000, tzinfo=timezone(timedelta(hours=1))),
        entries=[Entry.debit(acc.provider_clearing("stripe"), Money.of("11.9", "EUR")),
                 Entry.credit(acc.revenue("op-1"), Money.of("10", "EUR")),
                 Entry.credit(acc.vat_payable("DE", "19"), Money.of("1.900", "EUR"))],
    )
    assert [e.hash for e in chain_transaction(again, ChainHead())] == GOLDEN_HASHES


@pytest.mark.parametrize("field", ["transaction_id", "idempotency_key", "kind", "reference",
                                   "reverses", "occurred_at", "account", "amount", "currency",
                                   "prev_hash"])
def test_every_field_is_covered_by_the_hash(field: str) -> None:
    entry = chain_transaction(CAPTURE, ChainHead())[0]
    changed = entry._replace(**{field: getattr(entry, field) + "x"})
    assert hash_entry(changed) != entry.hash
    assert hash_entry(entry._replace(seq=2)) != entry.hash


def test_netstrings_keep_field_boundaries() -> None:
    entry = chain_transaction(CAPTURE, ChainHead())[0]
    shifted = entry._replace(kind="capturesess-1", reference="")
    assert hash_entry(shifted) != entry.hash


@pytest.mark.parametrize(
    ("amount", "text"),
    [("1.10", "1.1"), ("100", "100"), ("1E+2", "100"), ("-0.50", "-0.5"), ("0.00", "0"),
     ("-0", "0"), ("12345678901234567890.12", "12345678901234567890.12")],
)
def test_canonical_amount(amount: str, text: str) -> None:
    assert canonical_amount(Decimal(amount)) == text


def test_canonical_time_is_utc_with_microseconds() -> None:
    moment = datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_time(moment) == "2024-12-31T22:30:00.000000Z"
    assert parse_time("2024-12-31T22:30:00.000000Z") == moment
    with pytest.raises(ValueError, match="naive"):
        canonical_time(datetime(2025, 1, 1))


def test_restore_transaction_round_trips() -> None:
    assert restore_transaction(chain_transaction(CAPTURE, ChainHead(7, "a" * 64))) == CAPTURE
