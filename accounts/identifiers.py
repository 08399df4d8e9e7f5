"""Semantics identifiers and document numbers (rp-api.md §3): the one place they are parsed."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from smartid.errors import DomainError

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


def personal_code_birth_date(code: str) -> date:
    """Validate a ``GYYMMDDSSSC`` personal code; return the date of birth it carries."""
    if not (isinstance(code, str) and len(code) == 11 and code.isascii() and code.isdigit()):
        raise InvalidIdentifier("A personal code has 11 digits.")
    century = _CENTURY.get(code[0])
    if century is None:
        raise InvalidIdentifier("The first digit of a personal code is 1 to 6.")
    try:
        born = date(century + int(code[1:3]), int(code[3:5]), int(code[5:7]))
    except ValueError:
        raise InvalidIdentifier("The personal code does not carry a calendar date.") from None
    if personal_code_check_digit(code[:10]) != int(code[10]):
        raise InvalidIdentifier("The check digit of the personal code is wrong.")
    return born
