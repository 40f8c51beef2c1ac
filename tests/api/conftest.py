"""Fixtures for the API tests: the app on a migrated database with a two-operator world."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_world import T0, Clock, World, api_settings, build_world
from fastapi.testclient import TestClient

from evbill.api.app import create_app
from evbill.api.context import ApiContext
from evbill.config import Settings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.store.database import Database


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def app_db(database_url: str, tmp_path: object) -> Iterator[Database]:
    db = Database.open(database_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def client(app_db: Database, clock: Clock, tmp_path: object) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path)  # type: ignore[arg-type]
    provider = SandboxProvider(clock=clock, namespace="t")
    app = create_app(settings, api_settings=api_settings(), db=app_db, clock=clock,
                     provider=provider)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def ctx(client: TestClient) -> ApiContext:
    context: ApiContext = client.app.state.evbill  # type: ignore[attr-defined]
    return context


@pytest.fixture
def world(app_db: Database, ctx: ApiContext, clock: Clock) -> World:
    return build_world(app_db, ctx, clock)
