"""HTTP face of the Mobile-ID simulator (``/mid-api/``), in SK's MID REST wire format.

Async views: a long poll sleeps on the event loop until the simulated person's answer
time or ``timeoutMs``, so open polls cost no threads. Every error is SK's JSON error
document (``{"error", "time", "traceId"}``) with SK's status codes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import time
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from demo.mobileid import simulator
from enrolment.mobileid.client import DISPLAY_TEXT_GSM7_MAX, HASH_TYPES, LANGUAGES
from signing.engine import InvalidBase64, b64decode_strict

MAX_BODY_BYTES = 16 * 1024
DEFAULT_POLL_MS, MIN_POLL_MS, MAX_POLL_MS = 10_000, 1000, 120_000
DEMO_RELYING_PARTY = ("00000000-0000-0000-0000-000000000000", "DEMO")
_PHONE = re.compile(r"\+[0-9]{5,15}")
_IDENTITY_CODE = re.compile(r"[0-9]{11}")
_SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse(simulator.error_document(message), status=status)


def _method_not_allowed(allowed: str) -> JsonResponse:
    response = _error(405, "Method Not Allowed")
    response["Allow"] = allowed
    return response


def _authorised(uuid_value: str, name: str) -> bool:
    """The configured relying party, or SK's public DEMO one (the name is case-insensitive)."""
    accepted = {DEMO_RELYING_PARTY}
    if settings.MOBILE_ID_RELYING_PARTY_UUID and settings.MOBILE_ID_RELYING_PARTY_NAME:
        accepted.add((settings.MOBILE_ID_RELYING_PARTY_UUID, settings.MOBILE_ID_RELYING_PARTY_NAME))
    ok = False
    for known_uuid, known_name in accepted:
        same_uuid = hmac.compare_digest(uuid_value.encode(), known_uuid.encode())
        ok |= same_uuid and name.casefold() == known_name.casefold()
    return ok


def _parse_start(body: bytes) -> tuple[dict[str, Any], bytes] | str:
    """The validated request and its digest, or the error message (MID REST §3.2.6)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "Request body is not valid JSON"
    if not isinstance(data, dict):
        return "Request body must be a JSON object"
    for field in (
        "relyingPartyUUID",
        "relyingPartyName",
        "phoneNumber",
        "nationalIdentityNumber",
        "hash",
        "hashType",
        "language",
    ):
        if not isinstance(data.get(field), str) or not data[field]:
            return f"Required {field} is missing."
    try:
        if str(uuid.UUID(data["relyingPartyUUID"])) != data["relyingPartyUUID"].lower():
            raise ValueError
    except ValueError:
        return "relyingPartyUUID must be a UUID"
    if len(data["relyingPartyName"]) > 100:
        return "relyingPartyName is too long"
    if _PHONE.fullmatch(data["phoneNumber"]) is None:
        return "phoneNumber must contain of + and numbers(8-30)"
    if _IDENTITY_CODE.fullmatch(data["nationalIdentityNumber"]) is None:
        return "nationalIdentityNumber must contain of 11 digits"
    algorithm = HASH_TYPES.get(data["hashType"])
    if algorithm is None:
        return "hashType must be one of SHA256, SHA384, SHA512"
    try:
        digest = b64decode_strict(data["hash"], what="hash")
    except InvalidBase64:
        return "Hash must be Base64 encoded"
    if len(digest) != algorithm.digest_size:
        return "The length of the hash must match the type of hash"
    if data["language"] not in LANGUAGES:
        return "language must be one of EST, ENG, RUS, LIT"
    text_format = data.get("displayTextFormat", "GSM-7")
    if text_format not in ("GSM-7", "UCS-2"):
        return "displayTextFormat must be GSM-7 or UCS-2"
    text = data.get("displayText")
    if text is not None:
        limit = DISPLAY_TEXT_GSM7_MAX if text_format == "GSM-7" else DISPLAY_TEXT_GSM7_MAX // 2
        if not isinstance(text, str) or len(text) > limit:
            return f"displayText must be a string of at most {limit} characters"
    return data, digest


@csrf_exempt  # a machine API with its own credentials (relyingPartyUUID), no cookies
async def authentication_start(request: HttpRequest) -> HttpResponse:
    """POST /mid-api/authentication → {"sessionID"} (MID REST §3.2)."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    if len(request.body) > MAX_BODY_BYTES:
        return _error(400, "Request body is too large")
    parsed = _parse_start(request.body)
    if isinstance(parsed, str):
        return _error(400, parsed)
    data, digest = parsed
    if not _authorised(data["relyingPartyUUID"], data["relyingPartyName"]):
        return _error(401, "Failed to authorize user")
    session_id = await simulator.session_start(
        phone_number=data["phoneNumber"],
        national_identity_number=data["nationalIdentityNumber"],
        digest=digest,
        hash_type=data["hashType"],
    )
    return JsonResponse({"sessionID": session_id})


async def authentication_session(request: HttpRequest, session_id: str) -> HttpResponse:
    """GET /mid-api/authentication/session/{id}?timeoutMs= — the long poll (§3.3)."""
    if request.method != "GET":
        return _method_not_allowed("GET")
    raw = request.GET.get("timeoutMs", str(DEFAULT_POLL_MS))
    if not raw.isdigit() or len(raw) > 9:
        return _error(400, "timeoutMs must be a whole number of milliseconds")
    timeout_s = min(max(int(raw), MIN_POLL_MS), MAX_POLL_MS) / 1000
    if _SESSION_ID.fullmatch(session_id) is None:
        return _error(404, "SessionID not found")
    session = await simulator.session_load(session_id)
    if session is None:
        return _error(404, "SessionID not found")
    wait = float(session["answer_at"]) - time.time()
    if wait > 0:
        await asyncio.sleep(min(wait, timeout_s))
        if float(session["answer_at"]) > time.time():
            return JsonResponse(simulator.running_document())
    answer = await asyncio.to_thread(simulator.session_answer, session)
    return JsonResponse(answer)


async def version(request: HttpRequest) -> HttpResponse:
    """GET /mid-api/version (§3.4), marked as the simulator."""
    if request.method != "GET":
        return _method_not_allowed("GET")
    return HttpResponse(
        "Version: 5.1.1-simulator. Built: 01.01.2025 00:00", content_type="text/plain"
    )


async def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything else under /mid-api/: a JSON 404, like every machine endpoint of ours."""
    return _error(404, "Not found")
