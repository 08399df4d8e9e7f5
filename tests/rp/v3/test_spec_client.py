"""Issue 13 acceptance: a relying-party client written from the specification alone
(:mod:`tests.helpers.v3_spec_client`, which imports nothing from the project) runs every v3
flow against the running server and validates what a real relying party must validate.

First the client is checked against the vectors of docs/spec/rp-api.md §5 (the ACSP_V2
digest, the four authCodes, the rpChallenge VC, the user challenge). Then, over HTTP:
device-link authentication by QR, Web2App and App2App opened by the demo mock service
(``POST /mock/device-link``, the demo device answering) and by the reference app
(``device open-link``); notification authentication (the code the app shows is the one the
relying party computes from its rpChallenge) and signature (PSS and legacy PKCS#1 v1.5,
the service's code); a device-link certificate choice followed by a linked signature; and
``signature/certificate/{docNo}``. Each answer is validated in full: the signature with the
certificate's key, the chain to the CA certificates the platform publishes, the identity,
and for same-device flows the callback URL's digest and user challenge verifier.
"""

from __future__ import annotations

import ast
import base64
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from accounts.models import Account
from api.rp.models import RelyingParty
from demo.autoresponder import AutoResponder
from demo.world import DEMO_IDENTITIES
from pki import ocsp
from signing.models import Transaction
from tests.helpers import v3_spec_client as spec
from tests.helpers.demo_world import DemoAccounts, populated, sqlite_wait_for_locks
from tests.helpers.platform import Platform
from tests.helpers.v3device import Ran, file_device, run_cli
from tests.live import LiveASGIServer
from tests.personas import ALICE, PIN1, PIN2, RP_A

# --- the specification's vectors (docs/spec/rp-api.md §5, written out in full) -------------

RP_CHALLENGE = (
    "GYS+yoah6emAcVDNIajwSs6UB/M95XrDxMzXBUkwQJ9YFDipXXzGpPc7raWcuc2+TEoRc7WvIZ/7dU/iRXenYg=="
)
DOC_INTERACTIONS = (
    "W3sidHlwZSI6ImNvbmZpcm1hdGlvbk1lc3NhZ2UiLCJkaXNwbGF5VGV4dDIwMCI6IkxvbmdlciBkZXNjcmlwdGlv"
    "biBvZiB0aGUgdHJhbnNhY3Rpb24gY29udGV4dCJ9LHsidHlwZSI6ImRpc3BsYXlUZXh0QW5kUElOIiwiZGlzcGxh"
    "eVRleHQ2MCI6IlNob3J0IGRlc2NyaXB0aW9uIG9mIHRoZSB0cmFuc2FjdGlvbiBjb250ZXh0In1d"
)
DOC_CALLBACK = "https://rp.example.com/callback-url?value=RrKjjT4aggzu27YBddX1bQ"
USER_CHALLENGE = "GnsWXXEjTCKR89fj9uo5u5ReBZ9JR7_pezLAI5jMS00"
VERIFIER = "XtPfaGa8JnGtYrJjboooUf0KfY9sMEHrWFpSQrsUv9c"
DOC_DIGEST = (
    "pKOjbNl/5Fy8NfrFqsj6pSn8W8O+Ik8rM33QSsbyD3J9qDJvEm90SboUciuY4wHGWa0Pnq8BgT3NJKmJiUDfKg=="
)
LINK_SECRET = "B98ODiVCebRedSwdTk51zFSaGYyHtY1H2A0ocAi3/Ps="
LINK_TOKEN = "wGIrqveE6AuGDATZKmR1mtAZ"
LINK_BASE = "https://smart-id.com/device-link"
LINK_DIGEST = (
    "FNZFFya5wGLv9b27fZngaWrOBqle4tGwxZuDFRBdPl1RQvxJsfoqvTbjafd+8BcehMOQGvak6zlP+F8tga4bfQ=="
)
#: (link type, session type, protocol, value, elapsedSeconds, authCode)
AUTH_CODES = [
    (
        "Web2App",
        "auth",
        "ACSP_V2",
        RP_CHALLENGE,
        None,
        "aegUh6gCKkXBJhhvtJqSTWB5_2W8TDQt5eZ7db6krv0",
    ),
    ("QR", "auth", "ACSP_V2", RP_CHALLENGE, 22, "OY1eHaD4UYedrBwtqUbSkpa0w7ttm4FllPkCD_3wlE0"),
    (
        "App2App",
        "sign",
        "RAW_DIGEST_SIGNATURE",
        LINK_DIGEST,
        None,
        "8QZ16rkBW_ffkq6osT7UH1DbUlF9gEOZevgj-A0VNbM",
    ),
    ("Web2App", "cert", "", "", None, "PI1qYa9_l6zR-v6Pkre6ycSm7S3BGiOQSe5OQlw4UJg"),
]


def test_the_client_imports_nothing_from_the_project() -> None:
    """Written from the specification alone: only the standard library, httpx and
    cryptography."""
    tree = ast.parse(Path(spec.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, "no relative imports"
            roots.add(node.module.split(".")[0])
    third_party = {"httpx", "cryptography"}
    assert roots - third_party <= set(sys.stdlib_module_names), roots


def test_the_acsp_v2_vector() -> None:
    payload = spec.acsp_v2_payload(
        scheme=spec.SCHEME_LIVE,
        server_random="MTlop6EXCrQ6FOErcKjxUhbV",
        rp_challenge=RP_CHALLENGE,
        user_challenge=USER_CHALLENGE,
        rp_name="DEMO",
        brokered_rp_name="Example RP",
        interactions=DOC_INTERACTIONS,
        interaction_type_used="confirmationMessage",
        initial_callback_url=DOC_CALLBACK,
        flow_type="Web2App",
    )
    assert payload.split("|")[5:7] == ["REVNTw==", "RXhhbXBsZSBSUA=="]
    assert spec.b64(spec.acsp_v2_digest(payload, "SHA-512")) == DOC_DIGEST


@pytest.mark.parametrize(
    ("link_type", "session_type", "protocol", "value", "elapsed", "code"), AUTH_CODES
)
def test_the_auth_code_vectors(
    link_type: str, session_type: str, protocol: str, value: str, elapsed: int | None, code: str
) -> None:
    unprotected = spec.unprotected_link(
        LINK_BASE, link_type, LINK_TOKEN, session_type, lang="eng", elapsed_seconds=elapsed
    )
    payload = spec.authcode_payload(
        scheme=spec.SCHEME_LIVE,
        protocol=protocol,
        protocol_value=value,
        rp_name="DEMO",
        brokered_rp_name="Example RP",
        interactions=DOC_INTERACTIONS if session_type != "cert" else "",
        initial_callback_url="" if link_type == "QR" else DOC_CALLBACK,
        unprotected=unprotected,
    )
    link = spec.device_link(unprotected, spec.auth_code(LINK_SECRET, payload))
    assert link.endswith(f"&authCode={code}")
    assert ("&elapsedSeconds=22&" in link) == (link_type == "QR")


def test_the_code_verifier_and_pss_vectors() -> None:
    assert spec.vc_for_rp_challenge(RP_CHALLENGE) == "7180"
    assert spec.verification_code(bytes([0x1B, 0xBB])) == "4555"
    assert spec.user_challenge_of(VERIFIER) == USER_CHALLENGE
    assert spec.pss_parameters("SHA-512")["saltLength"] == 64
    assert spec.pss_parameters("SHA3-256")["saltLength"] == 32


# --- against the running server ------------------------------------------------------------

DEMO_UUID = "00000000-0000-4000-8000-000000000000"
DEMO_OK = next(i for i in DEMO_IDENTITIES if i.outcome == "OK")
CALLBACK = "https://rp.example.com/callback?value=RrKjjT4a"
COOKIE = "sid=abc"
PIN_TEXT = {"type": "displayTextAndPIN", "displayText60": "Log in?"}
CONFIRM = {"type": "confirmationMessage", "displayText200": "Sign the contract with Bank 123?"}
#: (flow, hash) of the three device-link authentications: SHA-2 and SHA-3.
LINK_FLOWS = (("QR", "SHA-256"), ("Web2App", "SHA3-256"), ("App2App", "SHA-512"))


@pytest.fixture
def demo(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DemoAccounts]:
    """The demo's first OK account, its device answering on its own (as the demo does)."""
    sqlite_wait_for_locks(monkeypatch)
    population = populated(asgi_server, settings, tmp_path, (DEMO_OK,))
    accounts = DemoAccounts(asgi_server, tmp_path / "demo-devices", population)
    stop = threading.Event()
    responder = AutoResponder(accounts.app(DEMO_OK), DEMO_OK.outcome)
    thread = threading.Thread(target=responder.run, args=(stop, 1000), daemon=True)
    thread.start()
    yield accounts
    stop.set()
    thread.join(timeout=15)
    accounts.close()
    ocsp.reset_issuer_index()


def _mock_open(base: str, link: str, flow: str) -> None:
    """SK's mock service: the demo device "clicks" the link."""
    body: dict[str, Any] = {
        "documentNumber": DEMO_OK.document_number,
        "deviceLink": link,
        "flowType": flow,
    }
    if flow != "QR":
        body |= {"browserCookie": COOKIE, "initialCallbackUrl": CALLBACK}
    response = httpx.post(f"{base}/mock/device-link", json=body, timeout=30)
    assert response.status_code == 200, response.text


def _is_demo_ok(who: spec.Identity) -> None:
    assert who.document_number == DEMO_OK.document_number
    assert who.serial_number == DEMO_OK.semantics_identifier


@pytest.mark.django_db(transaction=True)
def test_device_link_authentication_via_the_mock_service(demo: DemoAccounts) -> None:
    rp = spec.SpecClient(demo.url, DEMO_UUID, "DEMO")
    for flow, hash_name in LINK_FLOWS:
        callback = None if flow == "QR" else CALLBACK
        body = rp.auth_body([PIN_TEXT], hash_name=hash_name, callback=callback)
        session = rp.start("authentication/device-link/anonymous", body)
        _mock_open(demo.url, session.link(flow), flow)
        status = session.finished()
        who, _ = session.validate(status, flow_type=flow)
        _is_demo_ok(who)
        assert status["result"]["documentNumber"] == DEMO_OK.document_number
        assert status["interactionTypeUsed"] == "displayTextAndPIN"


@pytest.mark.django_db(transaction=True)
def test_certificate_choice_linked_signature_and_certificate(demo: DemoAccounts) -> None:
    """Linked signing without a phone: a device-link certificate choice (anonymous) opened
    by the mock service, a notification signature linked to it, and the signing
    certificate fetched by document number."""
    rp = spec.SpecClient(demo.url, DEMO_UUID, "DEMO")
    choice = rp.start(
        "signature/certificate-choice/device-link/anonymous", rp.choice_body(callback=CALLBACK)
    )
    _mock_open(demo.url, choice.link("App2App"), "App2App")
    chosen = choice.finished()
    who, cert = choice.validate(chosen, flow_type="App2App")
    _is_demo_ok(who)

    body = rp.sign_body(b"the contract", [CONFIRM, PIN_TEXT], hash_name="SHA3-384")
    body["linkedSessionID"] = choice.session_id
    linked = rp.start(f"signature/notification/linked/{who.document_number}", body)
    assert set(linked.answer) == {"sessionID"}
    signed = linked.finished()
    linked_who, linked_cert = linked.validate(signed, flow_type="Notification")
    assert linked_who == who and linked_cert == cert

    answer = rp.certificate(who.document_number)
    assert answer["state"] == "OK"
    assert answer["cert"]["certificateLevel"] == "QUALIFIED"
    fetched = spec.certificate(answer)
    assert fetched == cert
    chain = rp.trust.verify(fetched, "sign")
    assert chain[-1] == rp.trust.root and len(chain) == 3
    _is_demo_ok(spec.identity(fetched))


# --- the reference app ---------------------------------------------------------------------


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty, tmp_path: Path) -> tuple[Path, Account]:
    path = tmp_path / "alice.json"
    return path, file_device(platform, path, ALICE)


def _rp(platform: Platform) -> spec.SpecClient:
    return spec.SpecClient(platform.url, RP_A.uuid, RP_A.name)


def _is_alice(who: spec.Identity, account: Account) -> None:
    assert who.document_number == account.document_number
    assert who.serial_number == ALICE.semantics_identifier


def _callback(ran: Ran) -> str | None:
    line = ran.line("Callback: ")
    return None if line is None else line.removeprefix("Callback: ")


@pytest.mark.django_db(transaction=True)
def test_device_links_via_the_reference_app(
    platform: Platform, alice: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, account = alice
    rp = _rp(platform)
    for flow, hash_name in LINK_FLOWS:
        callback = None if flow == "QR" else CALLBACK
        body = rp.auth_body([PIN_TEXT], hash_name=hash_name, callback=callback)
        session = rp.start("authentication/device-link/anonymous", body)
        if flow == "QR":
            time.sleep(2.2)  # the QR code shown two seconds after the creation response
        link = session.link(flow)
        elapsed = re.search(r"&elapsedSeconds=(\d+)&", link)
        assert (elapsed is not None and int(elapsed[1]) >= 2) == (flow == "QR"), link
        ran = run_cli(platform, capsys, path, "open-link", link, "--pin", PIN1)
        assert (ran.code, ran.err) == (0, ""), ran
        status = session.finished()
        who, _ = session.validate(status, flow_type=flow)
        _is_alice(who, account)
        opened = _callback(ran)
        if flow == "QR":
            assert opened is None  # the user is on another screen
        else:
            assert opened is not None, ran.out
            spec.check_callback(
                opened,
                CALLBACK,
                session.answer["sessionSecret"],
                status["signature"]["userChallenge"],
            )

    # a signature by device link: its callback carries no user challenge verifier
    body = rp.sign_body(
        b"the contract", [CONFIRM, PIN_TEXT], hash_name="SHA-512", callback=CALLBACK
    )
    session = rp.start(f"signature/device-link/etsi/{ALICE.semantics_identifier}", body)
    ran = run_cli(platform, capsys, path, "open-link", session.link("Web2App"), "--pin", PIN2)
    assert (ran.code, ran.err) == (0, ""), ran
    status = session.finished()
    who, _ = session.validate(status, flow_type="Web2App")
    _is_alice(who, account)
    opened = _callback(ran)
    assert opened is not None, ran.out
    spec.check_callback(opened, CALLBACK, session.answer["sessionSecret"], None)


@pytest.mark.django_db(transaction=True)
def test_notification_authentication_and_signatures_via_the_reference_app(
    platform: Platform, alice: tuple[Path, Account], capsys: pytest.CaptureFixture[str]
) -> None:
    path, account = alice
    rp = _rp(platform)

    # authentication: the app shows the code the RP computes from its own rpChallenge
    body = rp.auth_body([PIN_TEXT], hash_name="SHA-384", notification=True)
    session = rp.start(f"authentication/notification/etsi/{ALICE.semantics_identifier}", body)
    assert set(session.answer) == {"sessionID"}
    code = spec.vc_for_rp_challenge(body["signatureProtocolParameters"]["rpChallenge"])
    waited = run_cli(platform, capsys, path, "wait", "--timeout", "5")
    assert waited.code == 0, waited
    assert f"({' '.join(code)})" in waited.out
    tx = Transaction.objects.get(group=session.session_id)
    approved = run_cli(platform, capsys, path, "approve", str(tx.pk), "--pin", PIN1)
    assert (approved.code, approved.err) == (0, ""), approved
    status = session.finished()
    who, _ = session.validate(status, flow_type="Notification")
    _is_alice(who, account)

    # signatures: the service's code, PSS with SHA-2 and SHA-3, and legacy PKCS#1 v1.5
    for hash_name, algorithm in (
        ("SHA-256", spec.PSS),
        ("SHA3-512", spec.PSS),
        ("SHA-512", "sha512WithRSAEncryption"),
    ):
        body = rp.sign_body(
            b"the contract", [CONFIRM, PIN_TEXT], hash_name=hash_name, algorithm=algorithm
        )
        session = rp.start(f"signature/notification/document/{account.document_number}", body)
        vc = session.answer["vc"]
        assert vc["type"] == "numeric4" and len(vc["value"]) == 4 and vc["value"].isdigit()
        tx = Transaction.objects.get(group=session.session_id)
        approved = run_cli(platform, capsys, path, "approve", str(tx.pk), "--pin", PIN2)
        assert (approved.code, approved.err) == (0, ""), approved
        assert f"({' '.join(vc['value'])})" in approved.out
        status = session.finished()
        who, _ = session.validate(status, flow_type="Notification")
        _is_alice(who, account)
        assert status["signature"]["signatureAlgorithm"] == algorithm


def test_a_forged_answer_fails_validation() -> None:
    """The client's checks bite: a signature that is not over our digest is refused."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = key.sign(b"\x01" * 32, pss, Prehashed(hashes.SHA256()))
    spec.verify_pss_digest(key.public_key(), signature, b"\x01" * 32, "SHA-256")
    with pytest.raises(InvalidSignature):
        spec.verify_pss_digest(key.public_key(), signature, b"\x02" * 32, "SHA-256")
    with pytest.raises(spec.ValidationFailed):
        spec.check_callback(
            CALLBACK + "&sessionSecretDigest=x",
            CALLBACK,
            base64.b64encode(b"s" * 18).decode(),
            None,
        )
