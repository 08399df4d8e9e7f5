"""The exceptions of :mod:`enrolment.emrtd`: one base class with a stable ``code``.

Nothing else leaves a public entry point of the package: parser errors of asn1crypto and
cryptography (``ValueError``, ``TypeError``, ``KeyError`` …) are caught at the boundary and
re-raised as :class:`MalformedError`, so a caller maps every failure with one ``except``.
The base class does not derive from ``core.errors.DomainError`` on purpose: the package
must import without Django (``smartid`` loads Celery), and the onboarding service wraps it.
"""

from __future__ import annotations


class EmrtdError(Exception):
    """A passport that fails a check. ``code`` is stable snake_case for APIs and logs."""

    code: str = "emrtd_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Asn1LimitError(EmrtdError):
    """The input breaks a size, depth, tag, length or OID limit of the pre-parser."""

    code = "asn1_limits"


class MalformedError(EmrtdError):
    """The input is not the structure it claims to be (bad TLV, truncated, wrong tag)."""

    code = "malformed"


class UnsupportedAlgorithmError(EmrtdError):
    """A hash or signature algorithm we do not accept (unknown, or too weak)."""

    code = "unsupported_algorithm"


class MissingDataGroupError(EmrtdError):
    """A data group that is mandatory, or listed in the SOD and needed, was not given."""

    code = "missing_data_group"


class DataGroupHashMismatchError(EmrtdError):
    """A data group's hash differs from the one signed in the SOD (or is not in it)."""

    code = "dg_hash_mismatch"


class SodSignatureInvalidError(EmrtdError):
    """The SOD's signature does not verify with its document signer certificate."""

    code = "sod_signature_invalid"


class CscaUntrustedError(EmrtdError):
    """The document signer certificate does not chain to a CSCA of the trust store."""

    code = "csca_untrusted"


class DscExpiredError(EmrtdError):
    """The document signer (or its CSCA) certificate is not valid at the checked time."""

    code = "dsc_expired"


class MrzCheckDigitError(EmrtdError):
    """A check digit of the machine readable zone is wrong."""

    code = "mrz_check_digit"


class IssuingStateMismatchError(EmrtdError):
    """The MRZ's issuing state is not the country of the CSCA (or of the DSC)."""

    code = "issuing_state_mismatch"


class AaSignatureInvalidError(EmrtdError):
    """The chip's active authentication answer does not verify for the challenge."""

    code = "aa_signature_invalid"
