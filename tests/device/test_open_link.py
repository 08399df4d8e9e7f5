"""``python -m device open-link`` end to end: a relying party starts an RP API v3
device-link session over ``/v3/``, builds its QR code or Web2App/App2App link, the reference
app opens it against the running server and answers it with a real split-key signature,
and the relying party verifies what ``GET /v3/session/{id}`` reports against the
certificate.
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
from tests.helpers.rp_v3 import CONFIRM, PIN_TEXT, auth_body, interactions, sign_body
from tests.helpers.v3device import Ran, RpLink, file_device, run_cli
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK = "https://rp.example.com/callback?value=RrKjjT4a"
ALICE_ID = ALICE.semantics_identifier


@pytest.fixture
def state(platform: Platform, rp_a: RelyingParty, tmp_path: Path) -> tuple[Path, Account]:
    path = tmp_path / "alice.json"
    return path, file_device(platform, path, ALICE)


def _auth(platform: Platform, flow: str, hash_algorithm: str = "SHA3-256") -> RpLink:
    body = auth_body()
    body["signatureProtocolParameters"]["signatureAlgorithmParameters"] = {
        "hashAlgorithm": hash_algorithm
    }
    body["interactions"] = interactions(PIN_TEXT)
    if flow == "QR":
        del body["initialCallbackUrl"]
    else:
        body["initialCallbackUrl"] = CALLBACK
    return RpLink.start(platform.url, "authentication/device-link/anonymous", body)


def _callback(ran: Ran) -> dict[str, str]:
    line = ran.line("Callback: ")
    assert line is not None, ran.out
    url = line.removeprefix("Callback: ")
    assert url.startswith(CALLBACK + "&"), url
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("flow", ["QR", "Web2App", "App2App"])
def test_authentication_link(
    flow: str, platform: Platform, state: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, account = state
    rp = _auth(platform, flow)
    assert rp.status(platform.url)["state"] == "RUNNING"
    ran = run_cli(platform, capsys, path, "open-link", rp.link(flow), "--pin", PIN1)
    assert (ran.code, ran.err) == (0, ""), ran
    assert f"Opened a {flow} link (auth)." in ran.out
    assert ran.line("from:") == "from:     Bank 123"
    assert ran.line("screen:") == "screen:   displayTextAndPIN"
    assert ran.line("text:") == "text:     Log in?"
    assert ran.line("flow:") == f"flow:     {flow}, ACSP_V2"
    assert "Approved." in ran.out
    status = rp.finished(platform.url)
    assert status["result"] == {"endResult": "OK", "documentNumber": account.document_number}
    assert status["signatureProtocol"] == "ACSP_V2"
    assert status["interactionTypeUsed"] == "displayTextAndPIN"
    assert status["signature"]["flowType"] == flow
    rp.check_acsp(status)
    if flow == "QR":
        assert ran.line("Callback:") is None  # the user is on another screen
        return
    params = _callback(ran)
    assert set(params) == {"value", "sessionSecretDigest", "userChallengeVerifier"}
    assert params["sessionSecretDigest"] == engine.session_secret_digest(rp.secret)
    assert engine.user_challenge_matches(
        params["userChallengeVerifier"], status["signature"]["userChallenge"]
    )


def test_signature_link_raw_digest(
    platform: Platform, state: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, account = state
    body = sign_body(hash_algorithm="SHA-512", interactions=interactions(CONFIRM, PIN_TEXT))
    body["initialCallbackUrl"] = CALLBACK
    rp = RpLink.start(platform.url, f"signature/device-link/etsi/{ALICE_ID}", body)
    ran = run_cli(platform, capsys, path, "open-link", rp.link("Web2App"), "--pin", PIN2)
    assert (ran.code, ran.err) == (0, ""), ran
    assert ran.line("kind:") == "kind:     SIGNATURE (PIN2)"
    assert ran.line("screen:") == "screen:   confirmationMessage"
    assert ran.line("text:") == "text:     Log in to Bank 123?"
    status = rp.finished(platform.url)
    assert status["result"] == {"endResult": "OK", "documentNumber": account.document_number}
    assert status["signatureProtocol"] == "RAW_DIGEST_SIGNATURE"
    assert status["signature"]["flowType"] == "Web2App"
    rp.check_raw_digest(status)
    # a signature's callback carries no user challenge verifier
    params = _callback(ran)
    assert params == {"value": "RrKjjT4a", "sessionSecretDigest": params["sessionSecretDigest"]}


def test_refusal_names_the_screen_shown(
    platform: Platform, state: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = state
    body = sign_body(interactions=interactions(CONFIRM, PIN_TEXT))
    rp = RpLink.start(platform.url, f"signature/device-link/etsi/{ALICE_ID}", body)
    ran = run_cli(platform, capsys, path, "open-link", rp.link("QR"), "--refuse")
    assert ran.code == 0, ran
    assert "Refused (REFUSED) on the confirmationMessage screen." in ran.out
    status = rp.finished(platform.url)
    assert status["result"]["endResult"] == "USER_REFUSED_INTERACTION"
    assert status["result"]["details"] == {"interaction": "confirmationMessage"}
    assert "signature" not in status


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
    state: tuple[Path, Account],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = state
    rp = _auth(platform, "QR" if tamper == "old-qr" else "App2App")
    if tamper == "secret":
        link = rp.link("App2App", secret=b"\x00" * 18)
    elif tamper == "old-qr":
        link = rp.link("QR", elapsed=600)
    else:
        link = rp.link("App2App")
        first = run_cli(platform, capsys, path, "open-link", link, "--refuse")
        assert first.code == 0, first
    ran = run_cli(platform, capsys, path, "open-link", link, "--pin", PIN1)
    assert ran.code == 1
    assert ran.err.startswith(f"error: the service refused this link ({status} {error})")
    assert ran.err.rstrip().endswith("nothing was signed")
    assert "Approved." not in ran.out and "Callback:" not in ran.out
    assert not Transaction.objects.filter(signature__isnull=False).exists()
    if tamper != "twice":
        assert rp.status(platform.url)["state"] == "RUNNING"
        assert RpSession.objects.get(pk=rp.session_id).opened_at is None


def test_not_a_device_link_is_not_sent(
    platform: Platform, state: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = state
    ran = run_cli(platform, capsys, path, "open-link", "https://example.com/?x=1", "--pin", PIN1)
    assert ran.code == 2 and ran.err.startswith("error: invalid device link"), ran
    assert not RpSession.objects.exists()
