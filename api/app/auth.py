"""Authenticating the device behind every app API call (docs/app-api.md §1)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import Device
from accounts.seen import device_seen_record
from core.compiled import Arg, CompiledQuery
from core.net import client_address
from signing.engine import appauth
from signing.engine.errors import RequestAuthError, StaleRequest

NONCE_MEMORY = 120  # seconds; longer than the ±60 s timestamp window

#: The active device by id: every app API request reads it (core/compiled.py).
_ACTIVE_DEVICE = CompiledQuery(
    lambda: Device.objects.filter(pk=Arg("id", Device._meta.pk), state=Device.State.ACTIVE)[:1]
)


class DeviceAuthError(Exception):
    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


def authenticate_device(
    method: str, path: str, body: bytes, headers: Mapping[str, str], address: str | None = None
) -> Device:
    """Return the active device that signed this request, or raise DeviceAuthError.

    Order: header syntax → device lookup → signature and timestamp → nonce replay, so
    an unsigned request never fills the nonce memory.
    """
    try:
        device_id = appauth.request_device_id(headers)
    except RequestAuthError:
        raise DeviceAuthError(
            "Missing or malformed device signature headers.", "bad_signature"
        ) from None
    device = _ACTIVE_DEVICE.first(id=device_id)
    if device is None:
        raise DeviceAuthError("Unknown or disabled device.", "unknown_device")
    try:
        _, nonce = appauth.verify_request(
            bytes(device.public_key), method, path, body, headers, int(time.time())
        )
    except StaleRequest:
        raise DeviceAuthError(
            "The request timestamp is too old or in the future.", "stale_request"
        ) from None
    except RequestAuthError:
        raise DeviceAuthError("The device signature does not verify.", "bad_signature") from None
    # With Redis one round trip and no SQL write; a replay records nothing (accounts/seen.py).
    if not device_seen_record(
        device=device,
        address=address,
        nonce_key=f"app-nonce:{device.pk}:{nonce}",
        nonce_seconds=NONCE_MEMORY,
    ):
        raise DeviceAuthError("This request was already received.", "replayed_request")
    return device


class DeviceSignatureAuthentication(authentication.BaseAuthentication):
    """DRF authentication: ``request.user`` is None, ``request.auth`` is the Device."""

    def authenticate(self, request: Request) -> tuple[None, Device]:
        try:
            device = authenticate_device(
                request.method or "",
                request.get_full_path(),
                request.body,
                request.headers,
                client_address(request),
            )
        except DeviceAuthError as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.error) from None
        return None, device

    def authenticate_header(self, request: Request) -> str:
        return "SmartID-Device"
