"""Semantics identifiers, document numbers and personal codes (rp-api.md §3): the one place
they are parsed and checked.

This module imports no Django (only ``core.errors``, itself Django-free, and
python-stdnum): the Mobile-ID client and the Web eID validator, which run without Django
settings, use it too. Keep it that way — no Django import here, not even a lazy one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from stdnum.ee import ik
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.lt import asmens
from stdnum.lv import pvn

from core.errors import DomainError

# ETSI EN 319 412-1 ``PNOEE-30303039914``: type, country, "-", the identifier within the
# country. The OpenAPI documents publish these strings as they are (ECMA-262 and Python
# read them alike), so the API, the parsers and the certificate checks agree by construction.
_SEMANTICS_ID_BODY = r"(PNO|IDC|PAS)[A-Z]{2}-[A-Za-z0-9][A-Za-z0-9-]{0,40}"
SEMANTICS_ID_PATTERN = f"^{_SEMANTICS_ID_BODY}$"
DOCUMENT_NUMBER_PATTERN = f"^{_SEMANTICS_ID_BODY}-[A-Z0-9]{{4}}-(Q|NQ)$"
SEMANTICS_ID_RE = re.compile(SEMANTICS_ID_PATTERN)
DOCUMENT_NUMBER_RE = re.compile(DOCUMENT_NUMBER_PATTERN)
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
    if not isinstance(value, str) or SEMANTICS_ID_RE.fullmatch(value) is None:
        raise InvalidIdentifier("Not a semantics identifier like PNOEE-30303039914.")
    # The pattern fixes the prefix: three letters of type, two of country, a hyphen.
    return SemanticsIdentifier(value[:3], value[3:5], value[6:])


def parse_document_number(value: str) -> tuple[str, bool]:
    """Return (semantics identifier, qualified) of ``PNOEE-…-XXXX-Q|NQ``."""
    if not isinstance(value, str) or DOCUMENT_NUMBER_RE.fullmatch(value) is None:
        raise InvalidIdentifier("Not a document number like PNOEE-30303039914-AB12-Q.")
    # The pattern fixes the tail: "-", four code characters, "-", Q or NQ.
    semantics_identifier, _suffix, level = value.rsplit("-", 2)
    return semantics_identifier, level == "Q"


def new_document_number(
    semantics_identifier: str, *, qualified: bool, suffix: str | None = None
) -> str:
    """A fresh document number; the caller retries on the (rare) unique-key collision."""
    if suffix is None:
        suffix = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
    return f"{semantics_identifier}-{suffix}-{'Q' if qualified else 'NQ'}"


# --- Personal codes -------------------------------------------------------------------
# The check digits and calendar rules are python-stdnum's (stdnum.ee.ik, stdnum.lt.asmens,
# stdnum.lv.pvn). We are stricter where stdnum accepts numbers that name no person we can
# enrol, each case with a test in tests/accounts/test_identifiers.py:
# * EE/LT century digit 7-8 (born in the 2100s; stdnum.ee.ik accepts them) and LT 9
#   (stdnum.lt.asmens accepts it without a date): the first digit must be 1 to 6, as every
#   code issued to a living person is, and the code must carry its date of birth.
# * LV: stdnum.lv.pvn validates VAT numbers, of which personal codes are a part. A first
#   digit above 3 is a legal entity (never a person), and a century digit 3-9 gives a
#   date in the 2100s-2700s that stdnum accepts; only 0-2 (1800s-2000s) are issued.

#: The EE and LT century (and sex) digits we accept; the value is the century.
_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}
_LV_CENTURY = {"0": 1800, "1": 1900, "2": 2000}
# DDMMYY-CSSSS, or 32XXXX-XXXXX for codes issued since July 2017 (no date of birth).
_LV_CODE = re.compile(r"[0-3][0-9]{5}-[0-9]{5}")
# The part of a dated LV code that carries the date: DDMMYY-C.
_LV_DATED = re.compile(r"[0-9]{6}-[012]")
#: Countries whose personal codes :func:`personal_code_date_of_birth` checks.
PERSONAL_CODE_COUNTRIES = frozenset({"EE", "LT", "LV"})


def _is_digits(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and value.isascii() and value.isdigit()


def personal_code_check_digit(first_ten: str) -> int:
    """The Estonian (and Lithuanian) personal code check digit: two weighted sums mod 11."""
    if not _is_digits(first_ten, 10):
        raise ValueError("the first ten digits of a personal code are needed")
    # stdnum computes the digit of a whole code (it ignores the last character).
    return int(ik.calc_check_digit(first_ten + "0"))


def personal_code_birth_date(code: str, *, country: str = "EE") -> date:
    """Validate an Estonian or Lithuanian ``GYYMMDDSSSC`` personal code (the two share
    one rule); return the date of birth it carries. Raises :class:`InvalidIdentifier`."""
    if not _is_digits(code, 11):
        raise InvalidIdentifier("A personal code has 11 digits.")
    if code[0] not in _CENTURY:
        raise InvalidIdentifier("The first digit of a personal code is 1 to 6.")
    try:
        if country == "LT":
            asmens.validate(code)
        else:
            ik.validate(code)
    except InvalidComponent:
        raise InvalidIdentifier("The personal code does not carry a calendar date.") from None
    except InvalidChecksum:
        raise InvalidIdentifier("The check digit of the personal code is wrong.") from None
    return ik.get_birth_date(code)


def _lv_birth_date(code: str) -> date | None:
    """Validate a Latvian ``DDMMYY-CSSSS`` (or ``32…``) personal code; its date or None."""
    if not isinstance(code, str) or _LV_CODE.fullmatch(code) is None:
        raise InvalidIdentifier("A Latvian personal code looks like 311299-19993.")
    born = None
    if not code.startswith("32"):
        if code[7] not in _LV_CENTURY:
            raise InvalidIdentifier("The century digit of a Latvian personal code is 0 to 2.")
        try:
            born = pvn.get_birth_date(code)
        except InvalidComponent:
            raise InvalidIdentifier("The personal code does not carry a calendar date.") from None
    try:
        pvn.validate(code)
    except ValidationError:  # the format and the date are checked above: the check digit
        raise InvalidIdentifier("The check digit of the personal code is wrong.") from None
    return born


def personal_code_date_of_birth(country: str, code: str) -> date | None:
    """Validate the personal code of a person of ``country`` (EE, LT or LV); return the
    date of birth it carries (None for a Latvian ``32…`` code, which carries none).

    Raises :class:`InvalidIdentifier` for an invalid code or another country.
    """
    if country in ("EE", "LT"):
        return personal_code_birth_date(code, country=country)
    if country == "LV":
        return _lv_birth_date(code)
    raise InvalidIdentifier(f"Personal codes of {country!r} are not checked here.")


def derive_date_of_birth(semantics_identifier: str) -> date | None:
    """The date of birth a personal code carries, or None (its check digit is not tested).

    * EE, LT: ``GYYMMDDSSSC``; G gives the century (1–2: 1800s, 3–4: 1900s, 5–6: 2000s).
    * LV: ``DDMMYY-CSSSS``; C gives the century (0: 1800s, 1: 1900s, 2: 2000s). Codes
      issued since 2017 start with ``32`` and carry no date.
    * Other countries: None (a certificate may still carry one).
    """
    semantics = parse_semantics_identifier(semantics_identifier)
    code = semantics.identifier
    try:
        if semantics.country in ("EE", "LT") and _is_digits(code, 11) and code[0] in _CENTURY:
            return ik.get_birth_date(code)
        if (
            semantics.country == "LV"
            and len(code) == 12
            and not code.startswith("32")
            and _LV_DATED.match(code) is not None
        ):
            return pvn.get_birth_date(code[:8])
    except (InvalidComponent, ValueError):  # not a calendar date, or not digits
        return None
    return None
