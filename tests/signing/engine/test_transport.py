"""End-to-end encryption of s1′ to the transport key (docs/app-api.md §5)."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from signing.engine import (
    InvalidKey,
    InvalidLength,
    TransportError,
    load_p256_public_key,
    public_key_der,
    registration_aad,
    transaction_aad,
    transport_decrypt_share,
    transport_encrypt_share,
)
from signing.engine.errors import InvalidInput, InvalidInteger
from signing.engine.transport import decrypt_share, encrypt_share

AAD = b"transaction:6f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
LENGTH = 384


@pytest.fixture(scope="module")
def transport_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def s1_prime(rng: random.Random) -> int:
    return rng.getrandbits(3072 - 1) | 1


def _unb64(value: str) -> bytes:
    return base64.b64decode(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_round_trip_and_sizes(transport_key: ec.EllipticCurvePrivateKey, s1_prime: int) -> None:
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    assert set(envelope) == {"epk", "iv", "ct"}
    epk, iv, ct = (_unb64(envelope[k]) for k in ("epk", "iv", "ct"))
    assert len(epk) == 65 and epk[0] == 4 and len(iv) == 12 and len(ct) == LENGTH + 16
    assert decrypt_share(envelope, transport_key, AAD, LENGTH) == s1_prime
    # The re-exports are the same functions.
    assert transport_encrypt_share is encrypt_share and transport_decrypt_share is decrypt_share


def test_small_values_are_padded_to_the_length(transport_key: ec.EllipticCurvePrivateKey) -> None:
    for value in (0, 1, 2**3071):
        envelope = encrypt_share(value, LENGTH, transport_key.public_key(), AAD)
        assert decrypt_share(envelope, transport_key, AAD, LENGTH) == value


def test_fresh_ephemeral_key_and_iv_every_time(
    transport_key: ec.EllipticCurvePrivateKey, s1_prime: int
) -> None:
    a = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    b = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    assert a["epk"] != b["epk"] and a["iv"] != b["iv"] and a["ct"] != b["ct"]


def test_matches_the_documented_construction(
    transport_key: ec.EllipticCurvePrivateKey, s1_prime: int
) -> None:
    """Decrypt independently, step by step as docs/app-api.md §5 says."""
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    epk = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(envelope["epk"]))
    z = transport_key.exchange(ec.ECDH(), epk)
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=b"smartid-s1p-v1").derive(z)
    plain = AESGCM(k).decrypt(_unb64(envelope["iv"]), _unb64(envelope["ct"]), AAD)
    assert plain == s1_prime.to_bytes(LENGTH, "big")


def test_wrong_aad(transport_key: ec.EllipticCurvePrivateKey, s1_prime: int) -> None:
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    for aad in (b"", AAD + b"x", transaction_aad("another"), registration_aad("x", "AUTH")):
        with pytest.raises(TransportError):
            decrypt_share(envelope, transport_key, aad, LENGTH)


def test_wrong_key(transport_key: ec.EllipticCurvePrivateKey, s1_prime: int) -> None:
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    with pytest.raises(TransportError):
        decrypt_share(envelope, ec.generate_private_key(ec.SECP256R1()), AAD, LENGTH)


@pytest.mark.parametrize("name", ["epk", "iv", "ct"])
@pytest.mark.parametrize("position", [0, 1, -1])
def test_every_flipped_byte_is_refused(
    transport_key: ec.EllipticCurvePrivateKey, s1_prime: int, name: str, position: int
) -> None:
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    raw = bytearray(_unb64(envelope[name]))
    raw[position] ^= 0x01
    with pytest.raises(TransportError):
        decrypt_share({**envelope, name: _b64(bytes(raw))}, transport_key, AAD, LENGTH)


def test_a_point_off_the_curve_and_a_compressed_point(
    transport_key: ec.EllipticCurvePrivateKey, s1_prime: int
) -> None:
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    off_curve = b"\x04" + b"\x01" * 64
    with pytest.raises(TransportError, match="point"):
        decrypt_share({**envelope, "epk": _b64(off_curve)}, transport_key, AAD, LENGTH)
    compressed = b"\x02" + _unb64(envelope["epk"])[1:33] + b"\x00" * 32
    with pytest.raises(TransportError, match="uncompressed"):
        decrypt_share({**envelope, "epk": _b64(compressed)}, transport_key, AAD, LENGTH)


def test_wrong_length_declared(transport_key: ec.EllipticCurvePrivateKey, s1_prime: int) -> None:
    envelope = encrypt_share(s1_prime, LENGTH, transport_key.public_key(), AAD)
    for length in (LENGTH - 1, LENGTH + 1, 256):
        with pytest.raises(TransportError):
            decrypt_share(envelope, transport_key, AAD, length)


def _envelope(transport_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    return encrypt_share(12345, LENGTH, transport_key.public_key(), AAD)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: None,
        lambda e: "text",
        lambda e: [e["epk"], e["iv"], e["ct"]],
        lambda e: {k: v for k, v in e.items() if k != "iv"},
        lambda e: {**e, "extra": "AAAA"},
        lambda e: {**e, "iv": 12},
        lambda e: {**e, "iv": None},
        lambda e: {**e, "iv": "AAAAAAAAAAAAAAAA" + "AAAA"},  # 15 bytes
        lambda e: {**e, "iv": "AAAAAAAAAAAAAAA!"},  # not Base64
        lambda e: {**e, "iv": "AAAAAAAAAAAAAAAé"},  # not ASCII
        lambda e: {**e, "iv": "AAAAAAAAAAAAAA=="},  # right length of text, 10 bytes
        lambda e: {**e, "epk": e["epk"][:-4]},
        lambda e: {**e, "epk": e["epk"] + "AAAA"},
        lambda e: {**e, "ct": e["ct"] + "AAAA"},  # oversized
        lambda e: {**e, "ct": "A" * 10_000_000},  # huge: refused before decoding
        lambda e: {**e, "ct": e["ct"][:-4]},
    ],
)
def test_malformed_envelopes(transport_key: ec.EllipticCurvePrivateKey, mutate: object) -> None:
    envelope = mutate(_envelope(transport_key))  # type: ignore[operator]
    with pytest.raises(TransportError):
        decrypt_share(envelope, transport_key, AAD, LENGTH)


def test_argument_checks(transport_key: ec.EllipticCurvePrivateKey) -> None:
    public = transport_key.public_key()
    with pytest.raises(InvalidInteger):
        encrypt_share(2**3072, LENGTH, public, AAD)  # does not fit
    with pytest.raises(InvalidInteger):
        encrypt_share(-1, LENGTH, public, AAD)
    with pytest.raises(InvalidInteger):
        encrypt_share("1", LENGTH, public, AAD)  # type: ignore[arg-type]
    for length in (0, 1025, True, "384"):
        with pytest.raises(InvalidLength):
            encrypt_share(1, length, public, AAD)  # type: ignore[arg-type]
        with pytest.raises(InvalidLength):
            decrypt_share(_envelope(transport_key), transport_key, AAD, length)  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        encrypt_share(1, LENGTH, public, "aad")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        decrypt_share(_envelope(transport_key), transport_key, "aad", LENGTH)  # type: ignore[arg-type]
    other_curve = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidKey):
        encrypt_share(1, LENGTH, other_curve.public_key(), AAD)
    with pytest.raises(InvalidKey):
        decrypt_share(_envelope(transport_key), other_curve, AAD, LENGTH)
    with pytest.raises(InvalidKey):
        encrypt_share(1, LENGTH, b"key", AAD)  # type: ignore[arg-type]


def test_load_p256_public_key(transport_key: ec.EllipticCurvePrivateKey) -> None:
    der = public_key_der(transport_key.public_key())
    assert load_p256_public_key(der).public_numbers() == transport_key.public_key().public_numbers()
    rsa_der = (
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in (b"", b"\x30\x03\x02\x01\x00", der[:-1], der + b"\x00", rsa_der, p384, b"x" * 300):
        with pytest.raises(InvalidKey):
            load_p256_public_key(bad)
    with pytest.raises(InvalidKey):
        load_p256_public_key("der")  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        public_key_der(ec.generate_private_key(ec.SECP384R1()).public_key())


def test_aad_helpers() -> None:
    assert registration_aad("r-1", "AUTH") == b"registration:r-1:AUTH"
    assert registration_aad("r-1", "SIGN") == b"registration:r-1:SIGN"
    assert transaction_aad("t-1") == b"transaction:t-1"
    for registration_id, purpose in (("", "AUTH"), ("r", "auth"), (None, "AUTH")):
        with pytest.raises(InvalidInput):
            registration_aad(registration_id, purpose)  # type: ignore[arg-type]
    for transaction_id in ("", None):
        with pytest.raises(InvalidInput):
            transaction_aad(transaction_id)  # type: ignore[arg-type]
    from signing.engine import onboarding_ticket_aad

    assert onboarding_ticket_aad("a-1") == b"onboarding:a-1:ticket"
    for application_id in ("", None):
        with pytest.raises(InvalidInput):
            onboarding_ticket_aad(application_id)  # type: ignore[arg-type]


def test_sealed_secret_round_trip_and_label_separation(
    transport_key: ec.EllipticCurvePrivateKey,
) -> None:
    from signing.engine import transport_open_secret, transport_seal_secret

    secret = b"ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ"
    aad = b"onboarding:1"
    envelope = transport_seal_secret(secret, transport_key.public_key(), aad)
    assert transport_open_secret(envelope, transport_key, aad, len(secret)) == secret
    with pytest.raises(TransportError):
        transport_open_secret(envelope, transport_key, b"onboarding:2", len(secret))
    # A sealed secret is not an s1' envelope: the HKDF labels differ.
    with pytest.raises(TransportError):
        decrypt_share(envelope, transport_key, aad, len(secret))
    share = encrypt_share(
        int.from_bytes(secret, "big"), len(secret), transport_key.public_key(), aad
    )
    with pytest.raises(TransportError):
        transport_open_secret(share, transport_key, aad, len(secret))


@pytest.mark.parametrize("bad", [b"", b"x" * 65, "text"])
def test_sealed_secret_sizes(transport_key: ec.EllipticCurvePrivateKey, bad: object) -> None:
    from signing.engine import transport_open_secret, transport_seal_secret

    with pytest.raises(InvalidInput):
        transport_seal_secret(bad, transport_key.public_key(), b"")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        transport_open_secret({}, transport_key, b"", 65)
    with pytest.raises(InvalidInput):
        transport_open_secret({}, transport_key, "aad", 8)  # type: ignore[arg-type]


def test_renewal_helpers() -> None:
    from signing.engine import renewal_aad, renewal_statement

    assert renewal_aad("PNOEE-1-AB12-Q", "proof") == b"renewal:PNOEE-1-AB12-Q:proof"
    assert renewal_aad("r-1", "SIGN") == b"renewal:r-1:SIGN"
    for reference, part in (("", "AUTH"), ("r", "other"), (None, "proof")):
        with pytest.raises(InvalidInput):
            renewal_aad(reference, part)  # type: ignore[arg-type]
    statement = renewal_statement("DN", b"\x01", b"\x02")
    lines = statement.decode().split("\n")
    assert lines[:2] == ["openeid-renewal-v1", "DN"] and len(lines) == 4
    # Each new modulus is bound: swapping them or changing one changes the statement.
    assert statement != renewal_statement("DN", b"\x02", b"\x01")
    assert statement != renewal_statement("DN", b"\x01", b"\x03")
    for number, auth, sign in (("", b"", b""), ("DN", "x", b""), ("DN", b"", None)):
        with pytest.raises(InvalidInput):
            renewal_statement(number, auth, sign)  # type: ignore[arg-type]
