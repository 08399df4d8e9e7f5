"""Certificate profiles: what every certificate of the hierarchy contains.

End-entity certificates follow the published Smart-ID profile (rp-api.md §4) so
that existing relying-party libraries accept them: subject C, CN "SURNAME,GIVEN",
SN, GN and serialNumber = the ETSI semantics identifier; SAN DirName CN=<document
number>; Smart-ID's policy OIDs; KU/EKU per purpose; QC statements on signing
certificates; date of birth in SubjectDirectoryAttributes when known; CRL DP and
AIA (OCSP + caIssuers) pointing at this service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from pki.asn1 import (
    OID_QC_STATEMENTS,
    OID_SUBJECT_DIRECTORY_ATTRIBUTES,
    date_of_birth_der,
    qc_statements_der,
)

# Smart-ID's policy OIDs (SK ID Solutions' arc) — relying-party libraries check them.
POLICY_SMARTID_QUALIFIED = "1.3.6.1.4.1.10015.17.2"
POLICY_SMARTID_NON_QUALIFIED = "1.3.6.1.4.1.10015.17.1"
# ETSI EN 319 411-1/-2 policy identifiers.
POLICY_NCP_PLUS = "0.4.0.2042.1.2"
POLICY_NCP = "0.4.0.2042.1.1"
POLICY_QCP_N_QSCD = "0.4.0.194112.1.2"
# Smart-ID authentication EKU (from April 2025).
EKU_SMARTID_AUTH = x509.ObjectIdentifier("1.3.6.1.4.1.62306.5.7.0")

ROOT_VALIDITY = timedelta(days=20 * 365)
ISSUING_VALIDITY = timedelta(days=10 * 365)
OCSP_RESPONDER_VALIDITY = timedelta(days=2 * 365)
# RFC 5280 ub-common-name.
CN_MAX = 64


@dataclass(frozen=True)
class CAUrls:
    """Where relying parties fetch a CA's certificate, CRL and OCSP answers."""

    ca_issuers: str
    crl: str
    ocsp: str

    @classmethod
    def for_ca(cls, base_url: str, slug: str) -> CAUrls:
        base = base_url.rstrip("/")
        return cls(
            ca_issuers=f"{base}/ca/{slug}.crt", crl=f"{base}/crl/{slug}.crl", ocsp=f"{base}/ocsp"
        )


@dataclass(frozen=True)
class SubjectIdentity:
    """The verified identity that goes into a certificate's subject."""

    semantics_identifier: str  # e.g. PNOEE-30303039914, PNOLV-030303-10012
    given_name: str
    surname: str
    country: str  # ISO 3166 alpha-2, upper case
    date_of_birth: date | None = None


def _ca_name(common_name: str, organization: str, country: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def key_usage(
    *,
    digital_signature: bool = False,
    non_repudiation: bool = False,
    key_agreement: bool = False,
    ca: bool = False,
) -> x509.KeyUsage:
    """Only the bits a profile names are set; everything else is off (also used by the
    test CAs of the portal's virtual ID-card and the Mobile-ID simulator).
    """
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return key_usage(ca=True)


def _aki(issuer_key: ec.EllipticCurvePublicKey) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key)


def root_ca(
    *,
    common_name: str,
    organization: str,
    country: str,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
) -> x509.CertificateBuilder:
    name = _ca_name(common_name, organization, country)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def issuing_ca(
    *,
    common_name: str,
    organization: str,
    country: str,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate,
    issuer_urls: CAUrls,
    now: datetime,
) -> x509.CertificateBuilder:
    issuer_key = issuer.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    return (
        x509.CertificateBuilder()
        .subject_name(_ca_name(common_name, organization, country))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + ISSUING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_aki(issuer_key), critical=False)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)]
            ),
            critical=False,
        )
        .add_extension(_crl_dp(issuer_urls.crl), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(issuer_urls.ca_issuers),
                    )
                ]
            ),
            critical=False,
        )
    )


def ocsp_responder(
    *,
    common_name: str,
    organization: str,
    country: str,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate,
    now: datetime,
) -> x509.CertificateBuilder:
    """A delegated OCSP responder (RFC 6960 §4.2.2.2) with id-pkix-ocsp-nocheck."""
    issuer_key = issuer.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    return (
        x509.CertificateBuilder()
        .subject_name(_ca_name(common_name, organization, country))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + OCSP_RESPONDER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(digital_signature=True),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_aki(issuer_key), critical=False)
    )


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def end_entity_subject(identity: SubjectIdentity) -> x509.Name:
    common_name = f"{identity.surname},{identity.given_name}"[:CN_MAX]
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, identity.country),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.SURNAME, identity.surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, identity.given_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, identity.semantics_identifier),
        ]
    )


def _policies(*, purpose: str, qualified: bool) -> x509.CertificatePolicies:
    if qualified:
        etsi = POLICY_QCP_N_QSCD if purpose == "SIGN" else POLICY_NCP_PLUS
        smartid = POLICY_SMARTID_QUALIFIED
    else:
        etsi, smartid = POLICY_NCP, POLICY_SMARTID_NON_QUALIFIED
    return x509.CertificatePolicies(
        [
            x509.PolicyInformation(x509.ObjectIdentifier(smartid), None),
            x509.PolicyInformation(x509.ObjectIdentifier(etsi), None),
        ]
    )


def end_entity(
    *,
    identity: SubjectIdentity,
    document_number: str,
    purpose: str,
    qualified: bool,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate,
    issuer_urls: CAUrls,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    pds_url: str,
) -> x509.CertificateBuilder:
    """The authentication (``AUTH``) or signing (``SIGN``) certificate of an account."""
    issuer_key = issuer.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    signing = purpose == "SIGN"
    builder = (
        x509.CertificateBuilder()
        .subject_name(end_entity_subject(identity))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(
            key_usage(digital_signature=not signing, non_repudiation=signing),
            critical=True,
        )
        .add_extension(_policies(purpose=purpose, qualified=qualified), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DirectoryName(
                        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, document_number)])
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_aki(issuer_key), critical=False)
        .add_extension(_crl_dp(issuer_urls.crl), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(issuer_urls.ocsp),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(issuer_urls.ca_issuers),
                    ),
                ]
            ),
            critical=False,
        )
    )
    if not signing:
        builder = builder.add_extension(x509.ExtendedKeyUsage([EKU_SMARTID_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                OID_QC_STATEMENTS, qc_statements_der(qualified=qualified, pds_url=pds_url)
            ),
            critical=False,
        )
    if identity.date_of_birth is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                OID_SUBJECT_DIRECTORY_ATTRIBUTES, date_of_birth_der(identity.date_of_birth)
            ),
            critical=False,
        )
    return builder
