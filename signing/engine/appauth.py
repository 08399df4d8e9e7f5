"""The device request signature of the App API (docs/app-api.md §1).

After registration every call carries ``X-Device-Id``, ``X-Timestamp`` (Unix seconds),
``X-Nonce`` (16 random bytes, Base64) and ``X-Signature`` (Base64 of the DER
ECDSA-P256-SHA256 signature) over the UTF-8 string (``\\n``-joined, no trailing newline)::

    smartid-app-v1
    <METHOD>
    <path with query string, exactly as sent>
    <hex SHA-256 of the body (of the empty string for GET)>
    <X-Timestamp>
    <X-Nonce>
    <X-Device-Id>

The app signs with :func:`sign_request`; the server calls :func:`request_device_id` to
find the device, then :func:`verify_request` with that device's public key and its own
clock reading ``now`` (the engine reads no clock). Replays (a nonce seen before from that
device within 120 s) are the server's to refuse with its cache: :func:`verify_request`
returns the nonce for that purpose.

Every field is checked for its exact form before the signature is, so no two different
requests share a string to sign: the method is upper-case letters, the path is printable
ASCII starting with ``/`` (no newline can shift the fields), the timestamp is plain
decimal digits, the nonce canonical Base64 of 16 bytes and the device id a lower-case
UUID.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing.engine.b64 import b64decode_strict
from signing.engine.errors import (
    BadRequestSignature,
    InvalidBase64,
    InvalidKey,
    MalformedHeader,
    MissingHeader,
    StaleRequest,
)
from signing.engine.transport import load_p256_public_key

SCHEME = "smartid-app-v1"
HEADER_DEVICE_ID = "X-Device-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"
HEADERS = (HEADER_DEVICE_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
NONCE_BYTES = 16
#: The server refuses a timestamp further than this from its clock (seconds).
DEFAULT_MAX_SKEW = 60
#: A DER ECDSA-P256 signature is at most 72 bytes; Base64 of that is 96 characters.
MAX_SIGNATURE_B64 = 96

_METHOD = re.compile(r"[A-Z]{1,16}")
_PATH = re.compile(r"/[\x21-\x7e]{0,2047}")
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _check_method(method: object) -> str:
    if not isinstance(method, str) or not _METHOD.fullmatch(method):
        raise MalformedHeader("method must be upper-case ASCII letters")
    return method


def _check_path(path: object) -> str:
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise MalformedHeader("path must be printable ASCII starting with '/'")
    return path


def _check_device_id(device_id: object) -> str:
    if not isinstance(device_id, str) or not _UUID.fullmatch(device_id):
        raise MalformedHeader("device id must be a lower-case UUID")
    return device_id


def _check_nonce(nonce_b64: object) -> str:
    if not isinstance(nonce_b64, str) or len(nonce_b64) != 24:
        raise MalformedHeader("nonce must be Base64 of 16 bytes")
    # Canonical form only (b64decode_strict), so one nonce has exactly one spelling in the
    # replay cache.
    try:
        b64decode_strict(nonce_b64, what="nonce", exact_bytes=NONCE_BYTES)
    except InvalidBase64:
        raise MalformedHeader("nonce must be canonical Base64 of 16 bytes") from None
    return nonce_b64


def _check_timestamp(timestamp: object) -> int:
    if type(timestamp) is not int or not 0 <= timestamp < 10**12:
        raise MalformedHeader("timestamp must be a non-negative int")
    return timestamp


def canonical_request(
    method: str,
    path_with_query: str,
    body: bytes,
    timestamp: int,
    nonce_b64: str,
    device_id: str,
) -> bytes:
    """The exact bytes the device signs (see the module docstring)."""
    if not isinstance(body, bytes):
        raise MalformedHeader("body must be bytes")
    lines = (
        SCHEME,
        _check_method(method),
        _check_path(path_with_query),
        hashlib.sha256(body).hexdigest(),
        str(_check_timestamp(timestamp)),
        _check_nonce(nonce_b64),
        _check_device_id(device_id),
    )
    return "\n".join(lines).encode("ascii")


def new_nonce() -> str:
    """16 random bytes from :mod:`secrets`, Base64 (the ``X-Nonce`` value)."""
    return base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode("ascii")


def sign_request(
    private_key: ec.EllipticCurvePrivateKey,
    method: str,
    path_with_query: str,
    body: bytes,
    *,
    device_id: str,
    timestamp: int,
    nonce_b64: str | None = None,
) -> dict[str, str]:
    """The four headers for one request; ``timestamp`` is the caller's clock (Unix seconds).

    A fresh nonce is drawn unless one is given (tests): every request, including a retry
    of the same body, needs its own nonce, because the server refuses a nonce twice.
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise InvalidKey("the device key must be an EC P-256 private key")
    nonce = new_nonce() if nonce_b64 is None else nonce_b64
    message = canonical_request(method, path_with_query, body, timestamp, nonce, device_id)
    signature = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    return {
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode("ascii"),
    }


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The four headers, looked up case-insensitively (HTTP header names are)."""
    if not isinstance(headers, Mapping):
        raise MissingHeader("headers must be a mapping")
    wanted = {name.lower(): name for name in HEADERS}
    found: dict[str, str] = {}
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() in wanted:
            name = wanted[key.lower()]
            if name in found or not isinstance(value, str):
                raise MalformedHeader(f"{name} given twice or not text")
            found[name] = value
    missing = [name for name in HEADERS if name not in found]
    if missing:
        raise MissingHeader("missing header(s): " + ", ".join(missing))
    return found


def request_device_id(headers: Mapping[str, str]) -> str:
    """The ``X-Device-Id`` of a request (validated UUID), to look the device's key up."""
    return _check_device_id(_headers(headers)[HEADER_DEVICE_ID])


def verify_request(
    public_key_der: bytes,
    method: str,
    path_with_query: str,
    body: bytes,
    headers: Mapping[str, str],
    now: int,
    max_skew: int = DEFAULT_MAX_SKEW,
) -> tuple[str, str]:
    """Verify a signed request and return (device id, nonce); raise a
    :class:`~signing.engine.errors.RequestAuthError` subclass otherwise.

    ``now`` is the server's Unix time in seconds. The caller must still refuse a nonce it
    has seen before from this device (it keeps the cache) and an unknown or disabled device.
    """
    if type(now) is not int or type(max_skew) is not int or max_skew < 0:
        raise MalformedHeader("now and max_skew must be ints")
    found = _headers(headers)
    device_id = _check_device_id(found[HEADER_DEVICE_ID])
    nonce = _check_nonce(found[HEADER_NONCE])
    raw_ts = found[HEADER_TIMESTAMP]
    if not _TIMESTAMP.fullmatch(raw_ts):
        raise MalformedHeader("timestamp must be decimal Unix seconds")
    timestamp = int(raw_ts)
    raw_sig = found[HEADER_SIGNATURE]
    if not 0 < len(raw_sig) <= MAX_SIGNATURE_B64:
        raise MalformedHeader("signature has a wrong length")
    try:
        signature = b64decode_strict(raw_sig, what="signature")
    except InvalidBase64:
        raise MalformedHeader("signature is not Base64") from None
    message = canonical_request(method, path_with_query, body, timestamp, nonce, device_id)
    if abs(now - timestamp) > max_skew:
        raise StaleRequest(f"timestamp more than {max_skew} s from the server's clock")
    public_key = load_p256_public_key(public_key_der)
    try:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except CryptoInvalidSignature:
        raise BadRequestSignature("the request signature does not verify") from None
    return device_id, nonce
