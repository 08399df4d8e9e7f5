"""Issuing end-entity certificates: profile, chain, CSR checks, idempotency."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from django.db import connection

from audit.models import AuditRecord
from pki import services
from pki.asn1 import QcStatements
from pki.models import Certificate, CertificateAuthority
from pki.profiles import SubjectIdentity
from tests.personas import ALICE
from tests.pki import factories as f

BITS = {f.TEST_KEY_BITS}


def issue(
    purpose: str = "AUTH",
    *,
    qualified: bool = True,
    identity: SubjectIdentity = f.ALICE,
    document: str = f.ALICE_DOCUMENT,
    csr: bytes | None = None,
    base_url: str | None = None,
) -> Certificate:
    return services.certificate_issue(
        csr_der=csr if csr is not None else f.csr(),
        identity=identity,
        document_number=document,
        purpose=purpose,
        qualified=qualified,
        allowed_key_bits=BITS,
        actor="test",
        base_url=base_url,
    )


def parsed(row: Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(row.der))


def policies(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    return [p.policy_identifier.dotted_string for p in ext]


@pytest.mark.django_db
def test_hierarchy_names_say_test_and_use_p384(ca_hierarchy: list[CertificateAuthority]) -> None:
    assert [ca.kind for ca in ca_hierarchy] == ["ROOT", "Q", "NQ"]
    for ca in ca_hierarchy:
        cert = services.ca_certificate(ca)
        assert ca.common_name.startswith("TEST of ")
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.django_db
def test_hierarchy_creation_is_idempotent(ca_hierarchy: list[CertificateAuthority]) -> None:
    again = services.ca_hierarchy_create(actor="test")
    assert [ca.pk for ca in again] == [ca.pk for ca in ca_hierarchy]
    assert CertificateAuthority.objects.count() == 3


@pytest.mark.django_db
def test_auth_certificate_profile(ca_hierarchy: list[CertificateAuthority]) -> None:
    cert = parsed(issue("AUTH"))
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tamm,Alice"
    assert subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == ALICE.given_name
    assert subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == ALICE.surname
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "EE"
    serial_attr = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0]
    assert serial_attr.value == ALICE.semantics_identifier
    # serialNumber must be a PrintableString (rp-api.md §4).
    tbs = ax509.Certificate.load(cert.public_bytes(Encoding.DER))["tbs_certificate"]
    rdn_types = {
        atv["type"].dotted: atv["value"].chosen.__class__.__name__
        for rdn in tbs["subject"].chosen
        for atv in rdn
    }
    assert rdn_types["2.5.4.5"] == "PrintableString"

    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.content_commitment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [o.dotted_string for o in eku] == ["1.3.6.1.4.1.62306.5.7.0"]
    assert policies(cert) == ["1.3.6.1.4.1.10015.17.2", "0.4.0.2042.1.2"]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dir_name = san.get_values_for_type(x509.DirectoryName)[0]
    assert dir_name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f.ALICE_DOCUMENT
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3"))


@pytest.mark.django_db
def test_signing_certificate_profile_and_qc_statements(
    ca_hierarchy: list[CertificateAuthority],
) -> None:
    cert = parsed(issue("SIGN"))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.content_commitment and not ku.value.digital_signature
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert policies(cert) == ["1.3.6.1.4.1.10015.17.2", "0.4.0.194112.1.2"]
    raw = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3"))
    assert isinstance(raw.value, x509.UnrecognizedExtension)
    statements = QcStatements.load(raw.value.value)
    ids = [s["statement_id"].dotted for s in statements]
    assert ids == [
        "1.3.6.1.5.5.7.11.2",
        "0.4.0.1862.1.1",
        "0.4.0.1862.1.4",
        "0.4.0.1862.1.6",
        "0.4.0.1862.1.5",
    ]
    semantics = statements[0]["statement_info"]
    assert semantics["semantics_identifier"].dotted == "0.4.0.194121.1.1"
    assert [o.dotted for o in statements[3]["statement_info"]] == ["0.4.0.1862.1.6.1"]


@pytest.mark.django_db
def test_non_qualified_certificates(ca_hierarchy: list[CertificateAuthority]) -> None:
    auth = parsed(issue("AUTH", qualified=False, identity=f.LAURA, document=f.LAURA_DOCUMENT))
    sign_row = issue("SIGN", qualified=False, identity=f.LAURA, document=f.LAURA_DOCUMENT)
    sign = parsed(sign_row)
    assert sign_row.level == "ADVANCED"
    assert "EID-NQ" in auth.issuer.rfc4514_string()
    assert policies(auth) == ["1.3.6.1.4.1.10015.17.1", "0.4.0.2042.1.1"]
    assert policies(sign) == ["1.3.6.1.4.1.10015.17.1", "0.4.0.2042.1.1"]
    serial = auth.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert serial == "PNOLV-329999-99901"
    assert auth.subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "BĒRZIŅA"
    # No date of birth known: no SubjectDirectoryAttributes.
    with pytest.raises(x509.ExtensionNotFound):
        auth.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.9"))
    raw = sign.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3"))
    assert isinstance(raw.value, x509.UnrecognizedExtension)
    assert [s["statement_id"].dotted for s in QcStatements.load(raw.value.value)] == [
        "1.3.6.1.5.5.7.11.2"
    ]


@pytest.mark.django_db
def test_date_of_birth_and_status_urls(ca_hierarchy: list[CertificateAuthority]) -> None:
    cert = parsed(issue("AUTH", base_url="http://pki.example.test"))
    raw = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.9"))
    assert isinstance(raw.value, x509.UnrecognizedExtension)
    attrs = ax509.SubjectDirectoryAttributes.load(raw.value.value)
    assert attrs[0]["type"].dotted == "1.3.6.1.5.5.7.9.1"
    assert attrs[0]["values"][0].native.date() == ALICE.date_of_birth == date(1990, 2, 12)
    assert attrs[0]["values"][0].contents == b"19900212120000Z"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [
        "http://pki.example.test/ocsp",
        "http://pki.example.test/ca/eid-q.crt",
    ]
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name is not None
    assert dp[0].full_name[0].value == "http://pki.example.test/crl/eid-q.crl"


@pytest.mark.django_db
def test_chain_verifies_with_openssl(
    ca_hierarchy: list[CertificateAuthority], tmp_path: Path
) -> None:
    root, q, _ = ca_hierarchy
    (tmp_path / "root.pem").write_bytes(services.ca_certificate(root).public_bytes(Encoding.PEM))
    (tmp_path / "q.pem").write_bytes(services.ca_certificate(q).public_bytes(Encoding.PEM))
    for purpose in ("AUTH", "SIGN"):
        (tmp_path / f"{purpose}.pem").write_bytes(parsed(issue(purpose)).public_bytes(Encoding.PEM))
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "q.pem", "AUTH.pem", "SIGN.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["AUTH.pem: OK", "SIGN.pem: OK"]
    # A certificate from another CA does not verify against ours.
    (tmp_path / "nq.pem").write_bytes(
        services.ca_certificate(ca_hierarchy[2]).public_bytes(Encoding.PEM)
    )
    wrong = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "nq.pem", "AUTH.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0


LINT_TYPES = {
    ("AUTH", True): "NCP-NATURAL-PERSON-CERTIFICATE",
    ("AUTH", False): "NCP-NATURAL-PERSON-CERTIFICATE",
    ("SIGN", False): "NCP-NATURAL-PERSON-CERTIFICATE",
    ("SIGN", True): "QCP-N-QSCD-EIDAS-FINAL-CERTIFICATE",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("purpose", "qualified"), list(LINT_TYPES))
def test_pkilint_etsi_finds_nothing(
    ca_hierarchy: list[CertificateAuthority], tmp_path: Path, purpose: str, qualified: bool
) -> None:
    # pkilint flags internal host names (127.0.0.1) as errors, as it should for a real
    # CA: lint a certificate whose URLs carry a public host name.
    identity, document = (f.ALICE, f.ALICE_DOCUMENT) if qualified else (f.LAURA, f.LAURA_DOCUMENT)
    row = issue(
        purpose,
        qualified=qualified,
        identity=identity,
        document=document,
        base_url="http://pki.open-eid.ee",
    )
    path = tmp_path / "cert.pem"
    path.write_bytes(parsed(row).public_bytes(Encoding.PEM))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "lint_etsi_cert"),
            "lint",
            "-s",
            "WARNING",
            "-t",
            LINT_TYPES[(purpose, qualified)],
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.django_db
def test_issuance_is_idempotent(ca_hierarchy: list[CertificateAuthority]) -> None:
    first = issue("AUTH")
    again = issue("AUTH")
    assert again.pk == first.pk
    assert Certificate.objects.count() == 1
    assert AuditRecord.objects.filter(action="certificate.issued").count() == 1
    with pytest.raises(services.AlreadyIssued):
        issue("AUTH", csr=f.csr(f.rsa_key(1)))


@pytest.mark.django_db
def test_serials_are_random_and_unique(ca_hierarchy: list[CertificateAuthority]) -> None:
    rows = [issue("AUTH"), issue("SIGN")]
    serials = {row.serial_int for row in rows}
    assert len(serials) == 2
    assert all(s.bit_length() > 100 for s in serials)
    assert [parsed(r).serial_number for r in rows] == [r.serial_int for r in rows]


def _ec_csr() -> bytes:
    return f.csr(ec.generate_private_key(ec.SECP256R1()))


def _tampered_csr() -> bytes:
    der = bytearray(f.csr())
    der[-5] ^= 0x01  # inside the signature
    return bytes(der)


FUZZ_CSR_UNKNOWN_KEY = (
    "3081ba306202010030003059301306072a8648ce02013d06082a8648ce3d03010703420004a52c02e9323670"
    "a8fc83d6a292a958ee1d00addf79210a7dac3213a9891a5addeeb74fa201566f86d1916848f5b6dab49e1db7"
    "c2abf8953da1e9bc298f244156a000300a06082a8648ce3d0403020348003045022077fcb2af89b06640bc44"
    "9bc6a43476b8932e7b267a451cec1e096937b54491400221009571ee15aefb28464290f2153e2fa30589ccf2"
    "e3761b50adbf8a7fa44506b94c"
)


def _versioned_csr(version: int) -> bytes:
    der = f.csr()
    at = der.index(b"\x02\x01\x00")  # the first INTEGER: CertificationRequestInfo.version
    return der[:at] + bytes([2, 1, version]) + der[at + 3 :]


def _wrong_exponent_csr() -> bytes:
    return f.csr(rsa.generate_private_key(3, f.TEST_KEY_BITS))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"", "empty"),
        (lambda: b"\x30\x03\x02\x01\x01", "not valid DER"),
        # An EC request whose key algorithm OID was changed into one cryptography does not
        # know (1.2.840.9986.1.61): UnsupportedAlgorithm escaped (found by fuzz/csr.py).
        (lambda: bytes.fromhex(FUZZ_CSR_UNKNOWN_KEY), "RSA key"),
        # Version 16: cryptography raises InvalidVersion, not a ValueError (fuzz/csr.py).
        (lambda: _versioned_csr(16), "not valid DER"),
        (lambda: b"\x30" * 20000, "larger than 16 KiB"),
        (_tampered_csr, "does not verify"),
        (_ec_csr, "RSA key"),
        (_wrong_exponent_csr, "65537"),
        (lambda: f.csr(f.rsa_key(0, 1024)), "not an allowed size"),
        (
            lambda: f.csr(extensions=[x509.BasicConstraints(ca=True, path_length=None)]),
            "extensions",
        ),
    ],
)
def test_bad_csrs_are_rejected_and_change_nothing(
    ca_hierarchy: list[CertificateAuthority], make: object, message: str
) -> None:
    before = AuditRecord.objects.count()
    with pytest.raises(services.CsrRejected, match=message):
        issue("AUTH", csr=make())  # type: ignore[operator]
    assert Certificate.objects.count() == 0
    assert AuditRecord.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("identity", "document"),
    [
        (SubjectIdentity("EE-123", "A", "B", "EE"), "EE-123-ABCD-Q"),
        (SubjectIdentity("PNOEE-123", "A", "B", "LV"), "PNOEE-123-ABCD-Q"),
        (SubjectIdentity("PNOEE-123", "", "B", "EE"), "PNOEE-123-ABCD-Q"),
        (SubjectIdentity("PNOEE-123", "A", "B" * 101, "EE"), "PNOEE-123-ABCD-Q"),
        (SubjectIdentity("PNOEE-123", "A\x00", "B", "EE"), "PNOEE-123-ABCD-Q"),
        (f.ALICE, f"{ALICE.semantics_identifier}-MOCK-X"),
        (f.ALICE, "PNOEE-99999999999-MOCK-Q"),
    ],
)
def test_invalid_identity_is_rejected(
    ca_hierarchy: list[CertificateAuthority], identity: SubjectIdentity, document: str
) -> None:
    with pytest.raises(services.InvalidSubject):
        issue("AUTH", identity=identity, document=document)
    assert Certificate.objects.count() == 0


@pytest.mark.django_db
def test_without_a_ca_issuance_says_what_to_do() -> None:
    with pytest.raises(services.CARequired, match="init_ca"):
        issue("AUTH")


@pytest.mark.django_db
def test_full_size_composite_shaped_key(ca_hierarchy: list[CertificateAuthority]) -> None:
    """A 6144-bit key, the size of n = n1·n2, is what production certifies."""
    key = f.rsa_key(0, 6144)
    row = services.certificate_issue(
        csr_der=f.csr(key),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="SIGN",
        qualified=True,
        allowed_key_bits={6143, 6144},
        actor="test",
    )
    public = parsed(row).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == key.public_key().public_numbers()


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuance_gives_exactly_one_certificate(
    ca_hierarchy: list[CertificateAuthority],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locking needs PostgreSQL (SQLite serialises writers anyway)")
    csr = f.csr()
    results: list[Certificate] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        try:
            barrier.wait()
            results.append(issue("AUTH", csr=csr))
        except BaseException as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Certificate.objects.filter(document_number=f.ALICE_DOCUMENT).count() == 1
    assert {r.pk for r in results} == {Certificate.objects.get().pk}
    assert AuditRecord.objects.filter(action="certificate.issued").count() == 1
