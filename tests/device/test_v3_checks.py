"""The reference app's own checks of RP API v3 answers (no server: the answers are made
up, to be wrong in one way each): it refuses to show or sign what does not add up."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import httpx
import pytest

from device import DeviceApp, InputError, ProtocolError, RegistrationResult
from device.acsp import acsp_signature
from device.answers import parse_transaction
from signing import engine
from tests.helpers.device import BASE_URL

CALLBACK = "https://rp.example/back?x=1"
PIN_SCREEN = [{"type": "displayTextAndPIN", "displayText60": "Log in?"}]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _interactions(items: list[dict[str, str]]) -> str:
    return _b64(json.dumps(items, separators=(",", ":")).encode())


def _tx(number: str = "PNOEE-49002124277-MOCK-Q", **changes: Any) -> dict[str, Any]:
    """An ACSP_V2 Web2App transaction as the service sends it."""
    params = {
        "schemeName": "smart-id-demo",
        "serverRandom": _b64(secrets.token_bytes(18)),
        "rpChallenge": _b64(secrets.token_bytes(32)),
        "rpName": "BANK",
        "interactions": _interactions(PIN_SCREEN),
        "initialCallbackUrl": CALLBACK,
        "brokeredRpName": "",
        "signatureAlgorithm": "rsassa-pss",
        "hashAlgorithm": "SHA3-256",
    }
    params |= changes.pop("params", {})
    body = {
        "id": "0b6f6c39-0c6c-4a5c-9f55-6b1c1f1b2f8e",
        "state": "PENDING",
        "kind": "AUTHENTICATION",
        "documentNumber": number,
        "rpName": "Bank",
        "interactions": PIN_SCREEN,
        "expiresAt": "2030-01-01T00:00:00Z",
        "purpose": "AUTH",
        "hashType": "SHA3_256",
        "padding": "PSS",
        "salt": _b64(b"s" * 32),
        "n": _b64((2**2047 + 1).to_bytes(256, "big")),
        "protocol": "ACSP_V2",
        "flowType": "Web2App",
        "protocolParameters": params,
    }
    return body | changes


def test_acsp_transaction_and_its_digest() -> None:
    tx = parse_transaction(_tx())
    assert tx.hash is None and tx.verification_code is None and tx.is_v3
    assert tx.interaction is not None
    signed = acsp_signature(tx, tx.interaction)
    assert engine.user_challenge_matches(signed.verifier, signed.user_challenge)
    params = tx.protocol_parameters or {}
    assert signed.payload == engine.acsp_v2_payload(
        scheme="smart-id-demo",
        server_random=params["serverRandom"],
        rp_challenge=params["rpChallenge"],
        user_challenge=signed.user_challenge,
        rp_name="BANK",  # the relying party's name, not the one shown
        brokered_rp_name="",
        interactions=params["interactions"],
        interaction_type_used="displayTextAndPIN",
        initial_callback_url=CALLBACK,
        flow_type="Web2App",
    )
    assert signed.digest == engine.acsp_v2_digest(signed.payload, "SHA3_256")


def test_notification_code_is_the_challenge_code() -> None:
    challenge = _b64(secrets.token_bytes(64))
    code = engine.vc_for_rp_challenge(challenge)
    params = {"rpChallenge": challenge, "initialCallbackUrl": ""}
    tx = parse_transaction(_tx(flowType="Notification", vc=code, params=params))
    assert tx.verification_code == code
    wrong = f"{(int(code) + 1) % 10000:04d}"
    with pytest.raises(ProtocolError, match="verification code"):
        parse_transaction(_tx(flowType="Notification", vc=wrong, params=params))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hashType": "SHA256"}, "RSASSA-PSS"),
        ({"padding": "PKCS1v15"}, "RSASSA-PSS"),
        ({"salt": None}, "RSASSA-PSS"),
        ({"protocol": "ACSP_V9"}, "unknown signature protocol"),
        ({"flowType": "Email"}, "unknown flow type"),
        ({"flowType": None}, "flowType"),
        ({"protocolParameters": None}, "protocolParameters"),
        ({"params": {"hashAlgorithm": "MD5"}}, "bad ACSP_V2 parameters"),
        ({"vc": "12a4"}, "4 digits"),
    ],
)
def test_answers_that_do_not_add_up(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_transaction(_tx(**changes))


def test_missing_parameter() -> None:
    body = _tx()
    del body["protocolParameters"]["serverRandom"]
    with pytest.raises(ProtocolError, match="lacks serverRandom"):
        parse_transaction(body)


def test_never_signs_a_text_it_did_not_show() -> None:
    shown = [{"type": "displayTextAndPIN", "displayText60": "Log in to Bank?"}]
    tx = parse_transaction(_tx(interactions=shown))
    assert tx.interaction is not None
    with pytest.raises(ProtocolError, match="interactions shown differ"):
        acsp_signature(tx, tx.interaction)


# --- open_link: the answer must fit the link -------------------------------------------


def _link(link_type: str, session_type: str = "auth") -> str:
    unprotected = engine.unprotected_link(
        base="https://smart-id.example/device-link",
        link_type=link_type,
        session_token="A" * 24,
        session_type=session_type,
        lang="eng",
        elapsed_seconds=0 if link_type == "QR" else None,
    )
    return engine.device_link(unprotected, "A" * 43)


def _answering(app: DeviceApp, answer: dict[str, Any], status: int = 200) -> list[bytes]:
    """Point the app at a service that answers every call with ``answer``."""
    sent: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(status, json=answer)

    app.session.client = httpx.Client(transport=httpx.MockTransport(handle), base_url=BASE_URL)
    return sent


def _callback() -> dict[str, str]:
    return {
        "initialCallbackUrl": CALLBACK,
        "sessionSecretDigest": engine.session_secret_digest(b"k" * 18),
    }


def test_open_link_accepts_a_fitting_answer(
    registered: tuple[DeviceApp, RegistrationResult],
) -> None:
    app, result = registered
    sent = _answering(app, {"transaction": _tx(result.document_number), "callback": _callback()})
    opened = app.open_link(_link("Web2App"))
    assert json.loads(sent[0]) == {"deviceLink": _link("Web2App")}
    verifier = engine.new_user_challenge_verifier()
    url = opened.callback_url(verifier)
    assert url == (
        f"{CALLBACK}&sessionSecretDigest={_callback()['sessionSecretDigest']}"
        f"&userChallengeVerifier={verifier}"
    )


@pytest.mark.parametrize(
    ("link", "tx", "callback", "message"),
    [
        ("QR", {}, None, "a QR link, but a Web2App transaction"),
        ("Web2App", {}, None, "needs a callback"),
        ("Web2App", {"state": "COMPLETE"}, "ok", "is COMPLETE"),
        ("App2App", {"flowType": "App2App"}, "other", "not the one the signature covers"),
        ("sign", {}, "ok", "a sign link, but a AUTHENTICATION transaction"),
        ("Web2App", {"documentNumber": "PNOEE-30303039914-MOCK-Q"}, "ok", "another device"),
    ],
)
def test_open_link_refuses_an_answer_that_does_not_fit(
    registered: tuple[DeviceApp, RegistrationResult],
    link: str,
    tx: dict[str, Any],
    callback: str | None,
    message: str,
) -> None:
    app, result = registered
    answer: dict[str, Any] = {"transaction": _tx(result.document_number) | tx}
    if callback == "ok":
        answer["callback"] = _callback()
    elif callback == "other":
        answer["callback"] = _callback() | {"initialCallbackUrl": "https://evil.example/"}
    _answering(app, answer)
    url = _link("Web2App", "sign") if link == "sign" else _link(link)
    with pytest.raises(ProtocolError, match=message):
        app.open_link(url)


def test_open_link_sends_nothing_that_is_not_a_link(
    registered: tuple[DeviceApp, RegistrationResult],
) -> None:
    app, _ = registered
    sent = _answering(app, {})
    with pytest.raises(InputError, match="invalid device link"):
        app.open_link("https://smart-id.example/device-link?deviceLinkType=QR")
    assert sent == []
