"""RP API v3 sessions run to COMPLETE with reference-app devices answering (§5)."""

from __future__ import annotations

import base64
import importlib.util
import re
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.utils import timezone

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from api.rp.services import SESSION_TTL
from api.rp.v3.transactions import start_transaction
from signing import engine
from tests.helpers.answering import Answering
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import (
    CONFIRM,
    PIN_TEXT,
    RP_CHALLENGE,
    SHA512_DIGEST,
    assert_problem,
    auth_body,
    choice_body,
    interactions,
    poll,
    post,
    sign_body,
    start,
    status,
)
from tests.personas import ALICE, RP_A

ALICE_ID = ALICE.semantics_identifier
HASHES = {"SHA-256": hashes.SHA256(), "SHA-512": hashes.SHA512(), "SHA3-512": hashes.SHA3_512()}
ACSP_READY = importlib.util.find_spec("api.rp.v3.opening") is not None
needs_acsp = pytest.mark.skipif(
    not ACSP_READY, reason="ACSP_V2 confirmation (app-side helper) is not merged yet"
)


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty, answering: Answering) -> Account:
    app, account = platform.registered(ALICE)
    answering.start(app)
    return account


def certificate(body: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(body["cert"]["value"]))


def verify_pss(body: dict[str, Any], digest: bytes) -> None:
    signature = body["signature"]
    hash_name = signature["signatureAlgorithmParameters"]["hashAlgorithm"]
    assert signature["signatureAlgorithm"] == "rsassa-pss"
    assert signature["signatureAlgorithmParameters"] == engine.pss_parameters(hash_name)
    key = certificate(body).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    algorithm = HASHES[hash_name]
    key.verify(
        base64.b64decode(signature["value"]),
        digest,
        padding.PSS(padding.MGF1(algorithm), algorithm.digest_size),
        Prehashed(algorithm),
    )


def test_signature_by_notification(platform: Platform, alice: Account) -> None:
    answer = start(platform.url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    body = poll(platform.url, answer["sessionID"])
    assert body["result"] == {"endResult": "OK", "documentNumber": alice.document_number}
    assert body["signatureProtocol"] == "RAW_DIGEST_SIGNATURE"
    assert body["signature"]["flowType"] == "Notification"
    assert body["interactionTypeUsed"] == "displayTextAndPIN"
    assert body["cert"]["certificateLevel"] == "QUALIFIED"
    assert set(body) <= {
        "state",
        "result",
        "signatureProtocol",
        "signature",
        "cert",
        "interactionTypeUsed",
        "deviceIpAddress",
    }
    verify_pss(body, SHA512_DIGEST)


def test_legacy_pkcs1_signature(platform: Platform, alice: Account) -> None:
    digest = base64.b64decode(base64.b64encode(bytes(32)))
    body = sign_body(digest=digest)
    body["signatureProtocolParameters"] = {
        "digest": base64.b64encode(digest).decode(),
        "signatureAlgorithm": "sha256WithRSAEncryption",
    }
    answer = start(platform.url, f"signature/notification/document/{alice.document_number}", body)
    done = poll(platform.url, answer["sessionID"])
    assert done["signature"]["signatureAlgorithm"] == "sha256WithRSAEncryption"
    assert "signatureAlgorithmParameters" not in done["signature"]
    key = certificate(done).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        base64.b64decode(done["signature"]["value"]),
        digest,
        padding.PKCS1v15(),
        Prehashed(hashes.SHA256()),
    )


def test_certificate_choice_by_notification(platform: Platform, alice: Account) -> None:
    answer = start(
        platform.url, f"signature/certificate-choice/notification/etsi/{ALICE_ID}", choice_body()
    )
    body = poll(platform.url, answer["sessionID"])
    assert body["result"] == {"endResult": "OK", "documentNumber": alice.document_number}
    assert "signature" not in body and "signatureProtocol" not in body
    key = alice.keys.get(purpose="SIGN")
    assert key.certificate is not None
    assert bytes(key.certificate.der) == base64.b64decode(body["cert"]["value"])


def open_link(session_id: str, account: Account, flow_type: str = "QR") -> None:
    """What the app API does when an app opens the session's device link."""
    session = RpSession.objects.get(pk=session_id)
    session.opened_at = timezone.now()
    session.opened_by = account.device
    session.save(update_fields=["opened_at", "opened_by"])
    start_transaction(session, account, flow_type=flow_type, ttl=SESSION_TTL)


def test_device_link_certificate_choice_then_linked_signature(
    platform: Platform, alice: Account
) -> None:
    choice = start(
        platform.url,
        "signature/certificate-choice/device-link/anonymous",
        choice_body(initialCallbackUrl="https://rp.example.com/cb"),
    )
    linked_path = f"signature/notification/linked/{alice.document_number}"
    early = post(platform.url, linked_path, sign_body(linkedSessionID=choice["sessionID"]))
    assert assert_problem(early, 400)["errors"][0]["pointer"] == "/linkedSessionID"
    open_link(choice["sessionID"], alice, "Web2App")
    chosen = poll(platform.url, choice["sessionID"])
    assert chosen["result"] == {"endResult": "OK", "documentNumber": alice.document_number}
    assert chosen["signature"] == {"flowType": "Web2App"}

    other = post(
        platform.url,
        "signature/notification/linked/PNOEE-30303039914-AAAA-Q",
        sign_body(linkedSessionID=choice["sessionID"]),
    )
    assert_problem(other, 404)  # no such document: refused before the link is looked at
    with_vc_choice = sign_body(
        linkedSessionID=choice["sessionID"],
        interactions=interactions(
            {"type": "confirmationMessageAndVerificationCodeChoice", "displayText200": "Sign?"}
        ),
    )
    assert_problem(post(platform.url, linked_path, with_vc_choice), 400)

    linked = start(platform.url, linked_path, sign_body(linkedSessionID=choice["sessionID"]))
    assert set(linked) == {"sessionID"}
    assert (
        str(RpSession.objects.get(pk=linked["sessionID"]).linked_session_id) == choice["sessionID"]
    )
    body = poll(platform.url, linked["sessionID"])
    assert body["result"]["endResult"] == "OK"
    verify_pss(body, SHA512_DIGEST)
    again = post(
        platform.url, linked_path, sign_body(linkedSessionID=choice["sessionID"], nonce="2")
    )
    assert_problem(again, 400)


def test_refusal_names_the_interaction(
    platform: Platform, rp_a: RelyingParty, answering: Answering
) -> None:
    app, account = platform.registered(ALICE)
    answering.start(app, mode="refuse")
    body = sign_body(interactions=interactions(CONFIRM, PIN_TEXT))
    answer = start(platform.url, f"signature/notification/etsi/{ALICE_ID}", body)
    done = poll(platform.url, answer["sessionID"])
    assert done["result"]["endResult"] == "USER_REFUSED_INTERACTION"
    assert done["result"]["details"]["interaction"] in ("confirmationMessage", "displayTextAndPIN")
    assert set(done) == {"state", "result"}


def test_unopened_device_link_times_out(platform: Platform, alice: Account) -> None:
    answer = start(platform.url, "authentication/device-link/anonymous", auth_body())
    assert status(platform.url, answer["sessionID"]).json() == {"state": "RUNNING"}
    with time_machine.travel(timezone.now() + SESSION_TTL + SESSION_TTL / 2):
        body = status(platform.url, answer["sessionID"]).json()
    assert body == {"state": "COMPLETE", "result": {"endResult": "TIMEOUT"}}


@needs_acsp
def test_authentication_by_notification(platform: Platform, alice: Account) -> None:
    body = auth_body(notification=True, interactions=interactions(CONFIRM, PIN_TEXT))
    answer = start(platform.url, f"authentication/notification/etsi/{ALICE_ID}", body)
    done = poll(platform.url, answer["sessionID"])
    assert done["result"] == {"endResult": "OK", "documentNumber": alice.document_number}
    assert done["signatureProtocol"] == "ACSP_V2"
    signature = done["signature"]
    assert signature["flowType"] == "Notification"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", signature["userChallenge"])
    payload = engine.acsp_v2_payload(
        scheme="smart-id-demo",
        server_random=signature["serverRandom"],
        rp_challenge=RP_CHALLENGE,
        user_challenge=signature["userChallenge"],
        rp_name=RP_A.name,
        brokered_rp_name="",
        interactions=body["interactions"],
        interaction_type_used=done["interactionTypeUsed"],
        initial_callback_url="",
        flow_type="Notification",
    )
    verify_pss(done, engine.acsp_v2_digest(payload, "SHA3_512"))
