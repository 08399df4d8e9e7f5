"""The exceptions of the Web eID validator: one class per reason a token is refused.

Every class carries a stable ``code`` (for logs, JSON error bodies and translations)
and a message written for the person who is logging in. A caller catches
``TokenValidationError`` and never needs anything else: no builtin exception leaves a
public entry point of this package.
"""

from __future__ import annotations


class TokenValidationError(Exception):
    """A token, challenge or certificate that must not log anyone in."""

    code = "token_invalid"
    default_message = "The ID-card authentication could not be verified."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


# --- the token itself -------------------------------------------------------------


class TokenMalformed(TokenValidationError):
    code = "token_malformed"
    default_message = "The authentication token is malformed."


class FormatUnsupported(TokenValidationError):
    code = "format_unsupported"
    default_message = "The authentication token format is not supported (web-eid:1.x expected)."


class AlgorithmUnsupported(TokenValidationError):
    code = "algorithm_unsupported"
    default_message = "The signature algorithm is not supported or does not fit the card's key."


class SignatureMalformed(TokenValidationError):
    code = "signature_malformed"
    default_message = "The token's signature has the wrong size or encoding."


class SignatureInvalid(TokenValidationError):
    """The card key did not sign hash(expected origin) || hash(challenge nonce).

    Cryptographically a foreign origin, another challenge and a tampered signature look
    the same; ``OriginMismatch`` and ``NonceMismatch`` name the first two when the
    browser's own report (``ClientReport``) reveals them.
    """

    code = "signature_invalid"
    default_message = "The token's signature does not verify for this site and challenge."


class OriginMismatch(SignatureInvalid):
    code = "origin_mismatch"
    default_message = "The ID-card signed a login for another website."


class NonceMismatch(SignatureInvalid):
    code = "nonce_mismatch"
    default_message = "The ID-card signed another login challenge; reload the page and retry."


# --- the challenge ------------------------------------------------------------------


class ChallengeMissing(TokenValidationError):
    """No challenge is waiting: never issued, or already used (a replayed token)."""

    code = "challenge_missing"
    default_message = "The login challenge was already used or never issued; please retry."


class ChallengeExpired(TokenValidationError):
    code = "challenge_expired"
    default_message = "The login challenge expired; please retry."


# --- the certificate ----------------------------------------------------------------


class CertificateMalformed(TokenValidationError):
    code = "certificate_malformed"
    default_message = "The certificate could not be read."


class CertificateNotYetValid(TokenValidationError):
    code = "certificate_not_yet_valid"
    default_message = "The ID-card certificate is not valid yet."


class CertificateExpired(TokenValidationError):
    code = "certificate_expired"
    default_message = "The ID-card certificate has expired."


class CertificateWrongPurpose(TokenValidationError):
    code = "certificate_wrong_purpose"
    default_message = "The certificate is not an authentication certificate."


class CertificateDisallowedPolicy(TokenValidationError):
    code = "certificate_disallowed_policy"
    default_message = "Certificates of this kind (policy) are not accepted here."


class CertificateNotTrusted(TokenValidationError):
    code = "certificate_untrusted"
    default_message = "The certificate was not issued by a trusted ID-card authority."


class CertificateIdentityMissing(TokenValidationError):
    code = "certificate_identity_missing"
    default_message = "The certificate does not name a person with a personal code."


class CertificateRevoked(TokenValidationError):
    code = "certificate_revoked"
    default_message = "The ID-card certificate has been revoked or suspended."


class CertificateStatusUnknown(TokenValidationError):
    code = "certificate_status_unknown"
    default_message = "The certificate authority does not know this certificate."


class OcspUnavailable(TokenValidationError):
    code = "ocsp_unavailable"
    default_message = "The certificate status service cannot be reached; please try again later."


class OcspResponseInvalid(TokenValidationError):
    code = "ocsp_invalid"
    default_message = "The certificate status answer could not be verified."
