"""The Java client 3.1's bodies (tests/data/corpus, MIT): its requests are accepted by the
demo relying parties, and our answers have the shape of the responses it parses."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Account
from api.rp.models import RelyingParty
from api.rp.services import SESSION_TTL
from demo.world import demo_relying_parties_create
from tests.helpers.answering import Answering
from tests.helpers.corpus import CORPUS_V3, corpus_v3_files
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import (
    PIN_TEXT,
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
from tests.personas import ALICE

ALICE_ID = ALICE.semantics_identifier
DEMO = {"relyingPartyUUID": "00000000-0000-4000-8000-000000000000", "relyingPartyName": "DEMO"}
PHP = {
    "relyingPartyUUID": "55555555-0000-0000-0000-000000000000",
    "relyingPartyName": "DEMO PHP client",
}


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty) -> Account:
    demo_relying_parties_create()
    return platform.registered(ALICE)[1]


def endpoint(path: Path, document_number: str) -> str:
    name = path.relative_to(CORPUS_V3 / "requests").as_posix()
    if name.startswith("auth/device-link/"):
        return f"authentication/device-link/etsi/{ALICE_ID}"
    if name.startswith("auth/notification/"):
        return f"authentication/notification/etsi/{ALICE_ID}"
    if name.startswith("sign/certificate-by-document-number"):
        return f"signature/certificate/{document_number}"
    if name.startswith("sign/device-link/"):
        return f"signature/device-link/document/{document_number}"
    if name.startswith("sign/linked/cert-choice/"):
        return "signature/certificate-choice/device-link/anonymous"
    if name.startswith("sign/linked/signature/"):
        return f"signature/notification/linked/{document_number}"
    if name.startswith("sign/notification/cert-choice/"):
        return f"signature/certificate-choice/notification/etsi/{ALICE_ID}"
    assert name.startswith("sign/notification/signature/"), name
    return f"signature/notification/etsi/{ALICE_ID}"


def test_every_java_client_request_is_accepted(platform: Platform, alice: Account) -> None:
    paths = corpus_v3_files("requests")
    assert len(paths) == 25
    for path in paths:
        body = json.loads(path.read_text())
        url = endpoint(path, alice.document_number)
        response = post(platform.url, url, body)
        name = path.name
        if "invalid-credentials" in name:
            assert_problem(response, 401)
        elif "invalid" in name:
            assert_problem(response, 400)
        elif body.get("certificateLevel") == "ADVANCED":
            # The DEMO relying party may not ask for ADVANCED (SK's demo: 403); the PHP
            # client's may.
            assert_problem(response, 403)
            answer = post(platform.url, url, body | PHP)
            assert answer.status_code == 200, (name, answer.text)
        elif "linkedSessionID" in body:
            # The Java tests' id is not a UUID ("10000000-0000-000-000-…").
            problem = assert_problem(response, 400)
            assert problem["errors"][0]["pointer"] == "/linkedSessionID"
        elif name.startswith("device-link-signature-request"):
            # The Java tests sign a 32-byte "digest" with SHA-512: the length must match.
            problem = assert_problem(response, 400)
            assert problem["errors"][0]["pointer"] == "/signatureProtocolParameters/digest"
            fixed = copy.deepcopy(body)
            fixed["signatureProtocolParameters"]["digest"] = base64.b64encode(bytes(64)).decode()
            answer = post(platform.url, url, fixed)
            assert answer.status_code == 200, (name, answer.text)
        else:
            assert response.status_code == 200, (name, response.text)


def shaped_like(ours: Any, theirs: Any, where: str = "") -> None:
    """Every field we send is one the client knows, with the same JSON type."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        for key, value in ours.items():
            assert key in theirs, f"{where}/{key} is not in the client's body"
            shaped_like(value, theirs[key], f"{where}/{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), where
        for item in ours:
            shaped_like(item, theirs[0], f"{where}/0")
    else:
        assert type(ours) is type(theirs), where


def response(name: str) -> Any:
    return json.loads((CORPUS_V3 / "responses" / name).read_text())


def test_our_answers_have_the_java_clients_shapes(
    platform: Platform, alice: Account, answering: Answering
) -> None:
    assert len(corpus_v3_files("responses")) == 27
    url = platform.url
    link = start(url, "authentication/device-link/anonymous", auth_body())
    shaped_like(link, response("auth/device-link/device-link-authentication-session-response.json"))
    for key in ("sessionID", "sessionToken", "sessionSecret", "deviceLinkBase"):
        assert key in link
    shaped_like(
        start(url, "signature/certificate-choice/device-link/anonymous", choice_body()),
        response(
            "sign/linked/certificate-choice/device-link-certificate-choice-session-response.json"
        ),
    )
    notified = start(
        url, f"authentication/notification/etsi/{ALICE_ID}", auth_body(notification=True)
    )
    shaped_like(notified, response("auth/notification/notification-session-response.json"))
    running = status(url, notified["sessionID"]).json()
    shaped_like(running, response("session-status-running.json"))
    ignored = start(
        url,
        f"signature/certificate-choice/notification/etsi/{ALICE_ID}",
        choice_body(requestProperties={"testingIgnored": True}),
    )
    shaped_like(
        ignored,
        response(
            "sign/notification/cert-choice/notification-certificate-choice-session-response.json"
        ),
    )
    shaped_like(
        status(url, ignored["sessionID"]).json(),
        response("session-status-running-with-ignored-properties.json"),
    )
    certificate = start(url, f"signature/certificate/{alice.document_number}", choice_body())
    shaped_like(certificate, response("certificate-by-document-number-response.json"))

    signing = start(url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    shaped_like(
        signing,
        response("sign/notification/signature/notification-signature-session-response.json"),
    )


def test_final_answers_have_the_java_clients_shapes(
    platform: Platform, rp_a: RelyingParty, answering: Answering
) -> None:
    demo_relying_parties_create()
    app, account = platform.registered(ALICE)
    answering.start(app)
    url = platform.url
    signing = start(url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    shaped_like(
        poll(url, signing["sessionID"]), response("session-status-successful-signature.json")
    )
    choice = start(url, f"signature/certificate-choice/notification/etsi/{ALICE_ID}", choice_body())
    shaped_like(
        poll(url, choice["sessionID"]),
        response("session-status-successful-certificate-choice.json"),
    )
    answering.close()

    refusing = Answering()
    refusing.start(app, mode="refuse")
    try:
        refused = start(url, f"signature/notification/etsi/{ALICE_ID}", sign_body(nonce="r"))
        body = poll(url, refused["sessionID"])
    finally:
        refusing.close()
    assert body["result"]["details"] == {"interaction": "displayTextAndPIN"}
    shaped_like(body, response("session-status-user-refused-display-text-and-pin.json"))

    link = start(
        url, "authentication/device-link/anonymous", auth_body(interactions=interactions(PIN_TEXT))
    )
    with time_machine.travel(timezone.now() + 2 * SESSION_TTL):
        timeout = status(url, link["sessionID"]).json()
    shaped_like(timeout, response("session-status-timeout.json"))
