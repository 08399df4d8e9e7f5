"""Key storage of the CA keys and of the split-key server's key halves.

One narrow interface, :class:`KeyStore`, with two backends:

* :class:`FileKeyStore` — the embedded default: a 256-bit key-encryption key
  (KEK) in a local file, EC keys as wrapped PKCS#8 files next to it. Refused in
  live mode by ``smartid/checks.py``.
* :class:`Pkcs11KeyStore` — production: EC keys and the KEK are generated inside
  a PKCS#11 token (an HSM; SoftHSM2 in tests) and never leave it.

``get_keystore()`` builds the configured backend once per process; tests build
a backend with explicit arguments instead. Every failure out of a public entry
point is a :class:`KeyStoreError`; see ``docs/keystore.md`` for the threat model
and the byte layout of wrapped blobs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import secrets
import stat
import struct
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pkcs11
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.types import DecryptMixin, EncryptMixin, SignMixin
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

logger = logging.getLogger(__name__)

#: Labels: lower-case ASCII letters, digits, ``-`` and ``_``; no dots or slashes, so
#: a label is always a safe file name, and case-insensitive file systems cannot
#: merge two labels.
LABEL_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)
LABEL_MAX = 64
#: Largest secret that wrap() accepts (a split-key server half is a few KB).
MAX_PLAINTEXT = 64 * 1024
#: Largest associated context (e.g. ``b"splitkey:<key-id>"``).
MAX_CONTEXT = 256

# Wrapped blob: version ‖ algorithm ‖ KEK id (8) ‖ nonce (12) ‖ ciphertext ‖ tag (16).
# The AAD of AES-GCM is version ‖ algorithm ‖ KEK id ‖ context.
BLOB_VERSION = 1
ALG_AES256GCM_FILE = 1
ALG_AES256GCM_PKCS11 = 2
_HEADER = struct.Struct(">BB8s12s")
_AAD_PREFIX_LEN = 10
_NONCE_LEN = 12
_TAG_LEN = 16
_KEK_LEN = 32

#: Label of the token's KEK objects; outside the label charset, so no EC key can take it.
PKCS11_KEK_LABEL = "smartid.kek"
_CURVE = ec.SECP384R1()
_EC_SIG_HALF = 48  # bytes of r and of s for P-384
_EC_KEY_CONTEXT = b"eckey:"


# --- Errors ---------------------------------------------------------------------


class KeyStoreError(Exception):
    """Base of every error out of this module's public entry points."""


class KeyStoreInputError(KeyStoreError):
    """An argument is of the wrong type, empty or too large."""


class InvalidLabel(KeyStoreInputError):
    """A key label is outside the allowed charset or length."""


class KeyNotFound(KeyStoreError):
    """No key has this label."""


class KeyExists(KeyStoreError):
    """A key with this label already exists."""


class UnwrapError(KeyStoreError):
    """A wrapped blob is malformed, tampered with, of another context or another KEK."""


class KeyStoreUnavailable(KeyStoreError):
    """The store cannot be used: KEK file unsafe or unreadable, token or PIN wrong."""


# --- Interface ------------------------------------------------------------------


class KeyStore(Protocol):
    """Where private keys live; a private key never leaves the store in clear."""

    def generate_ec_key(self, label: str) -> ec.EllipticCurvePublicKey:
        """Make a new P-384 key pair under ``label``; :class:`KeyExists` if taken."""
        ...

    def public_key(self, label: str) -> ec.EllipticCurvePublicKey: ...

    def has_key(self, label: str) -> bool: ...

    def sign(self, label: str, data: bytes) -> bytes:
        """ECDSA with SHA-384 over ``data``; the DER ``ECDSA-Sig-Value``."""
        ...

    def delete_key(self, label: str) -> None: ...

    def wrap(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Encrypt and authenticate a secret under the KEK, bound to ``context``."""
        ...

    def unwrap(self, blob: bytes, *, context: bytes) -> bytes:
        """Reverse of :meth:`wrap`; :class:`UnwrapError` on any mismatch."""
        ...


# --- Shared helpers -------------------------------------------------------------


def validate_label(label: object) -> str:
    if not isinstance(label, str):
        raise InvalidLabel("A key label must be a string.")
    if not LABEL_PATTERN.fullmatch(label):
        raise InvalidLabel(
            f"Invalid key label {label[:LABEL_MAX]!r}: 1-{LABEL_MAX} characters of a-z, 0-9, "
            "'-' and '_', starting with a letter or digit."
        )
    return label


def _as_bytes(value: object, what: str) -> bytes:
    # memoryview: PostgreSQL returns binary columns as memoryview.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise KeyStoreInputError(f"{what} must be bytes, not {type(value).__name__}.")


def _wrap_inputs(
    plaintext: object, context: object, *, internal: bool = False
) -> tuple[bytes, bytes]:
    data = _as_bytes(plaintext, "plaintext")
    if not data:
        raise KeyStoreInputError("Nothing to wrap: the plaintext is empty.")
    if len(data) > MAX_PLAINTEXT:
        raise KeyStoreInputError(f"The plaintext is larger than {MAX_PLAINTEXT} bytes.")
    return data, _context(context, internal=internal)


def _context(context: object, *, internal: bool = False) -> bytes:
    ctx = _as_bytes(context, "context")
    if not ctx or len(ctx) > MAX_CONTEXT:
        raise KeyStoreInputError(f"The context must be 1-{MAX_CONTEXT} bytes.")
    if not internal and ctx.startswith(_EC_KEY_CONTEXT):
        # Reserved for the file store's key files: no caller can make a blob that
        # opens as a CA key, nor open a key file through unwrap().
        raise KeyStoreInputError("Contexts starting with b'eckey:' are reserved.")
    return ctx


def _parse_blob(
    blob: object, context: object, algorithm: int, *, internal: bool = False
) -> tuple[bytes, bytes, bytes, bytes]:
    """Check the header; return (KEK id, nonce, ciphertext ‖ tag, AAD)."""
    data = _as_bytes(blob, "blob")
    ctx = _context(context, internal=internal)
    if not _HEADER.size + _TAG_LEN <= len(data) <= _HEADER.size + MAX_PLAINTEXT + _TAG_LEN:
        raise UnwrapError("The wrapped blob is truncated or too long.")
    version, alg, kek_id, nonce = _HEADER.unpack_from(data)
    if version != BLOB_VERSION:
        raise UnwrapError(f"Unknown wrapped-blob version {version}.")
    if alg != algorithm:
        raise UnwrapError(f"The blob's algorithm {alg} is not this key store's ({algorithm}).")
    return kek_id, nonce, data[_HEADER.size :], data[:_AAD_PREFIX_LEN] + ctx


def _blob_header(algorithm: int, kek_id: bytes, nonce: bytes) -> bytes:
    return _HEADER.pack(BLOB_VERSION, algorithm, kek_id, nonce)


def _ec_key_context(label: str) -> bytes:
    return _EC_KEY_CONTEXT + label.encode("ascii")


def _check_p384(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _CURVE.name:
        raise KeyStoreError("The stored key is not an EC P-384 key.")
    return key


# --- File backend ---------------------------------------------------------------


def _write_new_file(path: Path, content: bytes) -> None:
    """Create ``path`` with ``content`` and mode 0600, atomically; FileExistsError if taken.

    Written to a temporary file, then hard-linked into place: a reader never sees a
    partial file and two racing writers cannot both win.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class FileKeyStore:
    """KEK in a local file; EC private keys as wrapped PKCS#8 files in ``keys_dir``.

    Protects the wrapped secrets in the database (a dump or backup without the data
    folder reveals nothing); it does not protect against anyone who can read the data
    folder, which holds the KEK. The embedded default only.
    """

    algorithm = ALG_AES256GCM_FILE

    def __init__(self, *, kek_file: Path, keys_dir: Path | None = None) -> None:
        self.kek_file = Path(kek_file)
        self.keys_dir = Path(keys_dir) if keys_dir is not None else self.kek_file.parent / "keys"
        self._lock = threading.Lock()
        self._aead: AESGCM | None = None
        self._kek_id = b""

    # KEK

    def _cipher(self) -> tuple[AESGCM, bytes]:
        with self._lock:
            if self._aead is None:
                kek = self._load_or_create_kek()
                self._aead = AESGCM(kek)
                self._kek_id = hashlib.sha256(b"smartid-kek-id\x00" + kek).digest()[:8]
            return self._aead, self._kek_id

    def _load_or_create_kek(self) -> bytes:
        try:
            return self._read_kek()
        except FileNotFoundError:
            pass
        if self.keys_dir.is_dir() and any(self.keys_dir.glob("*.key")):
            # A new KEK could not open them; the old one was lost or moved.
            raise KeyStoreUnavailable(
                f"The KEK file {self.kek_file} is missing but {self.keys_dir} holds wrapped "
                "keys; restore the KEK file instead of creating a new one."
            )
        try:
            self.kek_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_new_file(self.kek_file, secrets.token_bytes(_KEK_LEN))
            logger.info("Created a new key-encryption key file %s", self.kek_file)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError as exc:
            raise KeyStoreUnavailable(f"Cannot create the KEK file {self.kek_file}: {exc}") from exc
        try:
            return self._read_kek()
        except FileNotFoundError as exc:
            raise KeyStoreUnavailable(f"The KEK file {self.kek_file} vanished.") from exc

    def _read_kek(self) -> bytes:
        try:
            with open(self.kek_file, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise KeyStoreUnavailable(f"The KEK file {self.kek_file} is not a file.")
                if info.st_mode & 0o077:
                    # Like ssh with private keys: refuse rather than warn, so a
                    # careless copy or umask is noticed before it matters.
                    raise KeyStoreUnavailable(
                        f"The KEK file {self.kek_file} is readable by group or others "
                        f"(mode {stat.S_IMODE(info.st_mode):04o}); run chmod 600 on it."
                    )
                kek = handle.read(_KEK_LEN + 1)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise KeyStoreUnavailable(f"Cannot read the KEK file {self.kek_file}: {exc}") from exc
        if len(kek) != _KEK_LEN:
            raise KeyStoreUnavailable(f"The KEK file {self.kek_file} is not {_KEK_LEN} bytes.")
        return kek

    # Wrapping

    def wrap(self, plaintext: bytes, *, context: bytes) -> bytes:
        return self._seal(*_wrap_inputs(plaintext, context))

    def unwrap(self, blob: bytes, *, context: bytes) -> bytes:
        return self._open(blob, context)

    def _seal(self, data: bytes, ctx: bytes) -> bytes:
        aead, kek_id = self._cipher()
        nonce = secrets.token_bytes(_NONCE_LEN)
        header = _blob_header(self.algorithm, kek_id, nonce)
        return header + aead.encrypt(nonce, data, header[:_AAD_PREFIX_LEN] + ctx)

    def _open(self, blob: object, context: object, *, internal: bool = False) -> bytes:
        parsed = _parse_blob(blob, context, self.algorithm, internal=internal)
        blob_kek_id, nonce, sealed, aad = parsed
        aead, kek_id = self._cipher()
        if blob_kek_id != kek_id:
            raise UnwrapError("The blob was wrapped under another key-encryption key.")
        try:
            return aead.decrypt(nonce, sealed, aad)
        except InvalidTag as exc:
            raise UnwrapError("The blob fails authentication (tampered or other context).") from exc

    # EC keys

    def _key_path(self, label: str) -> Path:
        return self.keys_dir / f"{validate_label(label)}.key"

    def _load_private_key(self, label: str) -> ec.EllipticCurvePrivateKey:
        path = self._key_path(label)
        try:
            blob = path.read_bytes()
        except FileNotFoundError as exc:
            raise KeyNotFound(f"No key labelled {label!r}.") from exc
        except OSError as exc:
            raise KeyStoreUnavailable(f"Cannot read {path}: {exc}") from exc
        try:
            der = self._open(blob, _ec_key_context(label), internal=True)
        except UnwrapError as exc:
            raise KeyStoreError(f"The key file {path} cannot be unwrapped: {exc}") from exc
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(f"The key file {path} holds no readable key.") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError(f"The key file {path} does not hold an EC key.")
        return key

    def generate_ec_key(self, label: str) -> ec.EllipticCurvePublicKey:
        path = self._key_path(label)
        key = ec.generate_private_key(_CURVE)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        blob = self._seal(*_wrap_inputs(der, _ec_key_context(label), internal=True))
        try:
            self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_new_file(path, blob)
        except FileExistsError as exc:
            raise KeyExists(f"A key labelled {label!r} already exists.") from exc
        except OSError as exc:
            raise KeyStoreUnavailable(f"Cannot write {path}: {exc}") from exc
        return key.public_key()

    def public_key(self, label: str) -> ec.EllipticCurvePublicKey:
        return _check_p384(self._load_private_key(label).public_key())

    def has_key(self, label: str) -> bool:
        path = self._key_path(label)
        try:
            return path.is_file()
        except OSError as exc:
            raise KeyStoreUnavailable(f"Cannot look for {path}: {exc}") from exc

    def sign(self, label: str, data: bytes) -> bytes:
        message = _as_bytes(data, "data")
        return self._load_private_key(label).sign(message, ec.ECDSA(hashes.SHA384()))

    def delete_key(self, label: str) -> None:
        path = self._key_path(label)
        try:
            path.unlink()
        except FileNotFoundError as exc:
            raise KeyNotFound(f"No key labelled {label!r}.") from exc
        except OSError as exc:
            raise KeyStoreUnavailable(f"Cannot delete {path}: {exc}") from exc


# --- PKCS#11 backend ------------------------------------------------------------

# python-pkcs11 calls C_Initialize(NULL), which tells the module that the process
# will never call it from two threads at once (PKCS#11 v2.40 §5.4). One lock for
# every call into any module keeps that promise; the web server's sync threads
# queue here. Sessions are shared per (module, token) because the login of a
# PKCS#11 application is per token, not per session.
_PKCS11_LOCK = threading.RLock()
_PKCS11_SESSIONS: dict[tuple[str, str], pkcs11.Session] = {}
_PKCS11_PID = os.getpid()

# Errors after which the session is dropped and reopened by the next call.
_SESSION_ERRORS: tuple[type[pkcs11.PKCS11Error], ...] = (
    pkcs11.exceptions.SessionClosed,
    pkcs11.exceptions.SessionHandleInvalid,
    pkcs11.exceptions.DeviceRemoved,
    pkcs11.exceptions.DeviceError,
    pkcs11.exceptions.TokenNotPresent,
    pkcs11.exceptions.UserNotLoggedIn,
)
_PIN_ERRORS: tuple[type[pkcs11.PKCS11Error], ...] = (
    pkcs11.exceptions.PinIncorrect,
    pkcs11.exceptions.PinInvalid,
    pkcs11.exceptions.PinLenRange,
    pkcs11.exceptions.PinLocked,
    pkcs11.exceptions.PinExpired,
    pkcs11.exceptions.UserPinNotInitialized,
)

#: Attributes of the token's EC private keys: never readable, never exportable.
EC_PRIVATE_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DERIVE: False,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
}
_KEK_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ENCRYPT: True,
    Attribute.DECRYPT: True,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.SIGN: False,
    Attribute.VERIFY: False,
}


def pkcs11_reset(module: str) -> None:
    """Close this process's sessions on ``module`` and finalise it.

    The next use initialises the module again, which re-reads its configuration
    (e.g. ``SOFTHSM2_CONF``). For tests and orderly shutdown.
    """
    with _PKCS11_LOCK:
        for key in [k for k in _PKCS11_SESSIONS if k[0] == module]:
            session = _PKCS11_SESSIONS.pop(key)
            with contextlib.suppress(pkcs11.PKCS11Error):
                session.close()
        try:
            library = pkcs11.lib(module)
            library.finalize()
        except pkcs11.PKCS11Error as exc:
            logger.warning("Finalising PKCS#11 module %s failed: %s", module, exc)


class Pkcs11KeyStore:
    """EC keys and the KEK inside a PKCS#11 token, opened by label with the user PIN.

    Nothing is opened until the first call. A wrong PIN is tried once per instance
    only: an HSM locks the user after a few wrong tries, and retrying it on every
    request would do exactly that.
    """

    algorithm = ALG_AES256GCM_PKCS11

    def __init__(self, *, module: str, token_label: str, pin: str) -> None:
        self.module = module
        self.token_label = token_label
        self._pin = pin
        self._failure: str | None = None

    def __repr__(self) -> str:
        return f"Pkcs11KeyStore(module={self.module!r}, token_label={self.token_label!r})"

    # Sessions

    def _open_session(self) -> pkcs11.Session:
        global _PKCS11_PID
        if os.getpid() != _PKCS11_PID:
            # A forked child inherits the parent's module state, which PKCS#11 does
            # not allow it to use: forget the sessions and initialise anew.
            _PKCS11_SESSIONS.clear()
            _PKCS11_PID = os.getpid()
            with contextlib.suppress(pkcs11.PKCS11Error):
                pkcs11.lib(self.module).reinitialize()
        key = (self.module, self.token_label)
        session = _PKCS11_SESSIONS.get(key)
        if session is not None:
            return session
        if self._failure:
            raise KeyStoreUnavailable(self._failure)
        try:
            token = pkcs11.lib(self.module).get_token(token_label=self.token_label)
        except pkcs11.exceptions.NoSuchToken as exc:
            raise KeyStoreUnavailable(f"No PKCS#11 token labelled {self.token_label!r}.") from exc
        except pkcs11.PKCS11Error as exc:
            raise KeyStoreUnavailable(
                f"Cannot load PKCS#11 module {self.module!r}: {type(exc).__name__} {exc}"
            ) from exc
        try:
            session = token.open(rw=True, user_pin=self._pin)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            # Someone in this process logged in already; the login covers new sessions.
            session = token.open(rw=True)
        except _PIN_ERRORS as exc:
            self._failure = (
                f"PKCS#11 login to token {self.token_label!r} failed ({type(exc).__name__}); "
                "not retried in this process, check SMARTID_PKCS11_PIN."
            )
            raise KeyStoreUnavailable(self._failure) from exc
        _PKCS11_SESSIONS[key] = session
        return session

    @contextlib.contextmanager
    def _token(self) -> Iterator[pkcs11.Session]:
        """The shared session, under the module lock; PKCS#11 errors become ours."""
        with _PKCS11_LOCK:
            try:
                yield self._open_session()
            except KeyStoreError:
                raise
            except _SESSION_ERRORS as exc:
                _PKCS11_SESSIONS.pop((self.module, self.token_label), None)
                raise KeyStoreUnavailable(
                    f"PKCS#11 token {self.token_label!r} went away: {type(exc).__name__}"
                ) from exc
            except pkcs11.PKCS11Error as exc:
                raise KeyStoreError(f"PKCS#11 error: {type(exc).__name__} {exc}") from exc

    def close(self) -> None:
        """Log out and close the shared session of this token (reopened on next use)."""
        with _PKCS11_LOCK:
            session = _PKCS11_SESSIONS.pop((self.module, self.token_label), None)
            if session is not None:
                with contextlib.suppress(pkcs11.PKCS11Error):
                    session.close()

    @staticmethod
    def _find(
        session: pkcs11.Session, label: str, object_class: ObjectClass
    ) -> list[pkcs11.Object]:
        return list(
            session.get_objects(
                {
                    Attribute.CLASS: object_class,
                    Attribute.KEY_TYPE: KeyType.EC,
                    Attribute.LABEL: label,
                }
            )
        )

    @classmethod
    def _one(cls, session: pkcs11.Session, label: str, object_class: ObjectClass) -> pkcs11.Object:
        found = cls._find(session, label, object_class)
        if not found:
            raise KeyNotFound(f"No key labelled {label!r}.")
        if len(found) > 1:
            raise KeyStoreError(f"The token holds {len(found)} keys labelled {label!r}.")
        return found[0]

    # EC keys

    def generate_ec_key(self, label: str) -> ec.EllipticCurvePublicKey:
        validate_label(label)
        with self._token() as session:
            if self._find(session, label, ObjectClass.PRIVATE_KEY) or self._find(
                session, label, ObjectClass.PUBLIC_KEY
            ):
                raise KeyExists(f"A key labelled {label!r} already exists.")
            public, _ = session.generate_keypair(
                KeyType.EC,
                store=True,
                label=label,
                id=label.encode("ascii"),
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={
                    Attribute.EC_PARAMS: encode_named_curve_parameters("secp384r1"),
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.VERIFY: True,
                },
                private_template=EC_PRIVATE_TEMPLATE,
            )
            return self._to_cryptography(public)

    @staticmethod
    def _to_cryptography(public: pkcs11.Object) -> ec.EllipticCurvePublicKey:
        if not isinstance(public, pkcs11.PublicKey):
            raise KeyStoreError("The token's public key object is not a public key.")
        try:
            key = serialization.load_der_public_key(encode_ec_public_key(public))
        except (ValueError, TypeError, KeyError) as exc:
            raise KeyStoreError("The token's public key cannot be decoded.") from exc
        return _check_p384(key)

    def public_key(self, label: str) -> ec.EllipticCurvePublicKey:
        validate_label(label)
        with self._token() as session:
            return self._to_cryptography(self._one(session, label, ObjectClass.PUBLIC_KEY))

    def has_key(self, label: str) -> bool:
        validate_label(label)
        with self._token() as session:
            return bool(self._find(session, label, ObjectClass.PRIVATE_KEY))

    def sign(self, label: str, data: bytes) -> bytes:
        validate_label(label)
        digest = hashlib.sha384(_as_bytes(data, "data")).digest()
        with self._token() as session:
            private = self._one(session, label, ObjectClass.PRIVATE_KEY)
            # SoftHSM 2.6 has no CKM_ECDSA_SHA384: hash here, sign the digest in the token.
            if not isinstance(private, SignMixin):
                raise KeyStoreError(f"The key labelled {label!r} cannot sign.")
            raw = private.sign(digest, mechanism=Mechanism.ECDSA)
        if len(raw) != 2 * _EC_SIG_HALF:
            raise KeyStoreError(f"The token returned a {len(raw)}-byte ECDSA signature.")
        return encode_dss_signature(
            int.from_bytes(raw[:_EC_SIG_HALF], "big"), int.from_bytes(raw[_EC_SIG_HALF:], "big")
        )

    def delete_key(self, label: str) -> None:
        validate_label(label)
        with self._token() as session:
            objects = self._find(session, label, ObjectClass.PRIVATE_KEY) + self._find(
                session, label, ObjectClass.PUBLIC_KEY
            )
            if not objects:
                raise KeyNotFound(f"No key labelled {label!r}.")
            for obj in objects:
                obj.destroy()

    # Wrapping

    @staticmethod
    def _keks(session: pkcs11.Session) -> dict[bytes, pkcs11.Object]:
        found = session.get_objects(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.LABEL: PKCS11_KEK_LABEL,
            }
        )
        return {bytes(obj[Attribute.ID]): obj for obj in found}

    def _current_kek(self, session: pkcs11.Session) -> tuple[bytes, EncryptMixin]:
        keks = self._keks(session)
        if not keks:
            kek_id = secrets.token_bytes(8)
            session.generate_key(
                KeyType.AES,
                256,
                id=kek_id,
                label=PKCS11_KEK_LABEL,
                store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template=_KEK_TEMPLATE,
            )
            logger.info("Created the key-encryption key in token %r", self.token_label)
            # Search again: two processes may have created one each at the same time.
            keks = self._keks(session)
        # Blobs name their KEK, so several KEKs are harmless; all pick the same one.
        kek_id = min(keks)
        kek = keks[kek_id]
        if not isinstance(kek, EncryptMixin):
            raise KeyStoreError("The token's KEK cannot encrypt.")
        return kek_id, kek

    def wrap(self, plaintext: bytes, *, context: bytes) -> bytes:
        data, ctx = _wrap_inputs(plaintext, context)
        nonce = secrets.token_bytes(_NONCE_LEN)
        with self._token() as session:
            kek_id, kek = self._current_kek(session)
            header = _blob_header(self.algorithm, kek_id, nonce)
            params = pkcs11.GCMParams(nonce, header[:_AAD_PREFIX_LEN] + ctx, _TAG_LEN * 8)
            sealed = kek.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params)
        if not isinstance(sealed, bytes):  # only an iterator input gives an iterator
            raise KeyStoreError("The token returned no ciphertext.")
        return header + sealed

    def unwrap(self, blob: bytes, *, context: bytes) -> bytes:
        kek_id, nonce, sealed, aad = _parse_blob(blob, context, self.algorithm)
        params = pkcs11.GCMParams(nonce, aad, _TAG_LEN * 8)
        with self._token() as session:
            kek = self._keks(session).get(kek_id)
            if kek is None:
                raise UnwrapError("The blob was wrapped under a KEK this token does not hold.")
            if not isinstance(kek, DecryptMixin):
                raise KeyStoreError("The token's KEK cannot decrypt.")
            try:
                plaintext = kek.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            except _SESSION_ERRORS:
                raise
            except pkcs11.PKCS11Error as exc:
                # SoftHSM reports a failed tag check as CKR_GENERAL_ERROR; HSMs use
                # CKR_ENCRYPTED_DATA_INVALID. Either way the blob does not open.
                raise UnwrapError(
                    f"The blob fails authentication (tampered or other context): "
                    f"{type(exc).__name__}"
                ) from exc
        if not isinstance(plaintext, bytes):
            raise KeyStoreError("The token returned no plaintext.")
        return plaintext


# --- Factory --------------------------------------------------------------------

_SETTINGS = frozenset(
    {
        "KEYSTORE_BACKEND",
        "KEYSTORE_KEK_FILE",
        "PKCS11_MODULE",
        "PKCS11_TOKEN_LABEL",
        "PKCS11_PIN",
        "DATA_DIR",
    }
)


def keystore_from_settings() -> KeyStore:
    """Build the key store that the settings name (a new instance on every call)."""
    backend = settings.KEYSTORE_BACKEND
    if backend == "file":
        return FileKeyStore(kek_file=Path(settings.KEYSTORE_KEK_FILE))
    if backend == "pkcs11":
        return Pkcs11KeyStore(
            module=settings.PKCS11_MODULE,
            token_label=settings.PKCS11_TOKEN_LABEL,
            pin=settings.PKCS11_PIN,
        )
    raise KeyStoreUnavailable(f"Unknown KEYSTORE_BACKEND {backend!r}.")


@functools.cache
def get_keystore() -> KeyStore:
    """The configured key store, built once per process."""
    return keystore_from_settings()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    # override_settings in tests: the next get_keystore() follows the new settings.
    if setting in _SETTINGS:
        get_keystore.cache_clear()
