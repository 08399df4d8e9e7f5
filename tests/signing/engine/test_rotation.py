"""The statements, proofs and endorsement chains of key rotation (docs/app-api.md §9)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from signing.engine import InvalidKey, InvalidLength, InvalidSignature, public_key_der
from signing.engine.rotation import (
    MAX_CHAIN,
    device_key_statement,
    endorse_transport_key,
    follow_transport_chain,
    key_id,
    prove_device_key,
    transport_key_statement,
    verify_device_key_proof,
    verify_transport_endorsement,
)

DEVICE = "0b8c2f4e-1d2a-4b3c-9d8e-7f6a5b4c3d2e"
NONCE = "AAECAwQFBgcICQoLDA0ODw=="


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return public_key_der(key.public_key())


def _flip(data: bytes, at: int = -1) -> bytes:
    raw = bytearray(data)
    raw[at] ^= 0x01
    return bytes(raw)


def test_statements_are_labelled_lines() -> None:
    new = _der(_key())
    digest = hashlib.sha256(new).hexdigest()
    assert device_key_statement(DEVICE, new, NONCE) == (
        f"openeid-device-key-v1\n{DEVICE}\n{digest}\n{NONCE}".encode()
    )
    old = _der(_key())
    assert transport_key_statement(old, new) == (
        f"openeid-transport-key-v1\n{hashlib.sha256(old).hexdigest()}\n{digest}".encode()
    )
    assert key_id(new) == digest[:16]


def test_a_proof_binds_key_device_and_nonce() -> None:
    new = _key()
    proof = prove_device_key(new, DEVICE, NONCE)
    verify_device_key_proof(_der(new), proof, DEVICE, NONCE)
    other_device = "1b8c2f4e-1d2a-4b3c-9d8e-7f6a5b4c3d2e"
    for args in [
        (_der(_key()), proof, DEVICE, NONCE),  # another key
        (_der(new), proof, other_device, NONCE),  # another device
        (_der(new), proof, DEVICE, "AQECAwQFBgcICQoLDA0ODw=="),  # another request
        (_der(new), _flip(proof), DEVICE, NONCE),  # tampered
        (_der(new), b"", DEVICE, NONCE),
        (_der(new), b"\x30" * 73, DEVICE, NONCE),
    ]:
        with pytest.raises(InvalidSignature):
            verify_device_key_proof(*args)


@pytest.mark.parametrize(
    "der",
    [
        b"garbage",
        b"",
        b"\x30" * 300,
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
    ],
)
def test_only_p256_keys(der: bytes) -> None:
    with pytest.raises(InvalidKey):
        verify_device_key_proof(der, b"\x30\x06", DEVICE, NONCE)
    with pytest.raises(InvalidKey):
        key_id(der)


def test_statement_fields_are_single_lines() -> None:
    for device, nonce in [("", NONCE), (DEVICE, "a\nb"), (DEVICE, "é")]:
        with pytest.raises(InvalidLength):
            device_key_statement(device, _der(_key()), nonce)
    key = _key()
    with pytest.raises(InvalidKey):
        transport_key_statement(_der(key), _der(key))


def test_endorsement_and_chain() -> None:
    k0, k1, k2 = _key(), _key(), _key()
    e1 = endorse_transport_key(k0, _der(k1))
    e2 = endorse_transport_key(k1, _der(k2))
    verify_transport_endorsement(_der(k0), _der(k1), e1)
    with pytest.raises(InvalidSignature):
        verify_transport_endorsement(_der(k0), _der(k1), _flip(e1))
    with pytest.raises(InvalidSignature):
        verify_transport_endorsement(_der(k0), _der(k2), e2)  # k1 endorsed k2, not k0
    chain = [(_der(k0), None), (_der(k1), e1), (_der(k2), e2)]
    assert follow_transport_chain(_der(k0), chain) == _der(k2)
    assert follow_transport_chain(_der(k1), chain) == _der(k2)
    assert follow_transport_chain(_der(k2), chain) == _der(k2)
    # A pin outside the chain, a missing or wrong link: refused.
    with pytest.raises(InvalidSignature, match="not in"):
        follow_transport_chain(_der(_key()), chain)
    with pytest.raises(InvalidSignature):
        follow_transport_chain(_der(k0), [(_der(k0), None), (_der(k2), None)])
    forged = endorse_transport_key(_key(), _der(k2))
    with pytest.raises(InvalidSignature):
        follow_transport_chain(_der(k1), [(_der(k1), None), (_der(k2), forged)])
    with pytest.raises(InvalidLength):
        follow_transport_chain(_der(k0), [])
    with pytest.raises(InvalidLength):
        follow_transport_chain(_der(k0), [(_der(k0), None)] * (MAX_CHAIN + 1))


def test_signing_keys_must_be_p256() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidKey):
        prove_device_key(p384, DEVICE, NONCE)
    with pytest.raises(InvalidKey):
        endorse_transport_key(p384, _der(_key()))
    with pytest.raises(InvalidKey):
        prove_device_key("key", DEVICE, NONCE)  # type: ignore[arg-type]
