"""Fixtures of the demo world (helpers: tests/helpers/demo_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.world import DEMO_IDENTITIES
from pki import ocsp
from tests.helpers.demo_world import (
    ONE_PER_OUTCOME,
    RP_ANSWERING,
    RP_BY_HAND,
    DemoAccounts,
    DemoWorld,
    populated,
    sqlite_wait_for_locks,
)
from tests.live import LiveASGIServer


@pytest.fixture
def sqlite_waits_for_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """See :func:`tests.helpers.demo_world.sqlite_wait_for_locks`."""
    sqlite_wait_for_locks(monkeypatch)


@pytest.fixture
def demo_accounts(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, sqlite_waits_for_locks: None
) -> Iterator[DemoAccounts]:
    """Every demo account registered; nothing answers (tests drive the responders)."""
    population = populated(asgi_server, settings, tmp_path)
    accounts = DemoAccounts(asgi_server, tmp_path / "demo-devices", population)
    yield accounts
    accounts.close()
    ocsp.reset_issuer_index()


@pytest.fixture
def demo_outcome_accounts(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, sqlite_waits_for_locks: None
) -> Iterator[DemoAccounts]:
    """Only :data:`ONE_PER_OUTCOME` registered; nothing answers."""
    population = populated(asgi_server, settings, tmp_path, ONE_PER_OUTCOME)
    accounts = DemoAccounts(asgi_server, tmp_path / "demo-devices", population)
    yield accounts
    accounts.close()
    ocsp.reset_issuer_index()


@pytest.fixture
def demo_world(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, sqlite_waits_for_locks: None
) -> Iterator[DemoWorld]:
    """Every demo account registered, each device answering on its own until teardown."""
    population = populated(asgi_server, settings, tmp_path)
    world = DemoWorld(asgi_server, tmp_path / "demo-devices", population)
    world.start()
    try:
        yield world
    finally:
        world.stop()
        world.close()
        ocsp.reset_issuer_index()


@pytest.fixture
def rp_world(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, sqlite_waits_for_locks: None
) -> Iterator[DemoWorld]:
    """The demo RP's world: three demo accounts; all but :data:`RP_BY_HAND` answer."""
    wanted = {*RP_ANSWERING, RP_BY_HAND}
    identities = [i for i in DEMO_IDENTITIES if i.document_number in wanted]
    population = populated(asgi_server, settings, tmp_path, identities)
    world = DemoWorld(asgi_server, tmp_path / "demo-devices", population)
    world.start(only=[i for i in identities if i.document_number in RP_ANSWERING])
    try:
        yield world
    finally:
        world.stop()
        world.close()
        ocsp.reset_issuer_index()
