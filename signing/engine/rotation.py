"""Rotating the two P-256 keys of the app API (docs/app-api.md §9).

**Device key** (§9.1). The app proves it holds a new device key before the service
registers it: the *new* key signs (ECDSA-P256-SHA256) :func:`device_key_statement`, the
UTF-8 lines ::

    openeid-device-key-v1
    <device id>
    <hex SHA-256 of the new key's DER SubjectPublicKeyInfo>
    <X-Nonce of the request that carries the proof>

The request itself is signed with the current device key as usual. The label keeps the
signature from meaning anything in another protocol; the device id keeps another device
from registering the same proof; the request nonce (fresh, remembered by the service for
the timestamp window) makes a captured proof useless in any other request.

**Transport key** (§9.2). A new transport key is announced *endorsed* by the one before
it: the previous transport private key signs :func:`transport_key_statement` ::

    openeid-transport-key-v1
    <hex SHA-256 of the previous key's DER SubjectPublicKeyInfo>
    <hex SHA-256 of the new key's DER SubjectPublicKeyInfo>

An app that pinned a transport key accepts a newer one only through an unbroken chain of
such endorsements starting at its pin (:func:`follow_transport_chain`), so the pin keeps
its meaning: whoever does not hold the pinned private key cannot make the app encrypt s1′
to another key.

:func:`key_id` names a transport key in an envelope (hex of the first 8 bytes of SHA-256
of its DER SubjectPublicKeyInfo).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing.engine.errors import InvalidKey, InvalidLength, InvalidSignature
from signing.engine.transport import load_p256_public_key, public_key_der

DEVICE_KEY_LABEL = "openeid-device-key-v1"
TRANSPORT_KEY_LABEL = "openeid-transport-key-v1"
KEY_ID_BYTES = 8
#: A DER ECDSA-P256 signature is at most 72 bytes.
MAX_SIGNATURE_BYTES = 72
#: Longest endorsement chain an app follows (one rotation a year would take decades).
MAX_CHAIN = 32


def _spki_digest(der: bytes) -> str:
    load_p256_public_key(der)  # InvalidKey for anything but a P-256 SubjectPublicKeyInfo
    return hashlib.sha256(der).hexdigest()


def key_id(der: bytes) -> str:
    """Hex of the first 8 bytes of SHA-256 of a P-256 DER SubjectPublicKeyInfo."""
    return _spki_digest(der)[: 2 * KEY_ID_BYTES]


def device_key_statement(device_id: str, new_key_der: bytes, request_nonce: str) -> bytes:
    """What a new device key signs to prove it is held (module docstring)."""
    for name, value in (("device id", device_id), ("request nonce", request_nonce)):
        if not isinstance(value, str) or not value or not value.isascii() or "\n" in value:
            raise InvalidLength(f"{name} must be a non-empty ASCII line")
    return "\n".join(
        [DEVICE_KEY_LABEL, device_id, _spki_digest(new_key_der), request_nonce]
    ).encode()


def transport_key_statement(previous_der: bytes, new_der: bytes) -> bytes:
    """What the previous transport key signs to endorse its successor."""
    if previous_der == new_der:
        raise InvalidKey("a key cannot endorse itself")
    return "\n".join(
        [TRANSPORT_KEY_LABEL, _spki_digest(previous_der), _spki_digest(new_der)]
    ).encode()


def _sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise InvalidKey("the signing key must be an EC P-256 private key")
    return private_key.sign(message, ec.ECDSA(hashes.SHA256()))


def _verify(public_der: bytes, signature: bytes, message: bytes, what: str) -> None:
    public = load_p256_public_key(public_der)
    if not isinstance(signature, bytes) or not 0 < len(signature) <= MAX_SIGNATURE_BYTES:
        raise InvalidSignature(f"{what}: not a P-256 signature")
    try:
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except CryptoInvalidSignature:
        raise InvalidSignature(f"{what} does not verify") from None


def prove_device_key(
    new_private: ec.EllipticCurvePrivateKey, device_id: str, request_nonce: str
) -> bytes:
    """The new device key's proof of possession for one request (DER ECDSA signature)."""
    if not isinstance(new_private, ec.EllipticCurvePrivateKey):
        raise InvalidKey("the new device key must be an EC P-256 private key")
    der = public_key_der(new_private.public_key())
    return _sign(new_private, device_key_statement(device_id, der, request_nonce))


def verify_device_key_proof(
    new_key_der: bytes, proof: bytes, device_id: str, request_nonce: str
) -> None:
    """Raise :class:`InvalidSignature` unless ``proof`` is the new key's signature of
    :func:`device_key_statement` (:class:`InvalidKey` for a key that is not P-256)."""
    statement = device_key_statement(device_id, new_key_der, request_nonce)
    _verify(new_key_der, proof, statement, "the proof of possession")


def endorse_transport_key(previous_private: ec.EllipticCurvePrivateKey, new_der: bytes) -> bytes:
    """The previous transport key's endorsement of ``new_der`` (DER ECDSA signature)."""
    if not isinstance(previous_private, ec.EllipticCurvePrivateKey):
        raise InvalidKey("the endorsing key must be an EC P-256 private key")
    previous_der = public_key_der(previous_private.public_key())
    return _sign(previous_private, transport_key_statement(previous_der, new_der))


def verify_transport_endorsement(previous_der: bytes, new_der: bytes, endorsement: bytes) -> None:
    """Raise :class:`InvalidSignature` unless ``previous_der`` endorsed ``new_der``."""
    statement = transport_key_statement(previous_der, new_der)
    _verify(previous_der, endorsement, statement, "the transport key endorsement")


def follow_transport_chain(pinned_der: bytes, chain: Sequence[tuple[bytes, bytes | None]]) -> bytes:
    """The newest transport key reachable from ``pinned_der`` through endorsements.

    ``chain`` lists (DER, endorsement by the element before it) oldest first, ending with
    the current key. The pin must be in it; every later element must be endorsed by the
    one before. Returns the last element's DER (the pin itself when it is the last).
    Raises :class:`InvalidSignature` when the pin is not in the chain or a link does not
    verify, :class:`InvalidLength` for a chain longer than :data:`MAX_CHAIN` or empty.
    """
    if not 0 < len(chain) <= MAX_CHAIN:
        raise InvalidLength(f"the chain must hold 1-{MAX_CHAIN} keys")
    ders = [der for der, _ in chain]
    if pinned_der not in ders:
        raise InvalidSignature("the pinned transport key is not in the announced chain")
    start = len(ders) - 1 - ders[::-1].index(pinned_der)
    current = pinned_der
    for der, endorsement in chain[start + 1 :]:
        if endorsement is None:
            raise InvalidSignature("a key after the pinned one is not endorsed")
        verify_transport_endorsement(current, der, endorsement)
        current = der
    return current
