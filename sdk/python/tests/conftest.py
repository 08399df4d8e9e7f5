"""A tiny synthetic PKI for the SDK's unit tests: a root and an issuing CA (EC P-256) and
Smart-ID-profile end-entity certificates (RSA 2048) made with ``cryptography``, plus an OCSP
responder behind an ``httpx.MockTransport``. Nothing of the platform is imported: the
tests run wherever the package is installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

# The package is importable without installation (the platform's `make test` and CI run
# the tests from the repository root).
_SDK = str(Path(__file__).resolve().parents[1])
if _SDK not in sys.path:
    sys.path.insert(0, _SDK)

NOW = datetime.now(UTC).replace(microsecond=0)
OCSP_URL = "http://ocsp.test.invalid/eid-q"
SMART_ID_AUTH_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.62306.5.7.0")
POLICIES = {
    ("auth", "QUALIFIED"): ("1.3.6.1.4.1.10015.17.2", "0.4.0.2042.1.2"),
    ("auth", "ADVANCED"): ("1.3.6.1.4.1.10015.17.1", "0.4.0.2042.1.1"),
    ("sign", "QUALIFIED"): ("1.3.6.1.4.1.10015.17.2", "0.4.0.194112.1.2"),
    ("sign", "ADVANCED"): ("1.3.6.1.4.1.10015.17.1", "0.4.0.2042.1.1"),
}
#: dateOfBirth 1905-04-04 as SubjectDirectoryAttributes (DER).
DOB_ATTRIBUTES = bytes.fromhex("301f301d06082b060105050709013111180f31393035303430343132303030305a")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SDK test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    not_after: datetime | None = None,
) -> x509.Certificate:
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(not_after or NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(signing_key, hashes.SHA256())


@dataclass
class Person:
    given_name: str = "OK"
    surname: str = "TESTNUMBER"
    country: str = "EE"
    semantics_identifier: str = "PNOEE-40504040001"
    document_number: str = "PNOEE-40504040001-MOCK-Q"


@dataclass
class Pki:
    """Root → issuing CA → end entities; ``revoked`` serials answer ``revoked`` by OCSP."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    user_key: rsa.RSAPrivateKey
    revoked: set[int] = field(default_factory=set)
    #: Changes the OCSP answer: "nonce" (another nonce), "unsigned" (signed by a stranger),
    #: "unknown" (status unknown), "stale" (nextUpdate in the past).
    ocsp_fault: str | None = None

    def certificate(
        self,
        purpose: str = "auth",
        level: str = "QUALIFIED",
        *,
        person: Person | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        policies: tuple[str, ...] | None = None,
        date_of_birth: bool = False,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> x509.Certificate:
        person = person or Person()
        issuer_cert, issuer_key = issuer or (self.ca, self.ca_key)
        public = (key or self.user_key).public_key()
        auth = purpose == "auth"
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, person.country),
                        x509.NameAttribute(
                            NameOID.COMMON_NAME, f"{person.surname},{person.given_name}"
                        ),
                        x509.NameAttribute(NameOID.SURNAME, person.surname),
                        x509.NameAttribute(NameOID.GIVEN_NAME, person.given_name),
                        x509.NameAttribute(NameOID.SERIAL_NUMBER, person.semantics_identifier),
                    ]
                )
            )
            .issuer_name(issuer_cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - timedelta(days=1))
            .not_valid_after(not_after or NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=auth,
                    content_commitment=not auth,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.CertificatePolicies(
                    [
                        x509.PolicyInformation(x509.ObjectIdentifier(oid), None)
                        for oid in (policies or POLICIES[(purpose, level)])
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DirectoryName(
                            x509.Name(
                                [x509.NameAttribute(NameOID.COMMON_NAME, person.document_number)]
                            )
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.oid.AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(OCSP_URL),
                        )
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if auth:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([SMART_ID_AUTH_EKU]), critical=False
            )
        if date_of_birth:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.9"), DOB_ATTRIBUTES),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def ocsp_handler(self) -> Callable[[httpx.Request], httpx.Response]:
        """An OCSP responder: the issuing CA signs directly."""

        def handle(request: httpx.Request) -> httpx.Response:
            assert str(request.url) == OCSP_URL
            assert request.headers["content-type"] == "application/ocsp-request"
            asked = ocsp.load_der_ocsp_request(request.content)
            nonce = asked.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            if self.ocsp_fault == "nonce":
                nonce = b"\x00" * 16
            status = ocsp.OCSPCertStatus.GOOD
            revoked_at = reason = None
            if asked.serial_number in self.revoked:
                status = ocsp.OCSPCertStatus.REVOKED
                revoked_at, reason = NOW - timedelta(hours=1), x509.ReasonFlags.key_compromise
            elif self.ocsp_fault == "unknown":
                status = ocsp.OCSPCertStatus.UNKNOWN
            next_update = NOW + timedelta(hours=1)
            if self.ocsp_fault == "stale":
                next_update = NOW - timedelta(hours=1)
            builder = (
                ocsp.OCSPResponseBuilder()
                .add_response_by_hash(
                    issuer_name_hash=asked.issuer_name_hash,
                    issuer_key_hash=asked.issuer_key_hash,
                    serial_number=asked.serial_number,
                    algorithm=asked.hash_algorithm,
                    cert_status=status,
                    this_update=NOW - timedelta(minutes=1),
                    next_update=next_update,
                    revocation_time=revoked_at,
                    revocation_reason=reason,
                )
                .responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca)
                .add_extension(x509.OCSPNonce(nonce), critical=False)
            )
            der = builder.sign(self.ca_key, hashes.SHA256()).public_bytes(
                serialization.Encoding.DER
            )
            if self.ocsp_fault == "unsigned":  # the signature (the last bytes) broken
                der = der[:-1] + bytes([der[-1] ^ 0x01])
            return httpx.Response(
                200,
                content=der,
                headers={"Content-Type": "application/ocsp-response"},
            )

        return handle


@pytest.fixture(scope="session")
def _keys() -> tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]:
    return (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def pki(
    _keys: tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey],
) -> Pki:
    root_key, ca_key, user_key = _keys
    root = _ca("SDK Test Root", root_key, None)
    ca = _ca("SDK Test EID-Q", ca_key, (root, root_key))
    return Pki(root_key, root, ca_key, ca, user_key)
