"""The demo's time-stamping authority: a small CA of its own and one TSA certificate.

A PAdES B-T signature carries a time-stamp token over the signature value. The platform's
CA issues only Smart-ID certificates, so the demo RP stamps with pyHanko's
``DummyTimeStamper`` (an in-process RFC 3161 TSA) and a TSA certificate from this demo CA
(``TEST of Open eID demo TSA CA``). Both live in ``<data dir>/demo-rp/tsa/`` and are made on
first use; the CA certificate is published at ``/demo-rp/tsa-ca.crt`` for validators. Its
keys are kept unencrypted: a demo fixture, never installed in live.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

_lock = threading.Lock()


@dataclass(frozen=True)
class DemoTsa:
    ca: x509.Certificate
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    def timestamper(self) -> DummyTimeStamper:
        def der(cert: x509.Certificate) -> asn1_x509.Certificate:
            return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

        key = asn1_keys.PrivateKeyInfo.load(
            self.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        store.register_multiple([der(self.ca)])
        return DummyTimeStamper(
            tsa_cert=der(self.certificate),
            tsa_key=key,
            certs_to_embed=store,
        )


def folder() -> Path:
    return Path(settings.DATA_DIR) / "demo-rp" / "tsa"


def demo_tsa() -> DemoTsa:
    """The demo TSA, made on first use (idempotent, safe across threads)."""
    path = folder()
    with _lock:
        if not (path / "tsa.pem").exists():
            _make(path)
        ca = x509.load_pem_x509_certificate((path / "ca.pem").read_bytes())
        cert = x509.load_pem_x509_certificate((path / "tsa.pem").read_bytes())
        key = serialization.load_pem_private_key((path / "tsa-key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return DemoTsa(ca, cert, key)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Open eID demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("TEST of Open eID demo TSA CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("TEST of Open eID demo TSA"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (path / "ca.pem").write_bytes(ca.public_bytes(pem))
    key_path = path / "tsa-key.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    (path / "tsa.pem").write_bytes(cert.public_bytes(pem))  # last: marks it complete
