"""Test helpers for the engine: fixed split keys, the four-prime oracle, cheap KDF.

No Django import here or in any engine test.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import gmpy2

from signing.engine import (
    ClientKeyBlob,
    CompositeKey,
    KdfParams,
    KeyMaterial,
    ServerKeyHalf,
    composite_public_key,
    seal_client_share,
    share_length,
    split_private_exponent,
)

DATA = Path(__file__).parent / "data"
E = 65537
PIN = "12345"
WRONG_PIN = "54321"
#: scrypt parameters that cost microseconds; production uses KdfParams() (n = 2^15).
CHEAP_KDF = KdfParams(n=2, r=1, p=1)


@dataclass(frozen=True)
class SplitKey:
    """A complete split key with every secret, for tests only."""

    p1: int
    q1: int
    p2: int
    q2: int
    lam1: int
    d1: int
    d1_prime: int
    d1_double_prime: int
    blob: ClientKeyBlob
    half: ServerKeyHalf
    composite: CompositeKey

    @property
    def n1(self) -> int:
        return self.composite.n1

    @property
    def n2(self) -> int:
        return self.composite.n2

    @property
    def n(self) -> int:
        return self.composite.n

    @property
    def bits(self) -> int:
        return self.n1.bit_length()

    @property
    def material(self) -> KeyMaterial:
        return KeyMaterial(self.composite, self.d1_double_prime, self.half)

    @property
    def oracle_d(self) -> int:
        """d = e⁻¹ mod lcm(λ(n1), λ(n2)): needs all four primes (spec invariant 3)."""
        lam = gmpy2.lcm(gmpy2.lcm(self.p1 - 1, self.q1 - 1), gmpy2.lcm(self.p2 - 1, self.q2 - 1))
        return int(gmpy2.invert(E, lam))

    def oracle_sign(self, m: int) -> int:
        return int(gmpy2.powmod(m, self.oracle_d, self.n))


def split_key_from_primes(
    p1: int, q1: int, p2: int, q2: int, *, pin: str = PIN, kdf: KdfParams = CHEAP_KDF
) -> SplitKey:
    """What ClientKeyGen does, but from given primes so the test keeps every secret."""
    n1 = p1 * q1
    lam1 = int(gmpy2.lcm(p1 - 1, q1 - 1))
    d1 = int(gmpy2.invert(E, lam1))
    d1_prime, d1_double_prime = split_private_exponent(d1, lam1, share_length(n1.bit_length()))
    blob = seal_client_share(n1, d1_prime, pin, kdf=kdf)
    half = ServerKeyHalf.from_primes(p2, q2)
    return SplitKey(
        p1=p1,
        q1=q1,
        p2=p2,
        q2=q2,
        lam1=lam1,
        d1=d1,
        d1_prime=d1_prime,
        d1_double_prime=d1_double_prime,
        blob=blob,
        half=half,
        composite=composite_public_key(n1, half.n2),
    )


@functools.cache
def fixed_pairs() -> tuple[tuple[int, int, int, int, int, int], ...]:
    """(bits, n_bits, p1, q1, p2, q2) for every key in data/keys.json."""
    data = json.loads((DATA / "keys.json").read_text())
    return tuple(
        (
            pair["bits"],
            pair["n_bits"],
            int(pair["client"]["p"], 16),
            int(pair["client"]["q"], 16),
            int(pair["server"]["p"], 16),
            int(pair["server"]["q"], 16),
        )
        for pair in data["pairs"]
    )


@functools.cache
def fixed_key(bits: int, n_bits: int) -> SplitKey:
    """The fixed split key with |n1| = bits and |n| = n_bits (split once per session)."""
    for b, nb, p1, q1, p2, q2 in fixed_pairs():
        if (b, nb) == (bits, n_bits):
            return split_key_from_primes(p1, q1, p2, q2)
    raise LookupError((bits, n_bits))
