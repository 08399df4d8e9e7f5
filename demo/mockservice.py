"""The demo's mock service for RP API v3 device links: ``POST /mock/device-link``.

On SK's demo a relying party's automated test cannot scan its own QR code, so it posts
the link with a test document number instead, and the session ends with that test
account's predetermined result (docs/spec/rp-api.md §6). Here the demo device of that
account opens the link, and its auto-responder answers as it answers everything
(:mod:`demo.autoresponder`): an OK is a real signature, a refusal names its interaction.

How the device opens it: through :func:`api.rp.v3.opening.device_link_open`, the same
service the app API's ``POST /app/v1/device-links`` calls, for the account's device. Not
over HTTP as the virtual device: its state file (its keys' one-time tokens) belongs to the
``demo_devices`` process, and a second holder of a token is a clone to the service. So
this view only opens; the transaction then reaches the device like any other (its long
poll), and the device answers after its delay — the session is RUNNING in between, as on
SK's demo. Without ``demo_devices`` running, the session times out.

Body ``{documentNumber, deviceLink, flowType, browserCookie?, initialCallbackUrl?}``:
``flowType`` is the link's type; ``browserCookie`` and ``initialCallbackUrl`` are required
for Web2App and App2App and ignored for QR. There is no browser here: the cookie is only
checked for its form, and the callback URL (an https URL) is not opened: the server opening
URLs a caller names would be a request forgery tool. Answers: 200
``{"documentNumber", "flowType", "sessionID"}``; every refusal 400 with an RFC 9457 body
whose ``code`` says why (a malformed body, not a demo account, or the link refused:
``auth_code_mismatch``, ``already_opened``, ``link_expired``, ``no_suitable_account`` …).
Nothing changes on a refusal.

Mounted by ``demo/urls.py``: the demo app is installed in every mode but live.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.models import Account
from api.rp.v3 import problems
from api.rp.v3.opening import DeviceLinkError, device_link_open
from core.errors import DomainError
from demo.world import identity_for_document
from signing.engine import InvalidDeviceLink, parse_device_link
from signing.engine.devicelink import MAX_LINK_CHARS

MAX_BODY_BYTES = 16 * 1024
FLOW_TYPES = ("Web2App", "App2App", "QR")
MAX_COOKIE_CHARS = 4096
MAX_CALLBACK_CHARS = 1800
MAX_DOCUMENT_NUMBER_CHARS = 64


class MockError(Exception):
    """A refused request: 400 with ``code`` and a message."""

    def __init__(self, code: str, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.pointer = pointer


def _problem(error: MockError, status: int = 400) -> JsonResponse:
    item: dict[str, str] = {"code": error.code, "detail": error.detail}
    if error.pointer:
        item["pointer"] = error.pointer
    body = {
        "type": "about:blank",
        "title": "Bad Request" if status == 400 else "Method Not Allowed",
        "status": status,
        "detail": error.detail,
        "code": error.code,
        "errors": [item],
    }
    response = JsonResponse(body, status=status, content_type=problems.CONTENT_TYPE)
    if status == 405:
        response["Allow"] = "POST"
    return response


def _string(body: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise MockError(
            "invalid_request", f"{name} must be a string of 1-{limit} characters", f"/{name}"
        )
    return value


def _read(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise MockError("invalid_request", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise MockError("invalid_request", "the body must be a JSON object")
    return body


def open_for_demo_account(body: dict[str, Any]) -> dict[str, str]:
    """Check the request, and let the account's demo device open the link."""
    number = _string(body, "documentNumber", MAX_DOCUMENT_NUMBER_CHARS)
    link = _string(body, "deviceLink", MAX_LINK_CHARS)
    flow_type = _string(body, "flowType", 16)
    assert number is not None and link is not None and flow_type is not None  # required
    if flow_type not in FLOW_TYPES:
        raise MockError("invalid_request", "flowType must be Web2App, App2App or QR", "/flowType")
    same_device = flow_type != "QR"
    _string(body, "browserCookie", MAX_COOKIE_CHARS, required=same_device)
    callback = _string(body, "initialCallbackUrl", MAX_CALLBACK_CHARS, required=same_device)
    if same_device and not str(callback).startswith("https://"):
        raise MockError(
            "invalid_request", "initialCallbackUrl must be an https URL", "/initialCallbackUrl"
        )
    try:
        parsed = parse_device_link(link)
    except InvalidDeviceLink as exc:
        raise MockError("invalid_device_link", str(exc), "/deviceLink") from None
    if parsed.link_type.value != flow_type:
        raise MockError(
            "invalid_request", f"the link is a {parsed.link_type.value} link", "/flowType"
        )
    account = (
        Account.objects.select_related("device")
        .filter(document_number=number, state=Account.State.ACTIVE)
        .first()
    )
    if identity_for_document(number) is None or account is None or account.device is None:
        raise MockError(
            "unknown_document_number",
            "documentNumber is not an active demo account (docs/demo.md)",
            "/documentNumber",
        )
    try:
        opened = device_link_open(link=link, device=account.device)
    except DeviceLinkError as exc:
        raise MockError(exc.code, exc.message, "/deviceLink") from None
    except DomainError as exc:  # the account cannot answer now (e.g. its key is locked)
        raise MockError(exc.code, exc.message, "/documentNumber") from None
    return {
        "documentNumber": number,
        "flowType": flow_type,
        "sessionID": str(opened.session.pk),
    }


@csrf_exempt  # a test interface for programs: no cookies, no session
def device_link(request: HttpRequest) -> JsonResponse:
    """``POST /mock/device-link`` (see the module's docstring)."""
    if request.method != "POST":
        return _problem(MockError("method_not_allowed", "only POST"), 405)
    try:
        return JsonResponse(open_for_demo_account(_read(request)))
    except MockError as error:
        return _problem(error)
