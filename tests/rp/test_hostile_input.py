"""Input meant to harm rather than to be used, on every RP API version and the app API's
long poll: texts for the phone with control or bidirectional formatting characters, a lone
surrogate in the relying party's name, a timeoutMs of thousands of digits or of non-ASCII
digits. Each is a 400 with the version's error body, and nothing is created."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from signing.models import Transaction
from tests.helpers.platform import Platform, send_signed
from tests.helpers.rp_v3 import auth_body, interactions, sign_body
from tests.personas import ALICE, RP_A

PERSON = ALICE.semantics_identifier
HOSTILE_TEXTS = [
    "Log in\x1b[2J",  # an ANSI escape (ESC, C0)
    "Log in\x9b31m",  # CSI as a C1 control
    "Pay 10\u202e0 EUR",  # right-to-left override
    "Pay \u2066100\u2069 EUR",  # isolates
    "Log\nin",  # a newline could forge a line on the phone
]
DIGEST = base64.b64encode(hashlib.sha256(b"hostile").digest()).decode()
RP = {"relyingPartyUUID": RP_A.uuid, "relyingPartyName": RP_A.name}


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty) -> Account:
    return platform.registered(ALICE)[1]


def _raw_post(url: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \ud800, which JSON allows and Python parses.
    return httpx.post(url, content=json.dumps(body).encode(), timeout=30)


def _refused(response: httpx.Response, version: int) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["status"] if version == 3 else body["code"]) == 400, body


def _v1_v2_bodies(text: str) -> list[tuple[int, dict[str, Any]]]:
    hashed = {**RP, "hash": DIGEST, "hashType": "SHA256"}
    return [
        (1, {**hashed, "displayText": text}),
        (
            2,
            {
                **hashed,
                "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": text}],
            },
        ),
        (
            2,
            {
                **hashed,
                "allowedInteractionsOrder": [
                    {"type": "confirmationMessage", "displayText200": text}
                ],
            },
        ),
    ]


def test_texts_for_the_phone_with_control_characters_are_refused(
    platform: Platform, alice: Account
) -> None:
    for text in HOSTILE_TEXTS:
        for version, body in _v1_v2_bodies(text):
            url = f"{platform.url}/v{version}/signature/etsi/{PERSON}"
            _refused(_raw_post(url, body), version)
        for item in (
            {"type": "displayTextAndPIN", "displayText60": text},
            {"type": "confirmationMessage", "displayText200": text},
        ):
            body = sign_body(interactions=interactions(item))
            url = f"{platform.url}/v3/signature/notification/etsi/{PERSON}"
            problem = httpx.post(url, json=body, timeout=30)
            _refused(problem, 3)
            assert problem.json()["errors"][0]["pointer"] == "/interactions/0"
    assert not RpSession.objects.exists() and not Transaction.objects.exists()
    # The same texts without the harmful character are fine.
    ok = sign_body(
        interactions=interactions({"type": "displayTextAndPIN", "displayText60": "Pay 100 EUR"})
    )
    response = httpx.post(f"{platform.url}/v3/signature/notification/etsi/{PERSON}", json=ok)
    assert response.status_code == 200, response.text


def test_a_lone_surrogate_in_the_relying_partys_name_is_refused(
    platform: Platform, alice: Account
) -> None:
    name = "BANK\ud800"
    for version in (1, 2):
        body = {**RP, "relyingPartyName": name, "hash": DIGEST, "hashType": "SHA256"}
        _refused(
            _raw_post(f"{platform.url}/v{version}/authentication/etsi/{PERSON}", body), version
        )
    body = auth_body(notification=True, relyingPartyName=name)
    _refused(_raw_post(f"{platform.url}/v3/authentication/notification/etsi/{PERSON}", body), 3)
    assert not RpSession.objects.exists()


@pytest.mark.parametrize("timeout", ["1" * 5000, "0" * 20 + "1000", "²", "١٠٠٠", "-1000", " 1000"])
def test_a_timeout_that_is_not_a_small_ascii_number_is_refused(
    platform: Platform, alice: Account, timeout: str
) -> None:
    session = uuid.uuid4()
    for version in (1, 2, 3):
        url = f"{platform.url}/v{version}/session/{session}"
        _refused(httpx.get(url, params={"timeoutMs": timeout}, timeout=30), version)
    # The app API: a signed request's path has at most 2048 characters (longer ones are
    # refused before they are read), so the longest timeout is 1000 digits there.
    app, _account = platform.registered(ALICE)
    query = httpx.QueryParams({"timeoutMs": timeout[:1000]})
    response = send_signed(app, "GET", f"/app/v1/transactions/pending?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
