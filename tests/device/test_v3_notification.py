"""RP API v3 notification flows in the reference app: a relying party starts a session
over ``/v3/``, ``wait`` shows the transaction with its verification code, ``approve``
answers it (ACSP_V2: the app's own digest), and the relying party verifies the status,
against the running server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from api.rp.models import RelyingParty
from signing import engine
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import CONFIRM, PIN_TEXT, auth_body, interactions, sign_body
from tests.helpers.v3device import RpLink, file_device, run_cli
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)
ALICE_ID = ALICE.semantics_identifier


def test_authentication_shows_the_challenge_code_and_signs_acsp_v2(
    platform: Platform, rp_a: RelyingParty, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "alice.json"
    account = file_device(platform, path, ALICE)
    body = auth_body(notification=True)
    rp = RpLink.start(platform.url, f"authentication/notification/etsi/{ALICE_ID}", body)
    code = engine.vc_for_rp_challenge(body["signatureProtocolParameters"]["rpChallenge"])
    waited = run_cli(platform, capsys, path, "wait", "--timeout", "5")
    assert waited.code == 0, waited
    assert waited.line("flow:") == "flow:     Notification, ACSP_V2"
    assert f"({' '.join(code)})" in waited.out
    tx = Transaction.objects.get(group=rp.session_id)
    approved = run_cli(platform, capsys, path, "approve", str(tx.pk), "--pin", PIN1)
    assert (approved.code, approved.err) == (0, ""), approved
    assert "Approved." in approved.out and "Callback:" not in approved.out
    status = rp.finished(platform.url)
    assert status["result"] == {"endResult": "OK", "documentNumber": account.document_number}
    assert status["signature"]["flowType"] == "Notification"
    rp.check_acsp(status)


def test_signature_shows_the_service_code(
    platform: Platform, rp_a: RelyingParty, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "alice.json"
    account = file_device(platform, path, ALICE)
    body = sign_body(
        digest=hashlib.sha256(b"the contract").digest(),
        hash_algorithm="SHA-256",
        interactions=interactions(CONFIRM, PIN_TEXT),
    )
    rp = RpLink.start(platform.url, f"signature/notification/etsi/{ALICE_ID}", body)
    code = rp.answer["vc"]["value"]
    tx = Transaction.objects.get(group=rp.session_id)
    approved = run_cli(platform, capsys, path, "approve", str(tx.pk), "--pin", PIN2)
    assert (approved.code, approved.err) == (0, ""), approved
    assert f"({' '.join(code)})" in approved.out
    assert approved.line("screen:") == "screen:   confirmationMessage"
    status = rp.finished(platform.url)
    assert status["result"] == {"endResult": "OK", "documentNumber": account.document_number}
    rp.check_raw_digest(status)
