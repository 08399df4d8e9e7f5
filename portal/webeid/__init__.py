"""A standalone validator of Web eID authentication tokens (ID-card login).

No Django, no settings, no global state: the caller passes the token, the expected
origin, the challenge nonce, a ``TrustConfig`` (trusted CA certificates, disallowed
policies, the EKU rule, the OCSP configuration with an injectable HTTP client) and a
clock. Every refusal is a subclass of ``TokenValidationError`` with a stable ``code``.
See ``docs/webeid.md``.
"""

from __future__ import annotations

from portal.webeid.challenge import NONCE_TTL, Challenge, challenge_new, challenge_take
from portal.webeid.errors import (
    AlgorithmUnsupported,
    CertificateDisallowedPolicy,
    CertificateExpired,
    CertificateIdentityMissing,
    CertificateMalformed,
    CertificateNotTrusted,
    CertificateNotYetValid,
    CertificateRevoked,
    CertificateStatusUnknown,
    CertificateWrongPurpose,
    ChallengeExpired,
    ChallengeMissing,
    FormatUnsupported,
    NonceMismatch,
    OcspResponseInvalid,
    OcspUnavailable,
    OriginMismatch,
    SignatureInvalid,
    SignatureMalformed,
    TokenMalformed,
    TokenValidationError,
)
from portal.webeid.ocsp import OcspClient, OcspConfig, aia_ocsp_url, http_ocsp_client
from portal.webeid.validator import (
    DEFAULT_DISALLOWED_POLICIES,
    ClientReport,
    Identity,
    TrustConfig,
    check_origin,
    load_certificate,
    load_json,
    utc_now,
    validate_certificate,
    validate_token,
    verify_token_signature,
)

__all__ = [
    "DEFAULT_DISALLOWED_POLICIES",
    "NONCE_TTL",
    "AlgorithmUnsupported",
    "CertificateDisallowedPolicy",
    "CertificateExpired",
    "CertificateIdentityMissing",
    "CertificateMalformed",
    "CertificateNotTrusted",
    "CertificateNotYetValid",
    "CertificateRevoked",
    "CertificateStatusUnknown",
    "CertificateWrongPurpose",
    "Challenge",
    "ChallengeExpired",
    "ChallengeMissing",
    "ClientReport",
    "FormatUnsupported",
    "Identity",
    "NonceMismatch",
    "OcspClient",
    "OcspConfig",
    "OcspResponseInvalid",
    "OcspUnavailable",
    "OriginMismatch",
    "SignatureInvalid",
    "SignatureMalformed",
    "TokenMalformed",
    "TokenValidationError",
    "TrustConfig",
    "aia_ocsp_url",
    "challenge_new",
    "challenge_take",
    "check_origin",
    "http_ocsp_client",
    "load_certificate",
    "load_json",
    "utc_now",
    "validate_certificate",
    "validate_token",
    "verify_token_signature",
]
