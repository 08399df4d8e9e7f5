"""Re-key from the app (issue 15 item 2, docs/app-api.md §8), end to end against the live
server: new certificates chain and verify, the old ones are revoked as superseded, the
relying party authenticates the renewed account; a wrong PIN counts; an interrupted re-key
leaves the old keys working and no orphan certificate. The swap is the task
``complete_renewal`` (eager here; tests/signing/test_renewal_task.py holds it back, and
tests/signing/test_renewal_worker.py kills a real worker during it)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import time
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as cocsp

from accounts.models import Account
from api.rp.models import RelyingParty
from audit.services import audit_record
from device.app import DeviceApp
from device.errors import InputError, RenewalPending
from pki import ocsp, services
from pki.models import Certificate
from signing import tasks
from signing.models import KeyRenewal, SplitKey, Transaction
from signing.services import renewal as renewal_service
from tests.helpers.issuance import assert_renewed_once
from tests.helpers.platform import Platform, auth_transaction, send_signed
from tests.personas import ALICE, PIN1, PIN2, RP_A, WRONG2

NEW1, NEW2 = "4321", "54321"


def _certificates(account: Account) -> dict[str, Certificate]:
    return {
        k.purpose: k.certificate
        for k in SplitKey.objects.filter(account=account, state=SplitKey.State.ACTIVE)
        if k.certificate is not None
    }


def _ocsp(row: Certificate) -> cocsp.OCSPResponse:
    cert = x509.load_der_x509_certificate(bytes(row.der))
    issuer = services.ca_certificate(row.issuer)
    request = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return cocsp.load_der_ocsp_response(ocsp.respond(request.public_bytes(Encoding.DER)))


def _answer(app: DeviceApp, tx_id: str, pin: str) -> str:
    found = {t.id: t for t in app.pending(timeout_ms=5000)}
    assert tx_id in found
    return app.approve(found[tx_id], pin).status


def _rp_v2_login(platform: Platform, app: DeviceApp, pin: str) -> dict[str, Any]:
    """An RP API v2 authentication of Alice, answered by ``app`` with ``pin``."""
    digest = hashlib.sha256(b"bank login after renewal").digest()
    started = httpx.post(
        f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}",
        json={
            "relyingPartyUUID": RP_A.uuid,
            "relyingPartyName": RP_A.name,
            "hash": base64.b64encode(digest).decode(),
            "hashType": "SHA256",
            "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Hi"}],
        },
        timeout=30,
    )
    assert started.status_code == 200, started.text
    session_id = started.json()["sessionID"]
    tx = Transaction.objects.get(group=session_id)
    assert _answer(app, str(tx.pk), pin) == "OK"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(
            f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 5000}, timeout=30
        ).json()
        if body["state"] == "COMPLETE":
            return body | {"digest": digest}
    raise AssertionError("the session did not complete")


def test_renew_end_to_end(platform: Platform, rp_a: RelyingParty, tmp_path: Path) -> None:
    app, account = platform.registered()
    old = _certificates(account)
    old_keys = set(SplitKey.objects.filter(account=account).values_list("pk", flat=True))

    result = app.renew(account.document_number, PIN2, NEW1, NEW2)

    assert result.ok and set(result.certificates) == {"AUTH", "SIGN"}
    new = _certificates(account)
    assert {p: c.pk for p, c in new.items()} != {p: c.pk for p, c in old.items()}
    # The new certificates chain to the root and carry the new composite keys.
    root, q, _ = platform.hierarchy
    (tmp_path / "root.pem").write_bytes(services.ca_certificate(root).public_bytes(Encoding.PEM))
    (tmp_path / "q.pem").write_bytes(services.ca_certificate(q).public_bytes(Encoding.PEM))
    for purpose, row in new.items():
        cert = x509.load_der_x509_certificate(bytes(row.der))
        assert bytes(row.der) == result.certificates[purpose]
        (tmp_path / f"{purpose}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
        key = SplitKey.objects.get(certificate=row)
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.public_numbers().n == int(key.n1, 16) * int(key.n2, 16)
        assert key.pk not in old_keys and key.renewal is not None
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "q.pem", "AUTH.pem", "SIGN.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.stdout.split() == ["AUTH.pem:", "OK", "SIGN.pem:", "OK"], verify.stderr
    # OCSP: the old certificates are revoked as superseded, the new ones are good.
    for row in old.values():
        answer = _ocsp(row)
        assert answer.certificate_status == cocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason == x509.ReasonFlags.superseded
    for row in new.values():
        assert _ocsp(row).certificate_status == cocsp.OCSPCertStatus.GOOD
    # The old server shares are gone.
    for key in SplitKey.objects.filter(pk__in=old_keys):
        assert key.state == SplitKey.State.DESTROYED and key.wrapped_d1pp is None
    # A relying party authenticates the renewed account with the new PIN1 and gets the
    # new certificate, whose key verifies the signature.
    body = _rp_v2_login(platform, app, NEW1)
    assert body["result"] == {"endResult": "OK", "documentNumber": account.document_number}
    assert base64.b64decode(body["cert"]["value"]) == bytes(new["AUTH"].der)
    public = x509.load_der_x509_certificate(bytes(new["AUTH"].der)).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        base64.b64decode(body["signature"]["value"]),
        body["digest"],
        padding.PKCS1v15(),
        Prehashed(hashes.SHA256()),
    )
    # The app's status says when the new certificates expire.
    (status,) = app.accounts()
    assert status.valid_until is not None and not status.expired and not status.renewal_due
    assert set(status.keys) == {"AUTH", "SIGN"}
    assert all(k.state == "ACTIVE" for k in status.keys.values())


def test_a_wrong_pin_counts_toward_the_lock_and_renews_nothing(platform: Platform) -> None:
    app, account = platform.registered()
    old = _certificates(account)
    result = app.renew(account.document_number, WRONG2, NEW1, NEW2)
    assert result.proof.status == "WRONG_PIN" and not result.ok
    assert result.proof.tries_left == 8
    sign_key = SplitKey.objects.get(account=account, purpose="SIGN", state="ACTIVE")
    assert sign_key.fails == 1
    assert not KeyRenewal.objects.filter(account=account).exists()
    assert SplitKey.objects.filter(account=account).count() == 2
    for _ in range(2):
        assert app.renew(account.document_number, WRONG2, NEW1, NEW2).proof.status in (
            "WRONG_PIN",
            "LOCKED",
        )
    sign_key.refresh_from_db()
    assert sign_key.fails == 3 and sign_key.locked_until is not None  # locked like a signature
    assert app.renew(account.document_number, PIN2, NEW1, NEW2).proof.status == "LOCKED"
    assert _certificates(account) == old
    # The old keys still work where no lock applies (PIN1 has its own counter).
    tx = auth_transaction(account)
    assert _answer(app, str(tx.pk), PIN1) == "OK"


@pytest.mark.parametrize(
    "step",
    ["issue", "revoke", "destroy", "finish"],
)
def test_an_interrupted_renewal_leaves_the_old_keys_working(platform: Platform, step: str) -> None:
    """The swap (the task ``complete_renewal``, eager here) fails at each of its steps on
    every try: nothing of it stays, the old keys work, the app gives up waiting (keeping
    the new keys); the task sent again later (a redelivery, or ``resume_issuance``) swaps
    exactly once, and the app picks the renewal up and signs with the new keys."""
    app, account = platform.registered(certificate_wait=1)
    old = {p: c.pk for p, c in _certificates(account).items()}
    certificates_before = Certificate.objects.count()
    real_issue = services.certificate_issue
    calls = {"n": 0}

    def issue_then_fail(**kwargs: Any) -> Certificate:
        calls["n"] += 1
        if calls["n"] % 2 == 0:  # each try makes the first new certificate, not the second
            raise RuntimeError("CA went away")
        return real_issue(**kwargs)

    target: Any = {
        "issue": mock.patch("signing.services.renewal.pki.certificate_issue", issue_then_fail),
        "revoke": mock.patch(
            "signing.services.renewal.pki.certificate_revoke", side_effect=RuntimeError("boom")
        ),
        "destroy": mock.patch.object(
            renewal_service, "_destroy_superseded", side_effect=RuntimeError("boom")
        ),
        "finish": mock.patch.object(
            renewal_service,
            "audit_record",
            side_effect=lambda **kw: _fail_on(kw, "renewal.completed"),
        ),
    }[step]
    with target, pytest.raises(RenewalPending, match="old keys still work"):
        app.renew(account.document_number, PIN2, NEW1, NEW2)
    # No certificate was left behind, the old ones are untouched and the old keys sign.
    assert Certificate.objects.count() == certificates_before
    assert {p: c.pk for p, c in _certificates(account).items()} == old
    assert Certificate.objects.filter(pk__in=old.values(), status="GOOD").count() == 2
    assert (
        SplitKey.objects.filter(account=account, state=SplitKey.State.ACTIVE, renewal=None).count()
        == 2
    )
    tx = auth_transaction(account)
    assert _answer(app, str(tx.pk), PIN1) == "OK"
    # The renewal waits for its task; sent again, it swaps the keys exactly once.
    renewal = KeyRenewal.objects.get(account=account)
    assert renewal.state == KeyRenewal.State.ISSUING
    assert tasks.complete_renewal.apply(args=(str(renewal.pk),)).result is True
    assert_renewed_once(renewal, old)
    assert tasks.complete_renewal.apply(args=(str(renewal.pk),)).result is False
    assert_renewed_once(renewal, old)
    # The app kept the new keys: it picks the renewal up and signs with them.
    result = app.resume_renewal(account.document_number)
    assert result is not None and result.ok
    tx = auth_transaction(account)
    assert _answer(app, str(tx.pk), NEW1) == "OK"


def _fail_on(kwargs: dict[str, Any], action: str) -> None:
    if kwargs["action"] == action:
        raise RuntimeError("boom")
    audit_record(**kwargs)


def test_renewal_is_the_devices_own(platform: Platform) -> None:
    app, account = platform.registered()
    other, _ = platform.registered(ALICE)
    # Another device of Alice cannot start a renewal of this account.
    with pytest.raises(InputError):
        other.renew(account.document_number, PIN2, NEW1, NEW2)
    response = send_signed(
        other, "POST", f"/app/v1/accounts/{account.document_number}/renewal", b"{}"
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
