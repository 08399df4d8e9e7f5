"""Fixtures shared by the whole suite.

``asgi_server`` runs the real ASGI application in uvicorn on a free loopback
port, in a thread of the test process, so that HTTP tests see the same test
database (tests that use it need committed data: ``transactional_db``).

``page`` is a Playwright page in Debian's Chromium (never a downloaded browser)
opened on that server; ``screenshot(page, name)`` keeps a picture of it under
``<SMARTID_DATA_DIR>/screenshots/`` for reviewers.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[LiveASGIServer]:
    server = LiveASGIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _eager_tasks() -> Iterator[None]:
    """Tasks run in the test process, even when REDIS_URL names a broker (CI): no test
    waits for a worker that is not there. The real-worker tests switch this off for
    themselves (tests/enrolment/onboarding/test_worker.py).
    """
    from smartid.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium package is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser, asgi_server: LiveASGIServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server, English, downloads on."""
    context = browser.new_context(base_url=asgi_server.url, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``<SMARTID_DATA_DIR>/screenshots/<name>.png``."""
    from django.conf import settings

    folder = Path(settings.DATA_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
