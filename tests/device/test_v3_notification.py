"""RP API v3 notification flows in the reference app: ``wait`` shows the transaction with
its verification code, ``approve`` answers it (ACSP_V2: the app's own digest), against the
running server."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from api.rp.v3.transactions import start_transaction
from signing import engine
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.v3device import (
    file_device,
    rp_checks_acsp,
    rp_checks_raw_digest,
    run_cli,
    status_from_rows,
)
from tests.helpers.v3links import CONFIRMATION, PIN_SCREEN, interactions_b64
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)


def _notification(rp: RelyingParty, account: Account, kind: str, **fields: object) -> RpSession:
    session = RpSession.objects.create(
        relying_party=rp,
        kind=kind,
        api_version=3,
        fingerprint=secrets.token_hex(32),
        certificate_level="QUALIFIED",
        flow=RpSession.Flow.NOTIFICATION,
        target_kind="document",
        target=account.document_number,
        **fields,
    )
    start_transaction(session, account, flow_type="Notification", ttl=timedelta(minutes=2))
    return session


def test_authentication_shows_the_challenge_code_and_signs_acsp_v2(
    platform: Platform, rp_a: RelyingParty, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "alice.json"
    account = file_device(platform, path, ALICE)
    challenge = base64.b64encode(secrets.token_bytes(64)).decode()
    session = _notification(
        rp_a,
        account,
        RpSession.Kind.AUTHENTICATION,
        signature_protocol="ACSP_V2",
        protocol_parameters={
            "rpChallenge": challenge,
            "signatureAlgorithm": "rsassa-pss",
            "hashAlgorithm": "SHA-512",
        },
        interactions=interactions_b64(PIN_SCREEN),
    )
    code = engine.vc_for_rp_challenge(challenge)
    waited = run_cli(platform, capsys, path, "wait", "--timeout", "5")
    assert waited.code == 0, waited
    assert waited.line("flow:") == "flow:     Notification, ACSP_V2"
    assert f"({' '.join(code)})" in waited.out
    tx = Transaction.objects.get(group=session.pk)
    approved = run_cli(platform, capsys, path, "approve", str(tx.pk), "--pin", PIN1)
    assert (approved.code, approved.err) == (0, ""), approved
    assert "Approved." in approved.out and "Callback:" not in approved.out
    status = status_from_rows(session)
    assert status["result"] == {"endResult": "OK"}
    assert status["signature"]["flowType"] == "Notification"
    rp_checks_acsp(session, status)


def test_signature_shows_the_service_code(
    platform: Platform, rp_a: RelyingParty, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "alice.json"
    account = file_device(platform, path, ALICE)
    digest = engine.hash_message(b"the contract", "SHA256")
    session = _notification(
        rp_a,
        account,
        RpSession.Kind.SIGNATURE,
        signature_protocol="RAW_DIGEST_SIGNATURE",
        protocol_parameters={
            "digest": base64.b64encode(digest).decode(),
            "signatureAlgorithm": "rsassa-pss",
            "hashAlgorithm": "SHA-256",
        },
        interactions=interactions_b64(CONFIRMATION),
        vc="0427",
        nonce="n1",
    )
    tx = Transaction.objects.get(group=session.pk)
    approved = run_cli(platform, capsys, path, "approve", str(tx.pk), "--pin", PIN2)
    assert (approved.code, approved.err) == (0, ""), approved
    assert "(0 4 2 7)" in approved.out
    assert approved.line("screen:") == "screen:   confirmationMessage"
    status = status_from_rows(session)
    assert status["result"] == {"endResult": "OK"}
    rp_checks_raw_digest(session, status)
