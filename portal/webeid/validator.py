"""Validation of Web eID authentication tokens and ID-card certificates.

A token (``web-eid:1.x``) is the JSON object the Web eID browser extension returns::

    {"unverifiedCertificate": <base64 DER>, "algorithm": "ES384",
     "signature": <base64>, "format": "web-eid:1.0", "appVersion": <URL>}

The card signed ``H(origin) || H(nonce)`` with the algorithm's own hash ``H`` (and the
algorithm hashes that concatenation once more, as any JWS algorithm does). ECDSA
signatures are the card's raw ``r || s``. A token proves that the holder of the
certificate's key answered *this* challenge on *this* site, and nothing more: the
certificate itself must still be checked — validity, purpose, policy, chain to a
trusted ID-card CA, revocation — which ``validate_certificate`` does on its own for the
TLS client-certificate login too.

The order is deliberate: the cheap offline checks first and the signature before the
chain, so that a random certificate never costs an OCSP request.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accounts.identifiers import InvalidIdentifier, parse_semantics_identifier
from portal.webeid.errors import (
    AlgorithmUnsupported,
    CertificateDisallowedPolicy,
    CertificateExpired,
    CertificateIdentityMissing,
    CertificateMalformed,
    CertificateNotTrusted,
    CertificateNotYetValid,
    CertificateWrongPurpose,
    FormatUnsupported,
    NonceMismatch,
    OriginMismatch,
    SignatureInvalid,
    SignatureMalformed,
    TokenMalformed,
)
from portal.webeid.ocsp import OcspConfig, check_status
from signing.engine import InvalidBase64, b64decode_strict

#: JWA names (RFC 7518 §3.3-3.5) the Web eID app uses, with their hash.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
ALGORITHMS = frozenset(f"{family}{bits}" for family in ("ES", "PS", "RS") for bits in HASHES)
#: JWA binds each ES algorithm to one curve.
EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}
FORMAT_RE = re.compile(r"web-eid:1(\.[0-9]{1,3})?")
MAX_CERTIFICATE_BYTES = 8 * 1024
MAX_SIGNATURE_BYTES = 1024
MAX_APP_VERSION = 200
#: Estonian Mobile-ID certificates (SK ID Solutions' ESTEID-SK 2015 policies): a
#: Mobile-ID key is not an ID-card and is not accepted by an ID-card login.
DEFAULT_DISALLOWED_POLICIES = frozenset(
    {
        "1.3.6.1.4.1.10015.1.3",
        "1.3.6.1.4.1.10015.1.3.1",
        "1.3.6.1.4.1.10015.1.3.2",
        "1.3.6.1.4.1.10015.1.3.3",
    }
)
NAME_MAX = 100
LOOPBACK_HOSTS = frozenset({"localhost"})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TrustConfig:
    """What the validator trusts and demands.

    ``trusted_cas`` are the issuing ID-card CAs (as the Web eID libraries do, the
    issuing CAs are the anchors; a card certificate must be issued directly by one).
    ``require_client_auth_eku``: the certificate must carry an EKU extension with
    clientAuth; when False, a certificate without any EKU is accepted too (some
    countries' cards), but an EKU without clientAuth never is. ``ocsp`` None turns
    revocation checking off (tests of other rules only).
    """

    trusted_cas: tuple[x509.Certificate, ...]
    disallowed_policies: frozenset[str] = DEFAULT_DISALLOWED_POLICIES
    require_client_auth_eku: bool = True
    ocsp: OcspConfig | None = field(default_factory=OcspConfig)


@dataclass(frozen=True)
class ClientReport:
    """What the browser says it used: only ever picks the error message.

    When the signature fails, the validator checks whether it verifies for the
    reported origin or nonce instead; only then does it say ``OriginMismatch`` or
    ``NonceMismatch`` (proven by the card's own signature). A report never makes a
    token valid.
    """

    origin: str | None = None
    nonce: str | None = None


@dataclass(frozen=True)
class Identity:
    """The person a validated certificate names."""

    certificate: x509.Certificate
    issuer: x509.Certificate
    semantics_identifier: str  # e.g. PNOEE-38001085718
    country: str
    identity_code: str
    given_name: str
    surname: str
    revocation: str  # "good", "unchecked" (responder unreachable, policy allow) or "off"


def check_origin(origin: str) -> str:
    """The ASCII serialisation of an origin: ``https://host[:port]``, nothing else.

    Plain ``http`` is accepted for loopback hosts only, which browsers treat as
    secure contexts (the extension itself runs on secure contexts only). A wrong
    origin is the operator's error: ``ValueError``.
    """
    if not isinstance(origin, str) or origin != origin.strip() or not origin:
        raise ValueError("the origin must be a non-empty string")
    parts = urlsplit(origin)
    if parts.path or parts.query or parts.fragment or parts.username or not parts.hostname:
        raise ValueError("the origin is scheme://host[:port] only, without a path or slash")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = ip_address(host).is_loopback
        except ValueError:
            loopback = host in LOOPBACK_HOSTS
        if not loopback:
            raise ValueError("plain http origins are accepted for loopback hosts only")
    elif parts.scheme != "https":
        raise ValueError("the origin must use https")
    return origin


def load_json(body: bytes) -> object:
    """The JSON value of a login request's body; any defect is ``TokenMalformed``.

    ``json.loads`` raises ``RecursionError`` (not a ``ValueError``) for nesting deeper than
    the interpreter's recursion limit, which 2 KB of ``[`` reach.
    """
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise TokenMalformed("The request body is not JSON.") from None


def _b64(value: object, *, what: str, limit: int) -> bytes:
    if not isinstance(value, str) or not value or len(value) > limit * 4 // 3 + 4:
        raise TokenMalformed(f"The token's {what} is missing or too long.")
    try:
        return b64decode_strict(value, what=what)
    except InvalidBase64:
        raise TokenMalformed(f"The token's {what} is not valid base64.") from None


def load_certificate(der: bytes) -> x509.Certificate:
    if not isinstance(der, bytes) or not 0 < len(der) <= MAX_CERTIFICATE_BYTES:
        raise CertificateMalformed("The certificate is empty or too large.")
    try:
        certificate = x509.load_der_x509_certificate(der)
        # Touch the fields we use, so a lazily parsed defect shows here.
        _ = (certificate.subject, certificate.issuer, list(certificate.extensions))
        certificate.public_key()
    except (
        ValueError,
        UnsupportedAlgorithm,
        # Not ValueErrors: a name attribute of type BIT STRING (other than
        # x500UniqueIdentifier), a version other than v1-v3, two extensions of one type,
        # an unknown GeneralName form.
        TypeError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ):
        raise CertificateMalformed() from None
    return certificate


def _signed_data(algorithm: hashes.HashAlgorithm, origin: str, nonce: str) -> bytes:
    def digest(text: str) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(text.encode("utf-8"))
        return h.finalize()

    return digest(origin) + digest(nonce)


def _verifier(
    name: str, certificate: x509.Certificate, signature: bytes
) -> Callable[[str, str], bool]:
    """A function (origin, nonce) -> does the signature verify; checks the shapes first."""
    if name not in ALGORITHMS:
        raise AlgorithmUnsupported()
    algorithm = HASHES[name[2:]]()
    key = certificate.public_key()
    if name.startswith("ES"):
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, EC_CURVES[name]
        ):
            raise AlgorithmUnsupported(f"{name} does not fit the certificate's key.")
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            raise SignatureMalformed()
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )

        def verify_ec(origin: str, nonce: str) -> bool:
            try:
                key.verify(der, _signed_data(algorithm, origin, nonce), ec.ECDSA(algorithm))
            except InvalidSignature:
                return False
            return True

        return verify_ec
    if not isinstance(key, rsa.RSAPublicKey):
        raise AlgorithmUnsupported(f"{name} does not fit the certificate's key.")
    if len(signature) != (key.key_size + 7) // 8:
        raise SignatureMalformed()
    pad: padding.AsymmetricPadding = (
        padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
        if name.startswith("PS")
        else padding.PKCS1v15()
    )

    def verify_rsa(origin: str, nonce: str) -> bool:
        try:
            key.verify(signature, _signed_data(algorithm, origin, nonce), pad, algorithm)
        except InvalidSignature:
            return False
        return True

    return verify_rsa


def verify_token_signature(
    token: object,
    *,
    origin: str,
    nonce: str,
    report: ClientReport | None = None,
) -> x509.Certificate:
    """Check the token's shape and that its certificate's key signed origin + nonce.

    Returns the (still unverified) certificate. The certificate is checked by
    ``validate_certificate``; ``validate_token`` does both.
    """
    check_origin(origin)
    if not isinstance(token, Mapping):
        raise TokenMalformed("The token must be a JSON object.")
    fmt = token.get("format")
    if not isinstance(fmt, str) or not FORMAT_RE.fullmatch(fmt):
        raise FormatUnsupported()
    app_version = token.get("appVersion", "")
    if not isinstance(app_version, str) or len(app_version) > MAX_APP_VERSION:
        raise TokenMalformed("The token's appVersion is not a short string.")
    algorithm = token.get("algorithm")
    if not isinstance(algorithm, str):
        raise TokenMalformed("The token's algorithm is missing.")
    if algorithm not in ALGORITHMS:
        raise AlgorithmUnsupported()
    certificate = load_certificate(
        _b64(token.get("unverifiedCertificate"), what="certificate", limit=MAX_CERTIFICATE_BYTES)
    )
    signature = _b64(token.get("signature"), what="signature", limit=MAX_SIGNATURE_BYTES)
    if not isinstance(nonce, str) or not nonce:
        raise SignatureInvalid()
    verifies = _verifier(algorithm, certificate, signature)
    if verifies(origin, nonce):
        return certificate
    if report is not None:
        if (
            isinstance(report.origin, str)
            and report.origin != origin
            and len(report.origin) <= 300
            and verifies(report.origin, nonce)
        ):
            raise OriginMismatch()
        if (
            isinstance(report.nonce, str)
            and not hmac.compare_digest(report.nonce.encode(), nonce.encode())
            and len(report.nonce) <= 300
            and verifies(origin, report.nonce)
        ):
            raise NonceMismatch()
    raise SignatureInvalid()


# --- the certificate ------------------------------------------------------------------


def _check_validity(certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        raise CertificateNotYetValid()
    if now > certificate.not_valid_after_utc:
        raise CertificateExpired()


def _check_purpose(certificate: x509.Certificate, *, require_eku: bool) -> None:
    extensions = certificate.extensions
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateWrongPurpose("A CA certificate cannot log in.")
    except x509.ExtensionNotFound:
        pass
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateWrongPurpose("The certificate has no key usage.") from None
    if not key_usage.digital_signature:
        raise CertificateWrongPurpose("The certificate's key may not make signatures.")
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        if require_eku:
            raise CertificateWrongPurpose(
                "The certificate has no extended key usage (clientAuth required)."
            ) from None
        return
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise CertificateWrongPurpose("The certificate is not for client authentication.")


def _check_policies(certificate: x509.Certificate, disallowed: frozenset[str]) -> None:
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return
    for policy in policies:
        if policy.policy_identifier.dotted_string in disallowed:
            raise CertificateDisallowedPolicy()


def _is_usable_ca(ca: x509.Certificate, now: datetime) -> bool:
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        return False
    try:
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        if not ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            return False
    except x509.ExtensionNotFound:
        pass  # RFC 5280 allows a CA without KeyUsage; the signature check still applies
    return True


def _issuer(
    certificate: x509.Certificate, trusted: tuple[x509.Certificate, ...], now: datetime
) -> x509.Certificate:
    for ca in trusted:
        if ca.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if _is_usable_ca(ca, now):
            return ca
    raise CertificateNotTrusted()


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None
    return values[0].value


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > NAME_MAX or any(ord(c) < 32 for c in value):
        return None
    return value


def _identity_parts(certificate: x509.Certificate) -> tuple[str, str, str, str, str]:
    """(semantics identifier, country, code, given name, surname) from the subject.

    ETSI EN 319 412-1 serialNumber ``PNOEE-38001085718``, read with the platform's one
    pattern (``accounts.identifiers``): the portal stores the person under it, so a
    certificate accepted here never fails later at login. The one thing ID-cards need on
    top is the older form: a bare code in serialNumber, the country then from C.
    """
    subject = certificate.subject
    serial = _attribute(subject, NameOID.SERIAL_NUMBER) or ""
    country_attr = (_attribute(subject, NameOID.COUNTRY_NAME) or "").upper()
    if re.fullmatch(r"[0-9]{6,20}", serial) and len(country_attr) == 2:
        serial = f"PNO{country_attr}-{serial}"
    try:
        semantics = parse_semantics_identifier(serial)
    except InvalidIdentifier:
        raise CertificateIdentityMissing() from None
    given = _clean_name(_attribute(subject, NameOID.GIVEN_NAME))
    surname = _clean_name(_attribute(subject, NameOID.SURNAME))
    if given is None or surname is None:
        parts = (_attribute(subject, NameOID.COMMON_NAME) or "").split(",")
        if len(parts) == 3:
            surname, given = _clean_name(parts[0]), _clean_name(parts[1])
    if given is None or surname is None:
        raise CertificateIdentityMissing("The certificate does not name the person.")
    return serial, semantics.country, semantics.identifier, given, surname


def validate_certificate(
    certificate: x509.Certificate | bytes,
    *,
    trust: TrustConfig,
    clock: Callable[[], datetime] = utc_now,
) -> Identity:
    """Everything about an ID-card authentication certificate, revocation included."""
    # Parse (again) through load_certificate even when given an object, so a lazily parsed
    # defect (a bad extension) is CertificateMalformed here, never a ValueError later.
    if not isinstance(certificate, bytes):
        certificate = certificate.public_bytes(serialization.Encoding.DER)
    certificate = load_certificate(certificate)
    now = clock()
    _check_validity(certificate, now)
    _check_purpose(certificate, require_eku=trust.require_client_auth_eku)
    _check_policies(certificate, trust.disallowed_policies)
    issuer = _issuer(certificate, trust.trusted_cas, now)
    semantics, country, code, given, surname = _identity_parts(certificate)
    revocation = "off"
    if trust.ocsp is not None:
        revocation = check_status(certificate, issuer, config=trust.ocsp, now=now)
    return Identity(
        certificate=certificate,
        issuer=issuer,
        semantics_identifier=semantics,
        country=country,
        identity_code=code,
        given_name=given,
        surname=surname,
        revocation=revocation,
    )


def validate_token(
    token: object,
    *,
    origin: str,
    nonce: str,
    trust: TrustConfig,
    clock: Callable[[], datetime] = utc_now,
    report: ClientReport | None = None,
) -> Identity:
    """Validate a Web eID authentication token; the person it proves, or an exception.

    ``nonce`` is the challenge this browser was given (already taken from its store:
    see ``challenge_take``); ``origin`` the site's own origin, never the request's.
    """
    certificate = verify_token_signature(token, origin=origin, nonce=nonce, report=report)
    return validate_certificate(certificate, trust=trust, clock=clock)
