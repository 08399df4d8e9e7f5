"""``python -m device onboard`` as a user runs it: a subprocess against the live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.core import mail

from accounts.models import Account
from tests.helpers.passports import Evidence
from tests.helpers.platform import Platform
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]


ENV = {**os.environ, "SMARTID_DEVICE_MIN_KEY_BITS": "1024"}


def _onboard(platform: Platform, evidence: Evidence, tmp_path: Path) -> list[str]:
    """``python -m device onboard`` with a passport file and a selfie folder."""
    return [
        sys.executable, "-m", "device", "onboard",
        "--state", str(tmp_path / "device.json"),
        "--server", platform.url,
        "--passport", str(evidence.passport),
        "--selfie-dir", str(evidence.selfies),
        "--pin1", PIN1, "--pin2", PIN2,
    ]  # fmt: skip


def _code(deadline: float) -> str:
    while time.monotonic() < deadline:
        for message in mail.outbox:
            found = re.search(r"\b(\d{4}) ?(\d{4})\b", str(message.body))
            if found and message.to == [ALICE.email]:
                return found.group(1) + found.group(2)
        time.sleep(0.05)
    raise AssertionError("no one-time code was sent")


def test_onboard_command_registers_with_passport_and_selfies(
    platform: Platform, registry: None, evidence: Evidence, tmp_path: Path
) -> None:
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        _onboard(platform, evidence, tmp_path),
        cwd=ROOT,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    code = _code(time.monotonic() + 90)
    output, _ = process.communicate(input=code + "\n", timeout=120)
    assert process.returncode == 0, output
    assert "6/6 SECONDARY" in output and "[########################]" in output  # progress
    assert "Code sent by email to a***@example.org" in output
    number = re.search(r"Registered: (\S+) \(ACTIVE, QUALIFIED\)", output)
    assert number is not None, output
    assert Account.objects.get(document_number=number.group(1)).state == Account.State.ACTIVE


def test_onboard_command_explains_a_rejection(
    platform: Platform, evidence: Evidence, tmp_path: Path
) -> None:
    # No registry row for the applicant: the checks reject it; the command says why.
    result = subprocess.run(  # noqa: S603 -- our own interpreter and module
        _onboard(platform, evidence, tmp_path),
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "REJECTED" in result.stdout and "population registry" in result.stdout
    assert not Account.objects.exists()


def test_onboard_command_usage_errors(tmp_path: Path) -> None:
    for args in (
        ["--passport", "x.json"],  # no --selfie-dir
        ["--mobile-id", "+37200000766"],  # no --id-code
        [],  # no source
    ):
        result = subprocess.run(  # noqa: S603 -- our own interpreter and module
            [
                sys.executable,
                "-m",
                "device",
                "onboard",
                "--state",
                str(tmp_path / "s.json"),
                "--server",
                "http://127.0.0.1:9",
                "--pin1",
                PIN1,
                "--pin2",
                PIN2,
                *args,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_existing_account_code_shown_on_the_new_device_is_picked_on_the_old(
    platform: Platform,
    registry: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two command lines: the new device shows the code, the old one offers it among
    decoys and sends the person's pick with PIN2."""
    from device.__main__ import main

    monkeypatch.setenv("SMARTID_DEVICE_MIN_KEY_BITS", "1024")
    old = ["--state", str(tmp_path / "old.json")]
    client = httpx.Client(base_url=platform.url, timeout=60)
    platform.clients.append(client)
    ticket = platform.ticket(ALICE)
    register = ["register", *old, "--server", platform.url, "--ticket", ticket]
    assert main([*register, "--pin1", PIN1, "--pin2", PIN2], client=client) == 0
    document = re.search(r"Registered: (\S+)", capsys.readouterr().out)
    assert document is not None

    new_device = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [
            sys.executable,
            "-m",
            "device",
            "onboard",
            "--state",
            str(tmp_path / "new.json"),
            "--server",
            platform.url,
            "--existing-account",
            document.group(1),
            "--pin1",
            PIN1,
            "--pin2",
            PIN2,
        ],  # fmt: skip
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(new_device.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    shown = None
    while shown is None and time.monotonic() < deadline:
        shown = re.search(r"\((\d) (\d) (\d) (\d)\)", "".join(lines))
        time.sleep(0.05)
    assert shown is not None, "".join(lines)
    code = "".join(shown.groups())
    assert "pick this one on your other device" in "".join(lines)

    assert main(["wait", *old, "--timeout", "10"], client=client) == 0
    listed = capsys.readouterr().out
    assert "a new device asks to register an account in your name" in listed
    choices = re.search(r"pick the one the new device shows: (\d{4}), (\d{4}), (\d{4})", listed)
    assert choices is not None and code in choices.groups(), listed
    assert "█" not in listed  # the old device never shows the code itself
    tx_id = re.search(r"Transaction (\S+)", listed)
    assert tx_id is not None
    questions: list[str] = []

    def pick(prompt: str = "") -> str:
        questions.append(prompt)
        return code

    monkeypatch.setattr("builtins.input", pick)
    assert main(["approve", tx_id.group(1), *old, "--pin", PIN2], client=client) == 0
    assert "Approved." in capsys.readouterr().out
    assert questions and "Which code does your new device show?" in questions[0]

    assert new_device.wait(timeout=120) == 0, "".join(lines)
    reader.join(timeout=10)
    registered = re.search(r"Registered: (\S+) \(ACTIVE, QUALIFIED\)", "".join(lines))
    assert registered is not None and registered.group(1) != document.group(1)
