"""Tables and repositories on both backends: exact money, UTC time, tariff in force, outbox."""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from evbill.accounts.passwords import PasswordError, hash_password, needs_rehash, verify_password
from evbill.accounts.stations import StationError, StationRegistry
from evbill.store import Database
from evbill.store import database as database_module
from evbill.store.outbox import StationCommandError, StationCommandOutbox
from evbill.store.tables import MeterSampleRow, SessionRow, TariffAssignmentRow, TariffRow
from evbill.store.types import NaiveDatetimeError
from evbill.store.uow import UnitOfWork

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _station(db: Database, station_id: str = "CS1", evses: int = 2) -> None:
    StationRegistry(db).add(station_id, time_zone="Europe/Berlin", now=T0, evses=evses,
                            password="correct horse battery")  # fmt: skip


def _session(uow: UnitOfWork, **kw: object) -> SessionRow:
    values: dict[str, object] = dict(
        station_id="CS1", evse_id=1, connector_id=1, transaction_id="tx-1", state="charging",
        started_at=T0, energy_wh=Decimal(0), time_zone="Europe/Berlin", flags=[],
        created_at=T0, updated_at=T0,
    )  # fmt: skip
    values.update(kw)
    row = SessionRow(**values)
    uow.sessions.add(row)
    uow.flush()
    return row


def test_decimals_and_timestamps_round_trip_exactly(db: Database) -> None:
    _station(db)
    berlin = timezone(timedelta(hours=1))
    with UnitOfWork(db) as uow:
        row = _session(uow, started_at=datetime(2025, 3, 1, 13, 0, tzinfo=berlin),
                       energy_wh=Decimal("12345678901234.123456789"))  # fmt: skip
        uow.sessions.add_sample(MeterSampleRow(
            session_id=row.id, station_id="CS1", evse_id=1, at=T0, context="Sample.Periodic",
            energy_wh=Decimal("0.1"), power_w=Decimal("7400.05"), received_at=T0,
        ))  # fmt: skip
        uow.commit()
        session_id = row.id
    with UnitOfWork(db) as uow:
        got = uow.sessions.get(session_id)
        assert got is not None
        assert got.energy_wh == Decimal("12345678901234.123456789")
        assert got.started_at == T0 and got.started_at.tzinfo is not None
        [sample] = uow.sessions.samples(session_id)
        assert sample.energy_wh == Decimal("0.1") and isinstance(sample.energy_wh, Decimal)
        assert sample.power_w == Decimal("7400.05")


def test_naive_timestamps_are_refused(db: Database) -> None:
    _station(db)
    with UnitOfWork(db) as uow, pytest.raises(Exception) as info:
        _session(uow, started_at=datetime(2025, 3, 1, 12, 0))
    assert isinstance(info.value.__cause__ or info.value, NaiveDatetimeError) or (
        "no time zone" in str(info.value)
    )


def test_transaction_ids_are_unique_per_station(db: Database) -> None:
    _station(db)
    with UnitOfWork(db) as uow:
        _session(uow)
        uow.commit()
    with UnitOfWork(db) as uow, pytest.raises(IntegrityError):
        _session(uow)


def _tariff(uow: UnitOfWork, tariff_id: str) -> int:
    row = TariffRow(tariff_id=tariff_id, version="1", currency="EUR", ocpi_json="{}",
                    created_at=T0)  # fmt: skip
    uow.tariffs.add(row)
    uow.flush()
    return row.pk


def test_tariff_in_force_prefers_evse_then_station_then_default_by_valid_from(
    db: Database,
) -> None:
    _station(db)
    _station(db, "CS2")
    with UnitOfWork(db) as uow:
        default_old, default_new, station, evse = (
            _tariff(uow, name) for name in ("DEF1", "DEF2", "ST", "EV")
        )
        def assign(pk: int, at: datetime, station_id: str | None = None,
                   evse_id: int | None = None) -> None:
            uow.tariffs.assign(TariffAssignmentRow(
                tariff_pk=pk, station_id=station_id, evse_id=evse_id,
                is_default=station_id is None, valid_from=at, created_at=T0,
            ))  # fmt: skip
        assign(default_old, T0 - timedelta(days=30))
        assign(default_new, T0 + timedelta(days=1))
        assign(station, T0 + timedelta(days=2), "CS1")
        assign(evse, T0 + timedelta(days=3), "CS1", 2)
        uow.commit()
    with UnitOfWork(db) as uow:
        def tid(station_id: str, evse_id: int, at: datetime) -> str | None:
            row = uow.tariffs.in_force(station_id, evse_id, at)
            return None if row is None else row.tariff_id
        assert tid("CS1", 1, T0 - timedelta(days=31)) is None
        assert tid("CS1", 1, T0) == "DEF1"
        assert tid("CS1", 2, T0 + timedelta(days=1, hours=1)) == "DEF2"
        assert tid("CS1", 2, T0 + timedelta(days=2, hours=1)) == "ST"
        assert tid("CS1", 1, T0 + timedelta(days=9)) == "ST"
        assert tid("CS1", 2, T0 + timedelta(days=9)) == "EV"
        assert tid("CS2", 2, T0 + timedelta(days=9)) == "DEF2"


def test_second_engine_sees_committed_data_only(database_url: str) -> None:
    first, second = Database.open(database_url), Database.open(database_url)
    try:
        _station(first)
        with UnitOfWork(first) as uow:
            _session(uow, transaction_id="uncommitted")
            uow.flush()
            with UnitOfWork(second, read_only=True) as other:
                assert other.sessions.by_transaction("CS1", "uncommitted") is None
            uow.commit()
        with UnitOfWork(second, read_only=True) as other:
            assert other.sessions.by_transaction("CS1", "uncommitted") is not None
    finally:
        first.dispose()
        second.dispose()


def test_station_password_is_hashed_and_checked(db: Database) -> None:
    _station(db)
    registry = StationRegistry(db)
    row = registry.get("CS1")
    assert row is not None and row.password_hash is not None
    assert "correct horse" not in row.password_hash
    assert row.password_hash.startswith("hmac_sha256$")  # keyed, like an API key
    assert registry.check_password("CS1", "correct horse battery")
    assert not registry.check_password("CS1", "correct horse battery!")
    assert not registry.check_password("NOPE", "correct horse battery")
    with pytest.raises(StationError, match="already registered"):
        _station(db)


def test_password_hash_rules() -> None:
    stored = hash_password("0123456789abcdef")
    assert verify_password("0123456789abcdef", stored)
    assert not verify_password("0123456789abcdeF", stored)
    assert hash_password("0123456789abcdef") != stored  # salted
    assert needs_rehash(stored)  # PBKDF2: replaced by the keyed hash at the next login
    keyed = hash_password("0123456789abcdef", key=b"k" * 32)
    assert verify_password("0123456789abcdef", keyed, key=b"k" * 32) and not needs_rehash(keyed)
    assert not verify_password("0123456789abcdef", keyed, key=b"x" * 32)
    with pytest.raises(PasswordError, match="installation key"):
        verify_password("0123456789abcdef", keyed)
    with pytest.raises(PasswordError, match="16 to 40"):
        hash_password("short")
    with pytest.raises(PasswordError, match="too weak"):
        verify_password("0123456789abcdef", "pbkdf2_sha256$1000$AAAA$AAAA")
    with pytest.raises(PasswordError, match="not a pbkdf2_sha256 or scrypt"):
        verify_password("0123456789abcdef", "md5$abc")
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"0123456789abcdef", salt=salt, n=1 << 14, r=8, p=1, dklen=32)
    legacy = f"scrypt$14$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password("0123456789abcdef", legacy) and needs_rehash(legacy)


def test_the_gateway_handshake_accepts_our_hashes() -> None:
    from evbill.ocpp.auth import verify_station_password

    stored = hash_password("station-password-0001")
    assert verify_station_password("station-password-0001", stored)
    assert not verify_station_password("station-password-0002", stored)


def test_outbox_claims_each_command_once(db: Database) -> None:
    _station(db)
    outbox = StationCommandOutbox(db)
    queued = [
        outbox.enqueue("CS1", "RequestStartTransaction", {"evseId": i}, now=T0 + timedelta(i))
        for i in range(6)
    ]
    claimed: list[list[str]] = []

    def claim(name: str) -> None:
        got = outbox.claim_pending(["CS1"], claimed_by=name, now=T0, limit=10)
        claimed.append([c.id for c in got])

    threads = [threading.Thread(target=claim, args=(f"gw{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [cid for batch in claimed for cid in batch]
    assert sorted(ids) == sorted(c.id for c in queued)
    done = outbox.finish(queued[0].id, now=T0, result={"status": "Accepted"})
    assert done.status == "done" and done.result == {"status": "Accepted"}
    failed = outbox.finish(queued[1].id, now=T0, error="station offline")
    assert failed.status == "failed"
    with pytest.raises(StationCommandError, match="already done"):
        outbox.finish(queued[0].id, now=T0, result={})
    with pytest.raises(StationCommandError, match="not registered"):
        outbox.enqueue("NOPE", "Reset", {}, now=T0)
    assert [c.status for c in outbox.list("CS1", "sent")] == ["sent"] * 4


def test_reader_sees_commits_and_leaves_pooled_connections_fit_for_writing(
    database_url: str,
) -> None:
    """`Database.reader()` runs outside a transaction (SQLite: no BEGIN; PostgreSQL:
    AUTOCOMMIT). Each read sees what was committed just before it, and a connection it gave
    back to the pool still runs transactions that roll back properly."""
    db = Database.open(database_url)
    try:
        _station(db)
        with db.reader() as conn:
            before = conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar_one()
            with UnitOfWork(db) as uow:
                _session(uow, transaction_id="seen-at-once")
                uow.commit()
            # The same connection, no transaction held open: the next read sees the commit.
            assert conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar_one() == before + 1
        for _ in range(3):  # pooled connections after reader use: rollback still undoes writes
            with UnitOfWork(db) as uow:
                _session(uow, transaction_id="rolled-back")
                uow.flush()
                uow.rollback()
        with UnitOfWork(db, read_only=True) as uow:
            assert uow.sessions.by_transaction("CS1", "rolled-back") is None
            assert uow.sessions.by_transaction("CS1", "seen-at-once") is not None
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_unnoticed(
    _postgres_migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """PostgreSQL: a pooled connection the server dropped while it sat idle (a restart, an
    idle timeout) is pinged at checkout and replaced; the caller's read just works."""
    db = Database.open(_postgres_migrated_url)
    try:
        with db.reader() as conn:
            victim = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        killer = Database.open(_postgres_migrated_url)  # another client ends it, as a restart
        try:
            with killer.engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(victim)})")
        finally:
            killer.dispose()
        monkeypatch.setattr(database_module, "PING_AFTER_IDLE_S", 0.0)
        for _ in range(2):  # both pooled connections go through the idle check
            with db.reader() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                assert pid != victim
    finally:
        db.dispose()


def test_reads_without_a_snapshot_are_for_reading_only(db: Database) -> None:
    with pytest.raises(ValueError, match="read-only"):
        UnitOfWork(db, snapshot=False)
    _station(db)
    with UnitOfWork(db, read_only=True, snapshot=False) as uow:
        assert uow.stations.get("CS1") is not None
