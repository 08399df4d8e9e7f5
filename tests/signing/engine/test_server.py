"""Server half, n1 validation, the composite key, ServerComplete (invariants 1-3, 9, 10)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random

import gmpy2
import pytest
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from signing.engine import (
    CompositeKey,
    ModulusRejected,
    RejectReason,
    ServerKeyHalf,
    ShareMismatch,
    SignatureFault,
    WrongPinError,
    client_partial_for_digest,
    client_partial_signature,
    combine,
    complete_client_share,
    composite_public_key,
    emsa_pss_encode,
    encode_message,
    generate_server_half,
    i2osp,
    modexp,
    os2ip,
    server_complete,
    server_complete_digest,
    server_rsasp1,
    validate_client_modulus,
)
from signing.engine import server as server_module
from signing.engine.errors import (
    InvalidBlob,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    UnsupportedAlgorithm,
)
from tests.signing.engine.helpers import PIN, WRONG_PIN, SplitKey, fixed_key

LARGEST_PRIME_BELOW_2_20 = 1048573
SMALLEST_PRIME_ABOVE_2_20 = 1048583


def _prime_cofactor(factor: int, bits: int) -> int:
    """A prime r with factor·r of exactly ``bits`` bits."""
    return int(gmpy2.next_prime((1 << (bits - 1)) // factor + 1))


# --- invariant 1 and 2: the split ----------------------------------------------------


def test_invariant1_split_mod_lambda_recombines(small_key: SplitKey, rng: random.Random) -> None:
    k = small_key
    for _ in range(20):
        m = rng.randrange(k.n1)
        left = gmpy2.powmod(m, k.d1_prime, k.n1) * gmpy2.powmod(m, k.d1_double_prime, k.n1)
        assert left % k.n1 == gmpy2.powmod(m, k.d1, k.n1)
    # Also for m sharing a factor with n1 (λ works there too, by the CRT per prime).
    for m in (k.p1, 2 * k.q1, 0, 1, k.n1 - 1):
        left = gmpy2.powmod(m, k.d1_prime, k.n1) * gmpy2.powmod(m, k.d1_double_prime, k.n1)
        assert left % k.n1 == gmpy2.powmod(m, k.d1, k.n1)


def test_invariant1_negative_split_mod_n1_fails(small_key: SplitKey, rng: random.Random) -> None:
    """S1's literal 'd1″ = d1 − d1′ mod n1' does not give a valid signature.

    When d1′ > d1 (the usual case for a full-width d1′) the literal rule yields
    d1″ = n1 + d1 − d1′, so s1 = m^{n1 + d1} and n1 is no multiple of λ(n1). (When d1′ ≤ d1
    both reductions coincide, which is why the draw below forces d1′ > d1.)
    """
    k = small_key
    width = 8 * k.blob.share_len
    for _ in range(10):
        d1_prime = k.d1 + 1 + rng.randrange(2**width - k.d1 - 1)
        literal = (k.d1 - d1_prime) % k.n1
        correct = (k.d1 - d1_prime) % k.lam1
        assert literal != correct
        m = rng.randrange(k.n)
        s1_prime = int(gmpy2.powmod(m % k.n1, d1_prime, k.n1))
        with pytest.raises(ShareMismatch):
            complete_client_share(k.composite, literal, m, s1_prime)
        assert complete_client_share(k.composite, correct, m, s1_prime) == k.oracle_sign(m) % k.n1


def test_invariant2_exponents_moduli_and_lengths(small_key: SplitKey) -> None:
    k = small_key
    assert 65537 * k.d1 % k.lam1 == 1
    assert gmpy2.gcd(k.n1, k.n2) == 1
    assert k.n.bit_length() in (2 * k.bits - 1, 2 * k.bits)
    assert k.composite.k == (k.n.bit_length() + 7) // 8 == 256
    digest = hashlib.sha256(b"inv2").digest()
    s1_prime = client_partial_for_digest(
        k.blob, PIN, n=k.n, digest=digest, hash_alg="SHA256", padding="PKCS1v15"
    )
    signature = server_complete_digest(
        k.composite,
        k.d1_double_prime,
        k.half,
        digest=digest,
        hash_alg="SHA256",
        padding="PKCS1v15",
        s1_prime=s1_prime,
    )
    assert len(signature) == k.composite.k


def test_both_composite_sizes_are_covered(small_key: SplitKey) -> None:
    assert small_key.n.bit_length() in (2047, 2048)


# --- invariant 3: S is the four-prime RSA signature ----------------------------------


def test_invariant3_crt_components_and_oracle(small_key: SplitKey, rng: random.Random) -> None:
    k = small_key
    for _ in range(10):
        m = rng.randrange(k.n)
        s1_prime = client_partial_signature(k.blob, PIN, m)
        s1 = complete_client_share(k.composite, k.d1_double_prime, m, s1_prime)
        s2 = server_rsasp1(k.half, m % k.n2)
        signature = combine(k.composite, s1, s2, m)
        assert signature % k.n1 == s1 and signature % k.n2 == s2
        assert gmpy2.powmod(signature, 65537, k.n) == m
        assert signature == k.oracle_sign(m)
        assert server_complete(k.composite, k.d1_double_prime, k.half, m, s1_prime) == signature


def test_wrong_pin_is_share_mismatch(small_key: SplitKey, rng: random.Random) -> None:
    k = small_key
    m = rng.randrange(k.n)
    s1_prime = client_partial_signature(k.blob, WRONG_PIN, m)
    with pytest.raises(WrongPinError):
        server_complete(k.composite, k.d1_double_prime, k.half, m, s1_prime)
    assert WrongPinError is ShareMismatch


# --- invariant 9: fault checks -----------------------------------------------------


def test_invariant9_corrupted_s2_yields_no_output(
    key1024: SplitKey, monkeypatch: pytest.MonkeyPatch, rng: random.Random
) -> None:
    k = key1024
    m = rng.randrange(k.n)
    s1_prime = client_partial_signature(k.blob, PIN, m)
    s1 = complete_client_share(k.composite, k.d1_double_prime, m, s1_prime)
    s2 = server_rsasp1(k.half, m % k.n2)
    with pytest.raises(SignatureFault):
        combine(k.composite, s1, (s2 + 1) % k.n2, m)

    real = modexp.powmod_secret

    def faulty(base: int, exp: int, mod: int) -> int:
        result = real(base, exp, mod)
        return result ^ 1 if mod == k.p2 else result  # a Bellcore-style glitch in one half

    monkeypatch.setattr(server_module, "powmod_secret", faulty)
    with pytest.raises(SignatureFault):
        server_rsasp1(k.half, m % k.n2)
    with pytest.raises(SignatureFault):
        server_complete(k.composite, k.d1_double_prime, k.half, m, s1_prime)


def test_invariant9_wrong_u_yields_no_output(key1024: SplitKey, rng: random.Random) -> None:
    k = key1024
    wrong = dataclasses.replace(k.composite, u=(k.composite.u + 1) % k.n1)
    m = rng.randrange(k.n)
    s1_prime = client_partial_signature(k.blob, PIN, m)
    with pytest.raises(SignatureFault):
        server_complete(wrong, k.d1_double_prime, k.half, m, s1_prime)


# --- invariant 10: PSS on the composite, m reduced mod n_i -------------------------


def test_invariant10_pss_uses_composite_em_bits_and_reduces_m(
    small_key: SplitKey, rng: random.Random
) -> None:
    k = small_key
    digest = hashlib.sha512(b"inv10").digest()
    salt = rng.randbytes(32)
    m = encode_message(k.n, digest, "SHA512", "PSS", salt)
    assert m == os2ip(emsa_pss_encode(digest, "SHA512", k.n.bit_length() - 1, salt))
    assert k.composite.em_bits == k.n.bit_length() - 1
    assert m >= k.n1 and m >= k.n2  # so each side must reduce before exponentiating
    with pytest.raises(InvalidInteger):
        server_rsasp1(k.half, m)  # a strict RSASP1 range check would reject m itself
    s1_prime = client_partial_for_digest(
        k.blob, PIN, n=k.n, digest=digest, hash_alg="SHA512", padding="PSS", salt=salt
    )
    signature = server_complete_digest(
        k.composite,
        k.d1_double_prime,
        k.half,
        digest=digest,
        hash_alg="SHA512",
        padding="PSS",
        s1_prime=s1_prime,
        salt=salt,
    )
    public = rsa.RSAPublicNumbers(65537, k.n).public_key()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=32)
    public.verify(signature, digest, pss, utils.Prehashed(hashes.SHA512()))

    # Encoding with emBits of a share modulus (|n1| − 1) instead gives a different m,
    # and the resulting signature does not verify for the composite key.
    m_wrong = os2ip(emsa_pss_encode(digest, "SHA512", k.n1.bit_length() - 1, salt))
    assert m_wrong != m
    s1_prime_wrong = client_partial_signature(k.blob, PIN, m_wrong)
    wrong = server_complete(k.composite, k.d1_double_prime, k.half, m_wrong, s1_prime_wrong)
    with pytest.raises(CryptoInvalidSignature):
        public.verify(i2osp(wrong, k.composite.k), digest, pss, utils.Prehashed(hashes.SHA512()))


# --- n1 validation -----------------------------------------------------------------


def test_valid_client_modulus_passes(key1024: SplitKey) -> None:
    validate_client_modulus(key1024.n1, 1024, key1024.n2)
    validate_client_modulus(key1024.n1, 1024, key1024.n2, known={12345})
    boundary = SMALLEST_PRIME_ABOVE_2_20 * _prime_cofactor(SMALLEST_PRIME_ABOVE_2_20, 1024)
    validate_client_modulus(boundary, 1024, key1024.n2)  # smallest factor just above 2^20


def _rejects(n1: int, n2: int, reason: RejectReason, **kwargs: object) -> None:
    with pytest.raises(ModulusRejected) as info:
        validate_client_modulus(n1, 1024, n2, **kwargs)  # type: ignore[arg-type]
    assert info.value.reason is reason
    assert reason.value in str(info.value)


def test_client_modulus_wrong_size(key1024: SplitKey) -> None:
    _rejects(key1024.n1 >> 1 | 1, key1024.n2, RejectReason.WRONG_SIZE)
    _rejects(key1024.n1 << 1 | 1, key1024.n2, RejectReason.WRONG_SIZE)
    _rejects(key1024.n, key1024.n2, RejectReason.WRONG_SIZE)


def test_client_modulus_even(key1024: SplitKey) -> None:
    _rejects(key1024.n1 + 1, key1024.n2, RejectReason.EVEN)


@pytest.mark.parametrize("factor", [3, 65537, LARGEST_PRIME_BELOW_2_20])
def test_client_modulus_small_factor(key1024: SplitKey, factor: int) -> None:
    n1 = factor * _prime_cofactor(factor, 1024)
    assert n1.bit_length() == 1024
    _rejects(n1, key1024.n2, RejectReason.SMALL_FACTOR)


@pytest.mark.parametrize("power", [2, 3, 5])
def test_client_modulus_perfect_power(key1024: SplitKey, power: int) -> None:
    root = int(gmpy2.iroot(3 << 1022, power)[0])  # (1.5·2^1023)^(1/power)
    n1 = int(gmpy2.next_prime(root)) ** power
    assert n1.bit_length() == 1024
    _rejects(n1, key1024.n2, RejectReason.PERFECT_POWER)


def test_client_modulus_shared_factor(key1024: SplitKey) -> None:
    n1 = key1024.p2 * _prime_cofactor(key1024.p2, 1024)
    assert n1.bit_length() == 1024
    _rejects(n1, key1024.n2, RejectReason.SHARED_FACTOR)
    _rejects(key1024.n2, key1024.n2, RejectReason.SHARED_FACTOR)


def test_client_modulus_duplicate(key1024: SplitKey) -> None:
    _rejects(key1024.n1, key1024.n2, RejectReason.DUPLICATE, known={key1024.n1})


@pytest.mark.parametrize(
    ("n1", "bits", "n2"),
    [("5", 1024, 7), (5, 1024.0, 7), (5, 1024, None), (-5, 1024, 7), (5, 1024, 0)],
)
def test_client_modulus_bad_types(n1: object, bits: object, n2: object) -> None:
    with pytest.raises(InvalidInteger):
        validate_client_modulus(n1, bits, n2)  # type: ignore[arg-type]


# --- composite key -----------------------------------------------------------------


def test_composite_public_key(small_key: SplitKey) -> None:
    k = small_key
    key = composite_public_key(k.n1, k.n2)
    assert key == k.composite
    assert key.n == k.n1 * k.n2 and key.u * k.n2 % k.n1 == 1 and key.e == 65537
    assert key.k == 256 and key.em_bits == k.n.bit_length() - 1


def test_composite_public_key_rejects(key1024: SplitKey) -> None:
    k = key1024
    with pytest.raises(ModulusRejected) as info:
        composite_public_key(k.n1 >> 1, k.n2)
    assert info.value.reason is RejectReason.WRONG_SIZE
    with pytest.raises(ModulusRejected) as info:
        composite_public_key(k.n1 + 1, k.n2)
    assert info.value.reason is RejectReason.EVEN
    shared = k.p2 * _prime_cofactor(k.p2, 1024)
    with pytest.raises(ModulusRejected) as info:
        composite_public_key(shared, k.n2)
    assert info.value.reason is RejectReason.SHARED_FACTOR
    with pytest.raises(ModulusRejected):
        composite_public_key(101, 103)  # too small
    with pytest.raises(InvalidInteger):
        composite_public_key(str(k.n1), k.n2)  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        composite_public_key(-k.n1, -k.n2)


@pytest.mark.parametrize(
    "changes",
    [{"n": 15}, {"u": 0}, {"e": 3}, {"n1": 1}, {"u": 1.5}],
)
def test_composite_key_constructor_validates(key1024: SplitKey, changes: dict[str, object]) -> None:
    with pytest.raises((InvalidKey, InvalidInteger)):
        dataclasses.replace(key1024.composite, **changes)  # type: ignore[arg-type]


# --- server half -------------------------------------------------------------------


def test_server_half_generation_and_serialisation() -> None:
    half = generate_server_half(1024)
    assert half.n2.bit_length() == 1024 and half.e == 65537
    raw = half.to_bytes()
    assert ServerKeyHalf.from_bytes(raw) == half
    data = json.loads(raw)
    assert data["version"] == 1 and data["alg"] == "rsa-crt"
    for secret in (half.p2, half.q2, half.dp2, half.dq2, half.qinv2):
        assert str(secret) not in repr(half) and format(secret, "x") not in repr(half)
    with pytest.raises(InvalidLength):
        generate_server_half(512)


def _half_json(half: ServerKeyHalf, **changes: object) -> bytes:
    data = json.loads(half.to_bytes())
    data.update(changes)
    return json.dumps(data).encode()


def test_server_half_from_bytes_rejects(key1024: SplitKey) -> None:
    half = key1024.half
    with pytest.raises(UnsupportedAlgorithm):
        ServerKeyHalf.from_bytes(_half_json(half, version=2))
    with pytest.raises(UnsupportedAlgorithm):
        ServerKeyHalf.from_bytes(_half_json(half, alg="rsa"))
    with pytest.raises(InvalidBlob):
        ServerKeyHalf.from_bytes(_half_json(half, p2="XYZ"))
    with pytest.raises(InvalidBlob):
        ServerKeyHalf.from_bytes(_half_json(half, e="65537"))
    with pytest.raises(InvalidBlob):
        ServerKeyHalf.from_bytes(_half_json(half, extra=1))
    with pytest.raises(InvalidKey):
        ServerKeyHalf.from_bytes(_half_json(half, dp2=format(half.dp2 + 2, "x")))
    for raw in (b"", b"\xff", b"[]", "text"):
        with pytest.raises(InvalidBlob):
            ServerKeyHalf.from_bytes(raw)  # type: ignore[arg-type]


def test_server_half_constructor_validates(key1024: SplitKey) -> None:
    half = key1024.half
    for changes in (
        {"n2": half.n2 + 2},
        {"e": 3},
        {"qinv2": half.qinv2 + 1},
        {"dq2": 0},
        {"p2": 2},
    ):
        with pytest.raises(InvalidKey):
            dataclasses.replace(half, **changes)
    with pytest.raises(InvalidInteger):
        dataclasses.replace(half, p2=float(half.p2))  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        ServerKeyHalf.from_primes(101, 103)  # too small
    with pytest.raises(InvalidKey):
        ServerKeyHalf.from_primes(key1024.p2, key1024.p2)
    with pytest.raises(InvalidInteger):
        ServerKeyHalf.from_primes("1", 3)  # type: ignore[arg-type]
    p = next(65537 * i + 1 for i in range(2, 10**6) if gmpy2.is_prime(65537 * i + 1))
    with pytest.raises(InvalidKey):
        ServerKeyHalf.from_primes(p, key1024.p2)  # e | p − 1


# --- completion error paths ---------------------------------------------------------


def test_server_complete_bad_inputs(key1024: SplitKey, rng: random.Random) -> None:
    k = key1024
    m = rng.randrange(k.n)
    s1_prime = client_partial_signature(k.blob, PIN, m)
    cases: list[tuple[tuple[object, ...], type[Exception]]] = [
        ((k.composite, k.d1_double_prime, k.half, k.n, s1_prime), InvalidInteger),
        ((k.composite, k.d1_double_prime, k.half, -1, s1_prime), InvalidInteger),
        ((k.composite, k.d1_double_prime, k.half, m, k.n1), InvalidInteger),
        ((k.composite, -1, k.half, m, s1_prime), InvalidInteger),
        ((k.composite, k.n1, k.half, m, s1_prime), InvalidInteger),
        ((k.composite, k.d1_double_prime, k.half, str(m), s1_prime), InvalidInteger),
        ((k.composite, k.d1_double_prime, "half", m, s1_prime), InvalidKey),
        (("key", k.d1_double_prime, k.half, m, s1_prime), InvalidKey),
    ]
    other = fixed_key(1024, 2047).half
    cases.append(((k.composite, k.d1_double_prime, other, m, s1_prime), InvalidKey))
    for args, error in cases:
        with pytest.raises(error):
            server_complete(*args)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        complete_client_share("key", 1, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        combine("key", 1, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        server_rsasp1("half", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        combine(k.composite, k.n1, 0, 0)
    with pytest.raises(InvalidKey):
        server_complete_digest(
            "key",  # type: ignore[arg-type]
            1,
            k.half,
            digest=bytes(32),
            hash_alg="SHA256",
            padding="PSS",
            s1_prime=1,
            salt=b"",
        )


def test_composite_key_is_a_plain_value(key1024: SplitKey) -> None:
    assert isinstance(key1024.composite, CompositeKey)
    assert str(key1024.n) in repr(key1024.composite)  # public: fine to log
