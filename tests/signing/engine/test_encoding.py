"""Encodings (RFC 8017) against `cryptography`, and every bad-input path."""

from __future__ import annotations

import functools
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from signing.engine import (
    HashAlgorithm,
    ServerKeyHalf,
    byte_length,
    emsa_pkcs1_v15_encode,
    emsa_pss_encode,
    emsa_pss_verify,
    encode_message,
    hash_message,
    i2osp,
    os2ip,
    server_rsasp1,
    verify,
    verify_pkcs1_v15,
    verify_pss,
)
from signing.engine.encoding import check_digest, hash_spec, mgf1, parse_padding
from signing.engine.errors import (
    HashLengthMismatch,
    InvalidInteger,
    InvalidLength,
    InvalidSignature,
    UnsupportedAlgorithm,
)

CRYPTO_HASH: dict[str, hashes.HashAlgorithm] = {
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
ALGS = list(CRYPTO_HASH)


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def half_of(key: rsa.RSAPrivateKey) -> ServerKeyHalf:
    numbers = key.private_numbers()
    return ServerKeyHalf.from_primes(numbers.p, numbers.q)


def raw_sign(key: rsa.RSAPrivateKey, em: bytes) -> bytes:
    """Our RSA/CRT path (blinded, fault-checked) on an encoded message."""
    half = half_of(key)
    return i2osp(server_rsasp1(half, os2ip(em)), byte_length(half.n2))


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("bits", [1024, 2048])
def test_pkcs1_v15_equals_cryptography_byte_for_byte(alg: str, bits: int) -> None:
    key = rsa_key(bits)
    digest = hash_message(b"known answer", alg)
    expected = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(CRYPTO_HASH[alg]))
    em = emsa_pkcs1_v15_encode(digest, alg, byte_length(key.public_key().public_numbers().n))
    assert raw_sign(key, em) == expected
    n = key.public_key().public_numbers().n
    verify_pkcs1_v15(n, 65537, expected, digest, alg)


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("bits", [1024, 1025, 1032, 2048])
@pytest.mark.parametrize("salt_len", [0, 20, 32])
def test_pss_round_trips_with_cryptography(alg: str, bits: int, salt_len: int) -> None:
    key = rsa_key(bits)
    n = key.public_key().public_numbers().n
    digest = hash_message(b"pss " + str(bits).encode(), alg)
    salt = bytes(range(salt_len))
    em = emsa_pss_encode(digest, alg, n.bit_length() - 1, salt)
    assert len(em) == (n.bit_length() - 1 + 7) // 8
    ours = raw_sign(key, em)
    pss = padding.PSS(mgf=padding.MGF1(CRYPTO_HASH[alg]), salt_length=salt_len)
    key.public_key().verify(ours, digest, pss, utils.Prehashed(CRYPTO_HASH[alg]))
    theirs = key.sign(digest, pss, utils.Prehashed(CRYPTO_HASH[alg]))
    verify_pss(n, 65537, theirs, digest, alg, salt_len)
    verify(n, 65537, ours, digest, alg, "PSS", salt_len)
    with pytest.raises(InvalidSignature):
        verify_pss(n, 65537, theirs, digest, alg, salt_len + 1)
    other = hash_message(b"other", alg)
    with pytest.raises(InvalidSignature):
        verify_pss(n, 65537, theirs, other, alg, salt_len)
    with pytest.raises(CryptoInvalidSignature):
        key.public_key().verify(ours, other, pss, utils.Prehashed(CRYPTO_HASH[alg]))


def test_pkcs1_encoding_layout() -> None:
    digest = bytes(32)
    em = emsa_pkcs1_v15_encode(digest, "SHA256", 64)
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    assert em == b"\x00\x01" + b"\xff" * (64 - 3 - 51) + b"\x00" + prefix + digest
    assert len(emsa_pkcs1_v15_encode(bytes(64), "SHA512", 83 + 11)) == 94


def test_pss_encoding_layout_and_top_bits() -> None:
    em = emsa_pss_encode(bytes(48), "SHA384", 1023, b"salt")
    assert len(em) == 128 and em[-1] == 0xBC and em[0] < 0x80
    em = emsa_pss_encode(bytes(48), "SHA384", 1024, b"salt")
    assert len(em) == 128
    emsa_pss_verify(bytes(48), em, 1024, "SHA384", 4)


def test_digest_info_prefixes_and_names() -> None:
    for alg, size in (("SHA256", 32), ("SHA384", 48), ("SHA512", 64)):
        spec = hash_spec(alg)
        assert spec.digest_size == size == hashlib.new(spec.hashlib_name).digest_size
        assert spec.digest_info_prefix[-1] == size
        assert HashAlgorithm(alg).value == alg


def test_i2osp_os2ip() -> None:
    assert i2osp(0, 0) == b""
    assert i2osp(258, 3) == b"\x00\x01\x02"
    assert os2ip(b"\x00\x01\x02") == 258
    assert os2ip(i2osp(2**2048 - 1, 256)) == 2**2048 - 1


@pytest.mark.parametrize(
    ("x", "length", "error"),
    [
        (-1, 4, InvalidInteger),
        (256, 1, InvalidInteger),
        (1.0, 4, InvalidInteger),
        ("1", 4, InvalidInteger),
        (True, 4, InvalidInteger),
        (1, -1, InvalidLength),
        (5, 2**70, InvalidLength),
        (5, 4097, InvalidLength),
        (1, "4", InvalidInteger),
    ],
)
def test_i2osp_rejects(x: object, length: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        i2osp(x, length)  # type: ignore[arg-type]


def test_os2ip_rejects_non_bytes() -> None:
    with pytest.raises(InvalidLength):
        os2ip("00")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        os2ip(bytearray(2))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["SHA1", "SHA224", "sha256", "SHA-256", "SHA3-256", "", 256, None])
def test_unsupported_hash(name: object) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        hash_spec(name)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedAlgorithm):
        emsa_pkcs1_v15_encode(bytes(32), name, 256)  # type: ignore[arg-type]


@pytest.mark.parametrize(("alg", "length"), [("SHA256", 48), ("SHA384", 32), ("SHA512", 32)])
def test_hash_length_must_match_algorithm(alg: str, length: int) -> None:
    digest = bytes(length)
    with pytest.raises(HashLengthMismatch):
        emsa_pkcs1_v15_encode(digest, alg, 256)
    with pytest.raises(HashLengthMismatch):
        emsa_pss_encode(digest, alg, 2047, b"")
    with pytest.raises(HashLengthMismatch):
        encode_message(2**2048 - 1, digest, alg, "PKCS1v15")
    with pytest.raises(HashLengthMismatch):
        verify_pkcs1_v15(2**2048 - 1, 65537, bytes(256), digest, alg)
    with pytest.raises(HashLengthMismatch):
        verify_pss(2**2048 - 1, 65537, bytes(256), digest, alg, 0)


def test_bad_encoding_parameters() -> None:
    with pytest.raises(InvalidLength):
        check_digest("00" * 16, "SHA256")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        emsa_pkcs1_v15_encode(bytes(32), "SHA256", 61)  # needs 51 + 11
    with pytest.raises(InvalidInteger):
        emsa_pkcs1_v15_encode(bytes(32), "SHA256", 256.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        emsa_pss_encode(bytes(32), "SHA256", 8 * 40, bytes(10))  # emLen < hLen + sLen + 2
    with pytest.raises(InvalidLength):
        emsa_pss_encode(bytes(32), "SHA256", 0, b"")
    with pytest.raises(InvalidLength):
        emsa_pss_encode(bytes(32), "SHA256", 10**9, b"")
    with pytest.raises(InvalidLength):
        emsa_pkcs1_v15_encode(bytes(32), "SHA256", 10**9)
    with pytest.raises(InvalidLength):
        emsa_pss_encode(bytes(32), "SHA256", 2047, "salt")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        hash_message("text", "SHA256")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedAlgorithm):
        mgf1(b"seed", 10, "MD5")


def test_encode_message_rules() -> None:
    n = rsa_key(1024).public_key().public_numbers().n
    digest = bytes(32)
    assert encode_message(n, digest, "SHA256", "PKCS1v15") < n
    assert encode_message(n, digest, "SHA256", "PSS", b"") < n
    with pytest.raises(UnsupportedAlgorithm):
        encode_message(n, digest, "SHA256", "PKCS1v15", b"salt")
    with pytest.raises(InvalidLength):
        encode_message(n, digest, "SHA256", "PSS")
    with pytest.raises(UnsupportedAlgorithm):
        encode_message(n, digest, "SHA256", "OAEP")
    with pytest.raises(UnsupportedAlgorithm):
        parse_padding(1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        encode_message(2, digest, "SHA256", "PSS", b"")
    with pytest.raises(InvalidInteger):
        encode_message("n", digest, "SHA256", "PSS", b"")  # type: ignore[arg-type]


def test_verification_rejects_malformed_signatures_and_keys() -> None:
    key = rsa_key(1024)
    n = key.public_key().public_numbers().n
    digest = hash_message(b"x", "SHA256")
    good = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    verify(n, 65537, good, digest, "SHA256", "PKCS1v15")
    bad_inputs = [
        good[1:],  # too short
        b"\x00" + good,  # too long
        i2osp(n, 128),  # s = n
        i2osp(n + 1, 128),  # s > n
        bytes(128),  # s = 0
        bytes([good[0] ^ 1]) + good[1:],  # tampered
    ]
    for signature in bad_inputs:
        with pytest.raises(InvalidSignature):
            verify_pkcs1_v15(n, 65537, signature, digest, "SHA256")
        with pytest.raises(InvalidSignature):
            verify_pss(n, 65537, signature, digest, "SHA256", 32)
    with pytest.raises(InvalidSignature):
        verify_pkcs1_v15(n, 65537, good, hash_message(b"y", "SHA256"), "SHA256")
    for bad_n, bad_e in ((n + 1, 65537), (n, 65536), (n, 1), (1, 3)):
        with pytest.raises(InvalidInteger):
            verify_pkcs1_v15(bad_n, bad_e, good, digest, "SHA256")
    with pytest.raises(InvalidLength):
        verify_pkcs1_v15(n, 65537, bytearray(good), digest, "SHA256")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        verify(n, 65537, good, digest, "SHA256", "PSS")


def test_pss_verify_rejects_each_inconsistency() -> None:
    digest = hash_message(b"z", "SHA256")
    salt = b"\x5a" * 16
    em_bits = 1023
    em = emsa_pss_encode(digest, "SHA256", em_bits, salt)
    emsa_pss_verify(digest, em, em_bits, "SHA256", 16)

    def flip(index: int, mask: int = 0x01) -> bytes:
        return em[:index] + bytes([em[index] ^ mask]) + em[index + 1 :]

    cases = [
        em[:-1] + b"\xbd",  # trailer
        flip(0, 0x80),  # top bit must be zero
        flip(2),  # PS / 0x01 separator
        flip(len(em) - 40),  # salt → H mismatch
        flip(len(em) - 2),  # H itself
        em[1:],  # length
    ]
    for bad in cases:
        with pytest.raises(InvalidSignature):
            emsa_pss_verify(digest, bad, em_bits, "SHA256", 16)
    with pytest.raises(InvalidSignature):
        emsa_pss_verify(digest, em, em_bits, "SHA256", 200)
    with pytest.raises(InvalidSignature):
        emsa_pss_verify(digest, em, em_bits, "SHA256", 15)
    with pytest.raises(InvalidInteger):
        emsa_pss_verify(digest, em, em_bits, "SHA256", -1)
    with pytest.raises(InvalidLength):
        emsa_pss_verify(digest, list(em), em_bits, "SHA256", 16)  # type: ignore[arg-type]


def test_pss_representative_wider_than_em_is_rejected() -> None:
    """|n| = 1025: emBits = 1024, emLen = 128 < k = 129, so m ≥ 2^1024 is invalid."""
    n = rsa_key(1025).public_key().public_numbers().n
    signature = i2osp(n - 1, 129)  # (n − 1)^e ≡ n − 1 (mod n) ≥ 2^1024
    with pytest.raises(InvalidSignature):
        verify_pss(n, 65537, signature, bytes(32), "SHA256", 32)
