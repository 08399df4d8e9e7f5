"""The demo world for tests: every demo account registered (1024-bit keys, cheap scrypt)
on the running ASGI server, and, with ``demo_world``, one auto-responder thread per device.

``demo_world`` is the fixture RP-API tests build on: POST a session for any identity of
``enrolment.demo.DEMO_IDENTITIES`` to ``demo_world.url`` and its device answers with the
documented outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts.models import Account
from device.app import DeviceApp
from device.autoresponder import AutoResponder
from device.state import FileStore
from enrolment.demo import DEMO_IDENTITIES, DemoIdentity, DemoPopulation, demo_populate
from pki import ocsp
from signing.engine import KdfParams
from tests.conftest import LiveASGIServer

KEY_BITS = 1024
#: scrypt parameters that cost microseconds; the demo itself uses the engine's default.
CHEAP_KDF = KdfParams(n=2, r=1, p=1)
#: Long-poll length of the responders in tests: stopping them takes up to this long.
POLL_MS = 2000


@dataclass
class DemoAccounts:
    """The registered demo world (no responders running)."""

    server: LiveASGIServer
    state_dir: Path
    population: DemoPopulation
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def populate_again(self) -> DemoPopulation:
        return demo_populate(
            base_url=self.url, bits=KEY_BITS, state_dir=self.state_dir, kdf=CHEAP_KDF
        )

    def app(self, identity: DemoIdentity) -> DeviceApp:
        """A device app over HTTP with this identity's saved state."""
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        return DeviceApp(client, FileStore(self.state_dir / identity.state_name), min_key_bits=1024)

    def account(self, identity: DemoIdentity) -> Account:
        return Account.objects.get(document_number=identity.document_number)

    def close(self) -> None:
        for client in self.clients:
            client.close()


@dataclass
class DemoWorld(DemoAccounts):
    """The demo world with an auto-responder thread per device (as ``demo_devices``)."""

    responders: dict[str, AutoResponder] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        lock = threading.Lock()

        def log(line: str) -> None:
            with lock:
                self.log.append(line)

        for identity in DEMO_IDENTITIES:
            responder = AutoResponder(self.app(identity), identity.outcome, log=log)
            self.responders[identity.document_number] = responder
            thread = threading.Thread(target=responder.run, args=(self._stop, POLL_MS), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=POLL_MS / 1000 + 10)
        assert not any(t.is_alive() for t in self._threads), "a responder did not stop"


def _populated(asgi_server: LiveASGIServer, settings: Any, tmp_path: Path) -> DemoPopulation:
    settings.SPLITKEY_BITS = KEY_BITS
    settings.SITE_URL = asgi_server.url
    ocsp.reset_issuer_index()
    return demo_populate(
        base_url=asgi_server.url, bits=KEY_BITS, state_dir=tmp_path / "demo-devices", kdf=CHEAP_KDF
    )


@pytest.fixture
def demo_accounts(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path
) -> Iterator[DemoAccounts]:
    """Every demo account registered; nothing answers (tests drive the responders)."""
    population = _populated(asgi_server, settings, tmp_path)
    accounts = DemoAccounts(asgi_server, tmp_path / "demo-devices", population)
    yield accounts
    accounts.close()
    ocsp.reset_issuer_index()


@pytest.fixture
def demo_world(asgi_server: LiveASGIServer, settings: Any, tmp_path: Path) -> Iterator[DemoWorld]:
    """Every demo account registered, each device answering on its own until teardown."""
    population = _populated(asgi_server, settings, tmp_path)
    world = DemoWorld(asgi_server, tmp_path / "demo-devices", population)
    world.start()
    try:
        yield world
    finally:
        world.stop()
        world.close()
        ocsp.reset_issuer_index()
