"""``python -m device onboard`` as a user runs it: a subprocess against the live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

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
