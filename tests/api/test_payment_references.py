"""`evbill.store.references.cdr_for_reference`: the one way from a payment reference (a CDR id,
a session id, a session payment's reference) to its CDR, used by receipts and reconciliation."""

from __future__ import annotations

import pytest
from api_world import World, bearer
from fastapi.testclient import TestClient
from sqlalchemy import select

from evbill.invoicing.sources import SessionNotBillable, charged_session
from evbill.payments.tables import SessionPaymentRow
from evbill.store.references import cdr_for_reference
from evbill.store.tables import CdrRow, SessionRow


def _cdr_of_payment(world: World, payment_id: str) -> str:
    """The CDR of the session whose id token the ad hoc payment registered."""
    with world.db.read_sessions() as s:
        return s.scalars(select(CdrRow.id).join(SessionRow, SessionRow.id == CdrRow.session_id)
                         .where(SessionRow.id_token == select(SessionPaymentRow.id_token).where(
                             SessionPaymentRow.reference == payment_id).scalar_subquery())).one()


def test_each_kind_of_reference_finds_its_cdr(world: World) -> None:
    adhoc_cdr = _cdr_of_payment(world, world.payments["b"])
    with world.db.read_sessions() as s:
        found = {ref: (None if (cdr := cdr_for_reference(s, ref)) is None else cdr.id) for ref in (
            world.cdrs["driver_done"],  # a CDR id (wallet and postpaid charges)
            str(world.sessions["driver2_done"]),  # a session id
            world.payments["b"],  # an ad hoc payment id, adopted as the session payment's
            str(world.sessions["driver_live"]),  # a session still charging: no CDR yet
            "adh_0000000000000000",  # unknown
            "9" * 30,  # digits beyond any session id: not found, no database error
        )}
    assert found == {
        world.cdrs["driver_done"]: world.cdrs["driver_done"],
        str(world.sessions["driver2_done"]): world.cdrs["driver2_done"],
        world.payments["b"]: adhoc_cdr,
        str(world.sessions["driver_live"]): None,
        "adh_0000000000000000": None,
        "9" * 30: None,
    }
    assert adhoc_cdr not in world.cdrs.values()


def test_receipts_follow_the_same_lookup(world: World) -> None:
    with world.db.read_sessions() as s:
        session = charged_session(s, world.payments["b"], country="DE")
        assert session.cdr_id == _cdr_of_payment(world, world.payments["b"])
        assert session.reference == world.payments["b"]
        with pytest.raises(SessionNotBillable, match="no CDR"):
            charged_session(s, str(world.sessions["driver_live"]), country="DE")


def test_reconciliation_matches_ad_hoc_and_wallet_charges_to_their_cdrs(
    client: TestClient, world: World
) -> None:
    rows = {r["reference"]: r for r in client.get(
        "/api/v1/operator/reconciliation", headers=bearer(world, "finance_b")).json()}
    pid = world.payments["b"]
    assert rows[pid]["cdr_id"] == _cdr_of_payment(world, pid) and rows[pid]["matched"]
    driver2 = world.cdrs["driver2_done"]  # posted to driver2's account on op-b's network
    assert rows[driver2]["cdr_id"] == driver2 and rows[driver2]["matched"]
