"""Client key generation, the PIN-protected share and the stored blob (invariants 5, 6)."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter

import gmpy2
import pytest

from signing.engine import (
    BLOB_ALG,
    ClientKeyBlob,
    KdfParams,
    client_keygen,
    client_partial_for_digest,
    client_partial_signature,
    composite_public_key,
    decrypt_share,
    generate_server_half,
    i2osp,
    seal_client_share,
    share_length,
    split_private_exponent,
    validate_pin,
)
from signing.engine.errors import (
    InvalidBlob,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    InvalidPin,
    UnsupportedAlgorithm,
)
from tests.signing.engine.helpers import CHEAP_KDF, PIN, WRONG_PIN, SplitKey

# Chi-square critical value for 255 degrees of freedom at significance 1e-6, from the
# Wilson–Hilferty approximation: a correct implementation fails this test once in a
# million runs; a share with any structure in its top byte fails it essentially always.
CHI2_DF = 255
CHI2_Z = 4.753  # one-sided normal quantile for p = 1e-6
CHI2_CRITICAL = CHI2_DF * (1 - 2 / (9 * CHI2_DF) + CHI2_Z * math.sqrt(2 / (9 * CHI2_DF))) ** 3


def chi_square_uniform_bytes(values: list[int]) -> float:
    expected = len(values) / 256
    counts = Counter(values)
    return sum((counts.get(b, 0) - expected) ** 2 / expected for b in range(256))


def test_keygen_returns_a_consistent_split(rng: random.Random) -> None:
    steps: list[str] = []
    blob, d1_double_prime = client_keygen(PIN, bits=1024, kdf=CHEAP_KDF, progress=steps.append)
    assert steps[0].startswith("generating") and steps[-1] == "done"
    assert blob.bits == 1024 and blob.n1 % 2 == 1 and blob.e == 65537
    assert blob.version == 1 and blob.alg == BLOB_ALG == "splitkey-rsa/aes-256-cbc-nopad/scrypt"
    assert 0 <= d1_double_prime < blob.n1
    # The split works: m^{d1′}·m^{d1″} ≡ m^{d1}, so (s1′·m^{d1″})^e ≡ m (mod n1).
    for _ in range(5):
        m = rng.randrange(blob.n1)
        s1 = client_partial_signature(blob, PIN, m) * int(gmpy2.powmod(m, d1_double_prime, blob.n1))
        assert int(gmpy2.powmod(s1 % blob.n1, 65537, blob.n1)) == m
    # A wrong PIN gives a share that does not complete.
    m = rng.randrange(blob.n1)
    s1 = client_partial_signature(blob, WRONG_PIN, m) * int(
        gmpy2.powmod(m, d1_double_prime, blob.n1)
    )
    assert int(gmpy2.powmod(s1 % blob.n1, 65537, blob.n1)) != m


def test_keygen_default_kdf_is_phone_sized() -> None:
    default = KdfParams()
    assert (default.n, default.r, default.p) == (2**15, 8, 1)


@pytest.mark.slow
def test_full_size_keygen_with_default_kdf(rng: random.Random) -> None:
    blob, d1_double_prime = client_keygen(PIN)  # L = 3072, scrypt n = 2^15
    assert blob.bits == 3072 and blob.share_len == 384 and len(blob.ciphertext) == 384
    assert blob.kdf == KdfParams()
    half = generate_server_half()
    key = composite_public_key(blob.n1, half.n2)
    assert key.n.bit_length() in (6143, 6144) and key.k == 768
    m = rng.randrange(blob.n1)
    s1 = client_partial_signature(blob, PIN, m) * int(gmpy2.powmod(m, d1_double_prime, blob.n1))
    assert int(gmpy2.powmod(s1 % blob.n1, 65537, blob.n1)) == m


def test_share_length_is_whole_aes_blocks() -> None:
    assert share_length(3072) == 384  # 24 blocks exactly
    assert share_length(1024) == 128
    assert share_length(2048) == 256
    assert share_length(1032) == 144  # 129 bytes padded up to 9 blocks
    assert share_length(1025) == 144
    blob, _ = client_keygen(PIN, bits=1032, kdf=CHEAP_KDF)
    assert len(blob.ciphertext) == 144 and len(decrypt_share(blob, PIN)) == 144


def test_invariant5_wrong_pins_decrypt_silently_to_b_bytes(small_key: SplitKey) -> None:
    blob = small_key.blob
    right = decrypt_share(blob, PIN)
    assert int.from_bytes(right, "big") == small_key.d1_prime
    for pin in ("0000", "1234", "99999", "123456789012", WRONG_PIN):
        plain = decrypt_share(blob, pin)
        assert len(plain) == blob.share_len and plain != right


def test_invariant5_blob_is_exactly_ciphertext_iv_salt_without_tag(key1024: SplitKey) -> None:
    blob = key1024.blob
    assert {f.name for f in dataclasses.fields(blob)} == {
        "n1",
        "salt",
        "iv",
        "ciphertext",
        "kdf",
        "e",
        "version",
        "alg",
    }
    assert len(blob.ciphertext) == blob.share_len == 128
    assert len(blob.iv) == 16 and len(blob.salt) == 16
    data = blob.to_dict()
    assert set(data) == {"version", "alg", "n1", "e", "kdf", "salt", "iv", "ciphertext"}
    # No field beyond the public key, KDF parameters, salt, iv and the bare ciphertext.
    secret_bytes = len(blob.ciphertext) + len(blob.iv) + len(blob.salt)
    assert secret_bytes == blob.share_len + 32


def test_invariant5_chi_square_top_byte_of_many_wrong_pin_decryptions() -> None:
    blob, _ = client_keygen("2580", bits=1024, kdf=CHEAP_KDF)
    pins = [f"{i:04d}" for i in range(2560)]  # 10 expected per top-byte value
    top = [decrypt_share(blob, pin)[0] for pin in pins]
    statistic = chi_square_uniform_bytes(top)
    assert statistic < CHI2_CRITICAL, statistic
    # The statistic is sensitive: a share with one fixed top bit would be caught.
    assert chi_square_uniform_bytes([b & 0x7F for b in top]) > CHI2_CRITICAL
    assert 376 < CHI2_CRITICAL < 378


def test_invariant6_client_blob_holds_no_private_key_material(key1024: SplitKey) -> None:
    k = key1024
    raw = k.blob.to_bytes()
    for secret in (k.p1, k.q1, k.d1, k.d1_double_prime, k.lam1, k.d1_prime):
        for encoded in (
            secret.to_bytes((secret.bit_length() + 7) // 8, "big"),
            format(secret, "x").encode(),
            str(secret).encode(),
        ):
            assert encoded not in raw
            assert encoded[:24] not in raw  # not even a prefix of it
    assert format(k.n1, "x").encode() in raw  # sanity: the search does find what is there


def test_blob_round_trips_through_bytes_and_dict(key1024: SplitKey) -> None:
    blob = key1024.blob
    assert ClientKeyBlob.from_bytes(blob.to_bytes()) == blob
    assert ClientKeyBlob.from_dict(blob.to_dict()) == blob
    assert blob.to_bytes() == ClientKeyBlob.from_bytes(blob.to_bytes()).to_bytes()


def _mutated(blob: ClientKeyBlob, **changes: object) -> dict[str, object]:
    data = blob.to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"version": 2}, UnsupportedAlgorithm),
        ({"version": "1"}, InvalidBlob),
        ({"alg": "splitkey-rsa/aes-256-gcm/scrypt"}, UnsupportedAlgorithm),
        ({"alg": 1}, InvalidBlob),
        ({"e": 3}, InvalidInteger),
        ({"e": "65537"}, InvalidBlob),
        ({"n1": "XYZ"}, InvalidBlob),
        ({"n1": ""}, InvalidBlob),
        ({"n1": 12345}, InvalidBlob),
        ({"n1": "ff"}, InvalidInteger),  # far too small
        ({"n1": "f" * 255 + "e"}, InvalidInteger),  # even
        ({"salt": "AAAA"}, InvalidLength),
        ({"iv": "not base64!"}, InvalidBlob),
        ({"iv": 5}, InvalidBlob),
        ({"ciphertext": "AAAA"}, InvalidLength),
        ({"kdf": {"name": "pbkdf2", "n": 2, "r": 1, "p": 1}}, UnsupportedAlgorithm),
        ({"kdf": {"name": "scrypt", "n": 3, "r": 1, "p": 1}}, InvalidInteger),
        ({"kdf": {"name": "scrypt", "n": 2**21, "r": 1, "p": 1}}, InvalidInteger),
        ({"kdf": {"name": "scrypt", "n": 2**20, "r": 8, "p": 1}}, InvalidInteger),
        ({"kdf": {"name": "scrypt", "n": 2, "r": 0, "p": 1}}, InvalidInteger),
        ({"kdf": {"name": "scrypt", "n": 2**20, "r": 2, "p": 16}}, InvalidInteger),
        ({"kdf": {"name": "scrypt", "n": "2", "r": 1, "p": 1}}, InvalidBlob),
        ({"kdf": {"name": "scrypt", "n": 2}}, InvalidBlob),
        ({"extra": 1}, InvalidBlob),
    ],
)
def test_blob_validation(
    key1024: SplitKey, changes: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ClientKeyBlob.from_dict(_mutated(key1024.blob, **changes))


@pytest.mark.parametrize(
    "raw", [b"", b"\xff\xfe", b"[]", b"{", b"null", b'{"version": 1}', "text", b"[" * 100000]
)
def test_blob_from_bytes_rejects_garbage(raw: object) -> None:
    with pytest.raises(InvalidBlob):
        ClientKeyBlob.from_bytes(raw)  # type: ignore[arg-type]


def test_blob_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(InvalidBlob):
        ClientKeyBlob.from_dict([])  # type: ignore[arg-type]


def test_blob_constructor_validates(key1024: SplitKey) -> None:
    blob = key1024.blob
    with pytest.raises(InvalidBlob):
        dataclasses.replace(blob, kdf={"n": 2})  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        dataclasses.replace(blob, n1=float(blob.n1))  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        dataclasses.replace(blob, iv=bytearray(16))  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        KdfParams(n=2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("pin", ["1234", "12345", "123456789012"])
def test_valid_pins(pin: str) -> None:
    validate_pin(pin)


@pytest.mark.parametrize(
    ("pin", "min_length"),
    [
        ("123", 4),
        ("1234", 5),
        ("1234567890123", 4),
        ("12a4", 4),
        ("１２３４", 4),  # full-width digits are not ASCII digits
        ("١٢٣٤", 4),
        (" 1234", 4),
        ("", 4),
        (1234, 4),
        (b"1234", 4),
        ("1234", 3),
        ("1234", 13),
        ("1234", "4"),
    ],
)
def test_invalid_pins(pin: object, min_length: object) -> None:
    with pytest.raises(InvalidPin):
        validate_pin(pin, min_length=min_length)  # type: ignore[arg-type]


def test_pin2_minimum_length_applies_to_keygen_and_signing(key1024: SplitKey) -> None:
    with pytest.raises(InvalidPin):
        client_keygen("1234", bits=1024, kdf=CHEAP_KDF, min_pin_length=5)
    with pytest.raises(InvalidPin):
        client_partial_signature(key1024.blob, "1234", 5, min_pin_length=5)


def test_keygen_rejects_bad_parameters() -> None:
    with pytest.raises(InvalidLength):
        client_keygen(PIN, bits=512, kdf=CHEAP_KDF)
    with pytest.raises(InvalidLength):
        client_keygen(PIN, bits=1024.0, kdf=CHEAP_KDF)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlob):
        client_keygen(PIN, bits=1024, kdf="cheap")  # type: ignore[arg-type]
    with pytest.raises(InvalidBlob):
        seal_client_share(2**1023 + 1, 5, PIN, kdf="cheap")  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        seal_client_share(-5, 5, PIN)
    with pytest.raises(InvalidInteger):
        seal_client_share(2**1023 + 1, 2**1024, PIN, kdf=CHEAP_KDF)  # d1′ wider than B


def test_split_private_exponent() -> None:
    lam = 2**100 + 277
    d_prime, d_double_prime = split_private_exponent(12345, lam, 16)
    assert 0 <= d_prime < 2**128 and 0 <= d_double_prime < lam
    assert (d_prime + d_double_prime - 12345) % lam == 0
    for args in ((0, lam, 16), (12345, 0, 16), (12345, lam, 0), (lam, lam, 16), (1.5, lam, 16)):
        with pytest.raises(InvalidInteger):
            split_private_exponent(*args)
    with pytest.raises(InvalidLength):
        split_private_exponent(12345, lam, 4096)


def test_partial_signature_bad_inputs(key1024: SplitKey) -> None:
    blob = key1024.blob
    for m in (-1, 2**2048, 1.0, "5", True):
        with pytest.raises(InvalidInteger):
            client_partial_signature(blob, PIN, m)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlob):
        client_partial_signature(blob.to_dict(), PIN, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlob):
        decrypt_share(blob.to_bytes(), PIN)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlob):
        client_partial_for_digest(
            "blob",  # type: ignore[arg-type]
            PIN,
            n=key1024.n,
            digest=bytes(32),
            hash_alg="SHA256",
            padding="PKCS1v15",
        )
    for n in (key1024.n + 2, key1024.n1, -key1024.n, 0):
        with pytest.raises(InvalidKey):
            client_partial_for_digest(
                blob, PIN, n=n, digest=bytes(32), hash_alg="SHA256", padding="PKCS1v15"
            )


def test_client_partial_reduces_m_mod_n1(key1024: SplitKey) -> None:
    m = key1024.n - 12345  # m ≥ n1, as always for the composite
    assert client_partial_signature(key1024.blob, PIN, m) == client_partial_signature(
        key1024.blob, PIN, m % key1024.n1
    )
    assert client_partial_signature(key1024.blob, PIN, m) == int(
        gmpy2.powmod(m % key1024.n1, key1024.d1_prime, key1024.n1)
    )


def test_i2osp_of_share_matches_ciphertext_length(key1024: SplitKey) -> None:
    assert len(i2osp(key1024.d1_prime, key1024.blob.share_len)) == len(key1024.blob.ciphertext)
