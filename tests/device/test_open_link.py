"""``python -m device open-link`` end to end: RP API v3 device links (QR, Web2App, App2App)
opened by the reference app against the running server, answered with a real split-key
signature that the relying party verifies against the certificate.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from signing import engine
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.v3device import (
    Ran,
    file_device,
    rp_checks_acsp,
    rp_checks_raw_digest,
    run_cli,
    status_from_rows,
)
from tests.helpers.v3links import CALLBACK, auth_session, link_for, sign_session
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def state(platform: Platform, tmp_path: Path) -> tuple[Path, Account]:
    path = tmp_path / "alice.json"
    return path, file_device(platform, path, ALICE)


def _callback(ran: Ran) -> dict[str, str]:
    line = ran.line("Callback: ")
    assert line is not None, ran.out
    url = line.removeprefix("Callback: ")
    assert url.startswith(CALLBACK + "&"), url
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("flow", ["QR", "Web2App", "App2App"])
def test_authentication_link(
    flow: str,
    platform: Platform,
    rp_a: RelyingParty,
    state: tuple[Path, Account],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, account = state
    session = auth_session(rp_a, hash_algorithm="SHA3-256")
    ran = run_cli(platform, capsys, path, "open-link", link_for(session, flow), "--pin", PIN1)
    assert (ran.code, ran.err) == (0, ""), ran
    assert f"Opened a {flow} link (auth)." in ran.out
    assert ran.line("from:") == f"from:     {rp_a.display_name}"
    assert ran.line("screen:") == "screen:   displayTextAndPIN"
    assert ran.line("text:") == "text:     Log in to Bank 123?"
    assert ran.line("flow:") == f"flow:     {flow}, ACSP_V2"
    assert "Approved." in ran.out
    status = status_from_rows(session)
    assert status["state"] == "COMPLETE" and status["result"]["endResult"] == "OK"
    assert status["interactionTypeUsed"] == "displayTextAndPIN"
    assert status["signature"]["flowType"] == flow
    rp_checks_acsp(session, status)
    tx = Transaction.objects.get(group=session.pk)
    assert tx.account == account
    if flow == "QR":
        assert ran.line("Callback:") is None  # the user is on another screen
        return
    params = _callback(ran)
    assert session.session_secret is not None
    assert set(params) == {"state", "sessionSecretDigest", "userChallengeVerifier"}
    assert params["sessionSecretDigest"] == engine.session_secret_digest(
        bytes(session.session_secret)
    )
    assert engine.user_challenge_matches(
        params["userChallengeVerifier"], status["signature"]["userChallenge"]
    )


def test_signature_link_raw_digest(
    platform: Platform,
    rp_a: RelyingParty,
    state: tuple[Path, Account],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, account = state
    session = sign_session(rp_a, target_kind="document", target=account.document_number)
    ran = run_cli(platform, capsys, path, "open-link", link_for(session, "Web2App"), "--pin", PIN2)
    assert (ran.code, ran.err) == (0, ""), ran
    assert ran.line("kind:") == "kind:     SIGNATURE (PIN2)"
    assert ran.line("screen:") == "screen:   confirmationMessage"
    assert ran.line("text:") == "text:     Pay 10 EUR to Shop 456?"
    status = status_from_rows(session)
    assert status["result"]["endResult"] == "OK"
    rp_checks_raw_digest(session, status)
    # a signature's callback carries no user challenge verifier
    assert set(_callback(ran)) == {"state", "sessionSecretDigest"}


def test_refusal_names_the_screen_shown(
    platform: Platform,
    rp_a: RelyingParty,
    state: tuple[Path, Account],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = state
    session = sign_session(rp_a, target_kind="etsi", target=ALICE.semantics_identifier)
    ran = run_cli(platform, capsys, path, "open-link", link_for(session, "QR"), "--refuse")
    assert ran.code == 0, ran
    assert "Refused (REFUSED) on the confirmationMessage screen." in ran.out
    tx = Transaction.objects.get(group=session.pk)
    assert (tx.result, tx.refused_interaction) == (
        "USER_REFUSED_INTERACTION",
        "confirmationMessage",
    )
    assert tx.signature is None


@pytest.mark.parametrize(
    ("tamper", "status", "error"),
    [
        ("secret", 403, "auth_code_mismatch"),
        ("twice", 409, "already_opened"),
        ("old-qr", 410, "link_expired"),
    ],
)
def test_refused_link_signs_nothing(
    tamper: str,
    status: int,
    error: str,
    platform: Platform,
    rp_a: RelyingParty,
    state: tuple[Path, Account],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = state
    session = auth_session(rp_a)
    if tamper == "secret":
        link = link_for(session, "Web2App", secret=b"\x00" * 18)
    elif tamper == "old-qr":
        link = link_for(session, "QR", elapsed=600)
    else:
        link = link_for(session, "App2App")
        first = run_cli(platform, capsys, path, "open-link", link, "--refuse")
        assert first.code == 0, first
    ran = run_cli(platform, capsys, path, "open-link", link, "--pin", PIN1)
    assert ran.code == 1
    assert ran.err.startswith(f"error: the service refused this link ({status} {error})")
    assert ran.err.rstrip().endswith("nothing was signed")
    assert "Approved." not in ran.out and "Callback:" not in ran.out
    session.refresh_from_db()
    assert not Transaction.objects.filter(group=session.pk, signature__isnull=False).exists()
    if tamper != "twice":
        assert session.opened_at is None


def test_not_a_device_link_is_not_sent(
    platform: Platform, state: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = state
    ran = run_cli(platform, capsys, path, "open-link", "https://example.com/?x=1", "--pin", PIN1)
    assert ran.code == 2 and ran.err.startswith("error: invalid device link"), ran
    assert not RpSession.objects.exists()
