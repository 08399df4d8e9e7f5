"""What the app keeps, and where: the device state and its two stores.

The state holds only what the real app may keep (docs/spec/splitkey.md §8 ClientKeyGen step 6,
invariant 6):

* per account and purpose (AUTH = PIN1, SIGN = PIN2): the :class:`ClientKeyBlob`
  (n1, e, the KDF parameters, salt, iv and C = Enc_{K(PIN)}(d1′), no MAC), the composite
  modulus n, the current one-time clone-detection token, the certificate, and — only while
  an answer is outstanding — the exact request that is waiting for it (so a lost answer
  can be fetched again with the same retransmit nonce instead of looking like a clone);
* per account, while a re-key (docs/app-api.md §8) waits for the service's swap: the
  renewal id and the new keys, held exactly like the current ones (the blob under the new
  PIN, n, token) — and, until its answer has come, the exact §8.3 request (s1′ encrypted to
  the transport key, tokens, retransmit nonces) — beside the current keys, which stay until
  the service confirms the swap (:class:`PendingRenewal`, :mod:`device.renewal`);
* the device key (EC P-256, signs every request) and the device id; during a rotation
  (docs/app-api.md §9.1) also the new key, as ``pendingDeviceKey``, from before the request
  that registers it until every device id of this state has it, so a crash or a lost
  answer never leaves the app without the key the service knows;
* the server's transport key, pinned at the first registration, and the base URL.

Never d1″, p1, q1, d1, λ(n1) or s1″: there is no field for them, and :func:`state_from_dict`
refuses unknown fields.

:class:`MemoryStore` keeps the JSON text in memory (tests, load generators running many
virtual devices in one process). :class:`FileStore` keeps it in a file created with mode
0600, refuses to load a file that group or others can read or write, and replaces it
atomically (temporary file in the same folder, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from device.errors import StateError
from signing.engine import (
    ClientKeyBlob,
    EngineError,
    InvalidBase64,
    b64decode_strict,
    load_p256_public_key,
)

STATE_VERSION = 1
#: A state file larger than this is refused unread (a real one is a few KiB per account).
MAX_STATE_BYTES = 1 << 20
PURPOSES = ("AUTH", "SIGN")


def b64(data: bytes) -> str:
    """Standard Base64 with padding (the App API's encoding)."""
    return base64.b64encode(data).decode("ascii")


def unb64(value: object, name: str) -> bytes:
    """Strict Base64 decoding; :class:`StateError` names the field on failure."""
    if not isinstance(value, str):
        raise StateError(f"{name} must be a Base64 string")
    try:
        return b64decode_strict(value, what=name)
    except InvalidBase64 as exc:
        raise StateError(str(exc)) from None


@dataclass
class PendingRequest:
    """A key operation sent but not answered (network error): its path and exact body.

    The body carries the retransmit nonce, the one-time token and s1′ encrypted to the
    transport key (only the service can read it), so keeping it reveals nothing new.
    """

    kind: str  # "csr" | "confirm" | "refresh"
    path: str
    body: bytes


@dataclass
class KeyRecord:
    """One split key (AUTH or SIGN) as the app holds it."""

    purpose: str
    blob: ClientKeyBlob
    n: int | None = None
    token: bytes | None = None
    certificate: bytes | None = None
    state: str = "REGISTERING"
    pending: PendingRequest | None = None


@dataclass
class PendingRenewal:
    """A re-key whose certificate requests were signed (§8.3 sent) but whose swap the app
    has not seen yet: the new keys wait here, the account's current keys stay in use.

    ``request`` is the §8.3 body while its answer is outstanding (sent again identically:
    the service answers a repeat with the same new tokens), then None.
    """

    renewal_id: str
    keys: dict[str, KeyRecord]
    request: bytes | None = None


@dataclass
class AccountRecord:
    """One account registered from this device."""

    document_number: str
    registration_id: str
    device_id: str
    person: dict[str, str] = field(default_factory=dict)
    level: str = ""
    state: str = "REGISTERING"
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    #: A re-key waiting for the service's swap (None almost always).
    renewal: PendingRenewal | None = None


@dataclass
class DeviceState:
    """Everything the app keeps (see the module docstring)."""

    base_url: str | None = None
    device_key: ec.EllipticCurvePrivateKey | None = None
    device_id: str | None = None
    transport_key: bytes | None = None
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    pending_device_key: ec.EllipticCurvePrivateKey | None = None


# --- serialisation -------------------------------------------------------------------


def _key_to_dict(key: KeyRecord) -> dict[str, object]:
    return {
        "purpose": key.purpose,
        "blob": key.blob.to_dict(),
        "n": None if key.n is None else format(key.n, "x"),
        "token": None if key.token is None else b64(key.token),
        "certificate": None if key.certificate is None else b64(key.certificate),
        "state": key.state,
        "pending": None
        if key.pending is None
        else {"kind": key.pending.kind, "path": key.pending.path, "body": b64(key.pending.body)},
    }


def _pkcs8_b64(key: ec.EllipticCurvePrivateKey) -> str:
    return b64(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _load_device_key(value: object, name: str) -> ec.EllipticCurvePrivateKey:
    try:
        loaded = serialization.load_der_private_key(unb64(value, name), None)
    except (ValueError, TypeError):
        raise StateError(f"the {name} does not load") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
        loaded.curve, ec.SECP256R1
    ):
        raise StateError(f"the {name} must be an EC P-256 key")
    return loaded


def state_to_dict(state: DeviceState) -> dict[str, object]:
    """The JSON-ready form of the state (integers as hex, bytes as Base64)."""
    device_key = None if state.device_key is None else _pkcs8_b64(state.device_key)
    extra: dict[str, object] = {}
    if state.pending_device_key is not None:  # only during a rotation: older apps read the rest
        extra["pendingDeviceKey"] = _pkcs8_b64(state.pending_device_key)
    return extra | {
        "version": STATE_VERSION,
        "baseUrl": state.base_url,
        "device": {"id": state.device_id, "key": device_key},
        "transportKey": None if state.transport_key is None else b64(state.transport_key),
        "accounts": {
            number: {
                "documentNumber": account.document_number,
                "registrationId": account.registration_id,
                "deviceId": account.device_id,
                "person": account.person,
                "level": account.level,
                "state": account.state,
                "keys": {p: _key_to_dict(k) for p, k in account.keys.items()},
                **_renewal_to_dict(account.renewal),
            }
            for number, account in state.accounts.items()
        },
    }


def _renewal_to_dict(renewal: PendingRenewal | None) -> dict[str, object]:
    """The ``pendingRenewal`` field of an account, absent when there is none (so a state
    without one reads the same as before the field existed)."""
    if renewal is None:
        return {}
    return {
        "pendingRenewal": {
            "renewalId": renewal.renewal_id,
            "keys": {p: _key_to_dict(k) for p, k in renewal.keys.items()},
            "request": None if renewal.request is None else b64(renewal.request),
        }
    }


def _obj(value: object, name: str, keys: set[str]) -> Mapping[str, object]:
    if not isinstance(value, dict) or set(value) != keys:
        raise StateError(f"{name} must be an object with the fields {', '.join(sorted(keys))}")
    return value


def _text(value: object, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise StateError(f"{name} must be a string")
    return value


def _req_text(value: object, name: str) -> str:
    text = _text(value, name)
    assert text is not None  # noqa: S101 - _text without optional never returns None
    return text


def _opt_bytes(value: object, name: str) -> bytes | None:
    return None if value is None else unb64(value, name)


def _key_from_dict(value: object, purpose: str) -> KeyRecord:
    fields = {"purpose", "blob", "n", "token", "certificate", "state", "pending"}
    data = _obj(value, f"key {purpose}", fields)
    if data["purpose"] != purpose:
        raise StateError(f"key {purpose} is filed under the wrong purpose")
    blob_data = data["blob"]
    if not isinstance(blob_data, dict):
        raise StateError(f"key {purpose}: blob must be an object")
    try:
        blob = ClientKeyBlob.from_dict(blob_data)
    except EngineError as exc:
        raise StateError(f"key {purpose}: {exc}") from None
    n_hex = _text(data["n"], "n", optional=True)
    if n_hex is not None and (not n_hex or any(c not in "0123456789abcdef" for c in n_hex)):
        raise StateError(f"key {purpose}: n must be lower-case hex")
    pending = None
    if data["pending"] is not None:
        p = _obj(data["pending"], "pending", {"kind", "path", "body"})
        pending = PendingRequest(
            kind=_req_text(p["kind"], "pending.kind"),
            path=_req_text(p["path"], "pending.path"),
            body=unb64(p["body"], "pending.body"),
        )
    return KeyRecord(
        purpose=purpose,
        blob=blob,
        n=None if n_hex is None else int(n_hex, 16),
        token=_opt_bytes(data["token"], "token"),
        certificate=_opt_bytes(data["certificate"], "certificate"),
        state=_req_text(data["state"], "key state"),
        pending=pending,
    )


def _renewal_from_dict(value: object) -> PendingRenewal:
    data = _obj(value, "pendingRenewal", {"renewalId", "keys", "request"})
    keys = data["keys"]
    if not isinstance(keys, dict) or set(keys) != set(PURPOSES):
        raise StateError("pendingRenewal.keys must be an object with AUTH and SIGN")
    renewal = PendingRenewal(
        renewal_id=_req_text(data["renewalId"], "pendingRenewal.renewalId"),
        keys={p: _key_from_dict(k, p) for p, k in keys.items()},
        request=_opt_bytes(data["request"], "pendingRenewal.request"),
    )
    if any(k.n is None or k.token is None for k in renewal.keys.values()):
        raise StateError("a pending renewal's keys need n and a token")
    return renewal


def _account_from_dict(number: str, value: object) -> AccountRecord:
    fields = {"documentNumber", "registrationId", "deviceId", "person", "level", "state", "keys"}
    if isinstance(value, dict) and "pendingRenewal" in value:
        fields.add("pendingRenewal")
    data = _obj(value, f"account {number}", fields)
    if data["documentNumber"] != number:
        raise StateError(f"account {number} is filed under the wrong number")
    person = data["person"]
    if not isinstance(person, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in person.items()
    ):
        raise StateError("person must map strings to strings")
    keys = data["keys"]
    if not isinstance(keys, dict) or not set(keys) <= set(PURPOSES):
        raise StateError("keys must be an object with AUTH and/or SIGN")
    return AccountRecord(
        document_number=number,
        registration_id=_req_text(data["registrationId"], "registrationId"),
        device_id=_req_text(data["deviceId"], "deviceId"),
        person=dict(person),
        level=_req_text(data["level"], "level"),
        state=_req_text(data["state"], "account state"),
        keys={p: _key_from_dict(k, p) for p, k in keys.items()},
        renewal=None
        if data.get("pendingRenewal") is None
        else _renewal_from_dict(data["pendingRenewal"]),
    )


def state_from_dict(data: object) -> DeviceState:
    """Inverse of :func:`state_to_dict`; refuses unknown or missing fields (StateError)."""
    fields = {"version", "baseUrl", "device", "transportKey", "accounts"}
    if isinstance(data, dict) and "pendingDeviceKey" in data:
        fields.add("pendingDeviceKey")
    top = _obj(data, "state", fields)
    if top["version"] != STATE_VERSION:
        raise StateError(f"unsupported state version {top['version']!r}")
    device = _obj(top["device"], "device", {"id", "key"})
    device_key = None
    if device["key"] is not None:
        device_key = _load_device_key(device["key"], "device key")
    pending_key = None
    if top.get("pendingDeviceKey") is not None:
        pending_key = _load_device_key(top["pendingDeviceKey"], "pending device key")
    transport = _opt_bytes(top["transportKey"], "transportKey")
    if transport is not None:
        try:
            load_p256_public_key(transport)
        except EngineError:
            raise StateError("the pinned transport key is not an EC P-256 key") from None
    accounts = top["accounts"]
    if not isinstance(accounts, dict):
        raise StateError("accounts must be an object")
    return DeviceState(
        base_url=_text(top["baseUrl"], "baseUrl", optional=True),
        device_key=device_key,
        device_id=_text(device["id"], "device id", optional=True),
        transport_key=transport,
        accounts={number: _account_from_dict(number, a) for number, a in accounts.items()},
        pending_device_key=pending_key,
    )


def dumps(state: DeviceState) -> bytes:
    """Canonical JSON of the state (sorted keys, indented for people who look)."""
    return json.dumps(state_to_dict(state), indent=1, sort_keys=True).encode() + b"\n"


def loads(raw: bytes) -> DeviceState:
    """Parse and validate a state document (StateError on anything malformed)."""
    if len(raw) > MAX_STATE_BYTES:
        raise StateError("state file too large")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StateError("state file is not valid UTF-8 JSON") from None
    return state_from_dict(data)


# --- stores --------------------------------------------------------------------------


class StateStore(Protocol):
    """Where a :class:`~device.app.DeviceApp` loads and saves its state."""

    def load(self) -> DeviceState: ...

    def save(self, state: DeviceState) -> None: ...


class MemoryStore:
    """State kept as JSON text in memory (round-trips exactly like the file)."""

    def __init__(self) -> None:
        self._raw: bytes | None = None
        self._lock = threading.Lock()

    def load(self) -> DeviceState:
        with self._lock:
            return DeviceState() if self._raw is None else loads(self._raw)

    def save(self, state: DeviceState) -> None:
        raw = dumps(state)
        with self._lock:
            self._raw = raw

    @property
    def raw(self) -> bytes | None:
        """The saved JSON (tests inspect it)."""
        return self._raw


class FileStore:
    """State in a JSON file: mode 0600, refused if group/others may access it, atomic writes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> DeviceState:
        """The stored state, or an empty one when the file does not exist yet."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return DeviceState()
        except OSError as exc:
            raise StateError(f"cannot open the state file {self.path}: {exc.strerror}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise StateError(f"the state file {self.path} is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            if info.st_uid != os.getuid():
                raise StateError(f"the state file {self.path} belongs to another user")
            mode = stat.S_IMODE(info.st_mode)
            if mode & 0o077:
                raise StateError(
                    f"the state file {self.path} is accessible by group or others "
                    f"(mode {mode:04o}); it holds your key shares: run 'chmod 600 {self.path}'"
                )
            raw = handle.read(MAX_STATE_BYTES + 1)
        try:
            return loads(raw)
        except StateError as exc:
            raise StateError(f"the state file {self.path} is damaged: {exc}") from None

    def save(self, state: DeviceState) -> None:
        """Write a temporary file (0600) next to the target, fsync it, rename it over the
        target, fsync the folder: a crash leaves either the old or the new state, whole.
        """
        raw = dumps(state)
        folder = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock (``<file>.lock``) so two processes never both update
        tokens: the loser of such a race would hold a stale token, which the service
        treats as a clone.
        """
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
