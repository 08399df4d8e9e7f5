"""An RP API v3 client written from docs/spec/rp-api.md §5: bodies, starts and polls."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import httpx

from tests.personas import RP_A

SHA512_DIGEST = hashlib.sha512(b"to be signed").digest()
RP_CHALLENGE = base64.b64encode(bytes(range(32))).decode()  # 44 characters
PIN_TEXT = {"type": "displayTextAndPIN", "displayText60": "Log in?"}
CONFIRM = {"type": "confirmationMessage", "displayText200": "Log in to Bank 123?"}
CONFIRM_VC = {
    "type": "confirmationMessageAndVerificationCodeChoice",
    "displayText200": "Sign the contract?",
}
RP = {"relyingPartyUUID": RP_A.uuid, "relyingPartyName": RP_A.name}


def interactions(*items: dict[str, Any]) -> str:
    """The Base64 of the minified JSON array, as RPs send it."""
    return base64.b64encode(json.dumps(list(items), separators=(",", ":")).encode()).decode()


def auth_body(*, notification: bool = False, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        **RP,
        "certificateLevel": "QUALIFIED",
        "signatureProtocol": "ACSP_V2",
        "signatureProtocolParameters": {
            "rpChallenge": RP_CHALLENGE,
            "signatureAlgorithm": "rsassa-pss",
            "signatureAlgorithmParameters": {"hashAlgorithm": "SHA3-512"},
        },
        "interactions": interactions(PIN_TEXT),
    }
    if notification:
        body["vcType"] = "numeric4"
    else:
        body["initialCallbackUrl"] = "https://rp.example.com/callback?value=RrKjjT4a"
    return body | changes


def sign_body(
    *, digest: bytes = SHA512_DIGEST, hash_algorithm: str = "SHA-512", **changes: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        **RP,
        "certificateLevel": "QUALIFIED",
        "signatureProtocol": "RAW_DIGEST_SIGNATURE",
        "signatureProtocolParameters": {
            "digest": base64.b64encode(digest).decode(),
            "signatureAlgorithm": "rsassa-pss",
            "signatureAlgorithmParameters": {"hashAlgorithm": hash_algorithm},
        },
        "nonce": "n1",
        "interactions": interactions(PIN_TEXT),
    }
    return body | changes


def choice_body(**changes: Any) -> dict[str, Any]:
    return {**RP, "certificateLevel": "QUALIFIED"} | changes


def post(base: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes | str):
        return httpx.post(f"{base}/v3/{path}", content=body, timeout=30)
    return httpx.post(f"{base}/v3/{path}", json=body, timeout=30)


def start(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = post(base, path, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def status(base: str, session_id: str, timeout_ms: int = 1000) -> httpx.Response:
    return httpx.get(
        f"{base}/v3/session/{session_id}", params={"timeoutMs": timeout_ms}, timeout=30
    )


def poll(base: str, session_id: str, seconds: float = 30) -> dict[str, Any]:
    """Poll until COMPLETE (RUNNING bodies in between are checked)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = status(base, session_id, 5000)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] == "COMPLETE":
            return body
        assert set(body) <= {"state", "ignoredProperties"}, body
    raise AssertionError("the session never completed")


def assert_problem(response: httpx.Response, status_code: int) -> dict[str, Any]:
    """An RFC 9457 body with the expected status."""
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status_code
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body
