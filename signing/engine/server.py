"""The server's side: its key half, client-modulus validation, the composite key and Complete.

With n = n1·n2, u = n2⁻¹ mod n1 and m = OS2IP(EM) < n (spec §2, §8 ServerComplete):

* s1 = s1′ · m1^{d1″} mod n1 with m1 = m mod n1; accept only if s1^e ≡ m1 (mod n1)
  (otherwise the app used a wrong PIN: :class:`ShareMismatch`);
* s2 = RSASP1(d2, m2), m2 = m mod n2, by CRT with blinding: m_b = m2·r^e mod n2,
  s_p = m_b^{dp} mod p2, s_q = m_b^{dq} mod q2, s = s_q + q2·((s_p − s_q)·qinv mod p2),
  s2 = s·r⁻¹ mod n2; require s2^e ≡ m2 (mod n2);
* S = s2 + n2·(((s1 − s2)·u) mod n1)   (Garner), so S ≡ s1 (mod n1), S ≡ s2 (mod n2);
  require 0 ≤ S < n and S^e ≡ m (mod n) before releasing anything (:class:`SignatureFault`).

d1″ cannot be blinded (the server does not know λ(n1)), so m1^{d1″} uses the constant-time
backend; so do the CRT halves of d2.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Container
from dataclasses import dataclass, field

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa

from signing.engine.client import DEFAULT_BITS, MAX_BITS, MIN_BITS, E, composite_bit_lengths
from signing.engine.encoding import byte_length, encode_message, i2osp
from signing.engine.errors import (
    InvalidBlob,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    ModulusRejected,
    RejectReason,
    ShareMismatch,
    SignatureFault,
    UnsupportedAlgorithm,
)
from signing.engine.modexp import powmod, powmod_secret

SERVER_HALF_VERSION = 1
SERVER_HALF_ALG = "rsa-crt"
#: n1 must have no prime factor below this bound.
SMALL_FACTOR_BOUND = 2**20


def _int(value: object, name: str) -> int:
    if type(value) is not int:
        raise InvalidInteger(f"{name} must be an int")
    return value


def _in_range(value: object, name: str, upper: int) -> int:
    x = _int(value, name)
    if not 0 <= x < upper:
        raise InvalidInteger(f"{name} out of range")
    return x


@dataclass(frozen=True)
class ServerKeyHalf:
    """The server's RSA key (n2, d2) in CRT form: p2, q2, dp2 = d2 mod (p2 − 1),
    dq2 = d2 mod (q2 − 1), qinv2 = q2⁻¹ mod p2. Secrets are excluded from ``repr``.
    """

    n2: int
    p2: int = field(repr=False)
    q2: int = field(repr=False)
    dp2: int = field(repr=False)
    dq2: int = field(repr=False)
    qinv2: int = field(repr=False)
    e: int = E

    def __post_init__(self) -> None:
        for name in ("n2", "p2", "q2", "dp2", "dq2", "qinv2", "e"):
            _int(getattr(self, name), name)
        p, q = self.p2, self.q2
        if self.e != E:
            raise InvalidKey("e must be 65537")
        if p < 3 or q < 3 or p % 2 == 0 or q % 2 == 0 or p * q != self.n2:
            raise InvalidKey("n2 must equal p2·q2 with odd p2, q2")
        if not MIN_BITS <= self.n2.bit_length() <= MAX_BITS:
            raise InvalidKey("unsupported n2 size")
        if not (
            0 < self.dp2 < p
            and 0 < self.dq2 < q
            and 0 < self.qinv2 < p
            and self.dp2 * E % (p - 1) == 1
            and self.dq2 * E % (q - 1) == 1
            and self.qinv2 * q % p == 1
        ):
            raise InvalidKey("inconsistent CRT parameters")

    @classmethod
    def from_primes(cls, p: int, q: int) -> ServerKeyHalf:
        """Build the CRT key from its primes (e = 65537); raises :class:`InvalidKey`."""
        _int(p, "p")
        _int(q, "q")
        if p < 3 or q < 3 or p == q:
            raise InvalidKey("p and q must be distinct primes")
        try:
            dp = int(gmpy2.invert(E, p - 1))
            dq = int(gmpy2.invert(E, q - 1))
            qinv = int(gmpy2.invert(q, p))
        except ZeroDivisionError:
            raise InvalidKey("e is not invertible modulo p − 1 or q − 1") from None
        return cls(n2=p * q, p2=p, q2=q, dp2=dp, dq2=dq, qinv2=qinv)

    def to_bytes(self) -> bytes:
        """Versioned canonical JSON, to be wrapped (encrypted) by the key store."""
        data: dict[str, object] = {
            "version": SERVER_HALF_VERSION,
            "alg": SERVER_HALF_ALG,
            "e": self.e,
        }
        for name in ("n2", "p2", "q2", "dp2", "dq2", "qinv2"):
            data[name] = format(getattr(self, name), "x")
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ServerKeyHalf:
        """Inverse of :meth:`to_bytes`; validates the structure and the key."""
        if not isinstance(raw, bytes):
            raise InvalidBlob("server half must be bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidBlob("server half is not valid UTF-8 JSON") from None
        names = ("n2", "p2", "q2", "dp2", "dq2", "qinv2")
        if not isinstance(data, dict) or set(data) != {"version", "alg", "e", *names}:
            raise InvalidBlob("server half has the wrong fields")
        if data["version"] != SERVER_HALF_VERSION or data["alg"] != SERVER_HALF_ALG:
            raise UnsupportedAlgorithm("unsupported server half version or algorithm")
        values: dict[str, int] = {}
        for name in names:
            text = data[name]
            if (
                not isinstance(text, str)
                or not text
                or any(c not in "0123456789abcdef" for c in text)
            ):
                raise InvalidBlob(f"{name} must be a lower-case hex string")
            values[name] = int(text, 16)
        e = data["e"]
        if type(e) is not int:
            raise InvalidBlob("e must be an int")
        return cls(e=e, **values)


def generate_server_half(bits: int = DEFAULT_BITS) -> ServerKeyHalf:
    """ServerKeyGen step 1: a fresh (n2; p2, q2, dp2, dq2, qinv2) with |n2| = bits, e = 65537."""
    if type(bits) is not int or not MIN_BITS <= bits <= MAX_BITS:
        raise InvalidLength(f"key size must be {MIN_BITS}-{MAX_BITS} bits")
    numbers = rsa.generate_private_key(public_exponent=E, key_size=bits).private_numbers()
    return ServerKeyHalf(
        n2=numbers.public_numbers.n,
        p2=numbers.p,
        q2=numbers.q,
        dp2=numbers.dmp1,
        dq2=numbers.dmq1,
        qinv2=numbers.iqmp,
    )


@functools.cache
def _small_primorial() -> gmpy2.mpz:
    """The product of all primes below 2^20 (a 1.5-Mbit integer, built in ~10 ms, cached)."""
    return gmpy2.primorial(SMALL_FACTOR_BOUND - 1)


def validate_client_modulus(
    n1: int, bits: int, n2: int, *, known: Container[int] = frozenset()
) -> None:
    """ServerKeyGen step 2: accept n1 or raise :class:`ModulusRejected` with the reason.

    Rules, in order: |n1| = L exactly; n1 odd; no prime factor below 2^20 (one gcd with
    the primorial); not a perfect power; gcd(n1, n2) = 1; not in ``known`` (already
    registered).
    """
    _int(n1, "n1")
    _int(bits, "bits")
    _int(n2, "n2")
    if n1 <= 0 or n2 <= 0:
        raise InvalidInteger("moduli must be positive")
    if n1.bit_length() != bits:
        raise ModulusRejected(RejectReason.WRONG_SIZE)
    if n1 % 2 == 0:
        raise ModulusRejected(RejectReason.EVEN)
    if gmpy2.gcd(_small_primorial() % n1, n1) != 1:
        raise ModulusRejected(RejectReason.SMALL_FACTOR)
    if gmpy2.is_power(n1):
        raise ModulusRejected(RejectReason.PERFECT_POWER)
    if gmpy2.gcd(n1, n2) != 1:
        raise ModulusRejected(RejectReason.SHARED_FACTOR)
    if n1 in known:
        raise ModulusRejected(RejectReason.DUPLICATE)


@dataclass(frozen=True)
class CompositeKey:
    """The public composite key: n = n1·n2, e, u = n2⁻¹ mod n1, k = ⌈|n|/8⌉.

    ``u`` is not re-derived here on purpose: a corrupted stored u is caught by the fault
    check on S (spec invariant 9), so no wrong signature is ever released.
    """

    n: int
    n1: int
    n2: int
    u: int
    e: int = E

    def __post_init__(self) -> None:
        for name in ("n", "n1", "n2", "u", "e"):
            _int(getattr(self, name), name)
        if self.e != E:
            raise InvalidKey("e must be 65537")
        if self.n1 < 3 or self.n2 < 3 or self.n1 * self.n2 != self.n:
            raise InvalidKey("n must equal n1·n2")
        if not 0 < self.u < self.n1:
            raise InvalidKey("u out of range")

    @property
    def k(self) -> int:
        """Signature length in bytes, ⌈|n|/8⌉."""
        return byte_length(self.n)

    @property
    def em_bits(self) -> int:
        """emBits for PSS: |n| − 1 of the composite."""
        return self.n.bit_length() - 1


def composite_public_key(n1: int, n2: int) -> CompositeKey:
    """n = n1·n2 and u = n2⁻¹ mod n1; requires |n1| = |n2| = L, so |n| ∈ {2L − 1, 2L}."""
    _int(n1, "n1")
    _int(n2, "n2")
    if n1 <= 0 or n2 <= 0:
        raise InvalidInteger("moduli must be positive")
    bits = n2.bit_length()
    if n1.bit_length() != bits or not MIN_BITS <= bits <= MAX_BITS:
        raise ModulusRejected(RejectReason.WRONG_SIZE)
    if n1 % 2 == 0 or n2 % 2 == 0:
        raise ModulusRejected(RejectReason.EVEN)
    try:
        u = int(gmpy2.invert(n2, n1))
    except ZeroDivisionError:
        raise ModulusRejected(RejectReason.SHARED_FACTOR) from None
    n = n1 * n2
    # A product of two L-bit numbers has 2L − 1 or 2L bits; nothing else can happen.
    assert n.bit_length() in composite_bit_lengths(bits)  # noqa: S101
    return CompositeKey(n=n, n1=n1, n2=n2, u=u)


def complete_client_share(key: CompositeKey, d1_double_prime: int, m: int, s1_prime: int) -> int:
    """s1 = s1′·(m mod n1)^{d1″} mod n1; raise :class:`ShareMismatch` unless s1^e ≡ m (mod n1)."""
    if not isinstance(key, CompositeKey):
        raise InvalidKey("key must be a CompositeKey")
    m = _in_range(m, "m", key.n)
    s1_prime = _in_range(s1_prime, "s1'", key.n1)
    d1pp = _in_range(d1_double_prime, "d1''", key.n1)
    m1 = m % key.n1
    s1 = s1_prime * powmod_secret(m1, d1pp, key.n1) % key.n1
    if powmod(s1, key.e, key.n1) != m1:
        raise ShareMismatch("client share does not complete to a valid signature (wrong PIN)")
    return s1


def _blinding_factor(n2: int) -> tuple[int, int]:
    while True:
        r = secrets.randbelow(n2 - 2) + 2
        try:
            return r, int(gmpy2.invert(r, n2))
        except ZeroDivisionError:  # pragma: no cover - r shares a factor with n2: 2^-1500
            continue


def server_rsasp1(half: ServerKeyHalf, m2: int) -> int:
    """s2 = m2^{d2} mod n2 by blinded CRT; raise :class:`SignatureFault` unless s2^e ≡ m2.

    m_b = m2·r^e, s = CRT(m_b^{dp2} mod p2, m_b^{dq2} mod q2), s2 = s·r⁻¹ mod n2.
    """
    if not isinstance(half, ServerKeyHalf):
        raise InvalidKey("half must be a ServerKeyHalf")
    m2 = _in_range(m2, "m2", half.n2)
    n2, p, q = half.n2, half.p2, half.q2
    r, r_inv = _blinding_factor(n2)
    blinded = m2 * powmod(r, half.e, n2) % n2
    s_p = powmod_secret(blinded % p, half.dp2, p)
    s_q = powmod_secret(blinded % q, half.dq2, q)
    s = s_q + q * ((s_p - s_q) * half.qinv2 % p)
    s2 = s * r_inv % n2
    if powmod(s2, half.e, n2) != m2:
        raise SignatureFault("s2^e != m2 (mod n2)")
    return s2


def combine(key: CompositeKey, s1: int, s2: int, m: int) -> int:
    """Garner: S = s2 + n2·(((s1 − s2)·u) mod n1); raise :class:`SignatureFault` unless
    0 ≤ S < n and S^e ≡ m (mod n).
    """
    if not isinstance(key, CompositeKey):
        raise InvalidKey("key must be a CompositeKey")
    s1 = _in_range(s1, "s1", key.n1)
    s2 = _in_range(s2, "s2", key.n2)
    m = _in_range(m, "m", key.n)
    signature = s2 + key.n2 * ((s1 - s2) * key.u % key.n1)
    if not 0 <= signature < key.n or powmod(signature, key.e, key.n) != m:
        raise SignatureFault("S^e != m (mod n)")
    return signature


def server_complete(
    key: CompositeKey, d1_double_prime: int, half: ServerKeyHalf, m: int, s1_prime: int
) -> int:
    """ServerComplete's arithmetic: s1 (checked), s2 (blinded CRT, checked), S (checked).

    Raises :class:`ShareMismatch` (wrong PIN) or :class:`SignatureFault`; returns S.
    """
    if not isinstance(key, CompositeKey) or not isinstance(half, ServerKeyHalf):
        raise InvalidKey("key must be a CompositeKey and half a ServerKeyHalf")
    if half.n2 != key.n2 or half.e != key.e:
        raise InvalidKey("the server half does not belong to this composite key")
    s1 = complete_client_share(key, d1_double_prime, m, s1_prime)
    s2 = server_rsasp1(half, m % key.n2)
    return combine(key, s1, s2, m)


def server_complete_digest(
    key: CompositeKey,
    d1_double_prime: int,
    half: ServerKeyHalf,
    *,
    digest: bytes,
    hash_alg: str,
    padding: str,
    s1_prime: int,
    salt: bytes | None = None,
) -> bytes:
    """Encode m = OS2IP(EM(H, salt)) for n, run :func:`server_complete`, return I2OSP(S, k)."""
    if not isinstance(key, CompositeKey):
        raise InvalidKey("key must be a CompositeKey")
    m = encode_message(key.n, digest, hash_alg, padding, salt)
    return i2osp(server_complete(key, d1_double_prime, half, m, s1_prime), key.k)
