"""The demo world for tests: every demo account registered (1024-bit keys, cheap scrypt)
on the running ASGI server, and, in ``DemoWorld``, one auto-responder thread per device.

The fixtures of tests/demo/conftest.py build these; RP-API tests POST a session for any
identity of ``demo.world.DEMO_IDENTITIES`` to ``demo_world.url`` and its device answers
with the documented outcome.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.sqlite3.base import SQLiteCursorWrapper

from accounts.models import Account
from demo.autoresponder import OUTCOMES, AutoResponder
from demo.world import DEMO_IDENTITIES, DemoIdentity, DemoPopulation, demo_populate
from device.app import DeviceApp
from device.state import FileStore
from pki import ocsp
from signing.engine import KdfParams
from signing.models import Transaction
from signing.services.transactions import transaction_create
from tests.live import LiveASGIServer

KEY_BITS = 1024
#: scrypt parameters that cost microseconds; the demo itself uses the engine's default.
CHEAP_KDF = KdfParams(n=2, r=1, p=1)
#: Long-poll length of the responders in tests: long enough that idle devices leave the
#: database mostly alone (in-memory SQLite refuses a second writer at once, it does not
#: wait), short enough to bound a missed wake-up.
POLL_MS = 10_000
#: How long a statement waits for a table lock of the in-memory SQLite test database.
LOCK_WAIT_SECONDS = 10.0


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
    """The demo world with an auto-responder thread per device (as ``demo_devices``).

    ``log`` collects the responders' lines (one per answered transaction, with its id).
    """

    responders: dict[str, AutoResponder] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self, only: Sequence[DemoIdentity] = DEMO_IDENTITIES) -> None:
        """Start a responder for every identity of ``only`` (default: all of them)."""

        def log(line: str) -> None:
            with self._changed:
                self.log.append(line)
                self._changed.notify_all()

        for identity in only:
            responder = AutoResponder(self.app(identity), identity.outcome, log=log)
            self.responders[identity.document_number] = responder
            thread = threading.Thread(target=responder.run, args=(self._stop, POLL_MS), daemon=True)
            thread.start()
            self._threads.append(thread)

    def answered(self, transaction_id: object, timeout: float = 30.0) -> str:
        """Wait until a responder has answered (or ignored) this transaction: its log line."""

        def line() -> str | None:
            return next((x for x in self.log if f" {transaction_id} " in x), None)

        with self._changed:
            found = self._changed.wait_for(line, timeout)
        assert found, f"no device answered transaction {transaction_id}"
        return found

    def stop(self) -> None:
        """Stop the responders. Each waits in a long poll: a transaction per device (one
        database write) ends them at once; they see the stop and leave it alone."""
        self._stop.set()
        with transaction.atomic():
            for account in Account.objects.filter(state=Account.State.ACTIVE):
                transaction_create(
                    account=account,
                    kind=Transaction.Kind.CERTIFICATE_CHOICE,
                    rp_name="end of test",
                    interactions=[],
                )
        for thread in self._threads:
            thread.join(timeout=POLL_MS / 1000 + 5)
        assert not any(t.is_alive() for t in self._threads), "a responder did not stop"


def sqlite_wait_for_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make statements on the in-memory SQLite test database wait for a lock, as a file
    database does (``timeout``), instead of failing at once; and start every transaction
    as a writer (``BEGIN IMMEDIATE``), so that two of them cannot deadlock.

    The test database shares one in-memory cache between the test thread and the server's
    threads; SQLite then answers a statement that meets another connection's table lock
    with "database table is locked" immediately (its busy timeout only covers files). With
    devices polling while a test writes, that is a question of when, not if. Two deferred
    transactions that both read a table and then write it wait for each other forever:
    hence IMMEDIATE (which the embedded mode's file database wants too). PostgreSQL needs
    nothing of this.
    """
    if connection.vendor != "sqlite":
        return
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "transaction_mode", "IMMEDIATE")
    wrapper = connections[DEFAULT_DB_ALIAS]  # not the proxy: monkeypatch restores its __dict__
    if hasattr(wrapper, "transaction_mode"):  # connected already: OPTIONS were read
        monkeypatch.setattr(wrapper, "transaction_mode", "IMMEDIATE")

    def patient(method: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while True:
                try:
                    return method(self, *args, **kwargs)
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.002)

        return run

    for name in ("execute", "executemany"):
        monkeypatch.setattr(SQLiteCursorWrapper, name, patient(getattr(SQLiteCursorWrapper, name)))


def populated(
    asgi_server: LiveASGIServer,
    settings: Any,
    tmp_path: Path,
    identities: Sequence[DemoIdentity] = DEMO_IDENTITIES,
) -> DemoPopulation:
    settings.SPLITKEY_BITS = KEY_BITS
    settings.SITE_URL = asgi_server.url
    ocsp.reset_issuer_index()
    return demo_populate(
        base_url=asgi_server.url,
        bits=KEY_BITS,
        state_dir=tmp_path / "demo-devices",
        kdf=CHEAP_KDF,
        identities=identities,
    )


#: The first demo account of each outcome (a quicker world for tests of one device each).
ONE_PER_OUTCOME = tuple(
    next(i for i in DEMO_IDENTITIES if i.outcome == outcome) for outcome in OUTCOMES
)


#: The demo RP's tests (tests/demo/test_rp_*.py): accounts whose devices answer on their
#: own, and one that a test drives itself with the reference app (a same-device link's
#: callback needs the verifier the app made).
RP_ANSWERING = ("PNOEE-40504040001-MOCK-Q", "PNOEE-30403039917-MOCK-Q")
RP_BY_HAND = "PNOEE-40404040009-MOCK-Q"
