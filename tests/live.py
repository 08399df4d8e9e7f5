"""A live server and a browser helper for the tests that need real HTTP.

``LiveASGIServer`` runs the real ASGI application in uvicorn on a free loopback port, in a
thread of the test process, so that HTTP tests see the same test database (tests that use
it need committed data: ``transactional_db``). ``screenshot(page, name)`` keeps a picture of
a Playwright page under ``<SMARTID_DATA_DIR>/screenshots/`` for reviewers.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from django.conf import settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class LiveASGIServer:
    """A running uvicorn server; ``url`` is its base URL without a trailing slash."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            "smartid.asgi:application",
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # as in production: the application decides whom to believe
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


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``<SMARTID_DATA_DIR>/screenshots/<name>.png``."""
    folder = Path(settings.DATA_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
