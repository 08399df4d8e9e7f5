"""eMRTD (biometric passport and ID card) checks: passive and active authentication.

Pure library: no Django, no database, no clock (the caller passes ``at``), no network. The
phone reads the chip (PACE/BAC, NFC) and uploads EF.SOD and the data groups; this package
decides whether they are genuine. See ``docs/emrtd.md``.

Public API::

    passive_authenticate(sod=, data_groups=, trust_store=, at=) -> PassiveAuthResult
    active_authenticate(aa_public_key=, challenge=, signature=, hash_algorithm=None)
    CscaTrustStore.from_path(path) / .from_certificates(certs)
    PassportFile.from_json(obj) / .load(path)
    EmrtdError (+ subclasses, each with a stable ``code``)

The synthetic passport generator for tests and the demo is :mod:`demo.passports`
(not imported here: it creates keys).
"""

from __future__ import annotations

from enrolment.emrtd.active import active_authenticate
from enrolment.emrtd.errors import (
    AaSignatureInvalidError,
    Asn1LimitError,
    CscaUntrustedError,
    DataGroupHashMismatchError,
    DscExpiredError,
    EmrtdError,
    IssuingStateMismatchError,
    MalformedError,
    MissingDataGroupError,
    MrzCheckDigitError,
    SodSignatureInvalidError,
    UnsupportedAlgorithmError,
)
from enrolment.emrtd.fileformat import PassportFile
from enrolment.emrtd.mrz import Mrz
from enrolment.emrtd.passive import PassiveAuthResult, passive_authenticate
from enrolment.emrtd.trust import CscaTrustStore

__all__ = [
    "AaSignatureInvalidError",
    "Asn1LimitError",
    "CscaTrustStore",
    "CscaUntrustedError",
    "DataGroupHashMismatchError",
    "DscExpiredError",
    "EmrtdError",
    "IssuingStateMismatchError",
    "MalformedError",
    "MissingDataGroupError",
    "Mrz",
    "MrzCheckDigitError",
    "PassiveAuthResult",
    "PassportFile",
    "SodSignatureInvalidError",
    "UnsupportedAlgorithmError",
    "active_authenticate",
    "passive_authenticate",
]
