"""Fixtures for the device tests: a fake App API server and apps wired to it (no database)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from device import DeviceApp, MemoryStore, RegistrationResult
from device.state import StateStore
from signing.engine import KdfParams
from tests.device.fakeserver import FakeServer

#: scrypt parameters that cost microseconds; production uses the engine's default.
CHEAP_KDF = KdfParams(n=2, r=1, p=1)
PIN1 = "1234"
PIN2 = "12345"
BASE_URL = "http://127.0.0.1:8000"  # a mock transport: nothing leaves the process


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(key_bits=1024)


@pytest.fixture
def client(server: FakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(transport=server.transport(), base_url=BASE_URL) as http:
        yield http


def make_app(
    client: httpx.Client,
    store: StateStore | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> DeviceApp:
    """A device with small keys (the fake server asks for 1024 bits) and a cheap KDF."""
    return DeviceApp(client, store or MemoryStore(), min_key_bits=1024, kdf=CHEAP_KDF, clock=clock)


@pytest.fixture
def app(client: httpx.Client) -> DeviceApp:
    return make_app(client)


@pytest.fixture
def registered(app: DeviceApp, server: FakeServer) -> tuple[DeviceApp, RegistrationResult]:
    result = app.register(server.add_ticket(), PIN1, PIN2)
    return app, result
