"""Run the demo's virtual devices: one auto-responder per demo account, over HTTP.

``make demo`` starts this next to the server. Each device long-polls the app API of
``--server`` and answers every transaction with its account's documented outcome
(demo.world, demo.autoresponder), until SIGTERM or SIGINT.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError

from demo.autoresponder import DEFAULT_DELAY, AutoResponder
from demo.management.commands.demo_setup import demo_state_dir
from demo.world import DemoIdentity, identity_for_document
from device.app import DeviceApp
from device.errors import StateError
from device.state import FileStore

JOIN_SECONDS = 3.0


@contextlib.contextmanager
def _only_instance(state_dir: Path) -> Iterator[None]:
    """Two processes answering for the same device would spend the same one-time token:
    the service would take the second for a clone and close the account."""
    fd = os.open(state_dir / ".demo_devices.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(f"demo_devices already runs for {state_dir}") from None
        yield
    finally:
        os.close(fd)


def wait_for_server(server: str, timeout: float) -> None:
    """Wait until ``server``/health answers (any HTTP answer will do)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{server}/health", timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise CommandError(f"{server}/health did not answer in {timeout:.0f} s") from None
            time.sleep(0.2)


def load_devices(state_dir: Path) -> list[tuple[Path, DemoIdentity]]:
    """The state files of the demo accounts, with the identity each one answers for."""
    found = []
    for path in sorted(state_dir.glob("*.json")):
        try:
            state = FileStore(path).load()
        except StateError as exc:
            raise CommandError(str(exc)) from None
        for document_number in state.accounts:
            identity = identity_for_document(document_number)
            if identity is not None:
                found.append((path, identity))
    return found


class Command(BaseCommand):
    help = (
        "Answer the demo accounts' transactions automatically (docs/demo.md) against a "
        "running server, until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--server", default="http://127.0.0.1:8000")
        parser.add_argument("--state-dir", type=Path, default=None)
        parser.add_argument("--poll-ms", type=int, default=30_000)
        parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for it")
        parser.add_argument(
            "--delay",
            type=float,
            default=DEFAULT_DELAY,
            help="seconds each answer waits (a polling client sees RUNNING first); 0-60",
        )

    def handle(
        self,
        *args: Any,
        server: str,
        state_dir: Path | None,
        poll_ms: int,
        wait: float,
        delay: float = DEFAULT_DELAY,
        **options: Any,
    ) -> None:
        server = server.rstrip("/")
        if not 0 <= delay <= 60:
            raise CommandError("--delay must be 0-60 seconds")
        # One line per answered transaction (below), not one per long poll.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        state_dir = state_dir or demo_state_dir()
        if not state_dir.is_dir():
            raise CommandError(f"no demo devices in {state_dir}: run demo_setup first")
        stop = threading.Event()
        output = threading.Lock()

        def log(line: str) -> None:
            stamp = datetime.now(tz=UTC).strftime("%H:%M:%S")
            with output:
                self.stdout.write(f"{stamp} {line}")
                self.stdout.flush()

        with _only_instance(state_dir):
            devices = load_devices(state_dir)
            if not devices:
                raise CommandError(f"no demo devices in {state_dir}: run demo_setup first")
            wait_for_server(server, wait)
            previous = {
                signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGTERM, signal.SIGINT)
            }
            limits = httpx.Limits(max_connections=2 * len(devices) + 10)
            with httpx.Client(base_url=server, timeout=30, limits=limits) as client:
                threads = []
                for path, identity in devices:
                    app = DeviceApp(client, FileStore(path), min_key_bits=1024)
                    responder = AutoResponder(app, identity.outcome, log=log, delay=delay)
                    thread = threading.Thread(
                        target=responder.run,
                        args=(stop, poll_ms),
                        name=f"demo-{path.stem}",
                        daemon=True,
                    )
                    thread.start()
                    threads.append(thread)
                self.stdout.write(
                    f"{len(threads)} demo devices answer on {server} (state in {state_dir})"
                )
                self.stdout.flush()
                while not stop.wait(0.5):
                    pass
                # Long polls end at their deadline; daemon threads do not hold the exit.
                deadline = time.monotonic() + JOIN_SECONDS
                for thread in threads:
                    thread.join(max(deadline - time.monotonic(), 0))
            for signum, handler in previous.items():
                signal.signal(signum, handler)
