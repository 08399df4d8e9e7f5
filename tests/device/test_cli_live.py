"""The command line client end to end against the running server (real HTTP, real keys).

Every command runs as ``python -m device`` in a subprocess, as a user would run it. The
CLI has no knob for the scrypt cost, so its shares use the production KDF (scrypt 2^15:
about 60 ms per PIN use); the keys are small (``SMARTID_DEVICE_MIN_KEY_BITS=1024``).
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from accounts.models import Account, Device
from device.state import FileStore
from signing import keys
from signing.engine import verification_code
from signing.models import SplitKey, Transaction
from tests.helpers.platform import Platform, auth_transaction
from tests.personas import PIN1, PIN2, RP_A, WRONG1

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {
            **os.environ,
            "SMARTID_DEVICE_MIN_KEY_BITS": "1024",
            "SMARTID_DEVICE_STATE": str(state.with_name("not-this-one.json")),
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        command, *rest = args
        return subprocess.run(
            [sys.executable, "-m", "device", command, "--state", str(self.state), *rest],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "state.json")


def _register(cli: Cli, platform: Platform) -> Account:
    result = cli(
        "register",
        "--server",
        platform.url,
        "--ticket",
        platform.ticket(),
        "--pin1",
        PIN1,
        "--pin2",
        PIN2,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    account = Account.objects.get()
    assert f"Registered: {account.document_number} (ACTIVE, QUALIFIED)" in result.stdout
    return account


def test_register_status_wait_approve_refuse_and_wrong_pin(cli: Cli, platform: Platform) -> None:
    account = _register(cli, platform)
    assert account.state == Account.State.ACTIVE
    assert stat.S_IMODE(cli.state.stat().st_mode) == 0o600
    assert not cli.state.with_name("not-this-one.json").exists()  # --state wins

    status = cli("status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    valid_until = account.keys.get(purpose="AUTH").certificate.not_after  # type: ignore[union-attr]
    expected = f"{account.document_number}  ACTIVE  QUALIFIED  valid until "
    assert expected + valid_until.strftime("%Y-%m-%dT%H:%M:%SZ") in lines
    assert "  AUTH (PIN1): ACTIVE, 9 tries left" in lines
    assert "  SIGN (PIN2): ACTIVE, 9 tries left" in lines

    # wait shows the RP, the text and the code computed from the hash.
    data = b"login at the bank"
    tx = auth_transaction(
        account,
        data,
        interactions=[{"type": "displayTextAndPIN", "displayText60": "Log in to BANK?"}],
    )
    waited = cli("wait", "--timeout", "5")
    assert waited.returncode == 0, waited.stderr
    code = verification_code(hashlib.sha256(data).digest())
    assert f"Transaction {tx.pk}" in waited.stdout
    assert f"  from:     {RP_A.name}\n" in waited.stdout
    assert "  text:     Log in to BANK?" in waited.stdout
    assert f"({' '.join(code)})" in waited.stdout  # the digits under the big code

    approved = cli("approve", str(tx.pk), "--pin", PIN1)
    assert approved.returncode == 0, approved.stderr
    assert "Approved." in approved.stdout
    tx.refresh_from_db()
    assert tx.result == Transaction.Result.OK
    key = SplitKey.objects.get(account=account, purpose="AUTH")
    assert key.certificate is not None
    public = x509.load_der_x509_certificate(bytes(key.certificate.der)).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        bytes(tx.signature or b""),
        hashlib.sha256(data).digest(),
        padding.PKCS1v15(),
        Prehashed(hashes.SHA256()),
    )

    # refuse: exit 0 ("done", docs/device.md), the transaction ends refused.
    other = auth_transaction(account, b"another login")
    refused = cli("refuse", str(other.pk))
    assert refused.returncode == 0, refused.stderr
    assert "Refused (REFUSED)." in refused.stdout
    other.refresh_from_db()
    assert other.result == Transaction.Result.USER_REFUSED_DISPLAYTEXTANDPIN

    # A wrong PIN: exit 1, one clear line on stderr, no traceback; the try is counted.
    third = auth_transaction(account, b"third login")
    wrong = cli("approve", str(third.pk), "--pin", WRONG1)
    assert wrong.returncode == 1
    assert wrong.stderr == "error: wrong pin (8 tries left)\n"
    assert "Traceback" not in wrong.stdout + wrong.stderr
    third.refresh_from_db()
    assert third.result == Transaction.Result.WRONG_PIN
    key.refresh_from_db()
    assert key.fails == 1

    # The CLI kept the token rotated by the wrong PIN: the next approval is no clone.
    fourth = auth_transaction(account, b"fourth login")
    again = cli("approve", str(fourth.pk), "--pin", PIN1)
    assert again.returncode == 0, again.stderr
    fourth.refresh_from_db()
    assert fourth.result == Transaction.Result.OK
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    key.refresh_from_db()
    assert key.fails == 0

    # A finished transaction cannot be approved again: one line, nothing changes. (The app
    # sees the state first and calls it a bad argument, exit 2; the service would say 409.)
    late = cli("approve", str(fourth.pk), "--pin", PIN1)
    assert late.returncode in (1, 2)
    assert late.stderr.count("\n") == 1 and "COMPLETE" in late.stderr
    assert "Traceback" not in late.stderr
    fourth.refresh_from_db()
    assert fourth.result == Transaction.Result.OK


def test_wait_with_nothing_pending_and_a_used_ticket(cli: Cli, platform: Platform) -> None:
    ticket = platform.ticket()
    first = cli(
        "register", "--server", platform.url, "--ticket", ticket, "--pin1", PIN1, "--pin2", PIN2
    )
    assert first.returncode == 0, first.stderr
    waited = cli("wait", "--timeout", "0")
    assert waited.returncode == 0
    assert "No pending transactions." in waited.stdout

    second = Cli(cli.state.with_name("second.json"))
    reused = second(
        "register", "--server", platform.url, "--ticket", ticket, "--pin1", PIN1, "--pin2", PIN2
    )
    assert reused.returncode == 1
    assert reused.stderr.count("\n") == 1 and "Traceback" not in reused.stderr
    assert "used" in reused.stderr.lower()
    assert Account.objects.count() == 1


def test_rotate_device_key_and_follow_a_new_transport_key(cli: Cli, platform: Platform) -> None:
    account = _register(cli, platform)
    before = bytes(Device.objects.get().public_key)
    rotated = cli("rotate-device-key")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip() == "New device key in use (1 device id(s): ROTATED)"
    after = bytes(Device.objects.get().public_key)
    assert after != before
    # The operator rotates the transport key; status picks it up, approve uses it.
    new = keys.transport_key_rotate(grace=timedelta(0), actor="test")
    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert FileStore(cli.state).load().transport_key == new.public_der
    tx = auth_transaction(account)
    approved = cli("approve", str(tx.pk), "--pin", PIN1)
    assert approved.returncode == 0, approved.stderr
    tx.refresh_from_db()
    assert tx.result == "OK"
