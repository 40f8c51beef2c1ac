"""Fixtures for the session service tests: a registered station, tokens and a tariff."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from session_builders import CARD, STATION, T0, TARIFF, Clock

from evbill.accounts.stations import StationRegistry
from evbill.accounts.tokens import TokenRegistry
from evbill.config import Settings
from evbill.sessions.service import SessionService
from evbill.sessions.tariff_book import TariffBook
from evbill.store import Database


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(days=1))


@pytest.fixture
def settings() -> Settings:
    return Settings(auto_register_stations=False, default_timezone="Europe/Berlin")


@pytest.fixture
def station(db: Database) -> str:
    StationRegistry(db).add(STATION, time_zone="Europe/Berlin", now=T0, evses=2)
    TokenRegistry(db).add(CARD.value, now=T0, account="driver-1")
    TariffBook(db).add(json.dumps(TARIFF), now=T0, default=True,
                       valid_from=T0 - timedelta(days=30))  # fmt: skip
    return STATION


@pytest.fixture
def service(
    db: Database, settings: Settings, clock: Clock, station: str
) -> Iterator[SessionService]:
    yield SessionService(db, settings, clock=clock)
