"""Composite signatures verify with standard tools (invariant 4): `cryptography` and the
`openssl` command line, for PKCS#1 v1.5 and PSS with SHA-256/384/512, at 1024+1024 and at
full size 3072+3072 (|n| = 6144 and 6143). Tampering makes both verifiers fail.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from signing.engine import (
    ShareMismatch,
    client_partial_for_digest,
    encode_message,
    os2ip,
    server_complete_digest,
    verify,
)
from signing.engine.encoding import hash_spec
from tests.signing.engine.helpers import PIN, SplitKey

CRYPTO_HASH: dict[str, hashes.HashAlgorithm] = {
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
OPENSSL = shutil.which("openssl")


def split_sign(key: SplitKey, digest: bytes, alg: str, pad: str, salt: bytes | None) -> bytes:
    s1_prime = client_partial_for_digest(
        key.blob, PIN, n=key.n, digest=digest, hash_alg=alg, padding=pad, salt=salt
    )
    return server_complete_digest(
        key.composite,
        key.d1_double_prime,
        key.half,
        digest=digest,
        hash_alg=alg,
        padding=pad,
        s1_prime=s1_prime,
        salt=salt,
    )


def crypto_padding(pad: str, alg: str, salt_len: int) -> padding.AsymmetricPadding:
    if pad == "PKCS1v15":
        return padding.PKCS1v15()
    return padding.PSS(mgf=padding.MGF1(CRYPTO_HASH[alg]), salt_length=salt_len)


def crypto_verify(
    key: SplitKey, signature: bytes, data: bytes, alg: str, pad: str, salt_len: int
) -> None:
    public = rsa.RSAPublicNumbers(65537, key.n).public_key()
    public.verify(signature, data, crypto_padding(pad, alg, salt_len), CRYPTO_HASH[alg])


def openssl_verify(
    tmp: Path, key: SplitKey, signature: bytes, data: bytes, alg: str, pad: str, salt_len: int
) -> bool:
    assert OPENSSL is not None
    public = rsa.RSAPublicNumbers(65537, key.n).public_key()
    (tmp / "pub.pem").write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp / "sig.bin").write_bytes(signature)
    (tmp / "data.bin").write_bytes(data)
    command = [OPENSSL, "dgst", "-" + alg.lower(), "-verify", str(tmp / "pub.pem")]
    command += ["-signature", str(tmp / "sig.bin")]
    if pad == "PSS":
        command += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", f"rsa_pss_saltlen:{salt_len}"]
    command.append(str(tmp / "data.bin"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    ok = result.returncode == 0 and "Verified OK" in result.stdout
    assert ok or "Verification failure" in result.stdout + result.stderr, result
    return ok


def check_everything(key: SplitKey, tmp: Path, *, with_openssl: bool, rng: random.Random) -> None:
    for alg in CRYPTO_HASH:
        size = hash_spec(alg).digest_size
        for pad in ("PKCS1v15", "PSS"):
            data = rng.randbytes(100)
            digest = hashlib.new(alg.lower(), data).digest()
            salt = rng.randbytes(size) if pad == "PSS" else None
            salt_len = size if pad == "PSS" else 0
            signature = split_sign(key, digest, alg, pad, salt)
            assert len(signature) == key.composite.k
            verify(key.n, 65537, signature, digest, alg, pad, salt_len)
            crypto_verify(key, signature, data, alg, pad, salt_len)
            tampered = bytes([signature[0] ^ 0x01]) + signature[1:]
            tampered_tail = signature[:-1] + bytes([signature[-1] ^ 0x80])
            other_data = data + b"!"
            for bad_sig, bad_data in (
                (tampered, data),
                (tampered_tail, data),
                (signature, other_data),
            ):
                with pytest.raises(CryptoInvalidSignature):
                    crypto_verify(key, bad_sig, bad_data, alg, pad, salt_len)
            if pad == "PSS":
                with pytest.raises(CryptoInvalidSignature):
                    crypto_verify(key, signature, data, alg, pad, salt_len - 1)
            if with_openssl:
                assert openssl_verify(tmp, key, signature, data, alg, pad, salt_len)
                assert not openssl_verify(tmp, key, tampered, data, alg, pad, salt_len)
                assert not openssl_verify(tmp, key, signature, other_data, alg, pad, salt_len)


def test_small_composite_verifies_with_cryptography_and_openssl(
    small_key: SplitKey, tmp_path: Path, rng: random.Random
) -> None:
    check_everything(small_key, tmp_path, with_openssl=OPENSSL is not None, rng=rng)


def test_salt_must_be_the_same_on_both_sides(key1024: SplitKey) -> None:
    digest = hashlib.sha256(b"salt").digest()
    s1_prime = client_partial_for_digest(
        key1024.blob,
        PIN,
        n=key1024.n,
        digest=digest,
        hash_alg="SHA256",
        padding="PSS",
        salt=b"A" * 32,
    )
    with pytest.raises(ShareMismatch):
        server_complete_digest(
            key1024.composite,
            key1024.d1_double_prime,
            key1024.half,
            digest=digest,
            hash_alg="SHA256",
            padding="PSS",
            s1_prime=s1_prime,
            salt=b"B" * 32,
        )


@pytest.mark.slow
@pytest.mark.skipif(OPENSSL is None, reason="the openssl command line tool is not installed")
def test_full_size_composite_verifies_with_cryptography_and_openssl(
    full_key: SplitKey, tmp_path: Path, rng: random.Random
) -> None:
    assert full_key.bits == 3072 and full_key.composite.k == 768
    assert full_key.n.bit_length() in (6143, 6144)
    check_everything(full_key, tmp_path, with_openssl=True, rng=rng)


@pytest.mark.slow
def test_full_size_pkcs1_equals_single_key_oracle(full_key: SplitKey) -> None:
    """Known answer: the split signature equals m^d mod n with d from all four primes."""
    digest = hashlib.sha256(b"known answer").digest()
    signature = split_sign(full_key, digest, "SHA256", "PKCS1v15", None)
    m = encode_message(full_key.n, digest, "SHA256", "PKCS1v15")
    assert os2ip(signature) == full_key.oracle_sign(m)
    public = rsa.RSAPublicNumbers(65537, full_key.n).public_key()
    public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
