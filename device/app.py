"""The reference app as a library: :class:`DeviceApp` speaks the App API (docs/app-api.md).

One :class:`DeviceApp` is one device. It is safe to share between threads: the state is
guarded by a lock, and every operation that spends a key's one-time token runs under that
key's own lock, so two threads never present the same token (the service would take the
second for a clone and close the account). Many :class:`DeviceApp` objects with
:class:`~device.state.MemoryStore` s can run in one process as virtual devices.

Every call after the ticket is signed with the device key (:func:`signing.engine.sign_request`,
a fresh ``X-Nonce`` each time, also for a retry). Key operations (CSR signature, confirm,
refresh) carry a retransmit nonce; before sending one, the app records the exact request in
its state. A network error is retried once with the same body; if the answer is still
missing, the record stays and the next operation on that key first sends it again — the
service answers a repeat identically, so the app learns its new token instead of presenting
a stale one later (which would look like a clone).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from device.checks import check_certificate, check_csr
from device.errors import ApiError, InputError, NetworkError, ProtocolError, StateError
from device.state import (
    PURPOSES,
    AccountRecord,
    DeviceState,
    KeyRecord,
    MemoryStore,
    PendingRequest,
    StateStore,
    b64,
)
from signing.engine import (
    DEFAULT_KDF,
    EngineError,
    InvalidPin,
    KdfParams,
    client_keygen,
    client_partial_for_digest,
    composite_bit_lengths,
    i2osp,
    load_p256_public_key,
    public_key_der,
    registration_aad,
    sign_request,
    transaction_aad,
    transport_encrypt_share,
    transport_open_secret,
    validate_pin,
    verification_code,
)
from signing.engine.client import MAX_BITS

API = "/app/v1"
#: The interactions this app can show, in the order it prefers nothing: the service's
#: list decides, the app takes the first one it supports.
SUPPORTED_INTERACTIONS = (
    "displayTextAndPIN",
    "confirmationMessage",
    "verificationCodeChoice",
    "confirmationMessageAndVerificationCodeChoice",
)
VC_CHOICE_INTERACTIONS = frozenset(
    {"verificationCodeChoice", "confirmationMessageAndVerificationCodeChoice"}
)
CERTIFICATE_CHOICE = "CERTIFICATE_CHOICE"
KINDS = frozenset({"AUTHENTICATION", "SIGNATURE", CERTIFICATE_CHOICE})
#: Shortest PIN per key: PIN1 (AUTH) 4-12 digits, PIN2 (SIGN) 5-12 digits.
PIN_MIN_LENGTH = {"AUTH": 4, "SIGN": 5}
#: Smallest key size the app accepts from the service (tests lower it explicitly).
DEFAULT_MIN_KEY_BITS = 3072
MAX_LONG_POLL_MS = 120_000
MAX_RESPONSE_BYTES = 1 << 20
TOKEN_BYTES = 16
RNONCE_BYTES = 16
_DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9-]{1,64}")

ProgressCallback = Callable[[str], None]


# --- answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interaction:
    """One interaction of a transaction: its type and the text to show (if any)."""

    type: str
    text: str | None = None


@dataclass(frozen=True)
class Transaction:
    """A transaction as §3.2 describes it, parsed and checked."""

    id: str
    state: str
    kind: str
    document_number: str
    purpose: str | None
    rp_name: str
    hash: bytes | None
    hash_type: str | None
    padding: str | None
    salt: bytes | None
    n: int | None
    interactions: tuple[Interaction, ...]
    vc_choices: tuple[str, ...] | None
    expires_at: str | None

    @property
    def verification_code(self) -> str | None:
        """The code computed here from the hash (never taken from the service)."""
        return None if self.hash is None else verification_code(self.hash)

    @property
    def interaction(self) -> Interaction | None:
        """The first interaction of the list that this app supports."""
        for item in self.interactions:
            if item.type in SUPPORTED_INTERACTIONS:
                return item
        return None

    @property
    def needs_vc_choice(self) -> bool:
        """True when the user must pick the verification code from ``vc_choices``."""
        chosen = self.interaction
        return chosen is not None and chosen.type in VC_CHOICE_INTERACTIONS


@dataclass(frozen=True)
class ConfirmResult:
    """The service's answer to a confirmation (§3.3) or a CSR signature (§2.4)."""

    status: str
    tries_left: int | None = None
    locked_until: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class KeyStatus:
    """A key's state as the service reports it (§4 ``GET /accounts``)."""

    state: str
    tries_left: int | None
    locked_until: str | None


@dataclass(frozen=True)
class AccountStatus:
    """An account as the service reports it (§4 ``GET /accounts``)."""

    document_number: str
    state: str
    level: str
    keys: dict[str, KeyStatus]


@dataclass(frozen=True)
class RegistrationResult:
    """What a completed registration produced."""

    document_number: str
    state: str
    level: str
    person: dict[str, str]
    certificates: dict[str, bytes]


# --- parsing helpers (ProtocolError on anything off-contract) ---------------------------


def _get(obj: Mapping[str, Any], name: str) -> Any:
    if name not in obj:
        raise ProtocolError(f"the answer lacks {name!r}")
    return obj[name]


def _str(obj: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    if optional and obj.get(name) is None:
        return None
    value = _get(obj, name)
    if not isinstance(value, str) or len(value) > 4096:
        raise ProtocolError(f"{name!r} must be a string")
    return value


def _req_str(obj: Mapping[str, Any], name: str) -> str:
    value = _str(obj, name)
    assert value is not None  # noqa: S101 - not optional
    return value


def _obj(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{name!r} must be an object")
    return value


def _bytes(obj: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    value = _get(obj, name)
    if not isinstance(value, str):
        raise ProtocolError(f"{name!r} must be Base64")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProtocolError(f"{name!r} is not valid Base64") from None
    if size is not None and len(raw) != size:
        raise ProtocolError(f"{name!r} must be {size} bytes")
    return raw


def _uuid(value: object, name: str) -> str:
    """A canonical (lower-case) UUID: ids go into URL paths and AADs, so no other form."""
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise ProtocolError(f"{name!r} must be a lower-case UUID")


def _document_number(value: object) -> str:
    if not isinstance(value, str) or not _DOCUMENT_NUMBER.fullmatch(value):
        raise ProtocolError("documentNumber has an unexpected form")
    return value


def _opt_int(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    if value is not None and type(value) is not int:
        raise ProtocolError(f"{name!r} must be an integer")
    return value


def _token(obj: Mapping[str, Any]) -> bytes | None:
    return None if obj.get("token") is None else _bytes(obj, "token", TOKEN_BYTES)


def parse_transaction(data: object) -> Transaction:
    """Parse one §3.2 transaction object (ProtocolError when it breaks the contract)."""
    obj = _obj(data, "transaction")
    kind = _req_str(obj, "kind")
    if kind not in KINDS:
        raise ProtocolError(f"unknown transaction kind {kind!r}")
    interactions_raw = obj.get("interactions") or []
    if not isinstance(interactions_raw, list) or len(interactions_raw) > 16:
        raise ProtocolError("'interactions' must be a list")
    interactions = []
    for item in interactions_raw:
        entry = _obj(item, "interaction")
        text = _str(entry, "displayText200", optional=True) or _str(
            entry, "displayText60", optional=True
        )
        interactions.append(Interaction(type=_req_str(entry, "type"), text=text))
    choices_raw = obj.get("vcChoices")
    choices: tuple[str, ...] | None = None
    if choices_raw is not None:
        if not isinstance(choices_raw, list) or not all(
            isinstance(c, str) and len(c) == 4 and c.isdigit() for c in choices_raw
        ):
            raise ProtocolError("'vcChoices' must be a list of 4-digit codes")
        choices = tuple(choices_raw)
    signing = kind != CERTIFICATE_CHOICE
    purpose = _str(obj, "purpose", optional=not signing)
    if purpose is not None and purpose not in PURPOSES:
        raise ProtocolError("'purpose' must be AUTH or SIGN")
    n_raw = _bytes(obj, "n") if signing else None
    return Transaction(
        id=_uuid(_get(obj, "id"), "id"),
        state=_req_str(obj, "state"),
        kind=kind,
        document_number=_document_number(_get(obj, "documentNumber")),
        purpose=purpose,
        rp_name=_req_str(obj, "rpName"),
        hash=_bytes(obj, "hash") if signing else None,
        hash_type=_str(obj, "hashType", optional=not signing),
        padding=_str(obj, "padding", optional=not signing),
        salt=_bytes(obj, "salt") if obj.get("salt") is not None else None,
        n=None if n_raw is None else int.from_bytes(n_raw, "big"),
        interactions=tuple(interactions),
        vc_choices=choices,
        expires_at=_str(obj, "expiresAt", optional=True),
    )


def _result(answer: Mapping[str, Any]) -> ConfirmResult:
    return ConfirmResult(
        status=_req_str(answer, "status"),
        tries_left=_opt_int(answer, "triesLeft"),
        locked_until=_str(answer, "lockedUntil", optional=True),
    )


def _json(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _prefixed(progress: ProgressCallback | None, prefix: str) -> ProgressCallback | None:
    if progress is None:
        return None
    report = progress

    def prefixed(message: str) -> None:
        report(prefix + message)

    return prefixed


def _check_pin(pin: object, purpose: str) -> str:
    try:
        validate_pin(pin, min_length=PIN_MIN_LENGTH[purpose])  # type: ignore[arg-type]
    except InvalidPin:
        low = PIN_MIN_LENGTH[purpose]
        label = "PIN1" if purpose == "AUTH" else "PIN2"
        raise InputError(f"{label} must be {low}-12 digits") from None
    assert isinstance(pin, str)  # noqa: S101 - validated above
    return pin


# --- the app ---------------------------------------------------------------------------


class DeviceApp:
    """One device speaking the App API over ``client`` (an :class:`httpx.Client` whose
    ``base_url`` is the service, e.g. ``https://eid.example``; tests pass one with an
    :class:`httpx.MockTransport`).

    ``store`` keeps the state (:class:`~device.state.FileStore` for the CLI, a fresh
    :class:`~device.state.MemoryStore` by default). ``min_key_bits`` is the smallest key size
    accepted from the service's ``keyBits`` (the service decides; the app refuses to go
    below this floor); ``kdf`` the scrypt cost for the PIN-encrypted shares; ``clock`` the
    Unix time source for ``X-Timestamp``.
    """

    def __init__(
        self,
        client: httpx.Client,
        store: StateStore | None = None,
        *,
        min_key_bits: int = DEFAULT_MIN_KEY_BITS,
        kdf: KdfParams = DEFAULT_KDF,
        platform: str = "reference-cli",
        name: str = "reference device",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if type(min_key_bits) is not int or not 1024 <= min_key_bits <= MAX_BITS:
            raise InputError(f"min_key_bits must be between 1024 and {MAX_BITS}")
        self._client = client
        self._store: StateStore = store if store is not None else MemoryStore()
        self._min_key_bits = min_key_bits
        self._kdf = kdf
        self._platform = platform
        self._name = name
        self._clock = clock
        self._lock = threading.RLock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._state: DeviceState = self._store.load()

    # -- state ---------------------------------------------------------------------------

    def _save(self) -> None:
        with self._lock:
            self._store.save(self._state)

    def _key_lock(self, document_number: str, purpose: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault((document_number, purpose), threading.Lock())

    def _account(self, document_number: str) -> AccountRecord:
        with self._lock:
            account = self._state.accounts.get(document_number)
        if account is None:
            raise InputError(f"no account {document_number} on this device")
        return account

    def _key(self, account: AccountRecord, purpose: str | None) -> KeyRecord:
        key = account.keys.get(purpose or "")
        if key is None or key.n is None or key.token is None:
            raise InputError(f"account {account.document_number} has no usable {purpose} key")
        return key

    def _transport_key(self) -> ec.EllipticCurvePublicKey:
        if self._state.transport_key is None:
            raise StateError("no pinned transport key: register first")
        return load_p256_public_key(self._state.transport_key)

    @property
    def device_id(self) -> str | None:
        """The id the service gave this device (None before the first registration)."""
        return self._state.device_id

    def local_accounts(self) -> list[AccountRecord]:
        """The accounts in the local state (the app's own view; see :meth:`accounts`)."""
        with self._lock:
            return list(self._state.accounts.values())

    # -- HTTP ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        device_id: str | None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"} | dict(extra_headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self._client.build_request(
            method,
            path,
            content=body,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        if device_id is not None:
            key = self._state.device_key
            if key is None:
                raise StateError("no device key: register first")
            request.headers.update(
                sign_request(
                    key,
                    method,
                    request.url.raw_path.decode("ascii"),
                    body or b"",
                    device_id=device_id,
                    timestamp=int(self._clock()),
                )
            )
        try:
            response = self._client.send(request)
        except httpx.RequestError as exc:
            raise NetworkError(f"cannot reach the service: {exc or type(exc).__name__}") from None
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
            raise ProtocolError(
                f"the service answered {response.status_code} without a JSON object"
            )
        return data

    def _send(
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
            return self._call(method, path, body, device_id=device_id, timeout=timeout)
        except NetworkError:
            if not retry:
                raise
        return self._call(method, path, body, device_id=device_id, timeout=timeout)

    def call(
        self, method: str, path: str, payload: Mapping[str, object] | None, *, bearer: str
    ) -> dict[str, Any]:
        """One call authenticated by a bearer secret (remote onboarding, docs/app-api.md §6)."""
        body = None if payload is None else _json(payload)
        return self._call(
            method, path, body, device_id=None, extra_headers={"Authorization": f"Bearer {bearer}"}
        )

    def device_public_key(self) -> bytes:
        """DER of this device's P-256 key, made (and saved) on first use."""
        with self._lock:
            if self._state.device_key is None:
                self._state.device_key = ec.generate_private_key(ec.SECP256R1())
                self._save()
            return public_key_der(self._state.device_key.public_key())

    def open_sealed(self, envelope: object, aad: bytes, length: int) -> bytes:
        """Decrypt a secret the service sealed to this device's key (a ticket code)."""
        key = self._state.device_key
        if key is None:
            raise StateError("no device key")
        try:
            return transport_open_secret(envelope, key, aad, length)
        except EngineError as exc:
            raise ProtocolError(f"the sealed secret does not open: {exc}") from None

    def _signed_device(self) -> str:
        device_id = self._state.device_id
        if device_id is None:
            raise StateError("this device is not registered yet")
        return device_id

    # -- key operations with a retransmit nonce ------------------------------------------

    def _apply(
        self, account: AccountRecord, key: KeyRecord, kind: str, answer: Mapping[str, Any]
    ) -> None:
        """Take the new token first (even if the rest of the answer is wrong), then the rest."""
        token = _token(answer)
        if token is not None:
            key.token = token
        status = _req_str(answer, "status")
        if status in {"REVOKED", "CLONE_DETECTED"}:
            key.state = "REVOKED"
            if status == "CLONE_DETECTED":
                account.state = "CLOSED"
        if kind == "csr" and status == "OK":
            assert key.n is not None  # noqa: S101 - set at §2.2
            certificate = _bytes(answer, "certificate")
            check_certificate(certificate, n=key.n)
            key.certificate = certificate
            key.state = "ACTIVE"
            summary = _obj(_get(answer, "account"), "account")
            account.state = _req_str(summary, "state")
        elif kind == "confirm" and status == "OK":
            key.state = "ACTIVE"

    def _deliver(self, account: AccountRecord, key: KeyRecord) -> dict[str, Any]:
        pending = key.pending
        assert pending is not None  # noqa: S101 - callers set it
        try:
            answer = self._send(
                "POST", pending.path, pending.body, device_id=account.device_id, retry=True
            )
        except ApiError:
            with self._lock:
                key.pending = None
                self._save()
            raise
        with self._lock:
            try:
                self._apply(account, key, pending.kind, answer)
            finally:
                key.pending = None
                self._save()
        return answer

    def _recover(self, account: AccountRecord, key: KeyRecord) -> None:
        """Fetch the answer of an earlier request that never got one (see the module doc)."""
        if key.pending is None:
            return
        try:
            self._deliver(account, key)
        except ApiError:
            pass  # the service no longer knows it: nothing was spent, or it is over

    def _key_call(
        self,
        account: AccountRecord,
        key: KeyRecord,
        kind: str,
        path: str,
        payload: Mapping[str, object],
    ) -> dict[str, Any]:
        with self._lock:
            key.pending = PendingRequest(kind=kind, path=path, body=_json(payload))
            self._save()
        return self._deliver(account, key)

    # -- registration (§2) ---------------------------------------------------------------

    def register(
        self,
        ticket: str,
        pin1: str,
        pin2: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> RegistrationResult:
        """Run §2.1-2.4: redeem the ticket, make both keys, sign both CSRs with the split
        protocol, store the certificates. PIN1 (AUTH) is 4-12 digits, PIN2 (SIGN) 5-12.
        """
        _check_pin(pin1, "AUTH")
        _check_pin(pin2, "SIGN")
        if not isinstance(ticket, str) or not 0 < len(ticket) <= 64:
            raise InputError("the ticket must be a short code")

        def say(message: str) -> None:
            if progress is not None:
                progress(message)

        base_url = str(self._client.base_url).rstrip("/")
        with self._lock:
            if self._state.base_url not in (None, base_url):
                raise StateError(
                    f"this state belongs to {self._state.base_url}; use another state file"
                )
            if self._state.device_key is None:
                self._state.device_key = ec.generate_private_key(ec.SECP256R1())
            device_public = public_key_der(self._state.device_key.public_key())

        # §2.1 — the ticket authenticates this one call.
        say("redeeming the ticket")
        started = self._send(
            "POST",
            f"{API}/registrations",
            _json(
                {
                    "ticket": ticket,
                    "device": {
                        "platform": self._platform,
                        "name": self._name,
                        "publicKey": b64(device_public),
                        "interactions": list(SUPPORTED_INTERACTIONS),
                    },
                }
            ),
            device_id=None,
        )
        registration_id = _uuid(_get(started, "registrationId"), "registrationId")
        device_id = _uuid(_get(started, "deviceId"), "deviceId")
        document_number = _document_number(_get(started, "documentNumber"))
        bits = _get(started, "keyBits")
        if type(bits) is not int or not self._min_key_bits <= bits <= MAX_BITS:
            raise ProtocolError(
                f"the service asks for {bits!r}-bit keys; this app accepts "
                f"{self._min_key_bits}-{MAX_BITS}"
            )
        transport = _bytes(started, "transportKey")
        try:
            load_p256_public_key(transport)
        except EngineError:
            raise ProtocolError("the transport key is not an EC P-256 key") from None
        person_raw = _obj(started.get("person") or {}, "person")
        person = {k: v for k, v in person_raw.items() if isinstance(v, str)}
        level = _str(started, "level", optional=True) or ""
        with self._lock:
            if self._state.transport_key not in (None, transport):
                raise ProtocolError("the service's transport key changed since it was pinned")
            existing = self._state.accounts.get(document_number)
            if existing is not None and existing.state == "ACTIVE":
                raise ProtocolError(f"the service reused the document number {document_number}")
            self._state.base_url = base_url
            self._state.device_id = device_id
            self._state.transport_key = transport
            self._save()

        # §2.2 — n1 of both keys (keys are made now: the service decides their size).
        blobs = {}
        d1pp = {}
        for purpose, pin in (("AUTH", pin1), ("SIGN", pin2)):
            blobs[purpose], d1pp[purpose] = client_keygen(
                pin,
                bits=bits,
                kdf=self._kdf,
                min_pin_length=PIN_MIN_LENGTH[purpose],
                progress=_prefixed(progress, f"{purpose} key ({bits} bits): "),
            )
        size = (bits + 7) // 8
        base = f"{API}/registrations/{registration_id}"
        say("sending the public moduli")
        keys_answer = _obj(
            _get(
                self._send(
                    "POST",
                    f"{base}/keys",
                    _json({"keys": {p: {"n1": b64(i2osp(b.n1, size))} for p, b in blobs.items()}}),
                    device_id=device_id,
                ),
                "keys",
            ),
            "keys",
        )
        records: dict[str, KeyRecord] = {}
        for purpose, blob in blobs.items():
            entry = _obj(_get(keys_answer, purpose), purpose)
            n_raw = _bytes(entry, "n")
            n = int.from_bytes(n_raw, "big")
            n2, rest = divmod(n, blob.n1)
            if (
                rest
                or n2.bit_length() != bits
                or n2 % 2 == 0
                or n.bit_length() not in composite_bit_lengths(bits)
                or len(n_raw) != (n.bit_length() + 7) // 8
            ):
                raise ProtocolError(f"the {purpose} composite modulus does not contain this n1")
            token = _token(entry)
            if token is None:
                raise ProtocolError(f"no token for the {purpose} key")
            records[purpose] = KeyRecord(purpose=purpose, blob=blob, n=n, token=token)
        account = AccountRecord(
            document_number=document_number,
            registration_id=registration_id,
            device_id=device_id,
            person=person,
            level=level,
            keys=records,
        )
        with self._lock:
            self._state.accounts[document_number] = account
            self._save()

        # §2.3 — d1″ goes to the service once and is dropped here.
        say("sending the server shares")
        shares_body = _json(
            {
                "keys": {
                    p: {"d1pp": b64(i2osp(d1pp[p], size)), "token": b64(records[p].token or b"")}
                    for p in PURPOSES
                }
            }
        )
        del d1pp
        shares = _obj(
            _get(self._send("POST", f"{base}/shares", shares_body, device_id=device_id), "keys"),
            "keys",
        )
        del shares_body
        csrs = {}
        with self._lock:
            for purpose, record in records.items():
                entry = _obj(_get(shares, purpose), purpose)
                token = _token(entry)
                if token is None:
                    raise ProtocolError(f"no new token for the {purpose} key")
                record.token = token
            self._save()
        for purpose, record in records.items():
            csr = _obj(_get(_obj(_get(shares, purpose), purpose), "csr"), "csr")
            tbs, digest = _bytes(csr, "tbs"), _bytes(csr, "hash")
            if _get(csr, "hashType") != "SHA256" or _get(csr, "padding") not in ("PKCS1v15", "PSS"):
                raise ProtocolError("the certificate request must be SHA256 with PKCS1v15 or PSS")
            assert record.n is not None  # noqa: S101 - set above
            check_csr(tbs, digest, n=record.n)
            csrs[purpose] = (
                digest,
                str(csr["padding"]),
                _bytes(csr, "salt") if csr.get("salt") else None,
            )

        # §2.4 — the first split signatures: they prove the PINs and the shares.
        transport_key = load_p256_public_key(transport)
        certificates = {}
        for purpose, pin in (("AUTH", pin1), ("SIGN", pin2)):
            record = records[purpose]
            digest, padding, salt = csrs[purpose]
            if padding == "PSS" and salt is None:
                raise ProtocolError("a PSS certificate request needs a salt")
            say(f"{purpose} key: signing the certificate request")
            with self._key_lock(document_number, purpose):
                assert record.n is not None and record.token is not None  # noqa: S101
                s1_prime = client_partial_for_digest(
                    record.blob,
                    pin,
                    n=record.n,
                    digest=digest,
                    hash_alg="SHA256",
                    padding=padding,
                    salt=salt,
                    min_pin_length=PIN_MIN_LENGTH[purpose],
                )
                envelope = transport_encrypt_share(
                    s1_prime, size, transport_key, registration_aad(registration_id, purpose)
                )
                del s1_prime
                answer = self._key_call(
                    account,
                    record,
                    "csr",
                    f"{base}/keys/{purpose}/csr-signature",
                    {
                        "s1p": envelope,
                        "token": b64(record.token),
                        "rnonce": b64(secrets.token_bytes(RNONCE_BYTES)),
                    },
                )
            result = _result(answer)
            if not result.ok:
                raise ProtocolError(
                    f"the {purpose} certificate request was answered {result.status}"
                )
            assert record.certificate is not None  # noqa: S101 - stored by _apply
            certificates[purpose] = record.certificate
        say("done")
        return RegistrationResult(
            document_number=document_number,
            state=account.state,
            level=level,
            person=person,
            certificates=certificates,
        )

    # -- transactions (§3) ---------------------------------------------------------------

    def pending(self, timeout_ms: int = 30_000) -> list[Transaction]:
        """Long-poll for transactions waiting for this device (§3.1)."""
        if type(timeout_ms) is not int or not 0 <= timeout_ms <= MAX_LONG_POLL_MS:
            raise InputError(f"timeout_ms must be 0-{MAX_LONG_POLL_MS}")
        answer = self._send(
            "GET",
            f"{API}/transactions/pending?timeoutMs={timeout_ms}",
            None,
            device_id=self._signed_device(),
            timeout=timeout_ms / 1000 + 15,
        )
        items = _get(answer, "transactions")
        if not isinstance(items, list) or len(items) > 100:
            raise ProtocolError("'transactions' must be a list")
        return [parse_transaction(item) for item in items]

    def transaction(self, transaction_id: str) -> Transaction:
        """The details of one transaction (§3.2)."""
        tx_id = self._tx_id(transaction_id)
        answer = self._send(
            "GET", f"{API}/transactions/{tx_id}", None, device_id=self._signed_device()
        )
        tx = parse_transaction(answer)
        if tx.id != tx_id:
            raise ProtocolError("the service answered with another transaction")
        return tx

    @staticmethod
    def _tx_id(value: object) -> str:
        try:
            return _uuid(value, "transaction id")
        except ProtocolError:
            raise InputError("a transaction id is a lower-case UUID") from None

    def _resolve(self, tx: Transaction | str) -> Transaction:
        return tx if isinstance(tx, Transaction) else self.transaction(tx)

    def approve(
        self,
        tx: Transaction | str,
        pin: str | None = None,
        *,
        vc: str | None = None,
        rnonce: bytes | None = None,
    ) -> ConfirmResult:
        """Confirm a transaction (§3.3): compute s1′ with the PIN, encrypt it to the
        transport key (AAD ``transaction:<id>``), send it with the token and a retransmit
        nonce, keep the new token.

        The first supported interaction is used. For a verification-code choice, ``vc`` is
        the code the user picked; when None, the code computed here from the hash is sent.
        ``vc`` is ignored for the other interactions (the user compares the code by eye).
        ``rnonce`` (16 bytes) is drawn when not given. A certificate choice needs no PIN.
        """
        tx = self._resolve(tx)
        path = f"{API}/transactions/{tx.id}/confirm"
        if tx.kind == CERTIFICATE_CHOICE:
            answer = self._send(
                "POST",
                path,
                _json({"interaction": "certificateChoice"}),
                device_id=self._signed_device(),
            )
            return _result(answer)
        if tx.state != "PENDING":
            raise InputError(f"transaction {tx.id} is {tx.state}, not PENDING")
        interaction = tx.interaction
        if interaction is None:
            raise ProtocolError("the transaction offers no interaction this app supports")
        account = self._account(tx.document_number)
        assert tx.purpose is not None  # noqa: S101 - parse_transaction requires it
        key = self._key(account, tx.purpose)
        pin = _check_pin(pin, tx.purpose)
        if tx.n != key.n:
            raise ProtocolError("the transaction is for another key than the one stored")
        payload: dict[str, object] = {"interaction": interaction.type}
        if interaction.type in VC_CHOICE_INTERACTIONS:
            correct = tx.verification_code
            if tx.vc_choices is None or correct not in tx.vc_choices:
                raise ProtocolError("the offered codes do not include this transaction's code")
            chosen = correct if vc is None else vc
            if not isinstance(chosen, str) or len(chosen) != 4 or not chosen.isdigit():
                raise InputError("a verification code is 4 digits")
            payload["vc"] = chosen
        if rnonce is None:
            rnonce = secrets.token_bytes(RNONCE_BYTES)
        if not isinstance(rnonce, bytes) or len(rnonce) != RNONCE_BYTES:
            raise InputError("rnonce must be 16 bytes")
        assert tx.hash is not None and tx.hash_type is not None and tx.padding is not None  # noqa: S101
        transport_key = self._transport_key()
        with self._key_lock(account.document_number, tx.purpose):
            self._recover(account, key)
            assert key.n is not None and key.token is not None  # noqa: S101 - _key checked
            try:
                s1_prime = client_partial_for_digest(
                    key.blob,
                    pin,
                    n=key.n,
                    digest=tx.hash,
                    hash_alg=tx.hash_type,
                    padding=tx.padding,
                    salt=tx.salt if tx.padding == "PSS" else None,
                    min_pin_length=PIN_MIN_LENGTH[tx.purpose],
                )
            except EngineError as exc:
                raise ProtocolError(f"cannot sign this transaction: {exc}") from None
            payload["s1p"] = transport_encrypt_share(
                s1_prime, (key.blob.bits + 7) // 8, transport_key, transaction_aad(tx.id)
            )
            del s1_prime
            payload["token"] = b64(key.token)
            payload["rnonce"] = b64(rnonce)
            answer = self._key_call(account, key, "confirm", path, payload)
        return _result(answer)

    def refuse(self, tx: Transaction | str, *, general: bool = False) -> str:
        """Refuse a transaction (§3.4); returns the service's status (``REFUSED``).

        The refusal names the screen it happened on, unless ``general`` (a plain
        cancel, which the relying party sees as USER_REFUSED).
        """
        tx = self._resolve(tx)
        if general:
            answer = self._send(
                "POST",
                f"{API}/transactions/{tx.id}/refuse",
                _json({}),
                device_id=self._signed_device(),
            )
            return _req_str(answer, "status")
        if tx.kind == CERTIFICATE_CHOICE:
            interaction = "certificateChoice"
        else:
            chosen = tx.interaction
            if chosen is None:
                raise ProtocolError("the transaction offers no interaction this app supports")
            interaction = chosen.type
        answer = self._send(
            "POST",
            f"{API}/transactions/{tx.id}/refuse",
            _json({"interaction": interaction}),
            device_id=self._signed_device(),
        )
        return _req_str(answer, "status")

    # -- keys and accounts (§4) ----------------------------------------------------------

    def refresh(self, document_number: str, purpose: str) -> str:
        """Rotate a key's one-time token without signing (§4); returns ``OK`` or
        ``TOKEN_MISMATCH`` (the key is then suspect at the service).
        """
        if purpose not in PURPOSES:
            raise InputError("purpose must be AUTH or SIGN")
        account = self._account(document_number)
        key = self._key(account, purpose)
        with self._key_lock(document_number, purpose):
            self._recover(account, key)
            assert key.token is not None  # noqa: S101 - _key checked
            answer = self._key_call(
                account,
                key,
                "refresh",
                f"{API}/keys/{document_number}/{purpose}/refresh",
                {"token": b64(key.token), "rnonce": b64(secrets.token_bytes(RNONCE_BYTES))},
            )
        return _req_str(answer, "status")

    def accounts(self) -> list[AccountStatus]:
        """This device's accounts and key states as the service sees them (§4)."""
        answer = self._send("GET", f"{API}/accounts", None, device_id=self._signed_device())
        items = _get(answer, "accounts")
        if not isinstance(items, list):
            raise ProtocolError("'accounts' must be a list")
        result = []
        for item in items:
            entry = _obj(item, "account")
            keys = {}
            for purpose, value in _obj(entry.get("keys") or {}, "keys").items():
                key = _obj(value, purpose)
                keys[str(purpose)] = KeyStatus(
                    state=_req_str(key, "state"),
                    tries_left=_opt_int(key, "triesLeft"),
                    locked_until=_str(key, "lockedUntil", optional=True),
                )
            result.append(
                AccountStatus(
                    document_number=_req_str(entry, "documentNumber"),
                    state=_req_str(entry, "state"),
                    level=_str(entry, "level", optional=True) or "",
                    keys=keys,
                )
            )
        return result
