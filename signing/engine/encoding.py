"""Hash algorithms, integer/octet conversions and the RSA signature encodings (RFC 8017).

* I2OSP / OS2IP (RFC 8017 §4) with range checks.
* EMSA-PKCS1-v1_5 (§9.2): EM = 0x00 ‖ 0x01 ‖ 0xFF…0xFF ‖ 0x00 ‖ DigestInfo(H), |EM| = k.
* EMSA-PSS (§9.1): MGF1 with the message hash, trailer 0xbc. For the composite key
  emBits = |n| − 1, so |EM| = ⌈(|n| − 1)/8⌉ (spec §2 "Using PSS with a composite modulus").
* RSAVP1-based verification, s^e mod n, that raises :class:`InvalidSignature`.

Hash names are the RP API v1/v2's: ``"SHA256"``, ``"SHA384"``, ``"SHA512"``, and for RP API v3
(whose ``SHA3-256``… :data:`signing.engine.acsp.V3_HASHES` maps) ``"SHA3_256"``, ``"SHA3_384"``,
``"SHA3_512"``. :data:`SHA2_HASHES` is the v1/v2 vocabulary.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from signing.engine.errors import (
    HashLengthMismatch,
    InvalidInteger,
    InvalidLength,
    InvalidSignature,
    UnsupportedAlgorithm,
)
from signing.engine.modexp import powmod

#: Largest encoded message / signature handled (a 16384-bit composite of two 8192-bit shares
#: needs 2048 bytes); bounds every allocation driven by a length argument.
MAX_EM_BYTES = 4096


class HashAlgorithm(StrEnum):
    """Supported message hashes, spelled as the RP API spells them."""

    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"
    SHA3_256 = "SHA3_256"
    SHA3_384 = "SHA3_384"
    SHA3_512 = "SHA3_512"


#: The hashes RP API v1 and v2 know (``hashType``); SHA-3 exists only in v3.
SHA2_HASHES = (HashAlgorithm.SHA256, HashAlgorithm.SHA384, HashAlgorithm.SHA512)


class Padding(StrEnum):
    """Signature schemes: RSASSA-PKCS1-v1_5 (RP API v1/v2) and RSASSA-PSS (v3)."""

    PKCS1V15 = "PKCS1v15"
    PSS = "PSS"


@dataclass(frozen=True)
class HashSpec:
    """A hash: its hashlib name, digest length and DER DigestInfo prefix (RFC 8017 §9.2)."""

    algorithm: HashAlgorithm
    hashlib_name: str
    digest_size: int
    digest_info_prefix: bytes


_HASHES = {
    HashAlgorithm.SHA256: HashSpec(
        HashAlgorithm.SHA256,
        "sha256",
        32,
        bytes.fromhex("3031300d060960864801650304020105000420"),
    ),
    HashAlgorithm.SHA384: HashSpec(
        HashAlgorithm.SHA384,
        "sha384",
        48,
        bytes.fromhex("3041300d060960864801650304020205000430"),
    ),
    HashAlgorithm.SHA512: HashSpec(
        HashAlgorithm.SHA512,
        "sha512",
        64,
        bytes.fromhex("3051300d060960864801650304020305000440"),
    ),
    # SHA-3 (FIPS 202): OIDs 2.16.840.1.101.3.4.2.8/9/10, NULL parameters like SHA-2.
    HashAlgorithm.SHA3_256: HashSpec(
        HashAlgorithm.SHA3_256,
        "sha3_256",
        32,
        bytes.fromhex("3031300d060960864801650304020805000420"),
    ),
    HashAlgorithm.SHA3_384: HashSpec(
        HashAlgorithm.SHA3_384,
        "sha3_384",
        48,
        bytes.fromhex("3041300d060960864801650304020905000430"),
    ),
    HashAlgorithm.SHA3_512: HashSpec(
        HashAlgorithm.SHA3_512,
        "sha3_512",
        64,
        bytes.fromhex("3051300d060960864801650304020a05000440"),
    ),
}


def hash_spec(hash_alg: str) -> HashSpec:
    """Return the :class:`HashSpec` of ``hash_alg``; raise :class:`UnsupportedAlgorithm`."""
    if not isinstance(hash_alg, str):
        raise UnsupportedAlgorithm("hash algorithm must be a string")
    try:
        return _HASHES[HashAlgorithm(hash_alg)]
    except ValueError:
        raise UnsupportedAlgorithm(f"unsupported hash algorithm {hash_alg!r}") from None


def parse_padding(padding: str) -> Padding:
    """Return the :class:`Padding` named ``padding``; raise :class:`UnsupportedAlgorithm`."""
    if not isinstance(padding, str):
        raise UnsupportedAlgorithm("padding must be a string")
    try:
        return Padding(padding)
    except ValueError:
        raise UnsupportedAlgorithm(f"unsupported padding {padding!r}") from None


def hash_message(data: bytes, hash_alg: str) -> bytes:
    """Return Hash(data) for a supported ``hash_alg``."""
    spec = hash_spec(hash_alg)
    _require_bytes(data, "data")
    return hashlib.new(spec.hashlib_name, data).digest()


def check_digest(digest: bytes, hash_alg: str) -> HashSpec:
    """Check that ``digest`` is bytes of exactly the algorithm's digest length."""
    spec = hash_spec(hash_alg)
    _require_bytes(digest, "digest")
    if len(digest) != spec.digest_size:
        raise HashLengthMismatch(
            f"{spec.algorithm.value} digest must be {spec.digest_size} bytes, got {len(digest)}"
        )
    return spec


def _require_bytes(value: object, name: str) -> None:
    if not isinstance(value, bytes):
        raise InvalidLength(f"{name} must be bytes")


def _require_int(value: object, name: str) -> int:
    if type(value) is not int:
        raise InvalidInteger(f"{name} must be an int")
    return value


def byte_length(n: int) -> int:
    """k = ⌈|n|/8⌉, the length in bytes of a signature under modulus n."""
    return (n.bit_length() + 7) // 8


def i2osp(x: int, length: int) -> bytes:
    """I2OSP(x, length): big-endian, exactly ``length`` bytes; requires 0 ≤ x < 256^length."""
    _require_int(x, "x")
    _require_int(length, "length")
    if not 0 <= length <= MAX_EM_BYTES:
        raise InvalidLength(f"length must be between 0 and {MAX_EM_BYTES}")
    if x < 0:
        raise InvalidInteger("integer must not be negative")
    if x.bit_length() > 8 * length:
        raise InvalidInteger("integer too large")
    return x.to_bytes(length, "big")


def os2ip(octets: bytes) -> int:
    """OS2IP: the big-endian unsigned integer of ``octets``."""
    _require_bytes(octets, "octets")
    return int.from_bytes(octets, "big")


def emsa_pkcs1_v15_encode(digest: bytes, hash_alg: str, em_len: int) -> bytes:
    """EMSA-PKCS1-v1_5-ENCODE with a precomputed digest H.

    EM = 0x00 ‖ 0x01 ‖ PS ‖ 0x00 ‖ T, T = DigestInfo(H), PS = 0xFF × (em_len − |T| − 3),
    |PS| ≥ 8.
    """
    spec = check_digest(digest, hash_alg)
    _require_int(em_len, "em_len")
    t = spec.digest_info_prefix + digest
    if em_len < len(t) + 11:
        raise InvalidLength("intended encoded message length too short")
    if em_len > MAX_EM_BYTES:
        raise InvalidLength(f"encoded message longer than {MAX_EM_BYTES} bytes")
    return b"\x00\x01" + b"\xff" * (em_len - len(t) - 3) + b"\x00" + t


def mgf1(seed: bytes, mask_len: int, hash_alg: str) -> bytes:
    """MGF1(seed, mask_len) = leading mask_len bytes of Hash(seed ‖ I2OSP(0,4)) ‖ …"""
    spec = hash_spec(hash_alg)
    out = bytearray()
    counter = 0
    while len(out) < mask_len:
        out += hashlib.new(spec.hashlib_name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:mask_len])


def _em_len(em_bits: int) -> int:
    _require_int(em_bits, "em_bits")
    if not 1 <= em_bits <= 8 * MAX_EM_BYTES:
        raise InvalidLength(f"em_bits must be between 1 and {8 * MAX_EM_BYTES}")
    return (em_bits + 7) // 8


def emsa_pss_encode(digest: bytes, hash_alg: str, em_bits: int, salt: bytes) -> bytes:
    """EMSA-PSS-ENCODE(M, emBits) with mHash = ``digest`` and the given salt.

    M′ = 0x00×8 ‖ mHash ‖ salt; H = Hash(M′); DB = PS ‖ 0x01 ‖ salt;
    maskedDB = DB ⊕ MGF1(H, emLen − hLen − 1) with the top 8·emLen − emBits bits cleared;
    EM = maskedDB ‖ H ‖ 0xbc, emLen = ⌈emBits/8⌉. For the composite key emBits = |n| − 1.
    """
    spec = check_digest(digest, hash_alg)
    _require_bytes(salt, "salt")
    em_len = _em_len(em_bits)
    h_len = spec.digest_size
    if em_len < h_len + len(salt) + 2:
        raise InvalidLength("encoding error: em_bits too small for this hash and salt")
    h = hashlib.new(spec.hashlib_name, b"\x00" * 8 + digest + salt).digest()
    db = b"\x00" * (em_len - len(salt) - h_len - 2) + b"\x01" + salt
    mask = mgf1(h, em_len - h_len - 1, hash_alg)
    masked = bytearray(a ^ b for a, b in zip(db, mask, strict=True))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def emsa_pss_verify(digest: bytes, em: bytes, em_bits: int, hash_alg: str, salt_len: int) -> None:
    """EMSA-PSS-VERIFY (RFC 8017 §9.1.2); raise :class:`InvalidSignature` if inconsistent."""
    spec = check_digest(digest, hash_alg)
    _require_bytes(em, "em")
    _require_int(salt_len, "salt_len")
    if salt_len < 0:
        raise InvalidInteger("salt length must not be negative")
    em_len = _em_len(em_bits)
    h_len = spec.digest_size
    if len(em) != em_len or em_len < h_len + salt_len + 2:
        raise InvalidSignature("inconsistent")
    if em[-1] != 0xBC:
        raise InvalidSignature("inconsistent")
    masked_db, h = em[: em_len - h_len - 1], em[em_len - h_len - 1 : -1]
    top_bits = 8 * em_len - em_bits
    if top_bits and masked_db[0] >> (8 - top_bits):
        raise InvalidSignature("inconsistent")
    mask = mgf1(h, em_len - h_len - 1, hash_alg)
    db = bytearray(a ^ b for a, b in zip(masked_db, mask, strict=True))
    db[0] &= 0xFF >> top_bits
    ps_len = em_len - h_len - salt_len - 2
    if any(db[:ps_len]) or db[ps_len] != 0x01:
        raise InvalidSignature("inconsistent")
    salt = bytes(db[len(db) - salt_len :]) if salt_len else b""
    h2 = hashlib.new(spec.hashlib_name, b"\x00" * 8 + digest + salt).digest()
    if not hmac.compare_digest(h, h2):
        raise InvalidSignature("inconsistent")


def encode_message(
    n: int, digest: bytes, hash_alg: str, padding: str, salt: bytes | None = None
) -> int:
    """m = OS2IP(EM) for the (composite) modulus n; always 0 ≤ m < n.

    PKCS#1 v1.5: EM = EMSA-PKCS1-v1_5(H) with |EM| = k = ⌈|n|/8⌉.
    PSS: EM = EMSA-PSS-ENCODE(H, emBits = |n| − 1, salt); ``salt`` is required (it may be
    empty). PKCS#1 v1.5 takes no salt.
    """
    _require_int(n, "n")
    if n < 3:
        raise InvalidInteger("modulus too small")
    kind = parse_padding(padding)
    if kind is Padding.PKCS1V15:
        if salt is not None:
            raise UnsupportedAlgorithm("PKCS#1 v1.5 takes no salt")
        return os2ip(emsa_pkcs1_v15_encode(digest, hash_alg, byte_length(n)))
    if salt is None:
        raise InvalidLength("PSS needs a salt (bytes, possibly empty)")
    return os2ip(emsa_pss_encode(digest, hash_alg, n.bit_length() - 1, salt))


def _rsavp1(n: int, e: int, signature: bytes) -> int:
    _require_int(n, "n")
    _require_int(e, "e")
    _require_bytes(signature, "signature")
    if n < 3 or n % 2 == 0 or e < 3 or e % 2 == 0:
        raise InvalidInteger("invalid RSA public key")
    if len(signature) != byte_length(n):
        raise InvalidSignature("signature length differs from the modulus length")
    s = os2ip(signature)
    if s >= n:
        raise InvalidSignature("signature representative out of range")
    return powmod(s, e, n)


def verify_pkcs1_v15(n: int, e: int, signature: bytes, digest: bytes, hash_alg: str) -> None:
    """RSASSA-PKCS1-v1_5-VERIFY with a precomputed digest; raise :class:`InvalidSignature`.

    m = s^e mod n; require I2OSP(m, k) = EMSA-PKCS1-v1_5(H) byte for byte.
    """
    check_digest(digest, hash_alg)
    m = _rsavp1(n, e, signature)
    k = byte_length(n)
    expected = emsa_pkcs1_v15_encode(digest, hash_alg, k)
    if not hmac.compare_digest(m.to_bytes(k, "big"), expected):
        raise InvalidSignature("PKCS#1 v1.5 signature does not match")


def verify_pss(
    n: int, e: int, signature: bytes, digest: bytes, hash_alg: str, salt_len: int
) -> None:
    """RSASSA-PSS-VERIFY (MGF1 with the same hash); raise :class:`InvalidSignature`.

    m = s^e mod n; EM = I2OSP(m, ⌈(|n| − 1)/8⌉); EMSA-PSS-VERIFY(H, EM, |n| − 1, sLen).
    """
    check_digest(digest, hash_alg)
    m = _rsavp1(n, e, signature)
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    if m.bit_length() > 8 * em_len:
        raise InvalidSignature("signature representative too large")
    emsa_pss_verify(digest, m.to_bytes(em_len, "big"), em_bits, hash_alg, salt_len)


def verify(
    n: int,
    e: int,
    signature: bytes,
    digest: bytes,
    hash_alg: str,
    padding: str,
    salt_len: int | None = None,
) -> None:
    """Verify with either scheme; PSS needs ``salt_len``. Raise :class:`InvalidSignature`."""
    kind = parse_padding(padding)
    if kind is Padding.PKCS1V15:
        verify_pkcs1_v15(n, e, signature, digest, hash_alg)
        return
    if salt_len is None:
        raise InvalidLength("PSS verification needs the salt length")
    verify_pss(n, e, signature, digest, hash_alg, salt_len)
