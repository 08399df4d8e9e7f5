"""Clone detection primitives: the one-time token and the retransmit-nonce rule.

* The one-time token (OTP) is 128 random bits from :mod:`secrets`; the server stores only
  SHA-256(token) and compares with :func:`hmac.compare_digest`.
* The retransmit nonce (rnonce) is picked by the app per operation and reused on retries.
  The server remembers only the last one, as a :class:`RetransmitRecord`:
  SHA-256(rnonce), the digest of the request, and the response sealed with AES-256-GCM
  under K_r = SHA-256("smartid-rnonce-cache-v1" ‖ rnonce) with the request digest as
  associated data. The cached response contains the new token; sealing it under a key
  only the app's retry can supply keeps that token out of the database in clear.
  Decision for an incoming (rnonce, request digest):

  - different rnonce → NEW (evaluate the request);
  - same rnonce, same request → REPLAY (return the cached response, change nothing);
  - same rnonce, different request → CONFLICT (:class:`RetransmitConflict`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signing.engine.errors import InvalidBlob, InvalidLength, TokenMismatch

TOKEN_BYTES = 16
NONCE_MIN_BYTES = 16
NONCE_MAX_BYTES = 64
_CACHE_KEY_LABEL = b"smartid-rnonce-cache-v1"
_GCM_NONCE_BYTES = 12


def _require(value: object, name: str, low: int, high: int) -> bytes:
    if not isinstance(value, bytes) or not low <= len(value) <= high:
        raise InvalidLength(f"{name} must be {low}-{high} bytes")
    return value


def hash_token(token: bytes) -> bytes:
    """SHA-256(token) — the only form in which the server stores a token."""
    return hashlib.sha256(_require(token, "token", TOKEN_BYTES, TOKEN_BYTES)).digest()


def new_token() -> tuple[bytes, bytes]:
    """A fresh one-time token and its stored hash: (token, SHA-256(token))."""
    token = secrets.token_bytes(TOKEN_BYTES)
    return token, hash_token(token)


def token_matches(presented: bytes, stored_hash: bytes) -> bool:
    """Constant-time SHA-256(presented) == stored_hash (for the protocol's ok_otp)."""
    _require(stored_hash, "stored hash", 32, 32)
    return hmac.compare_digest(hash_token(presented), stored_hash)


def check_token(presented: bytes, stored_hash: bytes) -> None:
    """Raise :class:`TokenMismatch` unless the presented token matches the stored hash."""
    if not token_matches(presented, stored_hash):
        raise TokenMismatch("one-time token mismatch")


class Retransmit(StrEnum):
    """What to do with an incoming request given the last rnonce seen."""

    NEW = "new"
    REPLAY = "replay"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class RetransmitRecord:
    """The last evaluated request: SHA-256(rnonce), its request digest, the sealed response."""

    nonce_hash: bytes
    request_digest: bytes
    sealed_response: bytes

    def __post_init__(self) -> None:
        _require(self.nonce_hash, "nonce hash", 32, 32)
        _require(self.request_digest, "request digest", 32, 32)
        _require(self.sealed_response, "sealed response", _GCM_NONCE_BYTES + 16, 1 << 20)


def _cache_key(nonce: bytes) -> bytes:
    return hashlib.sha256(_CACHE_KEY_LABEL + nonce).digest()


def seal_response(nonce: bytes, request_digest: bytes, response: bytes) -> RetransmitRecord:
    """Remember ``response`` for retries of (nonce, request_digest)."""
    _require(nonce, "rnonce", NONCE_MIN_BYTES, NONCE_MAX_BYTES)
    _require(request_digest, "request digest", 32, 32)
    if not isinstance(response, bytes):
        raise InvalidLength("response must be bytes")
    gcm_nonce = secrets.token_bytes(_GCM_NONCE_BYTES)
    sealed = gcm_nonce + AESGCM(_cache_key(nonce)).encrypt(gcm_nonce, response, request_digest)
    return RetransmitRecord(
        nonce_hash=hashlib.sha256(nonce).digest(),
        request_digest=request_digest,
        sealed_response=sealed,
    )


@dataclass(frozen=True)
class RetransmitDecision:
    """:class:`Retransmit` kind, with the cached response for REPLAY."""

    kind: Retransmit
    response: bytes | None = None


def classify_retransmit(
    record: RetransmitRecord | None, nonce: bytes, request_digest: bytes
) -> RetransmitDecision:
    """The retransmit-nonce rule as a pure function (see the module docstring)."""
    _require(nonce, "rnonce", NONCE_MIN_BYTES, NONCE_MAX_BYTES)
    _require(request_digest, "request digest", 32, 32)
    if record is None or not hmac.compare_digest(hashlib.sha256(nonce).digest(), record.nonce_hash):
        return RetransmitDecision(Retransmit.NEW)
    if not hmac.compare_digest(request_digest, record.request_digest):
        return RetransmitDecision(Retransmit.CONFLICT)
    gcm_nonce, body = (
        record.sealed_response[:_GCM_NONCE_BYTES],
        record.sealed_response[_GCM_NONCE_BYTES:],
    )
    try:
        response = AESGCM(_cache_key(nonce)).decrypt(gcm_nonce, body, request_digest)
    except InvalidTag:
        raise InvalidBlob("cached response does not decrypt (corrupted state)") from None
    return RetransmitDecision(Retransmit.REPLAY, response)
