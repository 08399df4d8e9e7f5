"""What a relying party must check before it trusts an answer (docs/rp-integration.md §6
and §13.8): the signature over what it sent, the certificate's path to its trust anchors and
validity now, revocation (OCSP, optional), the policies of the level asked for, the key
usage of the purpose, the document number and the identity.

:class:`Validator` does all of it and returns a typed result, or raises a specific
:class:`~smartid_client.ValidationError`; it never answers "valid" on a failure. The single
steps are public functions too, for relying parties that build their own pipeline.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from .devicelink import CallbackParameters
from .errors import (
    CallbackError,
    CertificateChainError,
    CertificateLevelError,
    CertificateNotValidNowError,
    CertificateRevokedError,
    IdentityMismatchError,
    KeyUsageError,
    ResponseMismatchError,
    RevocationError,
    SignatureInvalidError,
    end_result_error,
)
from .identity import ExpectedIdentity, check_identity, identity_from_certificate
from .models import (
    AuthenticationResult,
    CertificateChoiceResult,
    Identity,
    Session,
    SessionStatus,
    SignatureResult,
    SigningCertificate,
)
from .protocol import (
    ACSP_V2,
    LEVEL_RANK,
    RAW_DIGEST_SIGNATURE,
    FlowType,
    HashAlgorithm,
    SessionType,
    SignatureAlgorithm,
    acsp_v2_digest,
    acsp_v2_payload,
    b64decode,
    b64url_decode,
    pss_parameters,
    user_challenge_of,
)

__all__ = [
    "Purpose",
    "check_ocsp_response",
    "Validator",
    "certificate_level_of",
    "check_key_usage",
    "load_certificates",
    "verify_signature",
]

#: Smart-ID authentication extended key usage (certificates since April 2025).
SMART_ID_AUTH_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.62306.5.7.0")
#: The certificate policies of each level, by purpose (docs/rp-integration.md §6 step 5).
POLICIES: dict[tuple[str, str], frozenset[str]] = {
    ("auth", "QUALIFIED"): frozenset({"1.3.6.1.4.1.10015.17.2", "0.4.0.2042.1.2"}),
    ("auth", "ADVANCED"): frozenset({"1.3.6.1.4.1.10015.17.1", "0.4.0.2042.1.1"}),
    ("sign", "QUALIFIED"): frozenset({"1.3.6.1.4.1.10015.17.2", "0.4.0.194112.1.2"}),
    ("sign", "ADVANCED"): frozenset({"1.3.6.1.4.1.10015.17.1", "0.4.0.2042.1.1"}),
}
#: Tolerated clock difference for OCSP thisUpdate/nextUpdate.
CLOCK_SKEW = timedelta(minutes=5)


class Purpose(StrEnum):
    """What a certificate is used for: its key usage and policies depend on it."""

    AUTHENTICATION = "auth"
    SIGNING = "sign"


def load_certificates(*data: bytes) -> list[x509.Certificate]:
    """Certificates from DER or PEM bytes (a PEM file may hold several), e.g. the files
    downloaded once from ``/ca/root.crt``, ``/ca/eid-q.crt`` and ``/ca/eid-nq.crt``."""
    found: list[x509.Certificate] = []
    for item in data:
        if item.lstrip().startswith(b"-----BEGIN"):
            found.extend(x509.load_pem_x509_certificates(item))
        else:
            found.append(x509.load_der_x509_certificate(item))
    return found


def check_key_usage(cert: x509.Certificate, purpose: Purpose) -> None:
    """Authentication: digitalSignature and the Smart-ID authentication (or, on older
    certificates, clientAuth) EKU; signing: nonRepudiation. Raises :class:`KeyUsageError`."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise KeyUsageError("the certificate has no key usage") from exc
    if purpose is Purpose.AUTHENTICATION:
        if not usage.digital_signature:
            raise KeyUsageError("not an authentication certificate (no digitalSignature)")
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound as exc:
            raise KeyUsageError("not an authentication certificate (no EKU)") from exc
        if SMART_ID_AUTH_EKU not in eku and ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            raise KeyUsageError("not an authentication certificate (extended key usage)")
    elif not usage.content_commitment:
        raise KeyUsageError("not a signing certificate (no nonRepudiation)")


def certificate_level_of(cert: x509.Certificate, purpose: Purpose) -> str:
    """``QUALIFIED`` or ``ADVANCED`` by the certificate's policies; raises
    :class:`CertificateLevelError` if it carries neither set."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound as exc:
        raise CertificateLevelError("the certificate has no certificate policies") from exc
    oids = {p.policy_identifier.dotted_string for p in policies}
    for level in ("QUALIFIED", "ADVANCED"):
        if POLICIES[(purpose.value, level)] <= oids:
            return level
    raise CertificateLevelError(f"no Smart-ID level policies in {sorted(oids)}")


def _rsa_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ResponseMismatchError("the certificate's key is not RSA")
    return key


def verify_signature(
    cert: x509.Certificate,
    signature: bytes,
    digest: bytes,
    algorithm: SignatureAlgorithm,
    hash_algorithm: HashAlgorithm,
) -> None:
    """RSASSA-PSS (MGF1 with the same hash, salt = hash length) or PKCS#1 v1.5 over a
    ready ``digest`` with the certificate's key. Raises :class:`SignatureInvalidError`."""
    key = _rsa_key(cert)
    hash_ = hash_algorithm.algorithm()
    pad: padding.AsymmetricPadding
    if algorithm is SignatureAlgorithm.RSASSA_PSS:
        pad = padding.PSS(mgf=padding.MGF1(hash_), salt_length=hash_.digest_size)
    else:
        if algorithm.implied_hash is not hash_algorithm:
            raise ResponseMismatchError(f"{algorithm.value} does not use {hash_algorithm.value}")
        pad = padding.PKCS1v15()
    try:
        key.verify(signature, digest, pad, Prehashed(hash_))
    except InvalidSignature as exc:
        raise SignatureInvalidError("the signature does not verify") from exc


class Validator:
    """Validates answers against configured trust anchors.

    ``trust_anchors``: the root CA certificates you trust (this platform: ``/ca/root.crt``);
    ``intermediates``: issuing CAs for path building (``/ca/eid-q.crt``, ``/ca/eid-nq.crt``).
    Download them once, compare their fingerprints with the operator's, keep them in your
    configuration. ``ocsp=True`` asks the certificate's OCSP responder (AIA, or
    ``ocsp_url``) on every validation through ``ocsp_http`` (an ``httpx.Client``); in an
    asyncio application run the validation in a thread (``asyncio.to_thread``). ``clock``
    gives "now" (tests).
    """

    def __init__(
        self,
        trust_anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        *,
        ocsp: bool = False,
        ocsp_url: str | None = None,
        ocsp_http: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not trust_anchors:
            raise ValueError("at least one trust anchor")
        self.trust_anchors = list(trust_anchors)
        self.intermediates = list(intermediates)
        self.ocsp = ocsp
        self.ocsp_url = ocsp_url
        self._ocsp_http = ocsp_http
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- results ------------------------------------------------------------------------

    def authentication(
        self,
        session: Session,
        status: SessionStatus,
        *,
        callback: CallbackParameters | None = None,
        expected: ExpectedIdentity | None = None,
        require_callback: bool = True,
    ) -> AuthenticationResult:
        """A completed authentication (v2 or v3). For a Web2App/App2App answer pass the
        callback the app opened (:func:`smartid_client.verify_callback`): its
        userChallengeVerifier must hash to the signed userChallenge; without it the answer
        is refused (:class:`CallbackError`). ``require_callback=False`` skips that check
        when no callback exists: only for the demo's mock service, which opens links
        without a browser, never in production (the check is what stops a phishing site
        from relaying your session to the user)."""
        if session.session_type is not SessionType.AUTHENTICATION:
            raise ValueError("not an authentication session")
        cert = self._ok_certificate(status)
        if session.api_version == 3:
            self._check_acsp_v2(session, status, cert, callback, require_callback)
        else:
            self._check_v2_signature(session, status, cert)
        chain, identity, level = self._check_certificate(
            session, status, cert, Purpose.AUTHENTICATION, expected
        )
        return AuthenticationResult(
            identity=identity,
            document_number=identity.document_number,
            certificate=cert,
            certificate_level=level,
            chain=chain,
            interaction_used=status.interaction_used,
            flow_type=status.signature.flow_type if status.signature else None,
            device_ip_address=status.device_ip_address,
        )

    def signature(
        self, session: Session, status: SessionStatus, *, expected: ExpectedIdentity | None = None
    ) -> SignatureResult:
        """A completed signature (v2 or v3) over the session's digest."""
        if session.session_type is not SessionType.SIGNATURE:
            raise ValueError("not a signature session")
        cert = self._ok_certificate(status)
        sig = status.signature
        if sig is None or sig.value is None or sig.algorithm is None:
            raise ResponseMismatchError("the answer has no signature")
        assert session.digest is not None and session.hash_algorithm is not None
        digest = b64decode(session.digest)  # ours, never the answer's
        self._check_interaction(session, status)
        if session.api_version == 3:
            if status.signature_protocol != RAW_DIGEST_SIGNATURE:
                raise ResponseMismatchError(f"signatureProtocol {status.signature_protocol}")
            algorithm = session.signature_algorithm
            assert algorithm is not None
            if sig.algorithm != algorithm.value:
                raise ResponseMismatchError(f"signatureAlgorithm {sig.algorithm}")
            if algorithm is SignatureAlgorithm.RSASSA_PSS and sig.algorithm_parameters != (
                pss_parameters(session.hash_algorithm)
            ):
                raise ResponseMismatchError("signatureAlgorithmParameters")
            self._check_flow(session, status, callback=None)
            verify_signature(cert, sig.value, digest, algorithm, session.hash_algorithm)
        else:
            algorithm = _v2_algorithm(session.hash_algorithm, sig.algorithm)
            verify_signature(cert, sig.value, digest, algorithm, session.hash_algorithm)
        chain, identity, level = self._check_certificate(
            session, status, cert, Purpose.SIGNING, expected
        )
        return SignatureResult(
            value=sig.value,
            signature_algorithm=sig.algorithm,
            hash_algorithm=session.hash_algorithm,
            digest=digest,
            identity=identity,
            document_number=identity.document_number,
            certificate=cert,
            certificate_level=level,
            chain=chain,
            interaction_used=status.interaction_used,
            flow_type=sig.flow_type,
        )

    def certificate_choice(
        self, session: Session, status: SessionStatus, *, expected: ExpectedIdentity | None = None
    ) -> CertificateChoiceResult:
        """A completed certificate choice (v2 or v3): the signing certificate."""
        if session.session_type is not SessionType.CERTIFICATE_CHOICE:
            raise ValueError("not a certificate choice session")
        cert = self._ok_certificate(status)
        flow = None
        if session.api_version == 3 and status.signature is not None:
            sig = status.signature
            if sig.value is not None or sig.algorithm is not None:
                raise ResponseMismatchError("a certificate choice carries no signature")
            self._check_flow(session, status, callback=None)
            flow = sig.flow_type
        elif session.api_version == 3 and session.is_device_link:
            raise ResponseMismatchError("a device-link certificate choice reports its flowType")
        chain, identity, level = self._check_certificate(
            session, status, cert, Purpose.SIGNING, expected
        )
        return CertificateChoiceResult(identity, identity.document_number, cert, level, chain, flow)

    def signing_certificate(
        self,
        answer: SigningCertificate,
        *,
        certificate_level: str = "QUALIFIED",
        expected: ExpectedIdentity | None = None,
    ) -> CertificateChoiceResult:
        """The answer of ``signature/certificate/{docNo}``: a signing certificate of that
        document number, at least ``certificate_level``."""
        cert = answer.cert.certificate
        chain = self.verify_certificate(cert, Purpose.SIGNING)
        level = self._check_level(cert, Purpose.SIGNING, answer.cert.level, certificate_level)
        identity = identity_from_certificate(cert)
        if identity.document_number != answer.document_number:
            raise IdentityMismatchError("the certificate is another document's")
        if expected is not None:
            check_identity(identity, expected)
        return CertificateChoiceResult(identity, identity.document_number, cert, level, chain, None)

    # -- the certificate ----------------------------------------------------------------

    def verify_certificate(
        self, cert: x509.Certificate, purpose: Purpose
    ) -> tuple[x509.Certificate, ...]:
        """Key usage for ``purpose``, validity now, the path to a trust anchor (signatures,
        CA constraints, validity of every CA) and, if enabled, OCSP. Returns the path
        [cert, …, anchor]."""
        check_key_usage(cert, purpose)
        now = self._clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateNotValidNowError(
                f"the certificate is valid from {cert.not_valid_before_utc} "
                f"to {cert.not_valid_after_utc}"
            )
        chain = self._path(cert, now)
        if self.ocsp:
            self.check_revocation(cert, chain[1])
        return chain

    def _path(self, cert: x509.Certificate, now: datetime) -> tuple[x509.Certificate, ...]:
        verifier = (
            PolicyBuilder()
            .store(Store(self.trust_anchors))
            .time(now)
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                # Key usage and EKU are checked by check_key_usage, with clearer errors;
                # the EE policy only requires what the verifier cannot do without.
                ee_policy=ExtensionPolicy.permit_all().require_present(
                    x509.KeyUsage, Criticality.AGNOSTIC, None
                ),
            )
            .build_client_verifier()
        )
        try:
            chain = verifier.verify(cert, self.intermediates).chain
        except VerificationError as exc:
            if any(
                not c.not_valid_before_utc <= now <= c.not_valid_after_utc
                for c in self.intermediates + self.trust_anchors
                if c.subject == cert.issuer
            ):
                raise CertificateNotValidNowError(
                    f"the issuing CA is not valid now: {exc}"
                ) from exc
            raise CertificateChainError(f"no path to a trust anchor: {exc}") from exc
        return tuple(chain)

    def check_revocation(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """Ask the OCSP responder with a nonce; the answer must be signed by the issuer or a
        delegated responder it issued (EKU OCSPSigning, valid now), be about this
        certificate, echo the nonce, be current and say ``good``. Raises
        :class:`RevocationError` or :class:`CertificateRevokedError`."""
        url = self.ocsp_url or _ocsp_url(cert)
        nonce = secrets.token_bytes(16)
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, issuer, hashes.SHA256())
            .add_extension(x509.OCSPNonce(nonce), critical=False)
            .build()
        )
        http = self._ocsp_http or httpx.Client(timeout=10.0)
        try:
            response = http.post(
                url,
                content=request.public_bytes(serialization.Encoding.DER),
                headers={"Content-Type": "application/ocsp-request"},
            )
        except httpx.HTTPError as exc:
            raise RevocationError(f"OCSP responder unreachable: {exc}") from exc
        finally:
            if self._ocsp_http is None:
                http.close()
        if response.status_code != 200:
            raise RevocationError(f"OCSP: HTTP {response.status_code}")
        try:
            answer = ocsp.load_der_ocsp_response(response.content)
        except ValueError as exc:
            raise RevocationError("OCSP: not an OCSP response") from exc
        check_ocsp_response(answer, cert, issuer, request, nonce, self._clock())

    # -- internals ----------------------------------------------------------------------

    @staticmethod
    def _ok_certificate(status: SessionStatus) -> x509.Certificate:
        if not status.complete:
            raise ResponseMismatchError("the session is still running")
        if status.end_result != "OK":
            raise end_result_error(status.end_result or "", status.raw)
        if status.cert is None:
            raise ResponseMismatchError("the answer has no certificate")
        try:
            return status.cert.certificate
        except ValueError as exc:
            raise ResponseMismatchError("cert.value is no certificate") from exc

    def _check_certificate(
        self,
        session: Session,
        status: SessionStatus,
        cert: x509.Certificate,
        purpose: Purpose,
        expected: ExpectedIdentity | None,
    ) -> tuple[tuple[x509.Certificate, ...], Identity, str]:
        chain = self.verify_certificate(cert, purpose)
        assert status.cert is not None
        level = self._check_level(cert, purpose, status.cert.level, session.certificate_level)
        identity = identity_from_certificate(cert)
        if status.document_number != identity.document_number:
            raise ResponseMismatchError("result.documentNumber is not the certificate's")
        if session.document_number is not None and session.document_number != (
            identity.document_number
        ):
            raise IdentityMismatchError("the answer is from another document than asked for")
        if session.semantics_identifier is not None and session.semantics_identifier != (
            identity.semantics_identifier
        ):
            raise IdentityMismatchError("the answer is from another person than asked for")
        if expected is not None:
            check_identity(identity, expected)
        return chain, identity, level

    @staticmethod
    def _check_level(
        cert: x509.Certificate, purpose: Purpose, reported: str, requested: str
    ) -> str:
        level = certificate_level_of(cert, purpose)
        if reported != level:
            raise CertificateLevelError(f"cert.certificateLevel {reported}, policies say {level}")
        if LEVEL_RANK[level] < LEVEL_RANK.get(requested, 2):
            raise CertificateLevelError(f"certificate level {level} is below {requested}")
        return level

    @staticmethod
    def _check_interaction(session: Session, status: SessionStatus) -> None:
        if session.interaction_types and status.interaction_used not in session.interaction_types:
            raise ResponseMismatchError(f"interaction {status.interaction_used} was not offered")

    @staticmethod
    def _check_flow(
        session: Session, status: SessionStatus, callback: CallbackParameters | None
    ) -> str:
        assert status.signature is not None
        flow = status.signature.flow_type
        if flow not in {f.value for f in FlowType}:
            raise ResponseMismatchError(f"flowType {flow}")
        if session.is_device_link == (flow == FlowType.NOTIFICATION):
            raise ResponseMismatchError(f"flowType {flow} for this session")
        if flow in (FlowType.WEB2APP, FlowType.APP2APP) and not session.initial_callback_url:
            raise ResponseMismatchError(f"flowType {flow} without a callback URL")
        assert flow is not None
        return flow

    def _check_acsp_v2(
        self,
        session: Session,
        status: SessionStatus,
        cert: x509.Certificate,
        callback: CallbackParameters | None,
        require_callback: bool,
    ) -> None:
        sig = status.signature
        if sig is None or sig.value is None:
            raise ResponseMismatchError("the answer has no signature")
        if status.signature_protocol != ACSP_V2:
            raise ResponseMismatchError(f"signatureProtocol {status.signature_protocol}")
        assert session.hash_algorithm is not None and session.rp_challenge is not None
        if sig.algorithm != SignatureAlgorithm.RSASSA_PSS.value:
            raise ResponseMismatchError(f"signatureAlgorithm {sig.algorithm}")
        if sig.algorithm_parameters != pss_parameters(session.hash_algorithm):
            raise ResponseMismatchError("signatureAlgorithmParameters")
        server_random = sig.server_random or ""
        user_challenge = sig.user_challenge or ""
        try:
            random_ok = len(server_random) >= 24 and bool(b64decode(server_random))
            challenge_ok = len(user_challenge) == 43 and len(b64url_decode(user_challenge)) == 32
        except ValueError:
            random_ok = challenge_ok = False
        if not random_ok or not challenge_ok:
            raise ResponseMismatchError("serverRandom or userChallenge malformed")
        self._check_interaction(session, status)
        flow = self._check_flow(session, status, callback)
        same_device = flow in (FlowType.WEB2APP, FlowType.APP2APP)
        if same_device and (callback is not None or require_callback):
            if callback is None or callback.user_challenge_verifier is None:
                raise CallbackError(f"a {flow} authentication needs the verified callback")
            if user_challenge_of(callback.user_challenge_verifier) != user_challenge:
                raise CallbackError("userChallengeVerifier does not match the userChallenge")
        payload = acsp_v2_payload(
            scheme_name=session.scheme_name,
            server_random=server_random,
            rp_challenge=session.rp_challenge,  # ours, never the answer's
            user_challenge=user_challenge,
            relying_party_name=session.relying_party_name,
            brokered_rp_name="",
            interactions=session.interactions,
            interaction_type_used=status.interaction_used or "",
            initial_callback_url=(session.initial_callback_url or "") if same_device else "",
            flow_type=flow,
        )
        verify_signature(
            cert,
            sig.value,
            acsp_v2_digest(payload, session.hash_algorithm),
            SignatureAlgorithm.RSASSA_PSS,
            session.hash_algorithm,
        )

    def _check_v2_signature(
        self, session: Session, status: SessionStatus, cert: x509.Certificate
    ) -> None:
        sig = status.signature
        if sig is None or sig.value is None or sig.algorithm is None:
            raise ResponseMismatchError("the answer has no signature")
        assert session.digest is not None and session.hash_algorithm is not None
        self._check_interaction(session, status)
        algorithm = _v2_algorithm(session.hash_algorithm, sig.algorithm)
        verify_signature(
            cert, sig.value, b64decode(session.digest), algorithm, session.hash_algorithm
        )


def _v2_algorithm(hash_algorithm: HashAlgorithm, reported: str) -> SignatureAlgorithm:
    """v2: ``signature.algorithm`` must be ``sha…WithRSAEncryption`` of our hashType."""
    wanted = f"{hash_algorithm.v2_name.lower()}WithRSAEncryption"
    if reported != wanted:
        raise ResponseMismatchError(f"signature.algorithm {reported}, expected {wanted}")
    return SignatureAlgorithm(wanted)


def _ocsp_url(cert: x509.Certificate) -> str:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound as exc:
        raise RevocationError("the certificate names no OCSP responder") from exc
    for description in aia:
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            description.access_location, x509.UniformResourceIdentifier
        ):
            return str(description.access_location.value)
    raise RevocationError("the certificate names no OCSP responder")


def check_ocsp_response(
    answer: ocsp.OCSPResponse,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    request: ocsp.OCSPRequest,
    nonce: bytes | None,
    now: datetime,
) -> None:
    """The checks of an OCSP answer (see :meth:`Validator.check_revocation`)."""
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationError(f"OCSP: {answer.response_status.name}")
    signer = issuer
    for candidate in answer.certificates:
        key_id = x509.SubjectKeyIdentifier.from_public_key(candidate.public_key()).digest
        if candidate.subject == answer.responder_name or key_id == answer.responder_key_hash:
            try:
                candidate.verify_directly_issued_by(issuer)
                eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound) as exc:
                raise RevocationError("OCSP: the responder is not the issuer's") from exc
            if ExtendedKeyUsageOID.OCSP_SIGNING not in eku or not (
                candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc
            ):
                raise RevocationError("OCSP: the responder certificate is not valid")
            signer = candidate
            break
    key = signer.public_key()
    algorithm = answer.signature_hash_algorithm
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(answer.signature, answer.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(answer.signature, answer.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        else:
            raise RevocationError("OCSP: unsupported responder key")
    except InvalidSignature as exc:
        raise RevocationError("OCSP: the answer's signature does not verify") from exc
    if (
        answer.serial_number != cert.serial_number
        or answer.issuer_key_hash != request.issuer_key_hash
        or answer.issuer_name_hash != request.issuer_name_hash
    ):
        raise RevocationError("OCSP: the answer is about another certificate")
    if nonce is not None:
        try:
            echoed = answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound as exc:
            raise RevocationError("OCSP: the answer does not echo our nonce") from exc
        if echoed != nonce:
            raise RevocationError("OCSP: the answer does not echo our nonce")
    if answer.this_update_utc > now + CLOCK_SKEW or (
        answer.next_update_utc is not None and answer.next_update_utc < now - CLOCK_SKEW
    ):
        raise RevocationError("OCSP: the answer is not current")
    if answer.certificate_status != ocsp.OCSPCertStatus.GOOD:
        reason = answer.revocation_reason.name if answer.revocation_reason else None
        raise CertificateRevokedError(
            f"the certificate is {answer.certificate_status.name}"
            + (f" ({reason})" if reason else ""),
            status=answer.certificate_status.name,
            reason=reason,
        )
