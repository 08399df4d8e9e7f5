"""The relying parties' SDK (sdk/python, ``smartid_client``) against the running platform.

Each flow is started, completed and validated by the SDK alone — the signature, the chain to
the platform's CA (downloaded from ``/ca/<slug>.crt``), OCSP at the certificate's responder,
the level and key usage, the identity: device-link authentication by QR and Web2App opened
by the demo's mock service (``POST /mock/device-link``; the demo account's device answers on
its own), Web2App opened by the reference app with its callback checked, notification
authentication and signature, a device-link certificate choice with a linked signature and
``signature/certificate/{docNo}``, a v2 authentication, and refusals as exceptions. Plus the
package installs into an empty venv without the platform's requirements.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import smartid_client as sc

from accounts.models import Account
from api.rp.models import RelyingParty
from demo.autoresponder import AutoResponder
from demo.world import DEMO_IDENTITIES
from pki import ocsp
from signing.models import Transaction
from tests.helpers.demo_world import DemoAccounts, populated, sqlite_wait_for_locks
from tests.helpers.platform import Platform
from tests.helpers.v3device import file_device, run_cli
from tests.live import LiveASGIServer
from tests.personas import ALICE, PIN1, RP_A

ROOT = Path(__file__).resolve().parents[2]
DEMO_V3 = "00000000-0000-4000-8000-000000000000"
DEMO_V2 = "00000000-0000-0000-0000-000000000000"
DEMO_OK = next(i for i in DEMO_IDENTITIES if i.outcome == "OK")
REFUSER = next(i for i in DEMO_IDENTITIES if i.outcome == "USER_REFUSED")
PIN_REFUSER = next(i for i in DEMO_IDENTITIES if i.outcome == "USER_REFUSED_DISPLAYTEXTANDPIN")
ANSWERING = (DEMO_OK, REFUSER, PIN_REFUSER)
PIN = sc.Interaction.display_text_and_pin("Log in?")
CONFIRM = sc.Interaction.confirmation_message("Sign the contract with the demo bank?")


def _validator(base_url: str) -> sc.Validator:
    """The trust store as a relying party sets it up once: the CA files of /ca/."""
    files = [
        httpx.get(f"{base_url}/ca/{slug}.crt", timeout=30) for slug in ("root", "eid-q", "eid-nq")
    ]
    for response in files:
        response.raise_for_status()
    root, *issuing = sc.load_certificates(*(r.content for r in files))
    return sc.Validator([root], issuing, ocsp=True)


def _demo_client(base_url: str) -> sc.SmartIdClient:
    return sc.SmartIdClient(f"{base_url}/v3", DEMO_V3, "DEMO", scheme_name=sc.SCHEME_DEMO)


def _mock_open(
    base_url: str, identity_doc: str, link: str, flow: str, callback: str | None
) -> None:
    body: dict[str, Any] = {"documentNumber": identity_doc, "deviceLink": link, "flowType": flow}
    if flow != "QR":
        body |= {"browserCookie": "sid=abc", "initialCallbackUrl": callback}
    response = httpx.post(f"{base_url}/mock/device-link", json=body, timeout=30)
    assert response.status_code == 200, response.text


@pytest.fixture
def demo(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DemoAccounts]:
    """Three demo accounts (OK, USER_REFUSED, USER_REFUSED_DISPLAYTEXTANDPIN), their
    devices answering on their own."""
    sqlite_wait_for_locks(monkeypatch)
    population = populated(asgi_server, settings, tmp_path, ANSWERING)
    accounts = DemoAccounts(asgi_server, tmp_path / "demo-devices", population)
    stop = threading.Event()
    threads = []
    for identity in ANSWERING:
        responder = AutoResponder(accounts.app(identity), identity.outcome)
        thread = threading.Thread(target=responder.run, args=(stop, 1000), daemon=True)
        thread.start()
        threads.append(thread)
    yield accounts
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    accounts.close()
    ocsp.reset_issuer_index()


def _is_demo_ok(identity: sc.Identity) -> None:
    assert identity.semantics_identifier == DEMO_OK.semantics_identifier
    assert identity.document_number == DEMO_OK.document_number
    assert identity.identity_type == "PNO" and identity.personal_code


@pytest.mark.django_db(transaction=True)
def test_device_link_login_by_qr_and_web2app_via_the_mock_service(demo: DemoAccounts) -> None:
    validator = _validator(demo.url)
    with _demo_client(demo.url) as client:
        # QR: the link of the current second, as the login page shows it
        session = client.authentication_device_link([PIN])
        assert sc.qr_png(session.qr_link()).startswith(b"\x89PNG")
        _mock_open(demo.url, DEMO_OK.document_number, session.qr_link(), "QR", None)
        status = client.wait(session, timeout_ms=5000)
        result = validator.authentication(
            session,
            status,
            expected=sc.ExpectedIdentity(semantics_identifier=DEMO_OK.semantics_identifier),
        )
        _is_demo_ok(result.identity)
        assert result.flow_type == "QR" and len(result.chain) == 3

        # Web2App: the mock service has no browser, so no callback comes back
        callback = sc.new_callback_url("https://rp.example/eid/callback")
        session = client.authentication_device_link(
            [PIN], initial_callback_url=callback, hash_algorithm=sc.HashAlgorithm.SHA3_256
        )
        stored = sc.Session.from_dict(session.to_dict())  # as a web session keeps it
        _mock_open(demo.url, DEMO_OK.document_number, stored.web2app_link(), "Web2App", callback)
        status = client.wait(stored, timeout_ms=5000)
        with pytest.raises(sc.CallbackError):
            validator.authentication(stored, status)
        result = validator.authentication(stored, status, require_callback=False)
        assert result.flow_type == "Web2App"
        _is_demo_ok(result.identity)


@pytest.mark.django_db(transaction=True)
def test_notification_login_signature_and_refusal(demo: DemoAccounts) -> None:
    validator = _validator(demo.url)
    with _demo_client(demo.url) as client:
        session = client.authentication_notification(
            [PIN], semantics_identifier=DEMO_OK.semantics_identifier
        )
        assert session.verification_code is not None and len(session.verification_code) == 4
        result = validator.authentication(session, client.wait(session, timeout_ms=5000))
        assert result.flow_type == "Notification"
        _is_demo_ok(result.identity)

        for algorithm, hash_algorithm in (
            (sc.SignatureAlgorithm.RSASSA_PSS, sc.HashAlgorithm.SHA_256),
            (sc.SignatureAlgorithm.SHA512_WITH_RSA, None),
        ):
            digest = (hash_algorithm or sc.HashAlgorithm.SHA_512).digest(b"the contract")
            signing = client.signature_notification(
                digest, [CONFIRM, PIN], document_number=DEMO_OK.document_number,
                hash_algorithm=hash_algorithm, signature_algorithm=algorithm,
            )  # fmt: skip
            assert signing.verification_code and signing.verification_code.isdigit()
            signed = validator.signature(signing, client.wait(signing, timeout_ms=5000))
            assert signed.digest == digest and signed.signature_algorithm == algorithm.value
            _is_demo_ok(signed.identity)

        refused = client.authentication_notification(
            [PIN], semantics_identifier=REFUSER.semantics_identifier
        )
        with pytest.raises(sc.UserRefusedError) as caught:  # v3: USER_REFUSED, no screen named
            client.wait(refused, timeout_ms=5000)
        assert caught.value.end_result == "USER_REFUSED"
        refused = client.authentication_notification(
            [CONFIRM, PIN], semantics_identifier=PIN_REFUSER.semantics_identifier
        )
        with pytest.raises(sc.UserRefusedInteractionError) as named:
            client.wait(refused, timeout_ms=5000)
        assert named.value.interaction == "displayTextAndPIN"
        with pytest.raises(sc.UserAccountNotFoundError):
            client.authentication_notification([PIN], semantics_identifier="PNOEE-30303039903")
        wrong_name = sc.SmartIdClient(
            f"{demo.url}/v3", DEMO_V3, "demo", scheme_name=sc.SCHEME_DEMO
        )  # the registered spelling is DEMO
        with wrong_name, pytest.raises(sc.UnauthorizedError):
            wrong_name.authentication_device_link([PIN])
        with pytest.raises(sc.BadRequestError) as bad:
            client.authentication_device_link([PIN], rp_challenge=b"short")
        assert bad.value.pointers == ["/signatureProtocolParameters/rpChallenge"]


@pytest.mark.django_db(transaction=True)
def test_certificate_choice_linked_signature_and_certificate(demo: DemoAccounts) -> None:
    validator = _validator(demo.url)
    with _demo_client(demo.url) as client:
        callback = sc.new_callback_url("https://rp.example/sign/callback")
        choice = client.certificate_choice_device_link(initial_callback_url=callback)
        _mock_open(demo.url, DEMO_OK.document_number, choice.app2app_link(), "App2App", callback)
        chosen = validator.certificate_choice(choice, client.wait(choice, timeout_ms=5000))
        assert chosen.flow_type == "App2App"
        _is_demo_ok(chosen.identity)

        digest = sc.HashAlgorithm.SHA3_384.digest(b"the PDF's signed attributes")
        linked = client.signature_linked(
            chosen.document_number, choice, digest, [CONFIRM, PIN],
            hash_algorithm=sc.HashAlgorithm.SHA3_384,
        )  # fmt: skip
        signed = validator.signature(linked, client.wait(linked, timeout_ms=5000))
        assert signed.certificate == chosen.certificate and signed.flow_type == "Notification"

        answer = client.signing_certificate(chosen.document_number)
        fetched = validator.signing_certificate(answer)
        assert fetched.certificate == chosen.certificate and fetched.chain == chosen.chain


@pytest.mark.django_db(transaction=True)
def test_v2_authentication(demo: DemoAccounts) -> None:
    validator = _validator(demo.url)
    with sc.SmartIdClientV2(f"{demo.url}/v2", DEMO_V2, "DEMO") as client:
        session = client.authentication([PIN], semantics_identifier=DEMO_OK.semantics_identifier)
        result = validator.authentication(session, client.wait(session, timeout_ms=5000))
        _is_demo_ok(result.identity)
        assert result.interaction_used == "displayTextAndPIN" and result.flow_type is None
        refused = client.authentication([PIN], document_number=REFUSER.document_number)
        with pytest.raises(sc.UserRefusedError) as caught:
            client.wait(refused, timeout_ms=5000)
        assert caught.value.end_result == "USER_REFUSED"
        refused = client.authentication([PIN], document_number=PIN_REFUSER.document_number)
        with pytest.raises(sc.UserRefusedDisplayTextAndPinError):
            client.wait(refused, timeout_ms=5000)


@pytest.mark.django_db(transaction=True)
def test_web2app_callback_from_the_reference_app(
    platform: Platform,
    rp_a: RelyingParty,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The reference app opens the Web2App link and prints the callback URL it opens: the
    SDK checks the callback and the userChallengeVerifier; a tampered one is refused."""
    state = tmp_path / "alice.json"
    account: Account = file_device(platform, state, ALICE)
    validator = _validator(platform.url)
    client = sc.SmartIdClient(
        f"{platform.url}/v3", RP_A.uuid, RP_A.name, scheme_name=sc.SCHEME_DEMO
    )
    with client:
        callback = sc.new_callback_url("https://bank.example/eid/callback")
        session = client.authentication_device_link([PIN], initial_callback_url=callback)
        ran = run_cli(platform, capsys, state, "open-link", session.web2app_link(), "--pin", PIN1)
        assert (ran.code, ran.err) == (0, ""), ran
        opened = (ran.line("Callback: ") or "").removeprefix("Callback: ")
        status = client.wait(session, timeout_ms=5000)
        with pytest.raises(sc.CallbackError):
            sc.verify_callback(
                session, opened.replace("sessionSecretDigest=", "sessionSecretDigest=A")
            )
        result = validator.authentication(
            session, status, callback=sc.verify_callback(session, opened)
        )
        assert result.document_number == account.document_number
        assert result.identity.semantics_identifier == ALICE.semantics_identifier
        assert Transaction.objects.filter(group=session.session_id).exists()


def test_the_package_installs_into_an_empty_venv(tmp_path: Path) -> None:
    """``pip install sdk/python`` in a fresh venv (PyPI through the machine's pip config):
    the package imports, and nothing of the platform (Django) comes with it."""
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT / "sdk" / "python")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    probe = (
        "import importlib.util, smartid_client\n"
        "assert importlib.util.find_spec('django') is None, 'django is importable'\n"
        "print(smartid_client.__version__, smartid_client.__file__)\n"
    )
    ran = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert str(target) in ran.stdout and sys.prefix not in ran.stdout
