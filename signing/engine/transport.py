"""End-to-end encryption of s1′ to the service's transport key (docs/app-api.md §5).

(m, s1′) together with a stolen encrypted share C would let an attacker test PINs offline
(m^{d̃1′} = s1′?), so s1′ travels encrypted to the service even inside TLS
(docs/spec/splitkey.md §4 (iii)):

1. the app makes an ephemeral P-256 key pair; Z = ECDH(ephemeral private, transport public);
2. K = HKDF-SHA256(IKM = Z, salt = empty, info = "smartid-s1p-v1", 32 bytes);
3. ct = AES-256-GCM(K, iv = 12 random bytes, plaintext = I2OSP(s1′, ⌈L/8⌉), AAD);
4. the envelope is {"epk": Base64 of the uncompressed point (65 bytes), "iv": Base64,
   "ct": Base64 of ciphertext ‖ tag}.

The AAD binds the envelope to one operation: ``registration:<id>:<purpose>`` for the CSR
signature and ``transaction:<id>`` for a transaction (:func:`registration_aad`,
:func:`transaction_aad`), so an envelope cannot be replayed into another operation.

Every decryption failure raises the same :class:`TransportError`; its message says which
check failed but never anything about the plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from signing.engine.b64 import b64decode_strict, encoded_length
from signing.engine.encoding import i2osp, os2ip
from signing.engine.errors import (
    InvalidBase64,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    TransportError,
)

HKDF_INFO = b"smartid-s1p-v1"
#: Label of :func:`seal_secret` (secrets from the service to the app, e.g. ticket codes).
SECRET_HKDF_INFO = b"openeid-secret-v1"
MAX_SECRET_BYTES = 64
IV_BYTES = 12
TAG_BYTES = 16
POINT_BYTES = 65
#: Largest plaintext: s1′ for an 8192-bit n1.
MAX_SHARE_BYTES = 1024
#: Longest DER SubjectPublicKeyInfo accepted for a P-256 key (the real one is 91 bytes).
MAX_SPKI_BYTES = 256
_ENVELOPE_FIELDS = frozenset({"epk", "iv", "ct"})
_PURPOSES = frozenset({"AUTH", "SIGN"})


def load_p256_public_key(der: bytes) -> ec.EllipticCurvePublicKey:
    """Load a DER SubjectPublicKeyInfo and require an EC P-256 key (else :class:`InvalidKey`).

    Used for the transport key the app pins and for the device key the server registers.
    """
    if not isinstance(der, bytes) or not 0 < len(der) <= MAX_SPKI_BYTES:
        raise InvalidKey("public key must be a DER SubjectPublicKeyInfo")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise InvalidKey("public key is not a valid DER SubjectPublicKeyInfo") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidKey("public key must be an EC P-256 key")
    return key


def public_key_der(key: ec.EllipticCurvePublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of an EC P-256 public key (the wire form of §2.1)."""
    _require_p256(key)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _require_p256(key: object) -> None:
    if not isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        raise InvalidKey("key must be an EC key")
    if not isinstance(key.curve, ec.SECP256R1):
        raise InvalidKey("key must be on P-256")


def registration_aad(registration_id: str, purpose: str) -> bytes:
    """AAD of the CSR signature: UTF-8 of ``registration:<registrationId>:<purpose>``."""
    if not isinstance(registration_id, str) or not registration_id:
        raise InvalidLength("registration id must be a non-empty string")
    if purpose not in _PURPOSES:
        raise InvalidLength("purpose must be AUTH or SIGN")
    return f"registration:{registration_id}:{purpose}".encode()


def renewal_aad(reference: str, part: str) -> bytes:
    """AAD of a re-key's signatures (docs/app-api.md §8): ``renewal:<documentNumber>:proof``
    for the old signing key's proof, ``renewal:<renewalId>:<purpose>`` for a new key's
    certificate request."""
    if not isinstance(reference, str) or not reference:
        raise InvalidLength("renewal reference must be a non-empty string")
    if part not in _PURPOSES | {"proof"}:
        raise InvalidLength("part must be AUTH, SIGN or proof")
    return f"renewal:{reference}:{part}".encode()


def renewal_statement(document_number: str, n1_auth: bytes, n1_sign: bytes) -> bytes:
    """What the old signing key (PIN2) signs to ask for a re-key: the account and the two
    new client moduli it is to get (SHA-256 of this, PKCS#1 v1.5)."""
    if not isinstance(document_number, str) or not document_number:
        raise InvalidLength("document number must be a non-empty string")
    if not isinstance(n1_auth, bytes) or not isinstance(n1_sign, bytes):
        raise InvalidLength("the moduli must be bytes")
    return "\n".join(
        [
            "openeid-renewal-v1",
            document_number,
            hashlib.sha256(n1_auth).hexdigest(),
            hashlib.sha256(n1_sign).hexdigest(),
        ]
    ).encode()


def transaction_aad(transaction_id: str) -> bytes:
    """AAD of a transaction's confirmation: UTF-8 of ``transaction:<id>``."""
    if not isinstance(transaction_id, str) or not transaction_id:
        raise InvalidLength("transaction id must be a non-empty string")
    return f"transaction:{transaction_id}".encode()


def onboarding_ticket_aad(application_id: str) -> bytes:
    """AAD of a remote application's sealed ticket code: ``onboarding:<id>:ticket``."""
    if not isinstance(application_id, str) or not application_id:
        raise InvalidLength("application id must be a non-empty string")
    return f"onboarding:{application_id}:ticket".encode()


def _check_length(length: object) -> int:
    if type(length) is not int or not 1 <= length <= MAX_SHARE_BYTES:
        raise InvalidLength(f"length must be an int in [1, {MAX_SHARE_BYTES}]")
    return length


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _seal(
    plaintext: bytes, public_key: ec.EllipticCurvePublicKey, aad: bytes, info: bytes
) -> dict[str, str]:
    if not isinstance(aad, bytes):
        raise InvalidLength("aad must be bytes")
    _require_p256(public_key)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        ephemeral.exchange(ec.ECDH(), public_key)
    )
    iv = secrets.token_bytes(IV_BYTES)
    ct = AESGCM(key).encrypt(iv, plaintext, aad)
    del plaintext, key
    epk = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {"epk": _b64(epk), "iv": _b64(iv), "ct": _b64(ct)}


def encrypt_share(
    s1_prime: int,
    length: int,
    transport_public_key: ec.EllipticCurvePublicKey,
    aad: bytes,
) -> dict[str, str]:
    """Encrypt I2OSP(s1′, length) to the transport key; return {"epk", "iv", "ct"} (Base64)."""
    _check_length(length)
    if type(s1_prime) is not int:
        raise InvalidInteger("s1' must be an int")
    return _seal(i2osp(s1_prime, length), transport_public_key, aad, HKDF_INFO)


def seal_secret(secret: bytes, public_key: ec.EllipticCurvePublicKey, aad: bytes) -> dict[str, str]:
    """Encrypt a short secret (≤ 64 bytes, e.g. a registration ticket code) from the
    service to an app's P-256 key, the same way as s1′ but under its own HKDF label.
    """
    if not isinstance(secret, bytes) or not 0 < len(secret) <= MAX_SECRET_BYTES:
        raise InvalidLength(f"the secret must be 1-{MAX_SECRET_BYTES} bytes")
    return _seal(secret, public_key, aad, SECRET_HKDF_INFO)


def _field(envelope: Mapping[object, object], name: str, size: int) -> bytes:
    value = envelope[name]
    # Bound the text before decoding it: Base64 of `size` bytes has 4·⌈size/3⌉ characters.
    if not isinstance(value, str) or len(value) != encoded_length(size):
        raise TransportError(f"envelope field {name} must be Base64 of {size} bytes")
    try:
        return b64decode_strict(value, what=f"envelope field {name}", exact_bytes=size)
    except InvalidBase64:
        raise TransportError(
            f"envelope field {name} is not canonical Base64 of {size} bytes"
        ) from None


def _open(
    envelope: object,
    private_key: ec.EllipticCurvePrivateKey,
    aad: bytes,
    length: int,
    info: bytes,
) -> bytes:
    if not isinstance(aad, bytes):
        raise InvalidLength("aad must be bytes")
    _require_p256(private_key)
    if not isinstance(envelope, Mapping) or set(envelope) != _ENVELOPE_FIELDS:
        raise TransportError("envelope must be an object with exactly epk, iv and ct")
    epk = _field(envelope, "epk", POINT_BYTES)
    iv = _field(envelope, "iv", IV_BYTES)
    ct = _field(envelope, "ct", length + TAG_BYTES)
    if epk[0] != 0x04:
        raise TransportError("epk must be an uncompressed point")
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk)
        shared = private_key.exchange(ec.ECDH(), ephemeral)
    except ValueError:
        raise TransportError("epk is not a valid P-256 point") from None
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)
    try:
        return AESGCM(key).decrypt(iv, ct, aad)
    except InvalidTag:
        raise TransportError("envelope does not decrypt (wrong key, AAD or ciphertext)") from None


def decrypt_share(
    envelope: object,
    transport_private_key: ec.EllipticCurvePrivateKey,
    aad: bytes,
    length: int,
) -> int:
    """Decrypt an envelope made by :func:`encrypt_share` and return s1′.

    Raises :class:`TransportError` for a malformed envelope (not a mapping, other fields,
    wrong Base64 or sizes), a point not on P-256, and for any authentication failure
    (wrong transport key, wrong AAD, tampered iv or ciphertext).
    """
    _check_length(length)
    return os2ip(_open(envelope, transport_private_key, aad, length, HKDF_INFO))


def open_secret(
    envelope: object, private_key: ec.EllipticCurvePrivateKey, aad: bytes, length: int
) -> bytes:
    """Decrypt an envelope made by :func:`seal_secret`; errors as :func:`decrypt_share`."""
    if type(length) is not int or not 0 < length <= MAX_SECRET_BYTES:
        raise InvalidLength(f"the secret must be 1-{MAX_SECRET_BYTES} bytes")
    return _open(envelope, private_key, aad, length, SECRET_HKDF_INFO)
