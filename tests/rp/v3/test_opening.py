"""RP API v3 device links opened by the app (docs/app-api.md §7), end to end over HTTP.

The sessions are rows as the RP API v3 stores them and the links are computed as a
relying party computes them (tests/helpers/v3links.py); the app side is the reference
app's device key and key shares against the running server.
"""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts.models import Account, Device
from api.rp.models import RelyingParty, RpSession
from audit.models import AuditRecord
from device.app import DeviceApp
from signing import engine
from signing.models import Transaction
from tests.helpers.platform import Platform, send_signed
from tests.helpers.v3links import (
    CALLBACK,
    auth_session,
    cert_session,
    confirm_acsp,
    get_transaction,
    interactions_b64,
    link_for,
    open_link,
    sign_session,
    verify_acsp,
    verify_raw_digest,
)
from tests.personas import ALICE, BOB, PIN1, PIN2


@pytest.fixture
def alice_app(platform: Platform) -> tuple[DeviceApp, Account]:
    return platform.registered(ALICE)


def _opened(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def _untouched(session: RpSession) -> None:
    """A refused link changed nothing: not opened, no transaction."""
    session.refresh_from_db()
    assert session.opened_at is None and session.opened_by is None
    assert not Transaction.objects.filter(group=session.pk).exists()


def _error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["error"] == error, body


# --- opening and answering -----------------------------------------------------------


def test_qr_authentication_anonymous_acsp_v2(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, account = alice_app
    session = auth_session(rp_a, hash_algorithm="SHA-512")
    body = _opened(open_link(app, link_for(session, "QR", elapsed=0)))
    assert "callback" not in body  # a QR code leads nowhere back
    tx = body["transaction"]
    assert tx["kind"] == "AUTHENTICATION" and tx["state"] == "PENDING"
    assert tx["documentNumber"] == account.document_number and tx["purpose"] == "AUTH"
    assert tx["protocol"] == "ACSP_V2" and tx["flowType"] == "QR"
    assert "hash" not in tx  # HASH(payload) needs the app's user challenge
    assert (tx["hashType"], tx["padding"]) == ("SHA512", "PSS")
    assert len(base64.b64decode(tx["salt"])) == 64
    params = tx["protocolParameters"]
    assert params["schemeName"] == "smart-id-demo" and params["rpName"] == rp_a.name
    assert params["rpChallenge"] == session.protocol_parameters["rpChallenge"]
    assert params["interactions"] == session.interactions
    assert params["initialCallbackUrl"] == ""  # QR
    assert len(params["serverRandom"]) == 24
    assert "vc" not in tx  # the link itself binds the session to this app
    session.refresh_from_db()
    assert session.opened_at is not None and str(session.opened_by_id) == app.device_id
    assert get_transaction(app, tx["id"]) == tx
    assert AuditRecord.objects.filter(action="rp_session.opened", object_id=session.pk).exists()

    answer = confirm_acsp(app, tx, PIN1)
    assert answer.status == "OK"
    done = Transaction.objects.get(pk=tx["id"])
    assert done.result == Transaction.Result.OK and done.flow_type == "QR"
    assert done.user_challenge == answer.user_challenge
    assert bytes(done.hash or b"") == answer.digest
    assert done.interaction_used == "displayTextAndPIN"
    verify_acsp(done, answer.payload, "SHA-512")
    assert get_transaction(app, tx["id"])["state"] == "COMPLETE"


@pytest.mark.parametrize(
    ("link_type", "hash_algorithm"), [("Web2App", "SHA3-256"), ("App2App", "SHA-384")]
)
def test_same_device_authentication_targeted_with_callback(
    platform: Platform,
    rp_a: RelyingParty,
    alice_app: tuple[DeviceApp, Account],
    link_type: str,
    hash_algorithm: str,
) -> None:
    app, account = alice_app
    session = auth_session(
        rp_a, target_kind="etsi", target=ALICE.semantics_identifier, hash_algorithm=hash_algorithm
    )
    body = _opened(open_link(app, link_for(session, link_type)))
    secret = bytes(session.session_secret or b"")
    assert body["callback"] == {
        "initialCallbackUrl": CALLBACK,
        "sessionSecretDigest": engine.session_secret_digest(secret),
    }
    tx = body["transaction"]
    assert tx["flowType"] == link_type
    assert tx["protocolParameters"]["initialCallbackUrl"] == CALLBACK
    answer = confirm_acsp(app, tx, PIN1)
    assert answer.status == "OK"
    done = Transaction.objects.get(pk=tx["id"])
    verify_acsp(done, answer.payload, hash_algorithm)
    assert f"|{CALLBACK}|{link_type}" in answer.payload
    # The app opens the callback with its verifier: the RP checks it against the
    # userChallenge of the signature (stored with the transaction).
    url = engine.callback_url(
        body["callback"]["initialCallbackUrl"],
        session_secret_digest=body["callback"]["sessionSecretDigest"],
        user_challenge_verifier=answer.verifier,
    )
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert query["state"] == "abc"
    assert query["sessionSecretDigest"] == engine.session_secret_digest(secret)
    assert engine.user_challenge_matches(query["userChallengeVerifier"], done.user_challenge)


@pytest.mark.parametrize(
    ("link_type", "hash_algorithm", "algorithm", "padding"),
    [
        ("App2App", "SHA-256", "rsassa-pss", "PSS"),
        ("QR", "SHA3-512", "rsassa-pss", "PSS"),
        ("Web2App", "SHA-512", "sha512WithRSAEncryption", "PKCS1v15"),
    ],
)
def test_signature_raw_digest(
    platform: Platform,
    rp_a: RelyingParty,
    alice_app: tuple[DeviceApp, Account],
    link_type: str,
    hash_algorithm: str,
    algorithm: str,
    padding: str,
) -> None:
    app, account = alice_app
    session = sign_session(
        rp_a,
        target_kind="document",
        target=account.document_number,
        hash_algorithm=hash_algorithm,
        signature_algorithm=algorithm,
    )
    body = _opened(open_link(app, link_for(session, link_type)))
    tx = body["transaction"]
    assert tx["protocol"] == "RAW_DIGEST_SIGNATURE" and tx["padding"] == padding
    assert tx["purpose"] == "SIGN" and tx["flowType"] == link_type
    assert tx["hash"] == session.protocol_parameters["digest"]
    assert ("callback" in body) == (link_type != "QR")
    assert app.approve(tx["id"], PIN2).status == "OK"
    done = Transaction.objects.get(pk=tx["id"])
    assert done.result == Transaction.Result.OK
    assert done.interaction_used == "confirmationMessage"
    verify_raw_digest(done, session)


def test_certificate_choice(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    session = cert_session(rp_a)
    body = _opened(open_link(app, link_for(session, "Web2App")))
    tx = body["transaction"]
    assert tx["kind"] == "CERTIFICATE_CHOICE" and tx["flowType"] == "Web2App"
    assert "hash" not in tx and "protocol" not in tx
    assert body["callback"]["initialCallbackUrl"] == CALLBACK
    assert app.approve(tx["id"]).status == "OK"
    assert Transaction.objects.get(pk=tx["id"]).result == Transaction.Result.OK


def test_qr_code_scanned_later_in_the_session(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    """elapsedSeconds counts from the creation: a refreshed code 40 s in is good."""
    app, _ = alice_app
    session = auth_session(rp_a)
    RpSession.objects.filter(pk=session.pk).update(
        created_at=timezone.now() - timedelta(seconds=40)
    )
    tx = _opened(open_link(app, link_for(session, "QR", elapsed=40)))["transaction"]
    expires = Transaction.objects.get(pk=tx["id"]).expires_at
    session.refresh_from_db()
    assert expires <= session.created_at + timedelta(minutes=2) + timedelta(seconds=1)


# --- refused links -------------------------------------------------------------------


def test_wrong_auth_code(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    session = auth_session(rp_a)
    wrong = [
        link_for(session, "QR", secret=b"another secret of 18"),
        link_for(session, "QR", scheme=engine.SCHEME_LIVE),  # the live scheme on a demo
        link_for(session, "Web2App", rp_name="bank123"),  # the name in another case
    ]
    valid = link_for(session, "QR")
    # Another sessionType, with the authCode the RP's secret gives that very link.
    for kind in ("sign", "cert"):
        unprotected = valid.split("&authCode=")[0].replace(
            "sessionType=auth", f"sessionType={kind}"
        )
        payload = "|".join(
            [
                "smart-id-demo",
                "ACSP_V2",
                session.protocol_parameters["rpChallenge"],
                base64.b64encode(rp_a.name.encode()).decode(),
                "",
                session.interactions,
                "",
                unprotected,
            ]
        )
        code = engine.auth_code(bytes(session.session_secret or b""), payload)
        wrong.append(f"{unprotected}&authCode={code}")
    wrong.append(valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBA"))
    for link in wrong:
        _error(open_link(app, link), 403, "auth_code_mismatch")
    _untouched(session)


def test_same_device_link_of_a_session_without_callback(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    """A session created without initialCallbackUrl can only be opened by QR."""
    app, _ = alice_app
    session = auth_session(rp_a, initial_callback_url="")
    link = link_for(session, "QR").replace(
        "deviceLinkType=QR&elapsedSeconds=0", "deviceLinkType=Web2App"
    )
    _error(open_link(app, link), 403, "auth_code_mismatch")
    _untouched(session)


def test_unknown_session_token(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    session = auth_session(rp_a)
    link = link_for(session, "QR")
    RpSession.objects.filter(pk=session.pk).update(session_token="x" * 24)
    _error(open_link(app, link), 404, "not_found")
    # A v2 session or a notification session is no device link either.
    other = auth_session(rp_a, flow=RpSession.Flow.NOTIFICATION)
    _error(open_link(app, link_for(other, "QR")), 404, "not_found")


@pytest.mark.parametrize(("age", "elapsed"), [(30, 0), (5, 30), (121, 121)])
def test_stale_qr_code_or_session_over(
    platform: Platform,
    rp_a: RelyingParty,
    alice_app: tuple[DeviceApp, Account],
    age: int,
    elapsed: int,
) -> None:
    app, _ = alice_app
    session = auth_session(rp_a)
    RpSession.objects.filter(pk=session.pk).update(
        created_at=timezone.now() - timedelta(seconds=age)
    )
    _error(open_link(app, link_for(session, "QR", elapsed=elapsed)), 410, "link_expired")
    _untouched(session)


def test_same_device_link_after_the_session_is_over(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    session = sign_session(rp_a, target_kind="etsi", target=ALICE.semantics_identifier)
    RpSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    _error(open_link(app, link_for(session, "App2App")), 410, "link_expired")
    _untouched(session)


def test_link_opened_once(platform: Platform, rp_a: RelyingParty) -> None:
    """A second opening, by the same device or another, is refused and changes nothing."""
    app, account = platform.registered(ALICE)
    bob_app, _ = platform.registered(BOB)
    session = auth_session(rp_a)
    link = link_for(session, "Web2App")
    first = _opened(open_link(app, link))["transaction"]
    session.refresh_from_db()
    opened = (session.opened_at, session.opened_by_id)
    for device in (app, bob_app):
        _error(open_link(device, link), 409, "already_opened")
    # A fresh QR code of the same session is refused too.
    _error(open_link(bob_app, link_for(session, "QR")), 409, "already_opened")
    session.refresh_from_db()
    assert (session.opened_at, session.opened_by_id) == opened
    group = [
        str(pk) for pk in Transaction.objects.filter(group=session.pk).values_list("id", flat=True)
    ]
    assert group == [first["id"]]
    # Bob's device sees nothing of Alice's transaction.
    path = f"/app/v1/transactions/{first['id']}"
    assert send_signed(bob_app, "GET", path).status_code == 404
    confirm = json.dumps({"interaction": "displayTextAndPIN"}).encode()
    assert send_signed(bob_app, "POST", f"{path}/confirm", confirm).status_code == 404
    refuse = json.dumps({"interaction": "displayTextAndPIN"}).encode()
    assert send_signed(bob_app, "POST", f"{path}/refuse", refuse).status_code == 404
    assert Transaction.objects.get(pk=first["id"]).state == Transaction.State.PENDING


def test_no_suitable_account_on_the_device(platform: Platform, rp_a: RelyingParty) -> None:
    app, account = platform.registered(ALICE)
    sessions = [
        auth_session(rp_a, target_kind="etsi", target=BOB.semantics_identifier),
        sign_session(rp_a, target_kind="document", target=BOB.document_number),
        auth_session(rp_a, certificate_level="QUALIFIED"),
    ]
    Account.objects.filter(pk=account.pk).update(level=Account.Level.ADVANCED)
    for session in sessions:
        _error(open_link(app, link_for(session, "QR")), 403, "no_suitable_account")
        _untouched(session)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"deviceLink": 5}',
        b'{"deviceLink": ""}',
        b'{"deviceLink": "https://smart-id.example/device-link"}',
        json.dumps({"deviceLink": "x" * 5000}).encode(),
        json.dumps({"deviceLink": "y", "pad": "z" * 4000}).encode(),
    ],
)
def test_malformed_bodies(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account], body: bytes
) -> None:
    app, _ = alice_app
    response = send_signed(app, "POST", "/app/v1/device-links", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 400


def test_malformed_links(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    session = auth_session(rp_a)
    good = link_for(session, "QR")
    bad = [
        good.replace("version=1.0", "version=1.1"),  # a version this server does not know
        good.replace("&lang=eng", "&lang=en"),
        good.replace("sessionType=auth", "sessionType=AUTH"),
        good + "&extra=1",
        good.replace("elapsedSeconds=0", "elapsedSeconds=00"),
        good.replace("https://", "https%3A//"),
        good + "#fragment",
    ]
    for link in bad:
        _error(open_link(app, link), 400, "invalid_device_link")
    _untouched(session)


def test_unsigned_request_is_refused(platform: Platform, rp_a: RelyingParty) -> None:
    session = auth_session(rp_a)
    response = httpx.post(
        f"{platform.url}/app/v1/device-links", json={"deviceLink": link_for(session, "QR")}
    )
    assert response.status_code == 401
    _untouched(session)


def test_two_devices_open_at_once(platform: Platform, rp_a: RelyingParty) -> None:
    """Two devices racing for one link: one wins, the other gets 409."""
    app, _ = platform.registered(ALICE)
    bob_app, _ = platform.registered(BOB)
    session = auth_session(rp_a)
    link = link_for(session, "QR")
    start = threading.Barrier(2)

    def race(device: DeviceApp) -> int:
        start.wait(timeout=10)
        return open_link(device, link).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(race, [app, bob_app]))
    assert statuses == [200, 409]
    assert Transaction.objects.filter(group=session.pk).count() == 1


def test_an_app_that_cannot_show_the_interactions(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    """The link opens, and the transaction ends at once with
    REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP (the relying party learns it)."""
    app, account = alice_app
    Device.objects.filter(pk=account.device_id).update(interactions=["displayTextAndPIN"])
    session = sign_session(rp_a, target_kind="etsi", target=ALICE.semantics_identifier)
    RpSession.objects.filter(pk=session.pk).update(
        interactions=interactions_b64([{"type": "confirmationMessage", "displayText200": "Pay?"}])
    )
    session.refresh_from_db()
    tx = _opened(open_link(app, link_for(session, "App2App")))["transaction"]
    assert tx["state"] == "COMPLETE"
    done = Transaction.objects.get(pk=tx["id"])
    assert done.result == Transaction.Result.REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP


def test_the_opened_transaction_is_in_the_pending_list(
    platform: Platform, rp_a: RelyingParty, alice_app: tuple[DeviceApp, Account]
) -> None:
    app, _ = alice_app
    tx = _opened(open_link(app, link_for(auth_session(rp_a), "QR")))["transaction"]
    pending = app.session.send(
        "GET", "/app/v1/transactions/pending?timeoutMs=0", None, device_id=app.device_id
    )
    assert pending["transactions"] == [tx]
