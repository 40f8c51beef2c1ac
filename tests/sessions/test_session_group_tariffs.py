"""Customer-group tariffs in the session service: a driver whose id token is in a group with a
tariff on the station operator's network is rated with it; everyone else with the EVSE,
station or default tariff (both backends)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from session_builders import CARD, STATION, T0, TARIFF, Clock, at, energy, start_cmd, stop_cmd

from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.api.tables import GroupTariffRow
from evbill.config import Settings
from evbill.sessions.commands import ChargingState, IdToken, IdTokenType, RecordMeterValues
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook, tariff_for_session
from evbill.store import Database
from evbill.store.tables import TariffRow
from evbill.store.uow import UnitOfWork

OPERATOR = "OP-A"
MEMBER = CARD  # in group FLEET
OTHER = IdToken("04FFEEDDCCBBAA", IdTokenType.ISO14443)  # no group

#: 0.20 EUR/kWh + 19 % VAT, no parking fee: the fleet's price.
FLEET_TARIFF = {
    "country_code": "DE", "party_id": "EVB", "id": "FLEET", "currency": "EUR",
    "last_updated": "2025-01-01T00:00:00Z",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 19.0,
                                        "step_size": 1}]}],
}  # fmt: skip


def store_tariff(db: Database, data: dict[str, object]) -> int:
    """Store a tariff version without any station/default assignment; its pk."""
    with UnitOfWork(db) as uow:
        row = uow.tariffs.add(TariffRow(tariff_id=str(data["id"]), version="v1",
                                        currency="EUR", ocpi_json=json.dumps(data),
                                        created_at=T0))  # fmt: skip
        uow.flush()
        pk = row.pk
        uow.commit()
    return pk


def assign_group(db: Database, tariff_pk: int, *, group: str = "FLEET",
                 operator: str = OPERATOR, valid_from: datetime = T0) -> None:  # fmt: skip
    with db.sessions() as s, s.begin():
        s.add(GroupTariffRow(operator_id=operator, group_id=group, tariff_pk=tariff_pk,
                             valid_from=valid_from, created_at=T0))  # fmt: skip


@pytest.fixture
def service(db: Database) -> SessionService:
    StationRegistry(db).add(STATION, time_zone="Europe/Berlin", now=T0, evses=2,
                            operator=OPERATOR)  # fmt: skip
    tokens = TokenRegistry(db)
    tokens.add(MEMBER.value, now=T0, account="driver-1", group_id="FLEET")
    tokens.add(OTHER.value, now=T0, account="driver-2")
    TariffBook(db).add(json.dumps(TARIFF), now=T0, default=True,
                       valid_from=T0 - timedelta(days=30))  # fmt: skip
    settings = Settings(auto_register_stations=False, default_timezone="Europe/Berlin")
    return SessionService(db, settings, clock=Clock(T0 + timedelta(days=1)))


def charge(service: SessionService, token: IdToken) -> tuple[str, Decimal, int]:
    """The same session (10 kWh, the last 10 minutes parked) for `token`: its transaction id,
    CDR total excl. VAT and the CDR's tariff pk."""
    tx = service.start(start_cmd(id_token=token)).transaction_id
    service.meter_values(RecordMeterValues(station_id=STATION, evse_id=1, transaction_id=tx,
                                           readings=(energy(50, "110"),),
                                           charging_state=ChargingState.EV_CONNECTED))  # fmt: skip
    service.stop(stop_cmd(tx, stopped_at=at(60)))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None, "session was not rated"
    assert detail.session.state == "rated" and detail.session.flags == ()
    with UnitOfWork(service._db) as uow:
        row = uow.sessions.by_transaction(STATION, tx)
        assert row is not None and row.tariff_pk is not None
        tariff_pk = row.tariff_pk
    return tx, detail.cdr.total_cost_excl_vat, tariff_pk


def in_force(db: Database, token: IdToken | None, when: datetime = T0) -> str | None:
    with UnitOfWork(db) as uow:
        row = uow.tariffs.in_force(STATION, 1, when,
                                   id_token=token.value if token else None,
                                   id_token_type=token.type.value if token else None)
        return None if row is None else row.tariff_id


def test_group_member_is_rated_with_the_group_tariff_others_with_the_default(
    db: Database, service: SessionService
) -> None:
    fleet_pk = store_tariff(db, FLEET_TARIFF)
    assign_group(db, fleet_pk)
    _, member_cost, member_tariff = charge(service, MEMBER)
    _, other_cost, other_tariff = charge(service, OTHER)
    assert member_tariff == fleet_pk and member_cost == Decimal("2.00")  # 10 kWh × 0.20
    assert other_tariff != fleet_pk and other_cost == Decimal("4.00")  # 3.00 + 10 min × 0.10
    # The lookup the live view and pre-authorisation use gives the same tariffs.
    assert in_force(db, MEMBER) == "FLEET" and in_force(db, OTHER) == "AC-STD"
    assert in_force(db, None) == "AC-STD"


def test_group_tariff_beats_an_evse_assignment(db: Database, service: SessionService) -> None:
    evse_tariff = dict(TARIFF, id="EVSE-1")
    TariffBook(db).add(json.dumps(evse_tariff), now=T0, station_id=STATION, evse_id=1,
                       valid_from=T0 - timedelta(days=1))  # fmt: skip
    assign_group(db, store_tariff(db, FLEET_TARIFF))
    assert in_force(db, MEMBER) == "FLEET" and in_force(db, OTHER) == "EVSE-1"


def test_group_tariff_only_on_its_operator_network_and_from_its_start(
    db: Database, service: SessionService
) -> None:
    fleet_pk = store_tariff(db, FLEET_TARIFF)
    assign_group(db, fleet_pk, operator="OP-B")  # another network
    assign_group(db, fleet_pk, valid_from=at(30))  # not yet valid at the session start
    assign_group(db, fleet_pk, group="OTHER-FLEET", valid_from=T0 - timedelta(days=1))
    assert in_force(db, MEMBER) == "AC-STD"
    _, cost, tariff_pk = charge(service, MEMBER)
    assert tariff_pk != fleet_pk and cost == Decimal("4.00")
    assert in_force(db, MEMBER, at(30)) == "FLEET"


def test_the_token_is_matched_as_registered_whatever_form_the_station_sends(
    db: Database, service: SessionService
) -> None:
    fleet_pk = store_tariff(db, FLEET_TARIFF)
    assign_group(db, fleet_pk)
    sent = IdToken("04:a1:b2:c3:d4:e5:f6", IdTokenType.ISO14443)  # registered as 04A1B2C3D4E5F6
    tx = service.start(start_cmd(id_token=sent)).transaction_id
    with UnitOfWork(db) as uow:
        row = uow.sessions.by_transaction(STATION, tx)
        assert row is not None and row.id_token == "04A1B2C3D4E5F6"  # its credential key
        open_tariff = tariff_for_session(uow, row)  # what an open session is costed with
        assert open_tariff is not None and open_tariff.pk == fleet_pk
    service.stop(stop_cmd(tx, stopped_at=at(60)))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.cdr.total_cost_excl_vat == Decimal("2.00")


def test_live_cost_uses_the_group_tariff_and_agrees_with_the_cdr(
    db: Database, service: SessionService
) -> None:
    """While charging, the driver's live cost is priced with the same (group) tariff that the
    final CDR will use."""
    from evbill.api.live import live_view  # the portal/API read model under test

    assign_group(db, store_tariff(db, FLEET_TARIFF))
    tx = service.start(start_cmd(id_token=MEMBER)).transaction_id
    service.meter_values(RecordMeterValues(station_id=STATION, evse_id=1, transaction_id=tx,
                                           readings=(energy(50, "110"),)))  # fmt: skip
    with UnitOfWork(db) as uow:
        row = uow.sessions.by_transaction(STATION, tx)
        assert row is not None
        live = live_view(uow, row, at(50))
    assert live.tariff_id == "FLEET" and live.cost is not None
    assert live.cost.excl_vat.amount == Decimal("2.00")  # 10 kWh × 0.20 so far
    service.stop(stop_cmd(tx, stopped_at=at(50)))
    detail = service.find_session(STATION, tx)
    assert detail is not None and detail.cdr is not None
    assert detail.cdr.total_cost_excl_vat == live.cost.excl_vat.amount
