"""Every exception the package raises, under one base class, :class:`SmartIdError`.

Three families:

* :class:`EndResultError` — the session completed without ``OK``: one class per
  ``result.endResult`` (v2 and v3 codes);
* :class:`ApiError` — the server refused a request: one class per HTTP status (and per
  ``errors[0].code`` of a v3 404);
* :class:`ValidationError` — the answer fails a check a relying party must make (signature,
  certificate chain, validity, revocation, level, key usage, identity, callback). Never
  trust an answer whose validation raised.

Plus :class:`TransportError` (the server could not be reached) and
:class:`WaitTimeoutError` (the session was still running at the caller's deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SmartIdError(Exception):
    """The base class of every exception of this package."""


class TransportError(SmartIdError):
    """The request did not reach the server or its answer did not arrive (network, TLS,
    timeouts of the HTTP client)."""


class WaitTimeoutError(SmartIdError):
    """The session was still RUNNING when the caller's deadline passed. The session may
    still complete: poll it again or give up."""


# --- end results -------------------------------------------------------------------------


class EndResultError(SmartIdError):
    """The session completed with an end result other than ``OK``."""

    end_result: str = ""

    def __init__(self, end_result: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(end_result)
        self.end_result = end_result
        #: The whole status body, as the server sent it.
        self.status: dict[str, Any] = status or {}


class UserRefusedError(EndResultError):
    """USER_REFUSED: the user refused (v1/v2; every more specific refusal subclasses it)."""


class UserRefusedDisplayTextAndPinError(UserRefusedError):
    """v2 USER_REFUSED_DISPLAYTEXTANDPIN: cancelled on the PIN screen."""


class UserRefusedVcChoiceError(UserRefusedError):
    """v2 USER_REFUSED_VC_CHOICE: cancelled the verification code choice."""


class UserRefusedConfirmationMessageError(UserRefusedError):
    """v2 USER_REFUSED_CONFIRMATIONMESSAGE: cancelled the confirmation message."""


class UserRefusedConfirmationMessageWithVcChoiceError(UserRefusedError):
    """v2 USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE: cancelled the combined screen."""


class UserRefusedCertChoiceError(UserRefusedError):
    """USER_REFUSED_CERT_CHOICE: cancelled the account choice (several accounts)."""


class UserRefusedInteractionError(UserRefusedError):
    """v3 USER_REFUSED_INTERACTION; :attr:`interaction` names the screen
    (``result.details.interaction``, e.g. ``displayTextAndPIN``)."""

    def __init__(self, end_result: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(end_result, status)
        details = (self.status.get("result") or {}).get("details") or {}
        interaction = details.get("interaction") if isinstance(details, dict) else None
        self.interaction: str | None = interaction if isinstance(interaction, str) else None


class SessionTimeoutError(EndResultError):
    """TIMEOUT: the user did not answer in time."""


class DocumentUnusableError(EndResultError):
    """DOCUMENT_UNUSABLE: the account cannot complete the request (wrong PIN, locked, ...);
    the app tells the user why. Do not retry automatically."""


class WrongVcError(EndResultError):
    """WRONG_VC: the user chose a wrong verification code."""


class RequiredInteractionNotSupportedError(EndResultError):
    """REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP: the app can show none of the
    interactions; offer ``displayTextAndPIN`` as the last fallback."""


class ProtocolFailureError(EndResultError):
    """v3 PROTOCOL_FAILURE: the device link or the flow was not followed (e.g. a wrong
    authCode)."""


class ExpectedLinkedSessionError(EndResultError):
    """v3 EXPECTED_LINKED_SESSION: the app expected the linked signature session that
    follows a certificate choice, and got another request."""


class ServerErrorResult(EndResultError):
    """v3 SERVER_ERROR as an end result (not an HTTP status)."""


class AccountUnusableError(EndResultError):
    """ACCOUNT_UNUSABLE (known to SK's java client; not in the RP API documents)."""


class UnknownEndResultError(EndResultError):
    """An end result this package does not know: never treated as success."""


END_RESULT_ERRORS: dict[str, type[EndResultError]] = {
    "USER_REFUSED": UserRefusedError,
    "USER_REFUSED_DISPLAYTEXTANDPIN": UserRefusedDisplayTextAndPinError,
    "USER_REFUSED_VC_CHOICE": UserRefusedVcChoiceError,
    "USER_REFUSED_CONFIRMATIONMESSAGE": UserRefusedConfirmationMessageError,
    "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE": (
        UserRefusedConfirmationMessageWithVcChoiceError
    ),
    "USER_REFUSED_CERT_CHOICE": UserRefusedCertChoiceError,
    "USER_REFUSED_INTERACTION": UserRefusedInteractionError,
    "TIMEOUT": SessionTimeoutError,
    "DOCUMENT_UNUSABLE": DocumentUnusableError,
    "WRONG_VC": WrongVcError,
    "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP": RequiredInteractionNotSupportedError,
    "PROTOCOL_FAILURE": ProtocolFailureError,
    "EXPECTED_LINKED_SESSION": ExpectedLinkedSessionError,
    "SERVER_ERROR": ServerErrorResult,
    "ACCOUNT_UNUSABLE": AccountUnusableError,
}


def end_result_error(end_result: str, status: dict[str, Any] | None = None) -> EndResultError:
    """The exception for a non-OK end result (unknown codes: :class:`UnknownEndResultError`)."""
    return END_RESULT_ERRORS.get(end_result, UnknownEndResultError)(end_result, status)


# --- HTTP errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemDetail:
    """One entry of an RFC 9457 problem's ``errors`` (v3), or the top-level ``pointer``."""

    detail: str
    code: str | None = None
    param_name: str | None = None
    pointer: str | None = None


class ApiError(SmartIdError):
    """The server answered a request with an HTTP error."""

    def __init__(self, status_code: int, body: Any, message: str | None = None) -> None:
        self.status_code = status_code
        #: The decoded JSON body (``None`` if there was none or it was not JSON).
        self.body = body
        self.errors: list[ProblemDetail] = _problem_details(body)
        self.detail: str | None = _detail(body)
        super().__init__(message or f"HTTP {status_code}: {self.detail or 'no detail'}")

    @property
    def code(self) -> str | None:
        """``errors[0].code`` of a v3 problem (or v2's ``error``), if any."""
        if self.errors and self.errors[0].code:
            return self.errors[0].code
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), str):
            return str(self.body["error"])
        return None


class BadRequestError(ApiError):
    """400: the request is invalid; :attr:`errors` name the offending fields (v3:
    ``pointer``, a JSON Pointer into the body; ``paramName``)."""

    @property
    def pointers(self) -> list[str]:
        return [e.pointer for e in self.errors if e.pointer]


class UnauthorizedError(ApiError):
    """401: the relying party is unknown: UUID, name (v3: its exact registered spelling)
    or source address."""


class ForbiddenError(ApiError):
    """403: the relying party may not start this kind of session (or ask for ADVANCED, or
    see the device's IP address)."""


class NotFoundError(ApiError):
    """404: POST: no such person or document; GET: unknown or expired session."""


class SessionNotFoundError(NotFoundError):
    """404 on a session status: unknown, another relying party's, or completed more than
    5 minutes ago."""


class UserAccountNotFoundError(NotFoundError):
    """404 on a session start: no such person or document."""


class NoSuitableAccountError(NotFoundError):
    """The person has accounts, but none of the requested level: v3 404 with
    ``NO_SUITABLE_ACCOUNT_FOUND``, v2 HTTP 471."""


class PersonShouldViewPortalError(NotFoundError):
    """The person's accounts are locked or suspended; they should open the app or portal:
    v3 404 with ``PERSON_SHOULD_VIEW_SMART_ID_PORTAL``, v2 HTTP 472."""


class ClientTooOldError(ApiError):
    """480: the server refuses this client version."""


class MaintenanceError(ApiError):
    """580: planned maintenance (session starts only; polls keep working)."""


class UnexpectedResponseError(ApiError):
    """Any other HTTP status, or a 200 whose body is not what the API defines."""


def _problem_details(body: Any) -> list[ProblemDetail]:
    if not isinstance(body, dict):
        return []
    found: list[ProblemDetail] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict):
                found.append(
                    ProblemDetail(
                        detail=str(item.get("detail", "")),
                        code=_str_or_none(item.get("code")),
                        param_name=_str_or_none(item.get("paramName")),
                        pointer=_str_or_none(item.get("pointer")),
                    )
                )
    if isinstance(body.get("pointer"), str):  # SK's demo: a top-level pointer
        found.append(ProblemDetail(detail=str(body.get("detail", "")), pointer=body["pointer"]))
    return found


def _detail(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("detail", "message", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def api_error(status_code: int, body: Any, *, session_status: bool) -> ApiError:
    """The exception for an HTTP error answer (``session_status``: a GET of a session)."""
    if status_code == 400:
        return BadRequestError(status_code, body)
    if status_code == 401:
        return UnauthorizedError(status_code, body)
    if status_code == 403:
        return ForbiddenError(status_code, body)
    if status_code == 404:
        if session_status:
            return SessionNotFoundError(status_code, body)
        code = NotFoundError(status_code, body).code
        if code == "NO_SUITABLE_ACCOUNT_FOUND":
            return NoSuitableAccountError(status_code, body)
        if code == "PERSON_SHOULD_VIEW_SMART_ID_PORTAL":
            return PersonShouldViewPortalError(status_code, body)
        return UserAccountNotFoundError(status_code, body)
    if status_code == 471:
        return NoSuitableAccountError(status_code, body)
    if status_code == 472:
        return PersonShouldViewPortalError(status_code, body)
    if status_code == 480:
        return ClientTooOldError(status_code, body)
    if status_code == 580:
        return MaintenanceError(status_code, body)
    return UnexpectedResponseError(status_code, body)


# --- validation --------------------------------------------------------------------------


class ValidationError(SmartIdError):
    """The answer fails a check that a relying party must make: do not trust it."""


class ResponseMismatchError(ValidationError):
    """The answer does not match the request: another protocol, algorithm, parameters,
    interaction, flow type or document number than the ones asked for, or a malformed
    field."""


class SignatureInvalidError(ValidationError):
    """The signature does not verify with the certificate's key over what the relying
    party sent (its own hash, rpChallenge or digest)."""


class CertificateError(ValidationError):
    """The certificate cannot be used (base class of the certificate checks)."""


class CertificateChainError(CertificateError):
    """No path from the certificate to a configured trust anchor."""


class CertificateNotValidNowError(CertificateError):
    """The certificate (or one in its path) is expired or not yet valid."""


class KeyUsageError(CertificateError):
    """The certificate's key usage does not fit the purpose (authentication certificate:
    digitalSignature and the Smart-ID authentication or clientAuth EKU; signing
    certificate: nonRepudiation)."""


class CertificateLevelError(CertificateError):
    """The level or the certificate policies are below what was requested."""


class RevocationError(CertificateError):
    """The revocation status could not be established (OCSP unreachable, unsigned, stale,
    about another certificate, without our nonce)."""


class CertificateRevokedError(RevocationError):
    """OCSP says ``revoked`` (:attr:`reason`) or ``unknown``."""

    def __init__(self, message: str, status: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class IdentityMismatchError(ValidationError):
    """The certified identity is not the person the relying party expected."""


class CallbackError(ValidationError):
    """The callback URL the app opened is not ours or was tampered with (wrong
    sessionSecretDigest, userChallengeVerifier, missing or changed parameters)."""
