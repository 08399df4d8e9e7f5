"""Semantics identifiers and document numbers (rp-api.md §3): the one place they are parsed."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from core.errors import DomainError

_SEMANTICS_ID = re.compile(r"^(PNO|IDC|PAS)([A-Z]{2})-([A-Za-z0-9][A-Za-z0-9-]{0,40})$")
_DOCUMENT_NUMBER = re.compile(
    r"^((?:PNO|IDC|PAS)[A-Z]{2}-[A-Za-z0-9][A-Za-z0-9-]{0,40})-([A-Z0-9]{4})-(Q|NQ)$"
)
# No 0/O or 1/I: the code is read aloud and typed.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class InvalidIdentifier(DomainError):
    code = "invalid_identifier"


@dataclass(frozen=True)
class SemanticsIdentifier:
    """``PNOEE-30303039914`` → type PNO, country EE, id 30303039914 (split on the first ``-``)."""

    type: str
    country: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.type}{self.country}-{self.identifier}"


def parse_semantics_identifier(value: str) -> SemanticsIdentifier:
    match = _SEMANTICS_ID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidIdentifier("Not a semantics identifier like PNOEE-30303039914.")
    return SemanticsIdentifier(match.group(1), match.group(2), match.group(3))


def parse_document_number(value: str) -> tuple[str, bool]:
    """Return (semantics identifier, qualified) of ``PNOEE-…-XXXX-Q|NQ``."""
    match = _DOCUMENT_NUMBER.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidIdentifier("Not a document number like PNOEE-30303039914-AB12-Q.")
    return match.group(1), match.group(3) == "Q"


def new_document_number(
    semantics_identifier: str, *, qualified: bool, suffix: str | None = None
) -> str:
    """A fresh document number; the caller retries on the (rare) unique-key collision."""
    if suffix is None:
        suffix = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
    return f"{semantics_identifier}-{suffix}-{'Q' if qualified else 'NQ'}"


# --- Estonian and Lithuanian personal codes (GYYMMDDSSSC) -----------------------------

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 1)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)
_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


def personal_code_check_digit(first_ten: str) -> int:
    """The Estonian (and Lithuanian) personal code check digit: two weighted sums mod 11."""
    total = sum(int(d) * w for d, w in zip(first_ten, _WEIGHTS_1, strict=True)) % 11
    if total == 10:
        total = sum(int(d) * w for d, w in zip(first_ten, _WEIGHTS_2, strict=True)) % 11
        if total == 10:
            total = 0
    return total


def _ee_lt_birth_date(code: str) -> date:
    """The date a ``GYYMMDDSSSC`` code carries (no check digit test); raises ValueError."""
    century = _CENTURY.get(code[0])
    if century is None:
        raise ValueError("the first digit of a personal code is 1 to 6")
    return date(century + int(code[1:3]), int(code[3:5]), int(code[5:7]))


def personal_code_birth_date(code: str) -> date:
    """Validate a ``GYYMMDDSSSC`` personal code; return the date of birth it carries."""
    if not (isinstance(code, str) and len(code) == 11 and code.isascii() and code.isdigit()):
        raise InvalidIdentifier("A personal code has 11 digits.")
    if code[0] not in _CENTURY:
        raise InvalidIdentifier("The first digit of a personal code is 1 to 6.")
    try:
        born = _ee_lt_birth_date(code)
    except ValueError:
        raise InvalidIdentifier("The personal code does not carry a calendar date.") from None
    if personal_code_check_digit(code[:10]) != int(code[10]):
        raise InvalidIdentifier("The check digit of the personal code is wrong.")
    return born


def derive_date_of_birth(semantics_identifier: str) -> date | None:
    """The date of birth a personal code carries, or None.

    * EE, LT: ``GYYMMDDSSSC``; G gives the century (1–2: 1800s, 3–4: 1900s, 5–6: 2000s).
    * LV: ``DDMMYY-CSSSS``; C gives the century (0: 1800s, 1: 1900s, 2: 2000s). Codes
      issued since 2017 start with ``32`` and carry no date.
    * Other countries: None (a certificate may still carry one).
    """
    semantics = parse_semantics_identifier(semantics_identifier)
    code = semantics.identifier
    try:
        if semantics.country in ("EE", "LT") and len(code) == 11 and code.isdigit():
            return _ee_lt_birth_date(code)
        if semantics.country == "LV" and len(code) == 12 and code[6] == "-":
            if code.startswith("32"):
                return None
            century = {"0": 1800, "1": 1900, "2": 2000}.get(code[7])
            if century is None:
                return None
            return date(century + int(code[4:6]), int(code[2:4]), int(code[0:2]))
    except ValueError:  # not a calendar date, or no century digit
        return None
    return None
