"""The app's answers to RP API v3 transactions (docs/app-api.md §7): the ACSP_V2
confirmation, the protocol failure, the verification code fixed at the start, and the v3
refusal rule — over HTTP against the running server.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from api.rp.v3.transactions import start_transaction
from device.app import DeviceApp
from signing import engine
from signing.models import SplitKey, Transaction
from tests.helpers.platform import Platform, auth_transaction, send_signed
from tests.helpers.v3links import (
    auth_session,
    cert_session,
    confirm_acsp,
    get_transaction,
    link_for,
    open_link,
    sign_session,
    verify_acsp,
)
from tests.personas import ALICE, PIN1, PIN2, WRONG1

CODE_CHOICE = [
    {"type": "confirmationMessageAndVerificationCodeChoice", "displayText200": "Log in?"},
    {"type": "displayTextAndPIN", "displayText60": "Log in?"},
]


@pytest.fixture
def alice_app(platform: Platform) -> tuple[DeviceApp, Account]:
    return platform.registered(ALICE)


def _device_link_tx(app: DeviceApp, session: RpSession, link_type: str = "QR") -> dict[str, Any]:
    response = open_link(app, link_for(session, link_type))
    assert response.status_code == 200, response.text
    tx: dict[str, Any] = response.json()["transaction"]
    return tx


def _key(tx: dict[str, Any]) -> SplitKey:
    key = Transaction.objects.get(pk=tx["id"]).key
    assert key is not None
    return key


def _post(app: DeviceApp, tx: dict[str, Any], action: str, body: dict[str, Any]) -> Any:
    return send_signed(
        app, "POST", f"/app/v1/transactions/{tx['id']}/{action}", json.dumps(body).encode()
    )


def test_digest_mismatch_is_a_protocol_failure_without_a_pin_try(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, auth_session(rp_a))
    before = _key(tx)
    # The app says it signed another digest than the server's.
    wrong = confirm_acsp(app, tx, PIN1, digest_override=b"\x00" * 64)
    assert wrong.status == "PROTOCOL_FAILURE"
    done = Transaction.objects.get(pk=tx["id"])
    assert done.result == Transaction.Result.PROTOCOL_FAILURE and done.signature is None
    after = _key(tx)
    assert after.fails == before.fails == 0
    assert bytes(after.token_hash) == bytes(before.token_hash)  # no token was spent
    assert "token" not in wrong.answer


def test_a_payload_of_another_flow_is_a_protocol_failure(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, auth_session(rp_a), "Web2App")
    challenge = engine.user_challenge(engine.new_user_challenge_verifier())
    params = tx["protocolParameters"]
    other = engine.acsp_v2_payload(
        scheme=params["schemeName"],
        server_random=params["serverRandom"],
        rp_challenge=params["rpChallenge"],
        user_challenge=challenge,
        rp_name=params["rpName"],
        brokered_rp_name="",
        interactions=params["interactions"],
        interaction_type_used="displayTextAndPIN",
        initial_callback_url="",
        flow_type="QR",
    )
    answer = confirm_acsp(app, tx, PIN1, payload_override=other)
    assert answer.status == "PROTOCOL_FAILURE"
    assert _key(tx).fails == 0


def test_the_digest_is_optional(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, auth_session(rp_a, hash_algorithm="SHA-256"), "App2App")
    answer = confirm_acsp(app, tx, PIN1, send_digest=False)
    assert answer.status == "OK"
    verify_acsp(Transaction.objects.get(pk=tx["id"]), answer.payload, "SHA-256")


def test_a_wrong_pin_counts(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, auth_session(rp_a))
    answer = confirm_acsp(app, tx, WRONG1)
    assert answer.status == "WRONG_PIN" and answer.answer["triesLeft"] == 8
    assert Transaction.objects.get(pk=tx["id"]).result == Transaction.Result.WRONG_PIN


@pytest.mark.parametrize(
    "change",
    [
        {},  # no userChallenge
        {"userChallenge": "short"},
        {"userChallenge": "A" * 42 + "B"},  # 43 characters, but not a SHA-256's last bits
        {"userChallenge": "+" * 43},
        {"userChallenge": 5},
        {"userChallenge": "A" * 43, "digest": "not base64!"},
    ],
)
def test_user_challenge_required_and_checked(
    platform: Platform,
    rp_a: RelyingParty,
    alice_app: tuple[DeviceApp, Account],
    change: dict[str, Any],
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, auth_session(rp_a))
    before = _key(tx)
    body = {
        "interaction": "displayTextAndPIN",
        "s1p": {"epk": "AA==", "iv": "AA==", "ct": "AA=="},
        "token": base64.b64encode(b"t" * 16).decode(),
        "rnonce": base64.b64encode(b"r" * 16).decode(),
    } | change
    response = _post(app, tx, "confirm", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 400
    assert Transaction.objects.get(pk=tx["id"]).state == Transaction.State.PENDING
    after = _key(tx)
    assert (after.fails, bytes(after.token_hash)) == (before.fails, bytes(before.token_hash))
    # The transaction is still there to answer properly.
    assert confirm_acsp(app, tx, PIN1).status == "OK"


def test_notification_authentication_shows_the_server_code(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    """A v3 notification transaction carries its code (from the rpChallenge); the code
    choice is checked against it."""
    app, account = alice_app
    interaction = "confirmationMessageAndVerificationCodeChoice"
    results = []
    for pick_right in (False, True):
        session = auth_session(
            rp_a,
            flow=RpSession.Flow.NOTIFICATION,
            target_kind="etsi",
            target=ALICE.semantics_identifier,
            interactions=CODE_CHOICE,
            session_token=None,
            session_secret=None,
            initial_callback_url="",
        )
        created = start_transaction(
            session, account, flow_type="Notification", ttl=timedelta(minutes=1)
        )
        tx = get_transaction(app, str(created.pk))
        code = engine.vc_for_rp_challenge(session.protocol_parameters["rpChallenge"])
        assert tx["vc"] == code and code in tx["vcChoices"]
        assert tx["flowType"] == "Notification"
        assert tx["protocolParameters"]["initialCallbackUrl"] == ""
        picked = code if pick_right else next(c for c in tx["vcChoices"] if c != code)
        results.append(confirm_acsp(app, tx, PIN1, interaction=interaction, vc=picked).status)
        assert _key(tx).fails == 0
    assert results == ["WRONG_VC", "OK"]


# --- refusals -------------------------------------------------------------------------


def test_v3_refusal_must_name_an_offered_interaction(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, account = alice_app
    session = sign_session(rp_a, target_kind="etsi", target=ALICE.semantics_identifier)
    tx = _device_link_tx(app, session, "App2App")
    for interaction in ("verificationCodeChoice", "certificateChoice", "displayTextAndPINX"):
        response = _post(app, tx, "refuse", {"interaction": interaction})
        assert response.status_code == 400, response.text
        assert Transaction.objects.get(pk=tx["id"]).state == Transaction.State.PENDING
    response = _post(app, tx, "refuse", {"interaction": "displayTextAndPIN"})
    assert response.status_code == 200 and response.json() == {"status": "REFUSED"}
    done = Transaction.objects.get(pk=tx["id"])
    assert done.result == Transaction.Result.USER_REFUSED_INTERACTION
    assert done.refused_interaction == "displayTextAndPIN"


def test_v3_general_refusal(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, auth_session(rp_a))
    assert _post(app, tx, "refuse", {}).status_code == 200
    done = Transaction.objects.get(pk=tx["id"])
    assert (done.result, done.refused_interaction) == (Transaction.Result.USER_REFUSED, "")


def test_v3_certificate_choice_refused(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _device_link_tx(app, cert_session(rp_a), "Web2App")
    assert _post(app, tx, "refuse", {"interaction": "displayTextAndPIN"}).status_code == 400
    assert _post(app, tx, "refuse", {"interaction": "certificateChoice"}).status_code == 200
    done = Transaction.objects.get(pk=tx["id"])
    assert done.result == Transaction.Result.USER_REFUSED_CERT_CHOICE


def test_v2_refusals_keep_their_codes(
    platform: Platform, alice_app: tuple[DeviceApp, Account]
) -> None:
    """v1/v2: any known screen is named as it is (SK's demo refuses on screens the request
    did not offer), with the USER_REFUSED_<screen> codes."""
    app, account = alice_app
    tx = auth_transaction(account)
    body = {"id": str(tx.pk)}
    response = _post(app, body, "refuse", {"interaction": "verificationCodeChoice"})
    assert response.status_code == 200, response.text
    tx.refresh_from_db()
    assert tx.result == Transaction.Result.USER_REFUSED_VC_CHOICE
    assert tx.refused_interaction == ""
    assert app.pending(timeout_ms=0) == []


def test_a_lost_acsp_answer_is_replayed(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    """The same confirmation sent again (same rnonce, new request signature) gets the
    identical answer, the new token included: the retry is no clone."""
    app, account = alice_app
    tx = _device_link_tx(app, auth_session(rp_a), "Web2App")
    first = confirm_acsp(app, tx, PIN1)
    assert first.status == "OK"
    sent, answered = app.recorder.last("/confirm")  # type: ignore[attr-defined]
    again = send_signed(app, "POST", sent.url.raw_path.decode(), sent.content)
    assert again.status_code == 200
    assert again.json() == answered.json() == first.answer
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    # Another answer to the finished transaction (a new rnonce) is refused.
    late = json.loads(sent.content) | {"rnonce": base64.b64encode(b"n" * 16).decode()}
    assert _post(app, tx, "confirm", late).status_code == 409


def test_notification_signature_shows_the_server_code(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, account = alice_app
    session = sign_session(
        rp_a,
        target_kind="document",
        target=account.document_number,
        flow=RpSession.Flow.NOTIFICATION,
        vc="4321",
        session_token=None,
        session_secret=None,
        initial_callback_url="",
    )
    created = start_transaction(
        session, account, flow_type="Notification", ttl=timedelta(minutes=1)
    )
    tx = get_transaction(app, str(created.pk))
    assert (tx["vc"], tx["protocol"], tx["flowType"]) == (
        "4321",
        "RAW_DIGEST_SIGNATURE",
        "Notification",
    )
    assert tx["hash"] == session.protocol_parameters["digest"]
    assert app.approve(tx["id"], PIN2).status == "OK"
