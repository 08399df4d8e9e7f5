"""Revocation by OCSP (RFC 6960) for the validator: one request, one verified answer.

The HTTP client is a plain callable, ``(url, request DER, timeout seconds) -> response
DER``, so tests (and callers with their own HTTP stack) inject one; the default uses the
standard library. Every request carries a fresh nonce that the answer must echo, so a
recorded "good" answer cannot be replayed after a revocation.

What makes an answer acceptable:

* status ``successful`` and a single response for exactly this certificate (serial,
  issuer name hash and issuer key hash, with whatever hash the responder used);
* signed by the issuing CA itself, or by a delegated responder certificate that the CA
  issued directly, that has the OCSPSigning EKU and is valid now (RFC 6960 §4.2.2.2);
* ``thisUpdate`` not in the future and ``nextUpdate`` not in the past (with the allowed
  clock skew), and our nonce echoed.

``tryLater``/``internalError`` answers and transport failures mean "unreachable": the
configured policy decides (``fail-closed`` refuses the login, ``allow`` lets it through
marked as unchecked). Anything else that is wrong is a refusal under either policy.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from portal.webeid.errors import (
    CertificateRevoked,
    CertificateStatusUnknown,
    OcspResponseInvalid,
    OcspUnavailable,
)

#: (url, DER request, timeout in seconds) -> DER response; raise on transport failure.
OcspClient = Callable[[str, bytes, float], bytes]
UnreachablePolicy = Literal["fail-closed", "allow"]
MAX_RESPONSE_BYTES = 64 * 1024
NONCE_BYTES = 32


def http_ocsp_client(url: str, request_der: bytes, timeout: float) -> bytes:
    """POST the request (RFC 6960 A.1) with the standard library; http(s) URLs only."""
    if not url.startswith(("http://", "https://")):
        raise OSError("OCSP responder URL must be http or https")
    request = urllib.request.Request(  # noqa: S310 -- scheme checked just above
        url,
        data=request_der,
        method="POST",
        headers={
            "Content-Type": "application/ocsp-request",
            "Accept": "application/ocsp-response",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 -- as above
        if response.status != 200:
            raise OSError(f"OCSP responder answered HTTP {response.status}")
        body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise OSError("OCSP response too large")
    return body


@dataclass(frozen=True)
class OcspConfig:
    """How to ask for a certificate's status.

    ``responder_url`` overrides the certificate's AIA OCSP address (a designated
    responder, e.g. a local mirror); ``when_unreachable`` is the policy for a responder
    that does not answer.
    """

    responder_url: str | None = None
    timeout: float = 5.0
    when_unreachable: UnreachablePolicy = "fail-closed"
    allowed_skew: timedelta = timedelta(minutes=15)
    require_nonce: bool = True
    client: OcspClient = field(default=http_ocsp_client)

    def __post_init__(self) -> None:
        if self.when_unreachable not in ("fail-closed", "allow"):
            raise ValueError("when_unreachable must be 'fail-closed' or 'allow'")
        if not 0 < self.timeout <= 60:
            raise ValueError("the OCSP timeout must be between 0 and 60 seconds")


def aia_ocsp_url(certificate: x509.Certificate) -> str | None:
    try:
        aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for description in aia.value:
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            description.access_location, x509.UniformResourceIdentifier
        ):
            return description.access_location.value
    return None


def _request(certificate: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _cert_id(
    certificate: x509.Certificate, issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    built = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, algorithm).build()
    return built.issuer_name_hash, built.issuer_key_hash


def _key_id(certificate: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey bits: RFC 6960's ResponderID byKey."""
    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _is_responder(response: ocsp.OCSPResponse, candidate: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        return hmac.compare_digest(response.responder_key_hash, _key_id(candidate))
    return response.responder_name == candidate.subject


def _verify_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        raise OcspResponseInvalid("The OCSP answer uses an unsupported signature algorithm.")
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        else:
            raise OcspResponseInvalid("The OCSP responder key type is not supported.")
    except InvalidSignature:
        raise OcspResponseInvalid("The OCSP answer's signature does not verify.") from None


def _signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    if _is_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _is_responder(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        try:
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            continue
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            continue
        return candidate
    raise OcspResponseInvalid("The OCSP answer is not signed by the CA or its responder.")


def _parse(raw: bytes) -> ocsp.OCSPResponse:
    if not isinstance(raw, bytes) or not 0 < len(raw) <= MAX_RESPONSE_BYTES:
        raise OcspResponseInvalid("The OCSP answer is empty or too large.")
    try:
        return ocsp.load_der_ocsp_response(raw)
    except ValueError:
        raise OcspResponseInvalid("The OCSP answer is not valid DER.") from None


def check_status(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    config: OcspConfig,
    now: datetime,
) -> str:
    """``"good"``, or ``"unchecked"`` when the responder is unreachable under ``allow``.

    Raises ``CertificateRevoked``, ``CertificateStatusUnknown``, ``OcspResponseInvalid``
    or (fail-closed) ``OcspUnavailable``.
    """

    def unreachable(reason: str) -> str:
        if config.when_unreachable == "allow":
            return "unchecked"
        raise OcspUnavailable()

    url = config.responder_url or aia_ocsp_url(certificate)
    if not url:
        return unreachable("the certificate names no OCSP responder")
    nonce = secrets.token_bytes(NONCE_BYTES)
    request_der = _request(certificate, issuer, nonce)
    try:
        raw = config.client(url, request_der, config.timeout)
    except Exception:  # any transport failure of an injected client is "unreachable"
        return unreachable("transport failure")
    response = _parse(raw)
    if response.response_status in (
        ocsp.OCSPResponseStatus.TRY_LATER,
        ocsp.OCSPResponseStatus.INTERNAL_ERROR,
    ):
        return unreachable(response.response_status.name)
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspResponseInvalid(
            f"The OCSP responder refused the request ({response.response_status.name})."
        )
    try:
        return _check_successful(response, certificate, issuer, nonce, config=config, now=now)
    except (ValueError, UnsupportedAlgorithm):  # a lazily parsed field of a hostile answer
        raise OcspResponseInvalid("The OCSP answer is malformed.") from None


def _check_successful(
    response: ocsp.OCSPResponse,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    nonce: bytes,
    *,
    config: OcspConfig,
    now: datetime,
) -> str:
    _verify_signature(response, _signer(response, issuer, now))
    try:
        echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        echoed = None
    if echoed is None:
        if config.require_nonce:
            raise OcspResponseInvalid("The OCSP answer does not echo our nonce.")
    elif not hmac.compare_digest(echoed, nonce):
        raise OcspResponseInvalid("The OCSP answer echoes another nonce (a replay).")
    single = None
    for candidate in response.responses:
        if candidate.serial_number != certificate.serial_number:
            continue
        name_hash, key_hash = _cert_id(certificate, issuer, candidate.hash_algorithm)
        if hmac.compare_digest(candidate.issuer_name_hash, name_hash) and hmac.compare_digest(
            candidate.issuer_key_hash, key_hash
        ):
            single = candidate
            break
    if single is None:
        raise OcspResponseInvalid("The OCSP answer is about another certificate.")
    skew = config.allowed_skew
    if single.this_update_utc > now + skew:
        raise OcspResponseInvalid("The OCSP answer is dated in the future.")
    if single.next_update_utc is not None and single.next_update_utc < now - skew:
        raise OcspResponseInvalid("The OCSP answer is out of date.")
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return "good"
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason
        if reason == x509.ReasonFlags.certificate_hold:
            raise CertificateRevoked("The ID-card certificate is suspended.")
        raise CertificateRevoked()
    raise CertificateStatusUnknown()
