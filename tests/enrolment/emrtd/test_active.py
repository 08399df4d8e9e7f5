"""Active authentication: RSA ISO/IEC 9796-2 (both trailers) and plain ECDSA."""

from __future__ import annotations

import hashlib
import random
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from demo import passports as synthetic
from device.passport import Passport, sign_9796_2, sign_ecdsa_plain
from enrolment.emrtd import CscaTrustStore, EmrtdError, active_authenticate
from tests.helpers.passports import MakePassport, check

CHALLENGE = bytes.fromhex("0102030405060708")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    # The size most RSA AA chips carry (and what the block lengths below assume).
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


def _raw_rsa(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    return pow(int.from_bytes(block, "big"), numbers.d, n).to_bytes(128, "big")


def test_known_answer_9796_2_block(rsa_key: rsa.RSAPrivateKey) -> None:
    """A block built by hand, byte by byte from the standard, verifies."""
    m1 = bytes(range(106))  # 128 − 1 header − 20 SHA-1 − 1 trailer
    block = b"\x6a" + m1 + hashlib.sha1(m1 + CHALLENGE).digest() + b"\xbc"  # noqa: S324
    assert len(block) == 128
    active_authenticate(
        aa_public_key=rsa_key.public_key(), challenge=CHALLENGE, signature=_raw_rsa(rsa_key, block)
    )


def test_9796_2_with_padding_before_m1(rsa_key: rsa.RSAPrivateKey) -> None:
    """A shorter M1 is preceded by BB … BA padding (header 0x6B)."""
    m1 = bytes(range(80))
    digest = hashlib.sha256(m1 + CHALLENGE).digest()
    block = b"\x6b" + b"\xbb" * 12 + b"\xba" + m1 + digest + b"\x34\xcc"
    assert len(block) == 128
    active_authenticate(
        aa_public_key=rsa_key.public_key(), challenge=CHALLENGE, signature=_raw_rsa(rsa_key, block)
    )


@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha384", "sha512", "sha224"])
def test_rsa_trailers(rsa_key: rsa.RSAPrivateKey, hash_name: str) -> None:
    signature = sign_9796_2(rsa_key, CHALLENGE, hash_name=hash_name)
    active_authenticate(
        aa_public_key=rsa_key.public_key(), challenge=CHALLENGE, signature=signature
    )
    with pytest.raises(EmrtdError) as caught:
        active_authenticate(
            aa_public_key=rsa_key.public_key(), challenge=b"87654321", signature=signature
        )
    assert caught.value.code == "aa_signature_invalid"


def test_rsa_accepts_n_minus_s(rsa_key: rsa.RSAPrivateKey) -> None:
    """ISO/IEC 9796-2 lets the signer send n − s; the verifier must accept both."""
    n = rsa_key.public_key().public_numbers().n
    s = int.from_bytes(sign_9796_2(rsa_key, CHALLENGE, hash_name="sha1"), "big")
    active_authenticate(
        aa_public_key=rsa_key.public_key(),
        challenge=CHALLENGE,
        signature=(n - s).to_bytes(128, "big"),
    )
    # … and only those two: n − s ± 1 is refused.
    for wrong in (n - s - 1, n - s + 1):
        with pytest.raises(EmrtdError):
            active_authenticate(
                aa_public_key=rsa_key.public_key(),
                challenge=CHALLENGE,
                signature=wrong.to_bytes(128, "big"),
            )


@pytest.mark.parametrize(
    "block",
    [
        b"\x4a" + bytes(106) + bytes(20) + b"\xbc",  # total recovery: challenge not covered
        b"\x2a" + bytes(106) + bytes(20) + b"\xbc",  # wrong header bits
        b"\x6a" + bytes(105) + bytes(20) + b"\x99\xcc",  # unknown hash identifier
        b"\x6a" + bytes(106) + bytes(20) + b"\xbc",  # wrong hash
        b"\x6b" + b"\xbb" * 106 + bytes(20) + b"\xbc",  # no end of padding
    ],
)
def test_rsa_bad_blocks(rsa_key: rsa.RSAPrivateKey, block: bytes) -> None:
    with pytest.raises(EmrtdError) as caught:
        active_authenticate(
            aa_public_key=rsa_key.public_key(),
            challenge=CHALLENGE,
            signature=_raw_rsa(rsa_key, block),
        )
    assert caught.value.code == "aa_signature_invalid"


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        bytes(128),
        b"\xff" * 128,
        bytes(127),
        secrets.token_bytes(129),
        secrets.token_bytes(128),
    ],
)
def test_rsa_garbage_signatures(rsa_key: rsa.RSAPrivateKey, signature: bytes) -> None:
    with pytest.raises(EmrtdError) as caught:
        active_authenticate(
            aa_public_key=rsa_key.public_key(), challenge=CHALLENGE, signature=signature
        )
    assert caught.value.code == "aa_signature_invalid"


@pytest.mark.parametrize(
    ("curve", "hash_name"),
    [(ec.SECP256R1(), "sha256"), (ec.BrainpoolP256R1(), "sha256"), (ec.SECP384R1(), "sha384")],
)
def test_ecdsa_plain_signatures(curve: ec.EllipticCurve, hash_name: str) -> None:
    key = ec.generate_private_key(curve)
    signature = sign_ecdsa_plain(key, CHALLENGE, hash_name=hash_name)
    assert len(signature) == 2 * ((curve.key_size + 7) // 8)
    active_authenticate(
        aa_public_key=key.public_key(),
        challenge=CHALLENGE,
        signature=signature,
        hash_algorithm=hash_name,
    )
    for challenge, sig, hash_algorithm in [
        (b"87654321", signature, hash_name),  # another challenge
        (CHALLENGE, signature[:-1] + bytes([signature[-1] ^ 1]), hash_name),  # flipped bit
        (CHALLENGE, signature, "sha512"),  # another hash
        (CHALLENGE, signature[1:], hash_name),  # wrong length
    ]:
        with pytest.raises(EmrtdError) as caught:
            active_authenticate(
                aa_public_key=key.public_key(),
                challenge=challenge,
                signature=sig,
                hash_algorithm=hash_algorithm,
            )
        assert caught.value.code == "aa_signature_invalid"


def test_bad_challenges_and_keys() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    for challenge in (b"", bytes(65)):
        with pytest.raises(EmrtdError) as caught:
            active_authenticate(aa_public_key=key.public_key(), challenge=challenge, signature=b"")
        assert caught.value.code == "aa_signature_invalid"
    with pytest.raises(EmrtdError) as caught:
        active_authenticate(aa_public_key="not a key", challenge=CHALLENGE, signature=b"")
    assert caught.value.code == "unsupported_algorithm"


@pytest.mark.parametrize(
    ("aa", "aa_hash"), [("rsa", None), ("rsa", "sha256"), ("ec", None), ("ec", "sha512")]
)
def test_the_whole_chip_round_trip(
    make: MakePassport, store: CscaTrustStore, aa: str, aa_hash: str | None, rng: random.Random
) -> None:
    """Passive result + the device's passport file answer: genuine passes, aa_key fails."""
    genuine = make(aa=aa, aa_hash=aa_hash)
    result = check(genuine, store)
    challenge = rng.randbytes(8)
    chip = Passport.from_json(genuine.to_json())
    active_authenticate(
        aa_public_key=result.aa_public_key,
        challenge=challenge,
        signature=chip.sign_aa(challenge),
        hash_algorithm=result.aa_hash_algorithm,
    )
    cloned = Passport.from_json(synthetic.tampered(genuine, "aa_key").to_json())
    with pytest.raises(EmrtdError) as caught:
        active_authenticate(
            aa_public_key=result.aa_public_key,
            challenge=challenge,
            signature=cloned.sign_aa(challenge),
            hash_algorithm=result.aa_hash_algorithm,
        )
    assert caught.value.code == "aa_signature_invalid"
