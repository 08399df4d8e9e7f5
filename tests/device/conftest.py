"""Fixtures for the device tests: a fake App API server and apps wired to it (no database)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from device import DeviceApp, RegistrationResult
from tests.device.fakeserver import FakeServer
from tests.helpers.device import BASE_URL, make_app
from tests.personas import PIN1, PIN2


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(key_bits=1024)


@pytest.fixture
def client(server: FakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(transport=server.transport(), base_url=BASE_URL) as http:
        yield http


@pytest.fixture
def app(client: httpx.Client) -> DeviceApp:
    return make_app(client)


@pytest.fixture
def registered(app: DeviceApp, server: FakeServer) -> tuple[DeviceApp, RegistrationResult]:
    result = app.register(server.add_ticket(), PIN1, PIN2)
    return app, result
