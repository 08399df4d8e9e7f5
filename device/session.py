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
from device.wire import API, base64_field, field, json_object, to_json
from signing.engine import (
    EngineError,
    load_p256_public_key,
    public_key_der,
    sign_request,
    transport_encrypt_share,
    transport_open_secret,
)
from signing.engine.rotation import MAX_CHAIN, follow_transport_chain, key_id

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

    def seal_share(self, s1_prime: int, length: int, aad: bytes) -> dict[str, str]:
        """s1′ sealed to the pinned transport key, with its key id (``kid``, §9.2) so the
        service can tell a retired key from a bad envelope."""
        envelope = transport_encrypt_share(s1_prime, length, self.transport_key(), aad)
        assert self.state.transport_key is not None  # noqa: S101 - transport_key() checked
        return envelope | {"kid": key_id(self.state.transport_key)}

    def update_transport_key(self, *, device_id: str | None = None) -> bool:
        """Fetch the service's transport key (§9.2) and pin it if an unbroken chain of
        endorsements leads to it from the key pinned now; True when the pin changed.

        ProtocolError (and the old pin kept) for a key the pinned one did not endorse.
        ``device_id`` signs the call (default: this state's).
        """
        pinned = self.state.transport_key
        if pinned is None:
            raise StateError("no pinned transport key: register first")
        answer = self.send(
            "GET", f"{API}/transport-key", None, device_id=device_id or self.signed_device()
        )
        newest = _endorsed_successor(pinned, answer)
        if newest == pinned:
            return False
        with self.lock:
            self.state.transport_key = newest
            self.save()
        return True

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
            pending = self.state.pending_device_key
            if device_id is not None and pending is not None and is_bad_signature(response):
                # A device-key rotation whose answer was lost (§9.1): the service may know
                # the new key already. The refused request changed nothing: send it again.
                response = self._send_once(
                    method,
                    path,
                    body,
                    device_id=device_id,
                    timeout=timeout,
                    headers=extra_headers,
                    signing_key=pending,
                )
            wait = _busy_wait(response)
            if wait is None or attempt == BUSY_RETRIES:
                break
            self.sleep(wait)
        return _answer(response)

    def send_once(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        device_id: str,
        signing_key: ec.EllipticCurvePrivateKey | None,
        nonce: str,
    ) -> httpx.Response:
        """One signed exchange with a chosen ``signing_key`` and ``nonce`` (a device-key
        rotation's proof is bound to the request nonce, §9.1); no retries, no fallback."""
        return self._send_once(
            method,
            path,
            body,
            device_id=device_id,
            timeout=None,
            headers=None,
            signing_key=signing_key,
            nonce=nonce,
        )

    def _send_once(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        device_id: str | None,
        timeout: float | None,
        headers: Mapping[str, str] | None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        nonce: str | None = None,
    ) -> httpx.Response:
        """One HTTP exchange, signed (when ``device_id``) with ``signing_key`` (default: the
        device key) and ``nonce`` (default: a fresh one)."""
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
            key = signing_key or self.state.device_key
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
                    nonce_b64=nonce,
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


def is_bad_signature(response: httpx.Response) -> bool:
    """A 401 ``bad_signature``: the service does not take this key's signature."""
    if response.status_code != 401 or len(response.content) > 4096:
        return False
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("error") == "bad_signature"


def _busy_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before trying again, for a 503 that says so briefly; else None."""
    if response.status_code != 503:
        return None
    value = response.headers.get("Retry-After", "")
    if not (value.isascii() and value.isdigit() and len(value) <= 2):
        return None
    seconds = int(value)
    return float(seconds) if seconds <= MAX_BUSY_WAIT else None


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an answer, or ApiError / ProtocolError (see :meth:`Session.request`)."""
    return _answer(response)


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


def _endorsed_successor(pinned: bytes, answer: Mapping[str, Any]) -> bytes:
    """The announced current key, if the chain in ``answer`` leads to it from ``pinned``."""
    items = field(answer, "chain")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_CHAIN:
        raise ProtocolError(f"'chain' must be a list of 1-{MAX_CHAIN} keys")
    chain: list[tuple[bytes, bytes | None]] = []
    for item in items:
        entry = json_object(item, "chain entry")
        endorsement = entry.get("endorsement")
        chain.append(
            (
                base64_field(entry, "publicKey"),
                None if endorsement is None else base64_field(entry, "endorsement"),
            )
        )
    if base64_field(answer, "publicKey") != chain[-1][0]:
        raise ProtocolError("the announced transport key is not the end of its chain")
    try:
        return follow_transport_chain(pinned, chain)
    except EngineError as exc:
        raise ProtocolError(
            f"the announced transport key is not endorsed by the pinned one: {exc}"
        ) from None
