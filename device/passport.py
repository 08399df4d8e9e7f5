"""The reference app's "chip": a passport file and its answer to an AA challenge.

A real phone reads EF.SOD and the data groups over NFC (after PACE or BAC) and lets the chip
sign the server's challenge (INTERNAL AUTHENTICATE). Our reference app reads a passport
file instead (``openeid-passport-1``, written by ``manage.py make_passport``) whose
``aa_private_key`` plays the chip. The app uploads ``sod`` and ``dg`` unchanged.

AA signing (Doc 9303 part 11 §6.1): RSA keys use ISO/IEC 9796-2 scheme 1 with partial
message recovery, ``F = 6A ‖ M1 ‖ H(M1 ‖ challenge) ‖ trailer`` and ``s = F^d mod n``,
with a random M1 that fills the block (trailer ``BC`` for SHA-1, ``34 CC`` for SHA-256 …);
EC keys give a plain ``r ‖ s`` ECDSA signature (BSI TR-03111) over the challenge.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from device.errors import InputError, StateError
from signing.engine import InvalidBase64, b64decode_strict, powmod_secret

FORMAT = "openeid-passport-1"
MAX_FILE = 2 * 1024 * 1024
MAX_CHALLENGE = 64
#: ISO/IEC 10118 identifiers for the two-byte 9796-2 trailer ``xx CC``.
_TRAILER_IDS = {"sha256": 0x34, "sha512": 0x35, "sha384": 0x36, "sha224": 0x38}
_EC_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise StateError(f"passport file: {what} must be base64 text")
    try:
        return b64decode_strict(value, what=what)
    except InvalidBase64 as exc:
        raise StateError(f"passport file: {exc}") from None


@dataclass(frozen=True)
class Passport:
    sod: bytes
    data_groups: dict[int, bytes]
    aa_private_key: Any | None  # cryptography RSA or EC private key
    aa_hash: str | None

    @classmethod
    def load(cls, path: Path | str) -> Passport:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_FILE:
                raise StateError("passport file too large")
            document = json.loads(path.read_bytes())
        except OSError as exc:
            raise StateError(f"cannot read the passport file: {exc}") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise StateError("the passport file is not JSON") from None
        return cls.from_json(document)

    @classmethod
    def from_json(cls, document: Any) -> Passport:
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise StateError(f"not an {FORMAT} passport file")
        groups = document.get("dg")
        if not isinstance(groups, dict) or not groups:
            raise StateError("passport file: dg must map data group numbers to base64")
        data_groups: dict[int, bytes] = {}
        for key, value in groups.items():
            if not isinstance(key, str) or not key.isdigit() or not 1 <= int(key) <= 16:
                raise StateError(f"passport file: {key!r} is not a data group number")
            data_groups[int(key)] = _b64(value, f"DG{key}")
        key_pem = document.get("aa_private_key")
        aa_key = None
        if key_pem is not None:
            if not isinstance(key_pem, str):
                raise StateError("passport file: aa_private_key must be PEM text")
            try:
                aa_key = serialization.load_pem_private_key(key_pem.encode(), password=None)
            except (ValueError, TypeError):
                raise StateError("passport file: aa_private_key cannot be read") from None
            if not isinstance(aa_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise StateError("passport file: the AA key is neither RSA nor EC")
        aa_hash = document.get("aa_hash")
        if aa_hash is not None and aa_hash not in _EC_HASHES:
            raise StateError(f"passport file: unknown aa_hash {aa_hash!r}")
        return cls(
            sod=_b64(document.get("sod"), "sod"),
            data_groups=data_groups,
            aa_private_key=aa_key,
            aa_hash=aa_hash,
        )

    def sign_aa(self, challenge: bytes) -> bytes:
        """The chip's answer to INTERNAL AUTHENTICATE with ``challenge`` (8 bytes in ICAO)."""
        if not isinstance(challenge, bytes) or not 1 <= len(challenge) <= MAX_CHALLENGE:
            raise InputError("the AA challenge must be 1 to 64 bytes")
        key = self.aa_private_key
        if key is None:
            raise InputError("this passport has no active authentication key (no DG15)")
        if isinstance(key, rsa.RSAPrivateKey):
            return sign_9796_2(key, challenge, hash_name=self.aa_hash or "sha1")
        return sign_ecdsa_plain(key, challenge, hash_name=self.aa_hash or "sha256")


def sign_9796_2(key: rsa.RSAPrivateKey, challenge: bytes, *, hash_name: str) -> bytes:
    """ISO/IEC 9796-2 scheme 1 signature, partial recovery, M1 random, M2 = challenge."""
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    if n.bit_length() % 8:
        raise InputError("9796-2 signing needs a modulus of a whole number of bytes")
    size = n.bit_length() // 8
    trailer = b"\xbc" if hash_name == "sha1" else bytes([_TRAILER_IDS[hash_name], 0xCC])
    digest_size = hashlib.new(hash_name).digest_size
    m1 = secrets.token_bytes(size - 1 - digest_size - len(trailer))
    f = b"\x6a" + m1 + hashlib.new(hash_name, m1 + challenge).digest() + trailer
    return powmod_secret(int.from_bytes(f, "big"), d, n).to_bytes(size, "big")


def sign_ecdsa_plain(key: ec.EllipticCurvePrivateKey, challenge: bytes, *, hash_name: str) -> bytes:
    size = (key.curve.key_size + 7) // 8
    r, s = decode_dss_signature(key.sign(challenge, ec.ECDSA(_EC_HASHES[hash_name]())))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
