"""What every flow of the app shares: the device's state (guarded by a lock, one lock per
key for the operations that spend its one-time token) and the signed HTTP transport.

The flows (:mod:`device.registration`, :mod:`device.transactions`,
:mod:`device.maintenance`) each hold the one :class:`Session` of their
:class:`~device.app.DeviceApp`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from device.errors import ApiError, InputError, NetworkError, ProtocolError, StateError
from device.state import AccountRecord, DeviceState, KeyRecord, StateStore
from device.wire import to_json
from signing.engine import (
    EngineError,
    load_p256_public_key,
    public_key_der,
    sign_request,
    transport_open_secret,
)

#: An answer larger than this is refused unparsed.
MAX_RESPONSE_BYTES = 1 << 20
#: Tries of one call while the service answers 503 "busy, retry after N s" (N <= the max).
BUSY_RETRIES = 4
MAX_BUSY_WAIT = 5


class Session:
    """One device's state and its signed calls to the service over ``client``."""

    def __init__(
        self,
        client: httpx.Client,
        store: StateStore,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.RLock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self.state: DeviceState = store.load()

    # -- state ---------------------------------------------------------------------------

    def save(self) -> None:
        with self.lock:
            self.store.save(self.state)

    def key_lock(self, document_number: str, purpose: str) -> threading.Lock:
        """The lock under which one key's one-time token is spent (one holder at a time)."""
        with self.lock:
            return self._key_locks.setdefault((document_number, purpose), threading.Lock())

    def account(self, document_number: str) -> AccountRecord:
        with self.lock:
            account = self.state.accounts.get(document_number)
        if account is None:
            raise InputError(f"no account {document_number} on this device")
        return account

    def key(self, account: AccountRecord, purpose: str | None) -> KeyRecord:
        key = account.keys.get(purpose or "")
        if key is None or key.n is None or key.token is None:
            raise InputError(f"account {account.document_number} has no usable {purpose} key")
        return key

    def transport_key(self) -> ec.EllipticCurvePublicKey:
        if self.state.transport_key is None:
            raise StateError("no pinned transport key: register first")
        return load_p256_public_key(self.state.transport_key)

    def signed_device(self) -> str:
        """The device id the calls are signed for (StateError before registration)."""
        device_id = self.state.device_id
        if device_id is None:
            raise StateError("this device is not registered yet")
        return device_id

    def device_public_key(self) -> bytes:
        """DER of this device's P-256 key, made (and saved) on first use."""
        with self.lock:
            if self.state.device_key is None:
                self.state.device_key = ec.generate_private_key(ec.SECP256R1())
                self.save()
            return public_key_der(self.state.device_key.public_key())

    def open_sealed(self, envelope: object, aad: bytes, length: int) -> bytes:
        """Decrypt a secret the service sealed to this device's key (a ticket code)."""
        key = self.state.device_key
        if key is None:
            raise StateError("no device key")
        try:
            return transport_open_secret(envelope, key, aad, length)
        except EngineError as exc:
            raise ProtocolError(f"the sealed secret does not open: {exc}") from None

    # -- HTTP ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        device_id: str | None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One call, signed with the device key when ``device_id`` is given; the answer's
        JSON object (ApiError for a 4xx/5xx, ProtocolError for anything else off-contract).

        A busy service's 503 with a short ``Retry-After`` (smartid/admission.py: nothing
        was done) is tried again after that wait, a few times, with a fresh signature.
        """
        for attempt in range(1, BUSY_RETRIES + 1):
            response = self._send_once(
                method, path, body, device_id=device_id, timeout=timeout, headers=extra_headers
            )
            wait = _busy_wait(response)
            if wait is None or attempt == BUSY_RETRIES:
                break
            self.sleep(wait)
        return _answer(response)

    def _send_once(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        device_id: str | None,
        timeout: float | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        extra_headers = headers
        headers = {"Accept": "application/json"} | dict(extra_headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self.client.build_request(
            method,
            path,
            content=body,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        if device_id is not None:
            key = self.state.device_key
            if key is None:
                raise StateError("no device key: register first")
            request.headers.update(
                sign_request(
                    key,
                    method,
                    request.url.raw_path.decode("ascii"),
                    body or b"",
                    device_id=device_id,
                    timestamp=int(self.clock()),
                )
            )
        try:
            return self.client.send(request)
        except httpx.RequestError as exc:
            raise NetworkError(f"cannot reach the service: {exc or type(exc).__name__}") from None

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        device_id: str | None,
        retry: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One call; with ``retry`` a network error is retried once with the same body (and a
        new request signature: the service refuses a request nonce twice).
        """
        try:
            return self.request(method, path, body, device_id=device_id, timeout=timeout)
        except NetworkError:
            if not retry:
                raise
        return self.request(method, path, body, device_id=device_id, timeout=timeout)

    def bearer_call(
        self, method: str, path: str, payload: Mapping[str, object] | None, *, bearer: str
    ) -> dict[str, Any]:
        """One call authenticated by a bearer secret (remote onboarding, docs/app-api.md §6)."""
        body = None if payload is None else to_json(payload)
        return self.request(
            method, path, body, device_id=None, extra_headers={"Authorization": f"Bearer {bearer}"}
        )


def _busy_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before trying again, for a 503 that says so briefly; else None."""
    if response.status_code != 503:
        return None
    value = response.headers.get("Retry-After", "")
    if not (value.isascii() and value.isdigit() and len(value) <= 2):
        return None
    seconds = int(value)
    return float(seconds) if seconds <= MAX_BUSY_WAIT else None


def _answer(response: httpx.Response) -> dict[str, Any]:
    raw = response.content
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ProtocolError("the service's answer is too large")
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        data = None
    if response.status_code >= 400:
        error = data if isinstance(data, dict) else {}
        code = error.get("error")
        message = error.get("message")
        raise ApiError(
            response.status_code,
            code if isinstance(code, str) else f"http_{response.status_code}",
            message if isinstance(message, str) else response.reason_phrase,
        )
    if not isinstance(data, dict):
        raise ProtocolError(f"the service answered {response.status_code} without a JSON object")
    return data
