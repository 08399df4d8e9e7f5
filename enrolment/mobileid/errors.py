"""Errors of the Mobile-ID client: one class per way an authentication can fail.

Every public entry point of :mod:`enrolment.mobileid.client` raises only
:class:`MobileIdError` subclasses (no ``ValueError``, ``KeyError`` or httpx
exception escapes), so a caller maps ``code`` to a message and never sees a 500.
This module imports no Django: the client stands alone.
"""

from __future__ import annotations


class MobileIdError(Exception):
    """An authentication that did not yield a verified identity."""

    #: Stable machine-readable code (logs, API error bodies, user messages).
    code: str = "mobile_id_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the session ended without a signature (the service's "result" values) ------------


class NotMidClient(MobileIdError):
    """NOT_MID_CLIENT: no active Mobile-ID for this phone number and identity code."""

    code = "not_mid_client"


class UserCancelled(MobileIdError):
    """USER_CANCELLED: the person refused on the phone."""

    code = "user_cancelled"


class SessionTimeout(MobileIdError):
    """TIMEOUT, an expired session, or our own overall deadline passed."""

    code = "timeout"


class PhoneAbsent(MobileIdError):
    """PHONE_ABSENT: the phone is off or out of coverage."""

    code = "phone_absent"


class DeliveryFailed(MobileIdError):
    """DELIVERY_ERROR: the request could not be sent to the phone."""

    code = "delivery_error"


class SimError(MobileIdError):
    """SIM_ERROR: the SIM card gave an invalid answer."""

    code = "sim_error"


class HashMismatch(MobileIdError):
    """SIGNATURE_HASH_MISMATCH: the SIM's Mobile-ID configuration differs from the service's."""

    code = "hash_mismatch"


# --- the answer claims success but does not prove it -----------------------------------


class SignatureInvalid(MobileIdError):
    """The signature does not verify over our hash with the certificate's key."""

    code = "signature_invalid"


class CertificateUntrusted(MobileIdError):
    """The certificate was not issued by a configured Mobile-ID CA, or is not for authentication."""

    code = "certificate_untrusted"


class CertificateExpired(MobileIdError):
    """The certificate is outside its validity period."""

    code = "certificate_expired"


class IdentityMismatch(MobileIdError):
    """The certificate names another person than the identity code we asked for."""

    code = "identity_mismatch"


# --- transport, input and protocol ----------------------------------------------------


class MalformedResponse(MobileIdError):
    """The service answered something that is not the MID REST wire format (or too much)."""

    code = "malformed_response"


class ServiceUnavailable(MobileIdError):
    """The service could not be reached, timed out, failed (5xx) or refused our credentials."""

    code = "service_unavailable"


class InvalidInput(MobileIdError):
    """A phone number, identity code or display text we refuse to send (nothing was sent)."""

    code = "invalid_input"


#: The service's session end results (MID REST API §3.3.8) other than OK.
RESULT_ERRORS: dict[str, type[MobileIdError]] = {
    "NOT_MID_CLIENT": NotMidClient,
    "USER_CANCELLED": UserCancelled,
    "TIMEOUT": SessionTimeout,
    "PHONE_ABSENT": PhoneAbsent,
    "DELIVERY_ERROR": DeliveryFailed,
    "SIM_ERROR": SimError,
    "SIGNATURE_HASH_MISMATCH": HashMismatch,
}
