"""The app's side: client key generation, the PIN-protected share and the partial signature.

ClientKeyGen (spec §8):

1. p1, q1 from ``cryptography`` with |n1| = L, n1 = p1·q1, e = 65537;
2. λ(n1) = lcm(p1 − 1, q1 − 1), d1 = e⁻¹ mod λ(n1);
3. d1′ ←$ [0, 2^{8B}), uniform over the full byte width B;
4. d1″ = (d1 − d1′) mod λ(n1)  — modulo λ(n1), NOT modulo n1 (that would break
   m^{d1′}·m^{d1″} ≡ m^{d1});
5. salt, iv ←$ 16 bytes; K = scrypt(PIN, salt); C = AES-256-CBC-NoPad_K(iv, I2OSP(d1′, B)).
   No MAC, tag or check value: every PIN decrypts to an equally plausible d1′.

B = 16·⌈⌈L/8⌉/16⌉: the share is padded up to whole AES blocks (L = 3072 gives B = 384,
exactly 24 blocks; for L not a multiple of 128, d1′ is simply drawn a little wider, which
changes nothing since d1″ absorbs it mod λ(n1)).

AppPartial: d̃1′ = OS2IP(AES-CBC-Dec_{K′}(iv, C)) (never fails), s1′ = (m mod n1)^{d̃1′} mod n1.

Erasure: p1, q1, λ, d1 and d1′ are only held in local variables that are deleted before
:func:`client_keygen` returns. Python cannot guarantee that the memory of immutable ints is
overwritten, so this removes references, not bytes; a hardened phone app does the same in
native code.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from signing.engine.b64 import b64decode_strict
from signing.engine.encoding import encode_message, i2osp, os2ip
from signing.engine.errors import (
    InvalidBase64,
    InvalidBlob,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    InvalidPin,
    UnsupportedAlgorithm,
)
from signing.engine.modexp import powmod_secret

#: The public exponent of n1, n2 and n (spec §1).
E = 65537
#: Default share modulus size L in bits.
DEFAULT_BITS = 3072
#: Smallest L accepted (tests use 1024 for speed; production uses 3072).
MIN_BITS = 1024
MAX_BITS = 8192
BLOB_VERSION = 1
BLOB_ALG = "splitkey-rsa/aes-256-cbc-nopad/scrypt"
SALT_BYTES = 16
IV_BYTES = 16
PIN_MAX_LENGTH = 12

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost parameters, stored in the blob.

    The default (n = 2^15, r = 8, p = 1: 32 MiB, ~60 ms on a server core) suits a phone.
    Bounds keep a tampered state file from asking for gigabytes or minutes: n a power of
    two in [2, 2^20], r in [1, 32], p in [1, 16], 128·n·r ≤ 256 MiB, n·r·p ≤ 2^22.
    """

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        for name in ("n", "r", "p"):
            if type(getattr(self, name)) is not int:
                raise InvalidInteger(f"scrypt {name} must be an int")
        if not 2 <= self.n <= 2**20 or self.n & (self.n - 1):
            raise InvalidInteger("scrypt n must be a power of two in [2, 2^20]")
        if not 1 <= self.r <= 32 or not 1 <= self.p <= 16 or self.n * self.r > 2**21:
            raise InvalidInteger("scrypt r or p out of range")
        if self.n * self.r * self.p > 2**22:
            raise InvalidInteger("scrypt cost n·r·p above 2^22")


DEFAULT_KDF = KdfParams()


def composite_bit_lengths(bits: int) -> frozenset[int]:
    """The sizes |n| of a composite n = n1·n2 of two ``bits``-bit shares: 2L − 1 or 2L.

    The one statement of the rule (spec §1 "Accept |n| of 2L−1 or 2L bits") that the
    engine, the certificate issuance and the app all check.
    """
    return frozenset((2 * bits - 1, 2 * bits))


def share_length(bits: int) -> int:
    """B: the byte width of d1′ for |n1| = bits, rounded up to whole AES blocks."""
    return -(-((bits + 7) // 8) // 16) * 16


def validate_pin(pin: str, *, min_length: int = 4) -> None:
    """Require ``min_length``–12 ASCII digits (PIN1: min_length 4, PIN2: min_length 5)."""
    if type(min_length) is not int or not 4 <= min_length <= PIN_MAX_LENGTH:
        raise InvalidPin("minimum PIN length must be between 4 and 12")
    if not isinstance(pin, str):
        raise InvalidPin("PIN must be a string")
    if not min_length <= len(pin) <= PIN_MAX_LENGTH or not all(c in "0123456789" for c in pin):
        raise InvalidPin(f"PIN must be {min_length}-{PIN_MAX_LENGTH} digits")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidBlob(f"{name} must be a base64 string")
    try:
        return b64decode_strict(value, what=name)
    except InvalidBase64:
        raise InvalidBlob(f"{name} is not valid base64") from None


@dataclass(frozen=True)
class ClientKeyBlob:
    """The app's stored key: n1, e, the scrypt parameters, salt, iv and C = Enc(d1′).

    It holds nothing else derived from d1′ or K (no MAC, no check value), and none of
    p1, q1, d1, d1″. Construction validates every field (raises :class:`InvalidBlob`,
    :class:`UnsupportedAlgorithm`, :class:`InvalidInteger` or :class:`InvalidLength`).
    """

    n1: int
    salt: bytes
    iv: bytes
    ciphertext: bytes
    kdf: KdfParams = field(default_factory=KdfParams)
    e: int = E
    version: int = BLOB_VERSION
    alg: str = BLOB_ALG

    def __post_init__(self) -> None:
        if self.version != BLOB_VERSION or type(self.version) is not int:
            raise UnsupportedAlgorithm(f"unsupported client blob version {self.version!r}")
        if self.alg != BLOB_ALG:
            raise UnsupportedAlgorithm(f"unsupported client blob algorithm {self.alg!r}")
        if not isinstance(self.kdf, KdfParams):
            raise InvalidBlob("kdf must be KdfParams")
        if type(self.n1) is not int or type(self.e) is not int:
            raise InvalidInteger("n1 and e must be ints")
        if self.e != E:
            raise InvalidInteger("e must be 65537")
        if not MIN_BITS <= self.n1.bit_length() <= MAX_BITS or self.n1 % 2 == 0:
            raise InvalidInteger("n1 must be odd with a supported size")
        for name, value, size in (("salt", self.salt, SALT_BYTES), ("iv", self.iv, IV_BYTES)):
            if not isinstance(value, bytes) or len(value) != size:
                raise InvalidLength(f"{name} must be {size} bytes")
        if not isinstance(self.ciphertext, bytes) or len(self.ciphertext) != self.share_len:
            raise InvalidLength(f"ciphertext must be {self.share_len} bytes")

    @property
    def bits(self) -> int:
        """L = |n1|."""
        return self.n1.bit_length()

    @property
    def share_len(self) -> int:
        """B, the byte length of d1′ and of the ciphertext."""
        return share_length(self.bits)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (integers as hex strings, bytes as base64)."""
        return {
            "version": self.version,
            "alg": self.alg,
            "n1": format(self.n1, "x"),
            "e": self.e,
            "kdf": {"name": "scrypt", "n": self.kdf.n, "r": self.kdf.r, "p": self.kdf.p},
            "salt": _b64(self.salt),
            "iv": _b64(self.iv),
            "ciphertext": _b64(self.ciphertext),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ClientKeyBlob:
        """Inverse of :meth:`to_dict`; validates everything."""
        keys = {"version", "alg", "n1", "e", "kdf", "salt", "iv", "ciphertext"}
        if not isinstance(data, Mapping) or set(data) != keys:
            raise InvalidBlob("client blob must have exactly the fields " + ", ".join(sorted(keys)))
        kdf = data["kdf"]
        if not isinstance(kdf, Mapping) or set(kdf) != {"name", "n", "r", "p"}:
            raise InvalidBlob("kdf must have the fields name, n, r, p")
        if kdf["name"] != "scrypt":
            raise UnsupportedAlgorithm("only scrypt is supported")
        n1 = data["n1"]
        if not isinstance(n1, str) or not n1 or any(c not in "0123456789abcdef" for c in n1):
            raise InvalidBlob("n1 must be a lower-case hex string")
        version, alg, e = data["version"], data["alg"], data["e"]
        kn, kr, kp = kdf["n"], kdf["r"], kdf["p"]
        if type(version) is not int or not isinstance(alg, str) or type(e) is not int:
            raise InvalidBlob("version and e must be ints, alg a string")
        if type(kn) is not int or type(kr) is not int or type(kp) is not int:
            raise InvalidBlob("kdf parameters must be ints")
        return cls(
            n1=int(n1, 16),
            e=e,
            kdf=KdfParams(n=kn, r=kr, p=kp),
            salt=_unb64(data["salt"], "salt"),
            iv=_unb64(data["iv"], "iv"),
            ciphertext=_unb64(data["ciphertext"], "ciphertext"),
            version=version,
            alg=alg,
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, UTF-8) of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ClientKeyBlob:
        """Inverse of :meth:`to_bytes`; raises :class:`InvalidBlob` on malformed input."""
        if not isinstance(raw, bytes):
            raise InvalidBlob("blob must be bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidBlob("blob is not valid UTF-8 JSON") from None
        if not isinstance(data, dict):
            raise InvalidBlob("blob must be a JSON object")
        return cls.from_dict(data)


def _pin_key(pin: str, salt: bytes, kdf: KdfParams) -> bytes:
    """K = scrypt(PIN, salt; n, r, p), 32 bytes (AES-256)."""
    return Scrypt(salt=salt, length=32, n=kdf.n, r=kdf.r, p=kdf.p).derive(pin.encode("ascii"))


def split_private_exponent(d: int, lam: int, share_len: int) -> tuple[int, int]:
    """Split d into (d′, d″): d′ ←$ [0, 2^{8·share_len}), d″ = (d − d′) mod λ.

    Then m^{d′}·m^{d″} ≡ m^{d} (mod n1) for all m, because λ(n1) is the exponent of the
    group (Z/n1)* (and for m sharing a factor with n1, by the CRT on each prime).
    """
    for name, value in (("d", d), ("lambda", lam), ("share_len", share_len)):
        if type(value) is not int or value <= 0:
            raise InvalidInteger(f"{name} must be a positive int")
    if d >= lam:
        raise InvalidInteger("d must be reduced mod lambda")
    if share_len > MAX_BITS // 8:
        raise InvalidLength("share too long")
    d_prime = secrets.randbits(8 * share_len)
    return d_prime, (d - d_prime) % lam


def seal_client_share(
    n1: int,
    d1_prime: int,
    pin: str,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    min_pin_length: int = 4,
) -> ClientKeyBlob:
    """Encrypt d1′ under the PIN: C = AES-256-CBC-NoPad_K(iv, I2OSP(d1′, B)).

    K = scrypt(PIN, salt); salt and iv are 16 fresh random bytes each.
    """
    validate_pin(pin, min_length=min_pin_length)
    if type(n1) is not int or n1 <= 0:
        raise InvalidInteger("n1 must be a positive int")
    share_len = share_length(n1.bit_length())
    plaintext = i2osp(d1_prime, share_len)
    salt = secrets.token_bytes(SALT_BYTES)
    iv = secrets.token_bytes(IV_BYTES)
    if not isinstance(kdf, KdfParams):
        raise InvalidBlob("kdf must be KdfParams")
    encryptor = Cipher(algorithms.AES(_pin_key(pin, salt, kdf)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    del plaintext
    return ClientKeyBlob(n1=n1, kdf=kdf, salt=salt, iv=iv, ciphertext=ciphertext)


def decrypt_share(blob: ClientKeyBlob, pin: str, *, min_pin_length: int = 4) -> bytes:
    """AES-CBC-Dec_{K′}(iv, C) with K′ = scrypt(PIN′, salt): always B bytes, never fails.

    A wrong PIN yields a different, equally plausible share; only the server can tell.
    """
    if not isinstance(blob, ClientKeyBlob):
        raise InvalidBlob("blob must be a ClientKeyBlob")
    validate_pin(pin, min_length=min_pin_length)
    decryptor = Cipher(algorithms.AES(_pin_key(pin, blob.salt, blob.kdf)), modes.CBC(blob.iv))
    dec = decryptor.decryptor()
    return dec.update(blob.ciphertext) + dec.finalize()


def client_keygen(
    pin: str,
    *,
    bits: int = DEFAULT_BITS,
    kdf: KdfParams = DEFAULT_KDF,
    min_pin_length: int = 4,
    progress: ProgressCallback | None = None,
) -> tuple[ClientKeyBlob, int]:
    """ClientKeyGen: return (the blob to store, d1″ to send to the server once).

    The blob holds n1, e, kdf, salt, iv and C = Enc_K(I2OSP(d1′, B)); d1″ = (d1 − d1′) mod
    λ(n1). The secret intermediates (p1, q1, λ, d1, d1′) are dropped before returning.
    """
    validate_pin(pin, min_length=min_pin_length)
    if type(bits) is not int or not MIN_BITS <= bits <= MAX_BITS:
        raise InvalidLength(f"key size must be {MIN_BITS}-{MAX_BITS} bits")
    if not isinstance(kdf, KdfParams):
        raise InvalidBlob("kdf must be KdfParams")
    if progress is not None:
        progress("generating the RSA key")
    numbers = rsa.generate_private_key(public_exponent=E, key_size=bits).private_numbers()
    p1, q1 = numbers.p, numbers.q
    n1 = p1 * q1
    lam = int(gmpy2.lcm(p1 - 1, q1 - 1))
    d1 = int(gmpy2.invert(E, lam))
    if progress is not None:
        progress("splitting the private exponent")
    d1_prime, d1_double_prime = split_private_exponent(d1, lam, share_length(bits))
    del numbers, p1, q1, lam, d1
    if progress is not None:
        progress("encrypting the share under the PIN")
    blob = seal_client_share(n1, d1_prime, pin, kdf=kdf, min_pin_length=min_pin_length)
    del d1_prime
    if progress is not None:
        progress("done")
    return blob, d1_double_prime


def client_partial_signature(
    blob: ClientKeyBlob, pin: str, m: int, *, min_pin_length: int = 4
) -> int:
    """AppPartial: s1′ = (m mod n1)^{d̃1′} mod n1, d̃1′ = OS2IP(Dec_{K(PIN)}(iv, C)).

    ``m`` is the message representative for the composite modulus (0 ≤ m < 2^{2L}); it is
    reduced mod n1 first. Constant-time exponentiation (:func:`powmod_secret`).
    """
    if not isinstance(blob, ClientKeyBlob):
        raise InvalidBlob("blob must be a ClientKeyBlob")
    if type(m) is not int or m < 0 or m.bit_length() > 2 * blob.bits:
        raise InvalidInteger("m must be an int in [0, 2^(2L))")
    share = decrypt_share(blob, pin, min_pin_length=min_pin_length)
    d_tilde = os2ip(share)
    del share
    s1_prime = powmod_secret(m % blob.n1, d_tilde, blob.n1)
    del d_tilde
    return s1_prime


def client_partial_for_digest(
    blob: ClientKeyBlob,
    pin: str,
    *,
    n: int,
    digest: bytes,
    hash_alg: str,
    padding: str,
    salt: bytes | None = None,
    min_pin_length: int = 4,
) -> int:
    """Rebuild m = OS2IP(EM(H, salt)) for the composite n, then return s1′.

    The app encodes the hash it displayed itself (PSS: emBits = |n| − 1, with the salt the
    server chose), so it only ever signs what it showed.
    """
    if not isinstance(blob, ClientKeyBlob):
        raise InvalidBlob("blob must be a ClientKeyBlob")
    if type(n) is not int or n <= 0 or n % blob.n1 != 0 or n == blob.n1:
        raise InvalidKey("n is not a composite modulus of this client key")
    m = encode_message(n, digest, hash_alg, padding, salt)
    return client_partial_signature(blob, pin, m, min_pin_length=min_pin_length)
