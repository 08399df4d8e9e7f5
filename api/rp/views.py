"""RP API v1 and v2 (Smart-ID compatible): one APIView per operation, one async long poll."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import wireinput
from api.errors import error_body
from api.parsers import SafeJSONParser
from api.rp import lookup, services
from api.rp.models import RpSession
from api.rp.v3 import problems
from api.rp.v3 import status as v3_status
from core import events
from core.asyncdb import db_to_async
from core.net import client_address
from signing.engine import InvalidBase64, b64decode_strict
from signing.engine.encoding import SHA2_HASHES, hash_spec
from signing.services.channels import group_channel

# The engine's hash table, in the RP API's spelling (one place for digest sizes).
# v1/v2 know SHA-2 only; SHA-3 is a v3 hash (signatureAlgorithmParameters).
HASH_LENGTHS = {alg.value: hash_spec(alg).digest_size for alg in SHA2_HASHES}
TEXT60 = ("displayTextAndPIN", "verificationCodeChoice")
TEXT200 = ("confirmationMessage", "confirmationMessageAndVerificationCodeChoice")
MIN_POLL_MS, MAX_POLL_MS = 1000, 120_000
DEFAULT_POLL_MS = (MIN_POLL_MS + MAX_POLL_MS) // 2


class AnyJSONParser(SafeJSONParser):
    """Parse the body as JSON whatever the Content-Type says (clients differ)."""

    media_type = "*/*"


class WireString(serializers.CharField):
    """A JSON string exactly as sent: a number is not text, whitespace is not trimmed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class RelyingPartyName(WireString):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        # "surrogatepass": a lone surrogate is refused by CharField's validators, which run
        # after this; encoding it strictly here would raise instead of answering 400.
        if len(value.encode("utf-8", "surrogatepass")) > 32:
            raise serializers.ValidationError("At most 32 bytes of UTF-8.")
        return value


class BaseInput(serializers.Serializer[Any]):
    relyingPartyUUID = WireString(max_length=64)  # noqa: N815 -- wire name
    relyingPartyName = RelyingPartyName(max_length=32)  # noqa: N815
    certificateLevel = serializers.ChoiceField(  # noqa: N815
        choices=["ADVANCED", "QUALIFIED", "QSCD"], default="QUALIFIED"
    )
    nonce = WireString(min_length=1, max_length=30, required=False)
    capabilities = serializers.ListField(
        child=WireString(max_length=64), max_length=20, required=False
    )
    requestProperties = serializers.DictField(required=False)  # noqa: N815


class HashInput(BaseInput):
    hash = WireString(max_length=200)
    hashType = serializers.ChoiceField(choices=list(HASH_LENGTHS))  # noqa: N815

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            # Canonical only: excess padding ("<64 chars>==" for SHA384) is not Base64.
            digest = b64decode_strict(attrs["hash"], what="hash")
        except InvalidBase64:
            raise serializers.ValidationError({"hash": "Not valid Base64."}) from None
        if len(digest) != HASH_LENGTHS[attrs["hashType"]]:
            raise serializers.ValidationError({"hash": "The length does not match hashType."})
        attrs["digest"] = digest
        return attrs


class DisplayText(WireString):
    """A text for the phone's screen: no control or bidirectional formatting characters."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if wireinput.unsafe_display_text(value):
            raise serializers.ValidationError(wireinput.UNSAFE_DISPLAY_MESSAGE)
        return value


class InteractionInput(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=[*TEXT60, *TEXT200])
    displayText60 = DisplayText(max_length=60, required=False, allow_blank=False)  # noqa: N815
    displayText200 = DisplayText(max_length=200, required=False, allow_blank=False)  # noqa: N815

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["type"]
        if kind in TEXT60 and "displayText200" in attrs:
            raise serializers.ValidationError(f"{kind} takes displayText60.")
        if kind in TEXT200:
            if "displayText60" in attrs:
                raise serializers.ValidationError(f"{kind} takes displayText200.")
            if "displayText200" not in attrs:
                raise serializers.ValidationError(f"{kind} needs displayText200.")
        return attrs


class V2HashInput(HashInput):
    # Optional: the java client 2.3.1 omits it for signatures (spec/corpus); then the
    # app asks for the PIN with no extra text, as v1 does.
    allowedInteractionsOrder = serializers.ListField(  # noqa: N815
        child=InteractionInput(),
        min_length=1,
        max_length=10,
        default=lambda: [{"type": "displayTextAndPIN"}],
    )


class V1HashInput(HashInput):
    displayText = DisplayText(max_length=60, required=False)  # noqa: N815

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if len(attrs.get("displayText", "").encode("utf-8")) > 128:
            raise serializers.ValidationError({"displayText": "At most 128 bytes of UTF-8."})
        return attrs


def _request_properties(data: dict[str, Any], version: int) -> tuple[bool, list[str], bool]:
    """(shareMdClientIpAddress, ignored property names, v1 vcChoice)."""
    properties = data.get("requestProperties") or {}
    known = {"shareMdClientIpAddress"} | ({"vcChoice"} if version == 1 else set())
    if any("\x00" in str(k) for k in properties):  # the names go to a JSON column
        raise serializers.ValidationError({"requestProperties": "Null characters are not allowed."})
    for name in sorted(known):  # v2: an unknown vcChoice of any type is only ignored
        if name in properties and not isinstance(properties[name], bool):
            raise serializers.ValidationError({"requestProperties": f"{name} must be a boolean."})
    ignored = sorted(str(k) for k in properties if k not in known)
    return bool(properties.get("shareMdClientIpAddress")), ignored, bool(properties.get("vcChoice"))


def _interactions(data: dict[str, Any], version: int, vc_choice: bool) -> list[dict[str, str]]:
    if version == 2:
        return [
            {k: v for k, v in item.items() if k in ("type", "displayText60", "displayText200")}
            for item in data["allowedInteractionsOrder"]
        ]
    text = {"displayText60": data["displayText"]} if data.get("displayText") else {}
    first = {"type": "verificationCodeChoice", **text} if vc_choice else None
    return [i for i in (first, {"type": "displayTextAndPIN", **text}) if i]


class SessionStart(APIView):
    """POST /v{1,2}/{authentication|signature|certificatechoice}/{etsi|document}/{id}."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [AnyJSONParser]
    kind: str = ""

    def input_class(self, version: int) -> type[serializers.Serializer[Any]]:
        if self.kind == RpSession.Kind.CERTIFICATE_CHOICE:
            return BaseInput
        return V2HashInput if version == 2 else V1HashInput

    def post(self, request: Request, version: str, target_kind: str, target: str) -> Response:
        api_version = int(version)
        if not isinstance(request.data, dict):
            raise serializers.ValidationError("The body must be a JSON object.")
        ser = self.input_class(api_version)(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        if self.kind == RpSession.Kind.AUTHENTICATION and data["certificateLevel"] == "QSCD":
            raise serializers.ValidationError(
                {"certificateLevel": "QSCD is not for authentication."}
            )
        share_ip, ignored, vc_choice = _request_properties(data, api_version)
        rp = services.authenticate(
            rp_uuid=data["relyingPartyUUID"],
            rp_name=data["relyingPartyName"],
            address=client_address(request._request),
        )
        hashed = self.kind != RpSession.Kind.CERTIFICATE_CHOICE
        session = services.session_start(
            rp=rp,
            request=services.SessionRequest(
                version=api_version,
                kind=self.kind,
                target_kind=target_kind,
                target=target,
                certificate_level=data["certificateLevel"],
                hash=data["digest"] if hashed else None,
                hash_type=data["hashType"] if hashed else "",
                interactions=_interactions(data, api_version, vc_choice) if hashed else [],
                share_device_ip=share_ip,
                ignored_properties=ignored,
                fingerprint_source=request.data,
            ),
        )
        return Response({"sessionID": str(session.pk)})


class AuthenticationStart(SessionStart):
    kind = RpSession.Kind.AUTHENTICATION


class SignatureStart(SessionStart):
    kind = RpSession.Kind.SIGNATURE


class CertificateChoiceStart(SessionStart):
    kind = RpSession.Kind.CERTIFICATE_CHOICE


def _json_error(status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse(error_body(status, message, code), status=status)


def _error(version: int, status: int, message: str, code: str) -> HttpResponse:
    """v1/v2: the one error format; v3: RFC 9457 problem details."""
    if version == 3:
        return problems.problem_response(problems.Problem(status, message))
    return _json_error(status, message, code)


def _status_of(session: RpSession) -> services.Status:
    if session.api_version == 3:
        return v3_status.session_status(session)
    return services.session_status(session)


# Status reads run in the thread pool, not on the one thread-sensitive executor: a
# thousand woken polls would otherwise queue behind each other.
_session_lookup = db_to_async(lookup.session_lookup)
_session_status = db_to_async(_status_of)
_inflight: dict[tuple[int, uuid.UUID], asyncio.Future[services.Status]] = {}


async def _shared_status(session: RpSession) -> services.Status:
    """One database read per session at a time, however many polls wake together:
    the others await the same result (a status is an immutable snapshot)."""
    key = (id(asyncio.get_running_loop()), session.pk)
    future = _inflight.get(key)
    if future is None:
        future = asyncio.ensure_future(_session_status(session))
        _inflight[key] = future
        future.add_done_callback(lambda _done: _inflight.pop(key, None))
    return await asyncio.shield(future)


Read = dict[str, Any] | services.Status  # a cached final body, or the status now


def _is_final(result: Read) -> bool:
    return isinstance(result, dict) or result.complete


def _recheck_in(result: Read) -> float | None:
    """Wake just after the transaction's own timeout, which nobody publishes."""
    if isinstance(result, dict) or result.next_deadline is None:
        return None
    until_timeout = (result.next_deadline - timezone.now()).total_seconds()
    return max(until_timeout, 0.0) + 0.05


@csrf_exempt  # a protocol endpoint for programs: a wrong method gets 405, not a CSRF 403
async def session_status(request: HttpRequest, version: str, session_id: str) -> HttpResponse:
    """GET /v{1,2,3}/session/{id}?timeoutMs=N — a real long poll, woken by the event bus.

    A session is found only under the version that started it (each version answers in
    its own vocabulary); v3 answers errors as problem details.
    """
    api_version = int(version)
    if request.method != "GET":
        response = _error(api_version, 405, "Method not allowed", "method_not_allowed")
        response["Allow"] = "GET"  # RFC 9110 §15.5.6
        return response
    raw = request.GET.get("timeoutMs", str(DEFAULT_POLL_MS))
    timeout = wireinput.timeout_ms(raw, low=MIN_POLL_MS, high=MAX_POLL_MS)
    if timeout is None:
        return _error(
            api_version,
            400,
            f"timeoutMs must be {MIN_POLL_MS}..{MAX_POLL_MS}.",
            "invalid_request",
        )
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        return _error(api_version, 404, "Session not found.", "not_found")
    deadline = time.monotonic() + timeout / 1000
    address = client_address(request)
    try:
        found = await _session_lookup(session_id=parsed, address=address, version=api_version)
        if found.final is not None:
            return JsonResponse(found.final)
        session = found.session
        looked_up = [True]  # the lookup has just asked the cache: the first read need not

        async def read() -> Read:
            # A final answer another poll cached, else this session's status.
            cached = None if looked_up and not looked_up.pop() else lookup.cached_final(session)
            return cached if cached is not None else await _shared_status(session)

        result = await events.long_poll(
            group_channel(parsed), read, done=_is_final, deadline=deadline, recheck_in=_recheck_in
        )
    except services.NotFound as exc:
        return _error(api_version, 404, exc.message, exc.code)
    if isinstance(result, dict):
        return JsonResponse(result)
    if result.complete:
        lookup.remember_final(session, result)
    return JsonResponse(result.body)
