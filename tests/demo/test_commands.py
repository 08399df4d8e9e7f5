"""The demo's commands: demo_setup builds the world, demo_devices answers for it."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from demo.management.commands import demo_setup
from demo.world import DEMO_IDENTITIES, demo_populate
from pki import ocsp
from signing.models import Transaction
from signing.services.transactions import transaction_create
from tests.helpers.demo_world import CHEAP_KDF, KEY_BITS
from tests.live import LiveASGIServer

ROOT = Path(__file__).resolve().parents[2]


def test_demo_setup_refuses_live_mode(settings: Any) -> None:
    settings.IS_LIVE = True
    with pytest.raises(CommandError, match="never runs in live mode"):
        call_command("demo_setup")


def _setup(settings: Any, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SPLITKEY_BITS = KEY_BITS
    settings.SITE_URL = url
    settings.DATA_DIR = tmp_path
    ocsp.reset_issuer_index()
    # The demo's devices use the production scrypt cost; tests a cheap one.
    monkeypatch.setattr(
        demo_setup, "demo_populate", functools.partial(demo_populate, kdf=CHEAP_KDF)
    )


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_setup", *args, stdout=out)
    return out.getvalue()


class Output:
    """The lines a process prints, read by a thread (a pipe must not fill up)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def line(self, needle: str, timeout: float = 30.0) -> str:
        """The first line that contains ``needle``."""

        def found() -> str | None:
            return next((x for x in self.lines if needle in x), None)

        with self._changed:
            line = self._changed.wait_for(found, timeout)
        assert line, f"no line with {needle!r} in {self.lines}"
        return line


def _demo_devices(url: str, state_dir: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SMARTID_ENV": "test", "SMARTID_DATA_DIR": str(state_dir.parent)}
    return subprocess.Popen(
        [sys.executable, "manage.py", "demo_devices", "--server", url, "--state-dir"]
        + [str(state_dir), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_demo_setup_then_demo_devices(
    asgi_server: LiveASGIServer,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_waits_for_locks: None,
) -> None:
    _setup(settings, tmp_path, asgi_server.url, monkeypatch)
    first = _run()
    assert "Password: " in first and "User:     admin (created)" in first
    assert f"({len(DEMO_IDENTITIES)} registered now, 0 already there;" in first
    for uuid in (
        "00000000-0000-0000-0000-000000000000",
        "00000000-0000-4000-8000-000000000000",
        "55555555-0000-0000-0000-000000000000",
    ):
        assert uuid in first
    assert f"curl -s {asgi_server.url}/v2/authentication/etsi/PNOEE-40504040001" in first
    assert f"curl -s '{asgi_server.url}/v2/session/" in first
    assert "verification code 7180" in first
    again = _run()
    assert f"(0 registered now, {len(DEMO_IDENTITIES)} already there;" in again
    assert "(password reset)" in again
    assert "Demo:" not in _run("--no-accounts")

    state_dir = tmp_path / "demo-devices"
    devices = _demo_devices(asgi_server.url, state_dir, "--poll-ms", "5000")
    output = Output(devices)
    try:
        assert f"{len(DEMO_IDENTITIES)} demo devices answer" in output.line("demo devices")
        # Only one process may answer for a device: a second would spend the same tokens.
        second = _demo_devices(asgi_server.url, state_dir)
        _, error = second.communicate(timeout=30)
        assert second.returncode == 1 and "demo_devices already runs" in error

        expected = {
            "PNOEE-40504040001-MOCK-Q": "OK",
            "PNOLV-030403-10032-MOCK-Q": "USER_REFUSED_VC_CHOICE",
            "PNOLT-30403039972-MOCK-Q": "WRONG_VC",
        }
        created = []
        for number in expected:
            created.append(
                transaction_create(
                    account=Account.objects.get(document_number=number),
                    kind=Transaction.Kind.AUTHENTICATION,
                    rp_name="Demo bank",
                    interactions=[{"type": "verificationCodeChoice", "displayText60": "Log in?"}],
                    digest=hashlib.sha256(number.encode()).digest(),
                    hash_type="SHA256",
                )
            )
        for tx in created:
            line = output.line(str(tx.pk))
            assert line.split()[1] == f"{tx.account.document_number}:"
            tx.refresh_from_db()
            assert tx.result == expected[tx.account.document_number]
    finally:
        devices.send_signal(signal.SIGTERM)
        devices.wait(timeout=30)
    assert devices.returncode == 0
    assert devices.stderr is not None and devices.stderr.read() == ""


def test_demo_devices_needs_demo_setup(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="run demo_setup first"):
        call_command("demo_devices", "--state-dir", str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="run demo_setup first"):
        call_command("demo_devices", "--state-dir", str(tmp_path / "empty"))


def test_demo_devices_delay_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--delay must be 0-60 seconds"):
        call_command("demo_devices", "--delay", "61", "--state-dir", str(tmp_path))
