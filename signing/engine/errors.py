"""The engine's exception hierarchy.

Every public entry point of :mod:`signing.engine` raises only subclasses of
:class:`EngineError`; no builtin exception (``ValueError``, ``TypeError``,
``OverflowError`` ...) escapes. Verification functions raise, they never return a bool.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class EngineError(Exception):
    """Base class of every error raised by :mod:`signing.engine`."""


# --- bad input: nothing was evaluated, nothing changed -------------------------------


class InvalidInput(EngineError):
    """Malformed input; the call changed nothing."""


class InvalidInteger(InvalidInput):
    """An integer argument is not an ``int``, is negative, or is out of its range."""


class InvalidLength(InvalidInput):
    """A byte string or a key size has the wrong length."""


class HashLengthMismatch(InvalidLength):
    """A digest's length does not match its declared hash algorithm."""


class UnsupportedAlgorithm(InvalidInput):
    """Unknown hash algorithm, padding scheme, blob version or blob algorithm tag."""


class InvalidPin(InvalidInput):
    """The PIN is not a string of 4-12 ASCII digits (or shorter than the caller's minimum)."""


class InvalidBlob(InvalidInput):
    """A serialised key blob or key state is malformed or internally inconsistent."""


class InvalidBase64(InvalidInput, ValueError):
    """A text that is not the canonical padded Base64 of a value (``signing.engine.b64``)."""


class InvalidKey(InvalidInput):
    """Key parts do not belong together (e.g. the server half does not match n2)."""


class InvalidTimestamp(InvalidInput):
    """A datetime without a timezone was passed where an aware one is required."""


class BackendError(EngineError):
    """The OpenSSL backend reported an internal failure."""


# --- key generation and registration -------------------------------------------------


class RejectReason(StrEnum):
    """Why a client modulus n1 was refused (spec §8 ServerKeyGen step 2)."""

    WRONG_SIZE = "wrong_size"
    EVEN = "even"
    SMALL_FACTOR = "small_factor"
    PERFECT_POWER = "perfect_power"
    SHARED_FACTOR = "shared_factor"
    DUPLICATE = "duplicate"


class ModulusRejected(EngineError):
    """The client modulus n1 failed validation; ``reason`` says which rule."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(f"client modulus rejected: {reason.value}")
        self.reason = reason


# --- signing -----------------------------------------------------------------------


class ShareMismatch(EngineError):
    """The completed client share fails s1^e ≡ m (mod n1): a wrong PIN (or a corrupted share)."""


#: The user-facing name of :class:`ShareMismatch`: a wrong PIN is the usual cause.
WrongPinError = ShareMismatch


class SignatureFault(EngineError):
    """A fault check failed (s2^e ≢ m2 (mod n2) or S^e ≢ m (mod n)); nothing was released."""


class InvalidSignature(EngineError):
    """Signature verification failed."""


# --- key state (protocol) ----------------------------------------------------------


class KeyStateError(EngineError):
    """The key's state forbids the operation."""


class KeyLocked(KeyStateError):
    """The key is locked after wrong PINs until ``locked_until``."""

    def __init__(self, locked_until: datetime) -> None:
        super().__init__(f"key locked until {locked_until.isoformat()}")
        self.locked_until = locked_until


class KeyRevoked(KeyStateError):
    """The key is revoked and destroyed (clone detected or too many wrong PINs)."""


class CloneDetected(KeyRevoked):
    """A valid share came with a stale one-time token: two copies of the app state exist."""


class TokenMismatch(EngineError):
    """The presented one-time clone-detection token does not match the stored hash."""


class RetransmitConflict(EngineError):
    """A retransmit nonce was reused for a different request."""


# --- transport encryption of s1′ (docs/app-api.md §5) --------------------------------


class TransportError(InvalidInput):
    """An s1′ envelope is malformed, has wrong sizes or a bad point, or fails to decrypt
    (wrong key, wrong associated data, tampered ciphertext). Nothing is revealed about which.
    """


# --- device request signatures (docs/app-api.md §1) ----------------------------------


class RequestAuthError(EngineError):
    """A device request signature was refused; ``code`` is the App API's ``error`` value."""

    code = "bad_signature"


class MissingHeader(RequestAuthError):
    """One of ``X-Device-Id``, ``X-Timestamp``, ``X-Nonce``, ``X-Signature`` is absent."""


class MalformedHeader(RequestAuthError):
    """A header, the method or the path is not in its required form."""


class StaleRequest(RequestAuthError):
    """``X-Timestamp`` is further from the server's clock than the allowed skew."""

    code = "stale_request"


class BadRequestSignature(RequestAuthError):
    """``X-Signature`` does not verify under the device's public key."""
