"""The app's own checks of the certificate request and the certificate."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from device import ProtocolError
from device.checks import check_certificate, check_csr
from tests.device.fakeserver import FakeServer, build_tbs, der


@pytest.fixture(scope="module")
def n() -> int:
    return rsa.generate_private_key(65537, 2048).public_key().public_numbers().n


def test_a_good_request(n: int) -> None:
    tbs = build_tbs(n, "Alice")
    check_csr(tbs, hashlib.sha256(tbs).digest(), n=n)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda tbs: tbs + b"\x00",  # trailing garbage
        lambda tbs: tbs[:-1],  # truncated
        lambda tbs: b"\x31" + tbs[1:],  # a SET, not a SEQUENCE
        lambda tbs: b"",
        lambda tbs: b"\x30" * 20_000,
    ],
)
def test_malformed_requests(n: int, mutate: object) -> None:
    tbs = mutate(build_tbs(n, "Alice"))  # type: ignore[operator]
    with pytest.raises(ProtocolError):
        check_csr(tbs, hashlib.sha256(tbs).digest(), n=n)


def test_a_request_for_another_key_or_exponent(n: int) -> None:
    tbs = build_tbs(n + 2, "Mallory")
    with pytest.raises(ProtocolError, match="not for this device's key"):
        check_csr(tbs, hashlib.sha256(tbs).digest(), n=n)
    spki = (
        rsa.RSAPublicNumbers(3, n)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e=3")]).public_bytes()
    tbs = der(0x30, b"\x02\x01\x00" + name + spki + b"\xa0\x00")
    with pytest.raises(ProtocolError, match="not for this device's key"):
        check_csr(tbs, hashlib.sha256(tbs).digest(), n=n)


def test_a_request_with_an_ec_key(n: int) -> None:
    spki = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")]).public_bytes()
    tbs = der(0x30, b"\x02\x01\x00" + name + spki + b"\xa0\x00")
    with pytest.raises(ProtocolError, match="RSA"):
        check_csr(tbs, hashlib.sha256(tbs).digest(), n=n)


def test_certificates(n: int) -> None:
    server = FakeServer.__new__(FakeServer)
    server.ca_key = ec.generate_private_key(ec.SECP256R1())
    certificate = server.issue(n, "AUTH")
    assert check_certificate(certificate, n=n).public_key().public_numbers().n == n  # type: ignore[union-attr]
    with pytest.raises(ProtocolError, match="not for this device's key"):
        check_certificate(certificate, n=n + 2)
    for bad in (b"", b"\x30\x00", certificate[:-1], b"x" * 40_000):
        with pytest.raises(ProtocolError):
            check_certificate(bad, n=n)
    ec_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(server.ca_key.public_key())
        .serial_number(1)
        .not_valid_before(x509.load_der_x509_certificate(certificate).not_valid_before_utc)
        .not_valid_after(x509.load_der_x509_certificate(certificate).not_valid_after_utc)
        .sign(server.ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(ProtocolError, match="RSA"):
        check_certificate(ec_certificate, n=n)
