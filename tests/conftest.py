"""Fixtures shared by the whole suite.

``asgi_server`` runs the real ASGI application in uvicorn on a free loopback
port, in a thread of the test process, so that HTTP tests see the same test
database (tests that use it need committed data: ``transactional_db``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn


class LiveASGIServer:
    """A running uvicorn server; ``url`` is its base URL without a trailing slash."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            "smartid.asgi:application", lifespan="off", log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ASGI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[LiveASGIServer]:
    server = LiveASGIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _isolated_keystore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test run gets its own key-encryption key and key folder (file key store)."""
    from django.test import override_settings

    folder = tmp_path_factory.mktemp("keystore")
    with override_settings(KEYSTORE_BACKEND="file", KEYSTORE_KEK_FILE=folder / "kek.bin"):
        yield


@pytest.fixture
def ca_hierarchy(db: None) -> Iterator[list[Any]]:
    """The root, EID-Q and EID-NQ CAs (with OCSP responders) in the file key store."""
    from pki import ocsp, services

    ocsp.reset_issuer_index()
    hierarchy = services.ca_hierarchy_create(actor="test")
    yield hierarchy
    ocsp.reset_issuer_index()
