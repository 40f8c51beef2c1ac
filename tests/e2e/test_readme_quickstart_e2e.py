"""The README's quick start, command by command as real processes (only the ports differ): a
station, a card on a postpaid account, `evbill serve`, `evbill simulate` with one session, and
the session ends paid (posted to the account's receivable) and invoiced by `evbill bill`. The
API answers under the base path the README shows (/api/v1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from evbill.clock import utc_now
from evbill.invoicing.tables import DocumentRow, DocumentSessionRow
from evbill.ledger.tables import TransactionRow
from evbill.payments.tables import PaymentChargeRow
from evbill.store.database import Database
from evbill.store.tables import CdrRow

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-station-pw"
CARD = "04A2B3C4D5"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _evbill(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "evbill", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"evbill {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def test_the_readme_quick_start_ends_with_a_paid_and_invoiced_session(
    database_url: str, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    for step in ("evbill accounts add acme --mode postpaid", f"evbill tokens add {CARD} "
                 "--account acme", "evbill bill --period", "/api/v1/public/evses/CP-0001/1"):
        assert step in readme  # the README shows the steps this test performs
    ocpp, api = _free_port(), _free_port()
    env = {**os.environ, "EVBILL_DATABASE_URL": database_url, "EVBILL_DATA_DIR": str(tmp_path),
           "EVBILL_OCPP_HOST": "127.0.0.1", "EVBILL_API_PORT": str(api),
           "EVBILL_LOG_LEVEL": "WARNING"}
    _evbill(env, "db", "upgrade")
    _evbill(env, "stations", "add", "CP-0001", "--password", PASSWORD, "--tz",
            "Europe/Berlin", "--evses", "2")
    _evbill(env, "accounts", "add", "acme", "--mode", "postpaid")
    _evbill(env, "tokens", "add", CARD, "--account", "acme")
    _evbill(env, "tariffs", "add", "examples/tariffs/ac_standard.json", "--default")
    server = subprocess.Popen([sys.executable, "-m", "evbill", "serve", "--port", str(ocpp)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        _wait_for(ocpp, server)
        _wait_for(api, server)
        out = _evbill(env, "simulate", "--stations", "1", "--sessions", "1", "--protocol",
                      "2.0.1", "--prefix", "CP", "--id-tag", CARD, "--url",
                      f"ws://127.0.0.1:{ocpp}/ocpp", "--password", PASSWORD)
        assert "1 of 1" in out, out
        offer = httpx.get(f"http://127.0.0.1:{api}/api/v1/public/evses/CP-0001/1", timeout=10)
        assert offer.status_code == 200 and offer.json()["station_id"] == "CP-0001"
        db = Database.open(database_url)
        try:
            deadline = time.monotonic() + 30
            charge = None
            while charge is None and time.monotonic() < deadline:
                with db.read_sessions() as s:
                    charge = s.scalars(select(PaymentChargeRow)).first()
                time.sleep(0.2)
            assert charge is not None, "the session was not paid"
            assert (charge.method, charge.account, charge.status) == ("postpaid", "acme",
                                                                      "posted")
            with db.read_sessions() as s:
                cdr = s.get(CdrRow, charge.reference)
                assert cdr is not None and charge.gross > 0
                booked = s.scalars(select(TransactionRow.kind).where(
                    TransactionRow.reference == charge.reference)).all()
            assert [str(kind) for kind in booked] == ["postpaid_charge"]
            billed = _evbill(env, "bill", "--period", utc_now().strftime("%Y-%m"), "--no-pdf")
            assert "issued_by_this_run: 1" in billed, billed
            with db.read_sessions() as s:
                invoice = s.scalars(select(DocumentRow).join(
                    DocumentSessionRow, DocumentSessionRow.document_id == DocumentRow.id).where(
                    DocumentSessionRow.reference == charge.reference)).one()
            assert (invoice.doc_type, invoice.account_id) == ("INVOICE", "acme")
            assert invoice.number.startswith("INV-")
        finally:
            db.dispose()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
