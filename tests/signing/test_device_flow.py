"""Issue 4 end to end: the reference app against the running ASGI server."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp as cocsp
from django.utils import timezone

from accounts.models import Account
from device.app import DeviceApp
from pki import ocsp, services
from pki.models import Certificate
from signing.models import SplitKey, Transaction
from tests.helpers.platform import Platform, auth_transaction, send_signed
from tests.personas import PIN1, WRONG1


def _certificate(account: Account, purpose: str) -> x509.Certificate:
    key = SplitKey.objects.get(account=account, purpose=purpose)
    assert key.certificate is not None
    return x509.load_der_x509_certificate(bytes(key.certificate.der))


def _answer(app: object, tx: Transaction, pin: str) -> str:
    found = {t.id: t for t in app.pending(timeout_ms=5000)}  # type: ignore[attr-defined]
    assert str(tx.pk) in found
    return str(app.approve(found[str(tx.pk)], pin).status)  # type: ignore[attr-defined]


def _ocsp_status(account: Account, purpose: str) -> cocsp.OCSPCertStatus:
    cert = _certificate(account, purpose)
    issuer = services.ca_certificate(services.issuing_ca_for(qualified=True))
    request = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return cocsp.load_der_ocsp_response(
        ocsp.respond(request.public_bytes(Encoding.DER))
    ).certificate_status


def test_register_then_authenticate(platform: Platform, tmp_path: Path) -> None:
    app, account = platform.registered()
    assert account.state == Account.State.ACTIVE
    root, q, _ = platform.hierarchy
    (tmp_path / "root.pem").write_bytes(services.ca_certificate(root).public_bytes(Encoding.PEM))
    (tmp_path / "q.pem").write_bytes(services.ca_certificate(q).public_bytes(Encoding.PEM))
    keys = {k.purpose: k for k in SplitKey.objects.filter(account=account)}
    for purpose in ("AUTH", "SIGN"):
        cert = _certificate(account, purpose)
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        key = keys[purpose]
        assert public.public_numbers().n == int(key.n1, 16) * int(key.n2, 16)
        (tmp_path / f"{purpose}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "q.pem", "AUTH.pem", "SIGN.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.stdout.split() == ["AUTH.pem:", "OK", "SIGN.pem:", "OK"], verify.stderr

    data = b"challenge from the bank"
    tx = auth_transaction(account, data)
    assert _answer(app, tx, PIN1) == "OK"
    tx.refresh_from_db()
    assert tx.result == "OK" and tx.interaction_used == "displayTextAndPIN"
    signature = bytes(tx.signature or b"")
    public = _certificate(account, "AUTH").public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        signature, hashlib.sha256(data).digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256())
    )
    (tmp_path / "sig.bin").write_bytes(signature)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "pub.pem").write_bytes(
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    openssl = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", "data.bin"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert openssl.stdout.strip() == "Verified OK"


def test_wrong_pin_schedule_locks_and_finally_revokes(platform: Platform) -> None:
    app, account = platform.registered()
    start = timezone.now()
    with time_machine.travel(start, tick=True) as traveller:
        for expected in ("WRONG_PIN", "WRONG_PIN"):
            assert _answer(app, auth_transaction(account), WRONG1) == expected
        assert _answer(app, auth_transaction(account), PIN1) == "OK"  # a success resets
        assert SplitKey.objects.get(account=account, purpose="AUTH").fails == 0
        for _ in range(3):
            assert _answer(app, auth_transaction(account), WRONG1) == "WRONG_PIN"
        key = SplitKey.objects.get(account=account, purpose="AUTH")
        assert key.fails == 3 and key.locked_until is not None
        assert key.locked_until - timezone.now() > timedelta(hours=2, minutes=59)
        assert _answer(app, auth_transaction(account), PIN1) == "LOCKED"  # even the right PIN
        assert SplitKey.objects.get(account=account, purpose="SIGN").fails == 0  # own counter

        traveller.shift(timedelta(hours=3, minutes=1))
        for _ in range(3):
            assert _answer(app, auth_transaction(account), WRONG1) == "WRONG_PIN"
        key.refresh_from_db()
        assert key.fails == 6
        assert key.locked_until is not None
        assert key.locked_until - timezone.now() > timedelta(hours=23, minutes=59)
        traveller.shift(timedelta(hours=3, minutes=1))
        assert _answer(app, auth_transaction(account), PIN1) == "LOCKED"

        traveller.shift(timedelta(hours=21))
        assert _answer(app, auth_transaction(account), WRONG1) == "WRONG_PIN"
        assert _answer(app, auth_transaction(account), WRONG1) == "WRONG_PIN"
        assert _answer(app, auth_transaction(account), WRONG1) == "WRONG_PIN"  # the 9th
        account.refresh_from_db()
        assert account.state == Account.State.REVOKED
        assert _ocsp_status(account, "AUTH") == cocsp.OCSPCertStatus.REVOKED
        assert _ocsp_status(account, "SIGN") == cocsp.OCSPCertStatus.REVOKED
        key.refresh_from_db()
        assert key.state == SplitKey.State.DESTROYED and key.wrapped_d1pp is None


def test_clone_detection_and_idempotent_retry(platform: Platform) -> None:
    original, account = platform.registered()
    copy = platform.clone(original)

    tx = auth_transaction(account)
    assert _answer(original, tx, PIN1) == "OK"
    # The answer got lost: the app sends the very same request again (same rnonce).
    sent, first = original.recorder.last("/confirm")  # type: ignore[attr-defined]
    again = _resend(original, sent)
    assert again.status_code == 200
    assert again.json() == first.json()  # identical, new token included
    assert first.json()["status"] == "OK"
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE  # a retry is no clone

    assert _answer(copy, auth_transaction(account), PIN1) == "CLONE_DETECTED"
    account.refresh_from_db()
    assert account.state == Account.State.REVOKED
    assert set(
        Certificate.objects.filter(document_number=account.document_number).values_list(
            "status", flat=True
        )
    ) == {"REVOKED"}
    assert all(k.wrapped_d1pp is None for k in SplitKey.objects.filter(account=account))
    # The original is dead too: the service no longer has its shares.
    assert original.refresh(account.document_number, "AUTH") == "REVOKED"


def _resend(app: DeviceApp, request: httpx.Request) -> httpx.Response:
    """The same body again, with a fresh request signature (as the app's retry does)."""
    return send_signed(app, request.method, request.url.raw_path.decode(), request.content)
