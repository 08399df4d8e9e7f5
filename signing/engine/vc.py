"""The verification code (VC): 4 digits the app and the RP both show, derived from the hash.

vc = uint16_be(SHA-256(H)[-2:]) mod 10000, zero-padded to 4 digits (docs/spec/rp-api.md §2).
H is the raw digest (or, in RP API v3 notification authentication, the raw rpChallenge)
bytes, never their Base64 text; SHA-256 is used whatever the digest's own algorithm.

This is the only place the formula exists: the server shows it to the RP, the app
computes it itself from the hash it is asked to sign (it never trusts a code sent to it).
"""

from __future__ import annotations

import hashlib
import secrets

from signing.engine.errors import InvalidInteger, InvalidLength

#: Longest input accepted (SHA-512 is 64 bytes; a v3 rpChallenge is at most 64 bytes).
MAX_INPUT_BYTES = 512
VC_DIGITS = 4
_VC_MODULUS = 10**VC_DIGITS


def verification_code(digest: bytes) -> str:
    """The 4-digit verification code of the raw digest bytes ``digest``."""
    if not isinstance(digest, bytes) or not 1 <= len(digest) <= MAX_INPUT_BYTES:
        raise InvalidLength(f"digest must be 1-{MAX_INPUT_BYTES} bytes")
    tail = hashlib.sha256(digest).digest()[-2:]
    return f"{int.from_bytes(tail, 'big') % _VC_MODULUS:04d}"


def is_verification_code(value: object) -> bool:
    """True when ``value`` is a string of exactly 4 ASCII digits (for input validation)."""
    return (
        isinstance(value, str) and len(value) == VC_DIGITS and all(c in "0123456789" for c in value)
    )


def random_code() -> str:
    """A code the server chooses instead of deriving it (an RP API v3 signature by
    notification; an existing account's registration prompt): 4 digits from ``secrets``.
    """
    return f"{secrets.randbelow(_VC_MODULUS):0{VC_DIGITS}d}"


def decoy_codes(correct: str, count: int = 3) -> list[str]:
    """The server's verificationCodeChoice list: ``count`` distinct codes, one of them
    ``correct``, the others uniformly random, in a uniformly random order (``secrets``).
    """
    if not is_verification_code(correct):
        raise InvalidLength("the correct code must be 4 ASCII digits")
    if type(count) is not int or not 2 <= count <= 10:
        raise InvalidInteger("count must be an int between 2 and 10")
    codes = [correct]
    while len(codes) < count:
        candidate = random_code()
        if candidate not in codes:
            codes.append(candidate)
    for i in range(len(codes) - 1, 0, -1):  # Fisher-Yates with a CSPRNG
        j = secrets.randbelow(i + 1)
        codes[i], codes[j] = codes[j], codes[i]
    return codes
