"""Active authentication (Doc 9303 part 11 §6.1): is this chip the one the SOD describes?

The server sends an 8-byte challenge; the chip signs it with the private key whose public
half is in DG15 (signed by the SOD, so a copied chip without the key cannot answer).

RSA: ISO/IEC 9796-2 digital signature scheme 1, partial message recovery. The chip
computes ``F = 6A ‖ M1 ‖ H(M1 ‖ challenge) ‖ trailer`` and ``s = F^d mod n``; M1 is its own
random nonce. The trailer ``BC`` means SHA-1; ``xx CC`` names the hash in ``xx`` (ISO/IEC
10118 identifiers: 33 SHA-1, 34 SHA-256, 35 SHA-512, 36 SHA-384, 38 SHA-224).

ECDSA: a plain ``r ‖ s`` signature (BSI TR-03111) of the challenge with the hash named by
DG14's ActiveAuthenticationInfo, SHA-256 when DG14 says nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from enrolment.emrtd.errors import AaSignatureInvalidError, UnsupportedAlgorithmError
from enrolment.emrtd.sod import HASHES

#: ISO/IEC 10118 hash identifiers in the two-byte 9796-2 trailer ``xx CC``.
TRAILER_HASHES = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}
MAX_CHALLENGE = 64


def active_authenticate(
    *,
    aa_public_key: Any,
    challenge: bytes,
    signature: bytes,
    hash_algorithm: str | None = None,
) -> None:
    """Verify the chip's answer to ``challenge``; raise ``aa_signature_invalid`` if wrong.

    ``hash_algorithm`` is for ECDSA only (``PassiveAuthResult.aa_hash_algorithm``); RSA
    names its hash in the signature's trailer.
    """
    if not isinstance(challenge, bytes) or not 1 <= len(challenge) <= MAX_CHALLENGE:
        raise AaSignatureInvalidError("the challenge must be 1 to 64 bytes")
    if not isinstance(signature, bytes):
        raise AaSignatureInvalidError("the signature must be bytes")
    if isinstance(aa_public_key, rsa.RSAPublicKey):
        _verify_rsa_9796_2(aa_public_key, challenge, signature)
    elif isinstance(aa_public_key, ec.EllipticCurvePublicKey):
        _verify_ecdsa(aa_public_key, challenge, signature, hash_algorithm or "sha256")
    else:
        raise UnsupportedAlgorithmError("active authentication key is neither RSA nor EC")


def _verify_rsa_9796_2(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> None:
    numbers = key.public_numbers()
    n, e = numbers.n, numbers.e
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        raise AaSignatureInvalidError(f"RSA AA signature of {len(signature)} bytes, not {size}")
    s = int.from_bytes(signature, "big")
    if not 0 < s < n:
        raise AaSignatureInvalidError("RSA AA signature out of range")
    j = pow(s, e, n)  # a public-key operation: variable time is fine
    # ISO/IEC 9796-2 §B.6: the signer may have sent n − s; F is whichever ends in nibble C.
    for candidate in (j, n - j):
        if candidate & 0x0F == 0x0C:
            f = candidate.to_bytes(size, "big")
            break
    else:
        raise AaSignatureInvalidError("RSA AA: the recovered block has no 9796-2 trailer")
    if f[0] & 0xC0 != 0x40:
        raise AaSignatureInvalidError("RSA AA: the recovered block has no 9796-2 header")
    if not f[0] & 0x20:
        raise AaSignatureInvalidError("RSA AA: total recovery does not cover the challenge")
    if f[-1] == 0xBC:
        name, trailer = "sha1", 1
    elif f[-1] == 0xCC and f[-2] in TRAILER_HASHES:
        name, trailer = TRAILER_HASHES[f[-2]], 2
    else:
        raise AaSignatureInvalidError("RSA AA: unknown 9796-2 trailer")
    digest_size = hashlib.new(name).digest_size
    hash_start = size - trailer - digest_size
    # The padding field ends at the first byte whose low nibble is A (0x6A without padding).
    message_start = next((i + 1 for i in range(hash_start) if f[i] & 0x0F == 0x0A), None)
    if message_start is None:
        raise AaSignatureInvalidError("RSA AA: the recovered block has no message")
    m1 = f[message_start:hash_start]
    expected = hashlib.new(name, m1 + challenge).digest()
    if not hmac.compare_digest(expected, f[hash_start : size - trailer]):
        raise AaSignatureInvalidError("RSA AA: the signature is not over this challenge")


def _verify_ecdsa(
    key: ec.EllipticCurvePublicKey, challenge: bytes, signature: bytes, hash_algorithm: str
) -> None:
    if hash_algorithm not in HASHES:
        raise UnsupportedAlgorithmError(f"ECDSA AA hash {hash_algorithm} is not accepted")
    size = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        raise AaSignatureInvalidError(f"ECDSA AA signature of {len(signature)} bytes")
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    try:
        key.verify(encode_dss_signature(r, s), challenge, ec.ECDSA(HASHES[hash_algorithm]()))
    except (InvalidSignature, ValueError):
        raise AaSignatureInvalidError("ECDSA AA: the signature does not verify") from None
