"""Generate the fixed test keys in ``keys.json`` (run once; the output is committed).

    .venv/bin/python tests/signing/engine/data/make_keys.py > tests/signing/engine/data/keys.json

Each entry is one split key: the client's primes (p1, q1), the server's primes (p2, q2)
and the resulting composite size. For every share size we keep a pair whose composite has
2L − 1 bits and one with 2L bits, so both accepted sizes of |n| are exercised. Primes come
from ``cryptography``'s RSA key generation (e = 65537), exactly as in production.
TEST KEYS ONLY: never use them for anything else.
"""

from __future__ import annotations

import json
import sys

from cryptography.hazmat.primitives.asymmetric import rsa


def _primes(bits: int) -> tuple[int, int]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).private_numbers()
    return numbers.p, numbers.q


def _pair(bits: int, composite_bits: int) -> dict[str, object]:
    while True:
        p1, q1 = _primes(bits)
        p2, q2 = _primes(bits)
        if (p1 * q1 * p2 * q2).bit_length() == composite_bits:
            return {
                "bits": bits,
                "n_bits": composite_bits,
                "client": {"p": format(p1, "x"), "q": format(q1, "x")},
                "server": {"p": format(p2, "x"), "q": format(q2, "x")},
            }


def main() -> None:
    pairs = [_pair(bits, 2 * bits - short) for bits in (1024, 1536, 3072) for short in (0, 1)]
    json.dump({"e": 65537, "pairs": pairs}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
