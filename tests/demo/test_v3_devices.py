"""RP API v3 in the demo: the virtual devices answer v3 transactions with their account's
documented result whatever the relying party offers, and ``POST /mock/device-link`` makes
a demo device open a device link (docs/demo.md), over HTTP against the running server.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.rp.models import RelyingParty, RpSession
from api.rp.v3.transactions import start_transaction
from demo.autoresponder import IGNORED, OUTCOMES, AutoResponder
from demo.world import DemoIdentity
from signing.models import Transaction
from tests.helpers.demo_world import ONE_PER_OUTCOME, DemoAccounts
from tests.helpers.rp_v3 import CONFIRM, PIN_TEXT, auth_body, interactions, sign_body
from tests.helpers.v3device import (
    RpLink,
    rp_checks_acsp,
    rp_checks_raw_digest,
    rp_finished,
)
from tests.helpers.v3links import (
    CALLBACK,
    PIN_SCREEN,
    auth_session,
    cert_session,
    interactions_b64,
    link_for,
    sign_session,
)

V3_UUID = "00000000-0000-4000-8000-000000000000"
DEMO_RP = {"relyingPartyUUID": V3_UUID, "relyingPartyName": "DEMO"}
COOKIE = "sid=abc"
#: v3 end result (and refused interaction) of an authentication offering the PIN screen
#: only, of a signature offering confirmationMessage then displayTextAndPIN, and of a
#: certificate choice (which offers no interaction: a refusal is of the choice itself).
REFUSED_CHOICE = ("USER_REFUSED_CERT_CHOICE", "")
EXPECTED: dict[str, tuple[tuple[str, str], ...]] = {
    "OK": (("OK", ""), ("OK", ""), ("OK", "")),
    "USER_REFUSED": (("USER_REFUSED", ""), ("USER_REFUSED", ""), ("USER_REFUSED", "")),
    # the row's interaction when offered, else the first one offered
    "USER_REFUSED_DISPLAYTEXTANDPIN": (
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        REFUSED_CHOICE,
    ),
    "USER_REFUSED_CONFIRMATIONMESSAGE": (
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        ("USER_REFUSED_INTERACTION", "confirmationMessage"),
        REFUSED_CHOICE,
    ),
    "USER_REFUSED_VC_CHOICE": (
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        ("USER_REFUSED_INTERACTION", "confirmationMessage"),
        REFUSED_CHOICE,
    ),
    "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE": (
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        ("USER_REFUSED_INTERACTION", "confirmationMessage"),
        REFUSED_CHOICE,
    ),
    "USER_REFUSED_CERT_CHOICE": (
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        ("USER_REFUSED_INTERACTION", "confirmationMessage"),
        REFUSED_CHOICE,
    ),
    # no code to pick in a device-link flow: the user cancels on the screen shown
    "WRONG_VC": (
        ("USER_REFUSED_INTERACTION", "displayTextAndPIN"),
        ("USER_REFUSED_INTERACTION", "confirmationMessage"),
        ("OK", ""),  # a certificate choice shows no code
    ),
    "TIMEOUT": (("", ""), ("", ""), ("", "")),
}
assert set(EXPECTED) == set(OUTCOMES)


@pytest.fixture
def demo_rp(demo_outcome_accounts: DemoAccounts) -> RelyingParty:
    return RelyingParty.objects.get(uuid=V3_UUID)


def _first(outcome: str) -> DemoIdentity:
    return next(i for i in ONE_PER_OUTCOME if i.outcome == outcome)


def _mock(url: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{url}/mock/device-link", json=body, timeout=30)


def _open(url: str, identity: DemoIdentity, session: RpSession, flow: str) -> httpx.Response:
    body: dict[str, Any] = {
        "documentNumber": identity.document_number,
        "deviceLink": link_for(session, flow),
        "flowType": flow,
    }
    if flow != "QR":
        body |= {"browserCookie": COOKIE, "initialCallbackUrl": CALLBACK}
    return _mock(url, **body)


def test_each_outcome_answers_v3_whatever_is_offered(
    demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty
) -> None:
    """An authentication (ACSP_V2, QR) and a signature (RAW_DIGEST, Web2App) per outcome,
    opened by the mock service, answered by ``handle()``."""
    for outcome in OUTCOMES:
        _answers_v3(outcome, demo_outcome_accounts, demo_rp)


def _answers_v3(outcome: str, demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty) -> None:
    identity = _first(outcome)
    responder = AutoResponder(demo_outcome_accounts.app(identity), outcome)
    sessions = [
        auth_session(demo_rp, interactions=PIN_SCREEN),
        sign_session(demo_rp, target_kind="document", target=identity.document_number),
        cert_session(demo_rp),
    ]
    flows = ("QR", "Web2App", "App2App")
    for session, flow, expected in zip(sessions, flows, EXPECTED[outcome], strict=True):
        response = _open(demo_outcome_accounts.url, identity, session, flow)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "documentNumber": identity.document_number,
            "flowType": flow,
            "sessionID": str(session.pk),
        }
        tx = Transaction.objects.get(group=session.pk)
        answer = responder.handle(responder.app.transaction(str(tx.pk)))
        tx.refresh_from_db()
        assert (tx.result, tx.refused_interaction) == expected, (outcome, flow)
        if outcome == "TIMEOUT":
            assert answer == IGNORED and tx.state == Transaction.State.PENDING
            continue
        status = rp_finished(demo_outcome_accounts.url, session.pk)
        details = status["result"].get("details", {})
        assert (status["result"]["endResult"], details.get("interaction", "")) == expected
        if expected[0] == "OK":
            assert status["signature"]["flowType"] == flow
            if session.kind == RpSession.Kind.AUTHENTICATION:
                rp_checks_acsp(session, status)
            elif session.kind == RpSession.Kind.SIGNATURE:
                rp_checks_raw_digest(session, status)


@pytest.fixture
def answering(demo_outcome_accounts: DemoAccounts) -> Iterator[dict[str, AutoResponder]]:
    """The OK and USER_REFUSED_CONFIRMATIONMESSAGE devices answer on their own, after a
    two-second delay."""
    stop = threading.Event()
    responders, threads = {}, []
    for outcome in ("OK", "USER_REFUSED_CONFIRMATIONMESSAGE"):
        app = demo_outcome_accounts.app(_first(outcome))
        responders[outcome] = AutoResponder(app, outcome, delay=2.0)
        thread = threading.Thread(target=responders[outcome].run, args=(stop, 1000), daemon=True)
        thread.start()
        threads.append(thread)
    yield responders
    stop.set()
    for thread in threads:
        thread.join(timeout=10)


def test_mock_service_completes_a_flow_after_running(
    demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty, answering: Any
) -> None:
    """As a relying party's automated test on SK's demo: start over /v3/, post the link to
    the mock service, poll: RUNNING while the device takes its time, then the result."""
    url = demo_outcome_accounts.url
    ok = _first("OK")
    body = auth_body(initialCallbackUrl=CALLBACK) | DEMO_RP
    rp = RpLink.start(url, "authentication/device-link/anonymous", body)
    started = time.monotonic()
    response = _mock(
        url,
        documentNumber=ok.document_number,
        deviceLink=rp.link("Web2App"),
        flowType="Web2App",
        browserCookie=COOKIE,
        initialCallbackUrl=CALLBACK,
    )
    assert response.status_code == 200, response.text
    assert rp.status(url)["state"] == "RUNNING"  # the device takes its time
    status = rp.finished(url)
    assert time.monotonic() - started >= 2.0
    assert status["result"] == {"endResult": "OK", "documentNumber": ok.document_number}
    assert status["interactionTypeUsed"] == "displayTextAndPIN"
    rp.check_acsp(status)

    refusing = _first("USER_REFUSED_CONFIRMATIONMESSAGE")
    body = sign_body(interactions=interactions(CONFIRM, PIN_TEXT)) | DEMO_RP
    rp = RpLink.start(url, f"signature/device-link/document/{refusing.document_number}", body)
    response = _mock(
        url, documentNumber=refusing.document_number, deviceLink=rp.link("QR"), flowType="QR"
    )
    assert response.status_code == 200, response.text
    status = rp.finished(url)
    assert status["result"]["endResult"] == "USER_REFUSED_INTERACTION"
    assert status["result"]["details"] == {"interaction": "confirmationMessage"}


def _body(number: object, link: str, flow: str, **extra: Any) -> dict[str, Any]:
    return {"documentNumber": number, "deviceLink": link, "flowType": flow, **extra}


def _bad_cases(rp: RelyingParty) -> list[tuple[str, Any, str]]:
    """(what, request body or raw bytes, expected code) — each refused with 400."""
    ok = _first("OK").document_number
    session = auth_session(rp, interactions=PIN_SCREEN)
    qr = link_for(session, "QR")
    web = link_for(session, "Web2App")
    tampered = qr[:-3] + ("BBA" if qr.endswith("AAA") else "AAA")
    cookie, callback = {"browserCookie": COOKIE}, {"initialCallbackUrl": CALLBACK}
    other = sign_session(rp, target_kind="document", target=_first("TIMEOUT").document_number)
    unknown = auth_session(rp)
    unknown.session_token = "".join(secrets.choice("abcdefgh12345678") for _ in range(24))
    bad = "invalid_request"
    return [
        ("not JSON", b"{", bad),
        ("not an object", b"[]", bad),
        ("too large", b" " * 20_000, bad),
        ("no documentNumber", {"deviceLink": qr, "flowType": "QR"}, bad),
        ("no deviceLink", {"documentNumber": ok, "flowType": "QR"}, bad),
        ("bad flowType", _body(ok, qr, "SMS"), bad),
        ("a number", _body(7, qr, "QR"), bad),
        ("no cookie", _body(ok, web, "Web2App", **callback), bad),
        ("no callback", _body(ok, web, "Web2App", **cookie), bad),
        ("http", _body(ok, web, "App2App", **cookie, initialCallbackUrl="http://rp.example/"), bad),
        ("flowType not the link's", _body(ok, web, "QR"), bad),
        ("not a link", _body(ok, "https://x.example/?a=b", "QR"), "invalid_device_link"),
        (
            "not a demo account",
            _body("PNOEE-49002124277-MOCK-Q", qr, "QR"),
            "unknown_document_number",
        ),
        ("unknown session", _body(ok, link_for(unknown, "QR"), "QR"), "not_found"),
        ("tampered", _body(ok, tampered, "QR"), "auth_code_mismatch"),
        (
            "another account's",
            _body(ok, link_for(other, "Web2App"), "Web2App", **cookie, **callback),
            "no_suitable_account",
        ),
    ]


def test_bad_requests_are_refused_with_400_and_change_nothing(
    demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty
) -> None:
    url = demo_outcome_accounts.url
    for what, body, code in _bad_cases(demo_rp):
        if isinstance(body, bytes):
            response = httpx.post(
                f"{url}/mock/device-link",
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
        else:
            response = _mock(url, **body)
        assert response.status_code == 400, (what, response.text)
        assert response.headers["content-type"] == "application/json", what
        problem = response.json()
        assert (problem["status"], problem["code"]) == (400, code), (what, problem)
        assert problem["errors"][0]["code"] == code
    assert not Transaction.objects.exists()
    assert not RpSession.objects.filter(opened_at__isnull=False).exists()
    assert httpx.get(f"{url}/mock/device-link", timeout=30).status_code == 405


def test_a_link_opens_once(demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty) -> None:
    ok = _first("OK")
    session = auth_session(demo_rp, interactions=PIN_SCREEN)
    assert _open(demo_outcome_accounts.url, ok, session, "App2App").status_code == 200
    again = _open(demo_outcome_accounts.url, _first("USER_REFUSED"), session, "App2App")
    assert again.status_code == 400 and again.json()["code"] == "already_opened"
    assert Transaction.objects.filter(group=session.pk).count() == 1


CODE_CHOICE = [
    {"type": "confirmationMessageAndVerificationCodeChoice", "displayText200": "Log in?"}
]


def test_notification_code_choice(
    demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty
) -> None:
    """A v3 notification authentication offering a code choice: OK picks the code computed
    from the rpChallenge and signs; WRONG_VC picks another one."""
    for outcome, expected in (("OK", "OK"), ("WRONG_VC", "WRONG_VC")):
        identity = _first(outcome)
        account = demo_outcome_accounts.account(identity)
        session = RpSession.objects.create(
            relying_party=demo_rp,
            kind=RpSession.Kind.AUTHENTICATION,
            api_version=3,
            fingerprint=secrets.token_hex(32),
            certificate_level="QUALIFIED",
            flow=RpSession.Flow.NOTIFICATION,
            target_kind="document",
            target=identity.document_number,
            signature_protocol="ACSP_V2",
            protocol_parameters={
                "rpChallenge": base64.b64encode(secrets.token_bytes(32)).decode(),
                "signatureAlgorithm": "rsassa-pss",
                "hashAlgorithm": "SHA-384",
            },
            interactions=interactions_b64(CODE_CHOICE),
        )
        start_transaction(session, account, flow_type="Notification", ttl=timedelta(minutes=2))
        responder = AutoResponder(demo_outcome_accounts.app(identity), outcome)
        tx = responder.app.transaction(str(Transaction.objects.get(group=session.pk).pk))
        assert tx.needs_vc_choice and tx.verification_code in (tx.vc_choices or ())
        assert responder.handle(tx) == expected
        status = rp_finished(demo_outcome_accounts.url, session.pk)
        assert status["result"]["endResult"] == expected
        if expected == "OK":
            rp_checks_acsp(session, status)


def test_mock_service_certificate_choice_then_linked_signature(
    demo_outcome_accounts: DemoAccounts, demo_rp: RelyingParty, answering: Any
) -> None:
    """SK's linked signing without a phone: a device-link certificate choice opened by the
    mock service, then a linked notification signature the same device answers."""
    url = demo_outcome_accounts.url
    ok = _first("OK")
    body = {**DEMO_RP, "certificateLevel": "QUALIFIED", "initialCallbackUrl": CALLBACK}
    rp = RpLink.start(url, "signature/certificate-choice/device-link/anonymous", body)
    response = _mock(
        url,
        documentNumber=ok.document_number,
        deviceLink=rp.link("App2App"),
        flowType="App2App",
        browserCookie=COOKIE,
        initialCallbackUrl=CALLBACK,
    )
    assert response.status_code == 200, response.text
    chosen = rp.finished(url)
    assert chosen["result"] == {"endResult": "OK", "documentNumber": ok.document_number}
    assert chosen["signature"] == {"flowType": "App2App"}
    linked = RpLink.start(
        url,
        f"signature/notification/linked/{ok.document_number}",
        sign_body(linkedSessionID=rp.session_id) | DEMO_RP,
    )
    signed = linked.finished(url)
    assert signed["result"]["endResult"] == "OK"
    assert signed["cert"]["value"] == chosen["cert"]["value"]
    linked.check_raw_digest(signed)
