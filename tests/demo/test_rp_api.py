"""Every demo identity gives its documented end result through RP API v1 and v2."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import httpx
import time_machine
from django.utils import timezone

from demo.world import DEMO_IDENTITIES, DEMO_RELYING_PARTIES, DemoIdentity
from tests.helpers.demo_world import DemoWorld

V1_RESULTS = {"OK", "USER_REFUSED", "TIMEOUT", "DOCUMENT_UNUSABLE", "WRONG_VC"}
RAW = hashlib.sha512(b"Hello SMART-ID").digest()
RP = {
    "relyingPartyUUID": DEMO_RELYING_PARTIES[0].uuid,
    "relyingPartyName": DEMO_RELYING_PARTIES[0].name,
}


def _v2_body() -> dict[str, Any]:
    return {
        **RP,
        "hash": base64.b64encode(RAW).decode(),
        "hashType": "SHA512",
        "allowedInteractionsOrder": [
            {"type": "verificationCodeChoice", "displayText60": "Log in?"}
        ],
    }


def _v1_body() -> dict[str, Any]:
    return {
        **RP,
        "hash": base64.b64encode(RAW).decode(),
        "hashType": "SHA512",
        "displayText": "Log in?",
        "certificateLevel": "QUALIFIED",
        "requestProperties": {"vcChoice": True},
    }


def _expected(identity: DemoIdentity, version: int) -> str:
    if version == 1 and identity.outcome not in V1_RESULTS:
        return "USER_REFUSED"
    return identity.outcome


def _start(world: DemoWorld, version: int, identity: DemoIdentity) -> httpx.Response:
    body = _v2_body() if version == 2 else _v1_body()
    path = f"v{version}/authentication/document/{identity.document_number}"
    return httpx.post(f"{world.url}/{path}", json=body, timeout=30)


def _result(world: DemoWorld, version: int, session_id: str) -> dict[str, Any]:
    for _ in range(10):
        body = httpx.get(
            f"{world.url}/v{version}/session/{session_id}", params={"timeoutMs": 10000}, timeout=30
        ).json()
        if body["state"] == "COMPLETE":
            return dict(body)
    raise AssertionError(f"session {session_id} never completed")


def test_every_identity_on_v1_and_v2(demo_world: DemoWorld) -> None:
    qualified = [i for i in DEMO_IDENTITIES if i.level == "QUALIFIED"]
    sessions: list[tuple[DemoIdentity, int, str]] = []
    for identity in qualified:
        for version in (2, 1):
            response = _start(demo_world, version, identity)
            assert response.status_code == 200, (identity, response.text)
            sessions.append((identity, version, response.json()["sessionID"]))
    timing_out = []
    for identity, version, session_id in sessions:
        if identity.outcome == "TIMEOUT":
            timing_out.append((identity, version, session_id))
            continue
        body = _result(demo_world, version, session_id)
        assert body["result"]["endResult"] == _expected(identity, version), (
            identity.semantics_identifier,
            version,
            body,
        )
        if identity.outcome == "OK":
            assert body["result"]["documentNumber"] == identity.document_number
            assert body["cert"]["certificateLevel"] == "QUALIFIED"
            assert body["signature"]["algorithm"] == "sha512WithRSAEncryption"
            assert body["interactionFlowUsed"] == "verificationCodeChoice"
        else:
            assert set(body) == {"state", "result"}
    assert timing_out, "the table has TIMEOUT identities"
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=True):
        for identity, version, session_id in timing_out:
            body = _result(demo_world, version, session_id)
            assert body == {"state": "COMPLETE", "result": {"endResult": "TIMEOUT"}}, identity


def test_demo_restrictions(demo_world: DemoWorld) -> None:
    advanced = next(i for i in DEMO_IDENTITIES if i.level == "ADVANCED")
    url = f"{demo_world.url}/v2/authentication/etsi/{advanced.semantics_identifier}"
    # The demo RP may not ask for ADVANCED accounts (403); QUALIFIED finds none (471).
    assert httpx.post(url, json={**_v2_body(), "certificateLevel": "ADVANCED"}).status_code == 403
    assert httpx.post(url, json=_v2_body()).status_code == 471
    assert (
        httpx.post(
            f"{demo_world.url}/v2/authentication/etsi/PNOEE-10101010005", json=_v2_body()
        ).status_code
        == 404
    )
