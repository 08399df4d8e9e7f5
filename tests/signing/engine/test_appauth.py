"""The device request signature (docs/app-api.md §1)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing.engine import (
    BadRequestSignature,
    InvalidKey,
    MalformedHeader,
    MissingHeader,
    RequestAuthError,
    StaleRequest,
    canonical_request,
    new_nonce,
    public_key_der,
    request_device_id,
    sign_request,
    verify_request,
)

DEVICE = "6f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
PATH = "/app/v1/transactions/pending?timeoutMs=30000"
NOW = 1_800_000_000
BODY = b'{"interaction": "displayTextAndPIN"}'
NONCE = base64.b64encode(bytes(range(16))).decode()


@pytest.fixture(scope="module")
def device_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def der(device_key: ec.EllipticCurvePrivateKey) -> bytes:
    return public_key_der(device_key.public_key())


def _sign(
    key: ec.EllipticCurvePrivateKey, method: str = "POST", body: bytes = BODY
) -> dict[str, str]:
    return sign_request(key, method, PATH, body, device_id=DEVICE, timestamp=NOW)


def test_the_string_to_sign_is_exactly_the_documented_one() -> None:
    expected = "\n".join(
        [
            "smartid-app-v1",
            "GET",
            PATH,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            str(NOW),
            NONCE,
            DEVICE,
        ]
    ).encode()
    assert canonical_request("GET", PATH, b"", NOW, NONCE, DEVICE) == expected
    body_line = canonical_request("POST", PATH, BODY, NOW, NONCE, DEVICE).split(b"\n")[3]
    assert body_line == hashlib.sha256(BODY).hexdigest().encode()
    assert not expected.endswith(b"\n")


def test_sign_and_verify(device_key: ec.EllipticCurvePrivateKey, der: bytes) -> None:
    headers = _sign(device_key)
    assert set(headers) == {"X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature"}
    assert headers["X-Timestamp"] == str(NOW) and len(base64.b64decode(headers["X-Nonce"])) == 16
    assert verify_request(der, "POST", PATH, BODY, headers, NOW) == (DEVICE, headers["X-Nonce"])
    assert request_device_id(headers) == DEVICE
    # The signature is a plain DER ECDSA-P256-SHA256 signature over the canonical string.
    message = canonical_request("POST", PATH, BODY, NOW, headers["X-Nonce"], DEVICE)
    device_key.public_key().verify(
        base64.b64decode(headers["X-Signature"]), message, ec.ECDSA(hashes.SHA256())
    )


def test_header_names_are_case_insensitive(
    device_key: ec.EllipticCurvePrivateKey, der: bytes
) -> None:
    headers = {k.lower(): v for k, v in _sign(device_key).items()}
    assert verify_request(der, "POST", PATH, BODY, headers, NOW)[0] == DEVICE
    with pytest.raises(MalformedHeader):
        verify_request(der, "POST", PATH, BODY, {**headers, "X-NONCE": new_nonce()}, NOW)


def test_every_request_gets_a_fresh_nonce(device_key: ec.EllipticCurvePrivateKey) -> None:
    nonces = {_sign(device_key)["X-Nonce"] for _ in range(20)}
    assert len(nonces) == 20


def test_clock_skew(device_key: ec.EllipticCurvePrivateKey, der: bytes) -> None:
    headers = _sign(device_key)
    for now in (NOW - 60, NOW + 60):
        verify_request(der, "POST", PATH, BODY, headers, now)
    for now in (NOW - 61, NOW + 61, 0):
        with pytest.raises(StaleRequest) as info:
            verify_request(der, "POST", PATH, BODY, headers, now)
        assert info.value.code == "stale_request"
    verify_request(der, "POST", PATH, BODY, headers, NOW + 300, max_skew=300)


@pytest.mark.parametrize("missing", ["X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature"])
def test_missing_header(device_key: ec.EllipticCurvePrivateKey, der: bytes, missing: str) -> None:
    headers = {k: v for k, v in _sign(device_key).items() if k != missing}
    with pytest.raises(MissingHeader, match=missing) as info:
        verify_request(der, "POST", PATH, BODY, headers, NOW)
    assert info.value.code == "bad_signature"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", PATH, BODY),
        ("POST", PATH.replace("30000", "30001"), BODY),
        ("POST", "/app/v1/transactions/pending", BODY),
        ("POST", PATH, BODY + b" "),
        ("POST", PATH, b""),
    ],
)
def test_tampered_request_fields(
    device_key: ec.EllipticCurvePrivateKey, der: bytes, method: str, path: str, body: bytes
) -> None:
    headers = _sign(device_key)
    with pytest.raises(BadRequestSignature) as info:
        verify_request(der, method, path, body, headers, NOW)
    assert info.value.code == "bad_signature"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Timestamp", str(NOW + 1)),
        ("X-Nonce", base64.b64encode(b"\x01" * 16).decode()),
        ("X-Device-Id", "00000000-0000-4000-8000-000000000000"),
    ],
)
def test_tampered_headers(
    device_key: ec.EllipticCurvePrivateKey, der: bytes, name: str, value: str
) -> None:
    headers = {**_sign(device_key), name: value}
    with pytest.raises(BadRequestSignature):
        verify_request(der, "POST", PATH, BODY, headers, NOW)


def test_tampered_signature_and_wrong_key(
    device_key: ec.EllipticCurvePrivateKey, der: bytes
) -> None:
    headers = _sign(device_key)
    raw = bytearray(base64.b64decode(headers["X-Signature"]))
    raw[-1] ^= 1
    flipped = {**headers, "X-Signature": base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(BadRequestSignature):
        verify_request(der, "POST", PATH, BODY, flipped, NOW)
    not_der = {**headers, "X-Signature": base64.b64encode(b"\x00" * 64).decode()}
    with pytest.raises(BadRequestSignature):
        verify_request(der, "POST", PATH, BODY, not_der, NOW)
    other = public_key_der(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(BadRequestSignature):
        verify_request(other, "POST", PATH, BODY, headers, NOW)
    with pytest.raises(InvalidKey):
        verify_request(b"not a key", "POST", PATH, BODY, headers, NOW)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Timestamp", "+" + str(NOW)),
        ("X-Timestamp", " " + str(NOW)),
        ("X-Timestamp", "0" + str(NOW)),
        ("X-Timestamp", str(NOW) + ".0"),
        ("X-Timestamp", "-5"),
        ("X-Timestamp", "9" * 13),
        ("X-Timestamp", "１８"),
        ("X-Nonce", base64.b64encode(b"\x01" * 15).decode()),
        ("X-Nonce", base64.b64encode(b"\x01" * 17).decode()),
        ("X-Nonce", "AAAAAAAAAAAAAAAAAAAAAB=="),  # non-canonical spelling of 16 zero bytes
        ("X-Nonce", "!" * 24),
        ("X-Nonce", "é" * 24),
        ("X-Device-Id", "6F1C1D2E-3A4B-4C5D-8E9F-0A1B2C3D4E5F"),
        ("X-Device-Id", "not-a-uuid"),
        ("X-Device-Id", DEVICE + "\n"),
        ("X-Signature", ""),
        ("X-Signature", "A" * 100),
        ("X-Signature", "!!!!"),
        ("X-Signature", "éééé"),
    ],
)
def test_malformed_headers(
    device_key: ec.EllipticCurvePrivateKey, der: bytes, name: str, value: str
) -> None:
    headers = {**_sign(device_key), name: value}
    with pytest.raises(MalformedHeader) as info:
        verify_request(der, "POST", PATH, BODY, headers, NOW)
    assert isinstance(info.value, RequestAuthError) and info.value.code == "bad_signature"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", PATH),
        ("", PATH),
        ("POST\n", PATH),
        ("POST", "app/v1/x"),
        ("POST", "/app/v1/x\nsmartid-app-v1"),
        ("POST", "/app/v1/a b"),
        ("POST", "/" + "a" * 2048),
        ("POST", "/é"),
    ],
)
def test_malformed_method_and_path(
    device_key: ec.EllipticCurvePrivateKey, method: str, path: str
) -> None:
    with pytest.raises(MalformedHeader):
        sign_request(device_key, method, path, BODY, device_id=DEVICE, timestamp=NOW)


def test_argument_checks(device_key: ec.EllipticCurvePrivateKey, der: bytes) -> None:
    headers = _sign(device_key)
    with pytest.raises(MalformedHeader):
        canonical_request("POST", PATH, "body", NOW, NONCE, DEVICE)  # type: ignore[arg-type]
    for ts in (-1, 10**12, True, "1"):
        with pytest.raises(MalformedHeader):
            canonical_request("POST", PATH, BODY, ts, NONCE, DEVICE)  # type: ignore[arg-type]
    with pytest.raises(MalformedHeader):
        verify_request(der, "POST", PATH, BODY, headers, float(NOW))  # type: ignore[arg-type]
    with pytest.raises(MalformedHeader):
        verify_request(der, "POST", PATH, BODY, headers, NOW, max_skew=-1)
    with pytest.raises(MissingHeader):
        verify_request(der, "POST", PATH, BODY, [("X-Nonce", NONCE)], NOW)  # type: ignore[arg-type]
    with pytest.raises(MalformedHeader):
        verify_request(der, "POST", PATH, BODY, {**headers, "X-Nonce": 5}, NOW)  # type: ignore[dict-item]
    with pytest.raises(InvalidKey):
        sign_request(
            ec.generate_private_key(ec.SECP384R1()),
            "GET",
            PATH,
            b"",
            device_id=DEVICE,
            timestamp=NOW,
        )
    with pytest.raises(MalformedHeader):
        request_device_id({**headers, "X-Device-Id": "x"})


def test_a_fixed_nonce_can_be_given(device_key: ec.EllipticCurvePrivateKey, der: bytes) -> None:
    headers = sign_request(
        device_key, "GET", PATH, b"", device_id=DEVICE, timestamp=NOW, nonce_b64=NONCE
    )
    assert headers["X-Nonce"] == NONCE
    assert verify_request(der, "GET", PATH, b"", headers, NOW) == (DEVICE, NONCE)
