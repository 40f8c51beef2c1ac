"""What a station was told is committed: a gateway killed right after answering loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from session_builders import STATION

from evbill.sessions.service import SessionService
from evbill.store import Database

GATEWAY = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timezone
    from decimal import Decimal
    from evbill.config import Settings
    from evbill.sessions.commands import IdToken, StartSession
    from evbill.sessions.service import SessionService
    from evbill.store import Database

    service = SessionService(Database.open(sys.argv[1]), Settings())
    answer = service.start(StartSession(
        station_id=sys.argv[2], evse_id=1, connector_id=1, id_token=IdToken("04A1B2C3D4E5F6"),
        meter_start_wh=Decimal("5000"), started_at=datetime(2025, 3, 3, 8, tzinfo=timezone.utc)))
    print(answer.transaction_id, flush=True)
    time.sleep(60)  # killed long before this ends
""")


def test_an_answered_start_survives_sigkill(db: Database, service: SessionService) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen([sys.executable, "-c", GATEWAY, url, STATION],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))  # fmt: skip
    try:
        assert proc.stdout is not None
        transaction_id = proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert transaction_id
    detail = service.find_session(STATION, transaction_id)  # another process, another engine
    assert detail is not None and detail.session.state == "charging"
    assert detail.samples[0].energy_wh == 5000
