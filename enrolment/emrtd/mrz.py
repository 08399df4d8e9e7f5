"""The machine readable zone (ICAO Doc 9303 parts 3, 4, 5, 6): parse and check every digit.

DG1 holds the MRZ as one string without line breaks: 88 characters for TD3 (passports,
2 × 44), 72 for TD2 (2 × 36), 90 for TD1 (ID cards, 3 × 30). Check digits use the 7-3-1
weights over the values 0–9, A–Z = 10–35 and ``<`` = 0. Every check digit is verified,
composite included, so a chip whose DG1 was edited by hand fails here even before the
hash check of the SOD.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from enrolment.emrtd.countries import alpha2
from enrolment.emrtd.errors import MalformedError, MrzCheckDigitError

_CHARSET = re.compile(r"[A-Z0-9<]*")
_WEIGHTS = (7, 3, 1)
TD_LENGTHS = {"TD1": 90, "TD2": 72, "TD3": 88}


def char_value(char: str) -> int:
    if char.isdigit():
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise MalformedError(f"character {char!r} is not allowed in an MRZ")


def check_digit(field: str) -> str:
    """The Doc 9303 part 3 §4.9 check digit of ``field``."""
    total = sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field))
    return str(total % 10)


@dataclass(frozen=True)
class Mrz:
    """The holder data printed in the MRZ. Names use spaces between components."""

    document_code: str
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    date_of_birth: datetime.date
    sex: str
    expiry_date: datetime.date
    optional_data: str

    @property
    def personal_code(self) -> str | None:
        """The personal identification code in the optional data (EE: 11 digits), if any."""
        first_field = self.optional_data.split("<", 1)[0]
        return first_field if first_field.isdigit() else None

    @property
    def issuing_country(self) -> str | None:
        """ISO 3166 alpha-2 of the issuing state (``EST`` → ``EE``, ``D`` → ``DE``)."""
        return alpha2(self.issuing_state)


def _verify(field: str, digit: str, *, what: str, filler_ok: bool = False) -> None:
    if filler_ok and digit == "<" and set(field) <= {"<"}:
        return
    if digit != check_digit(field):
        raise MrzCheckDigitError(f"MRZ check digit of the {what} is wrong")


def _strip(field: str) -> str:
    return field.rstrip("<")


def _names(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return (
        " ".join(p for p in surname.split("<") if p),
        " ".join(p for p in given.split("<") if p),
    )


def _date(field: str, *, what: str, pivot: datetime.date | None) -> datetime.date:
    """YYMMDD → date. Birth dates take the century that puts them on or before ``pivot``;
    expiry dates are in 2000–2099 (no machine readable document expires before 2000 now).
    """
    if not field.isdigit():
        raise MalformedError(f"MRZ {what} is not a date")
    yy, mm, dd = int(field[0:2]), int(field[2:4]), int(field[4:6])
    year = 2000 + yy
    if pivot is not None and year > pivot.year:
        year -= 100
    try:
        return datetime.date(year, mm, dd)
    except ValueError:
        raise MalformedError(f"MRZ {what} is not a valid date") from None


def _sex(char: str) -> str:
    if char not in ("M", "F", "X", "<"):
        raise MalformedError("MRZ sex must be M, F, X or <")
    return "X" if char == "<" else char


def _long_number(number: str, optional: str) -> tuple[str, str, str]:
    """(number, check digit, rest of the optional data) of a number over 9 characters.

    Doc 9303 part 5 §4.2.4 note j (TD1) and part 6 §4.2.4 note j (TD2): the check digit
    position holds a filler, and the number continues in the optional data, followed by
    its check digit and a filler.
    """
    head, _, rest = optional.partition("<")
    if len(head) < 2:
        raise MalformedError("MRZ long document number is malformed")
    return number + head[:-1], head[-1], rest


def parse_mrz(text: str, *, today: datetime.date) -> Mrz:
    """Parse and check an MRZ string of 88 (TD3), 72 (TD2) or 90 (TD1) characters.

    ``today`` decides the century of the birth date (a person is not born in the future).
    """
    if not _CHARSET.fullmatch(text):
        raise MalformedError("MRZ contains characters outside A-Z, 0-9 and <")
    if len(text) == TD_LENGTHS["TD1"]:
        return _parse_td1(text, today)
    if len(text) in (TD_LENGTHS["TD3"], TD_LENGTHS["TD2"]):
        return _parse_td2_td3(text, today)
    raise MalformedError(f"MRZ of {len(text)} characters is neither TD1, TD2 nor TD3")


def _parse_td2_td3(text: str, today: datetime.date) -> Mrz:
    width = len(text) // 2
    line1, line2 = text[:width], text[width:]
    surname, given = _names(line1[5:])
    number, number_cd = line2[0:9], line2[9]
    dob, dob_cd = line2[13:19], line2[19]
    expiry, expiry_cd = line2[21:27], line2[27]
    if width == 44:  # TD3: 14 characters of personal number with their own check digit
        optional, optional_cd = line2[28:42], line2[42]
        _verify(optional, optional_cd, what="optional data", filler_ok=True)
        composite_field = line2[0:10] + line2[13:20] + line2[21:43]
    else:  # TD2: 7 characters of optional data without a check digit
        optional = line2[28:35]
        composite_field = line2[0:10] + line2[13:20] + line2[21:35]
        if number_cd == "<":
            number, number_cd, optional = _long_number(number, optional)
    _verify(number, number_cd, what="document number")
    _verify(dob, dob_cd, what="date of birth")
    _verify(expiry, expiry_cd, what="date of expiry")
    _verify(composite_field, line2[-1], what="composite")
    return Mrz(
        document_code=_strip(line1[0:2]),
        issuing_state=_strip(line1[2:5]),
        document_number=_strip(number),
        surname=surname,
        given_names=given,
        nationality=_strip(line2[10:13]),
        date_of_birth=_date(dob, what="date of birth", pivot=today),
        sex=_sex(line2[20]),
        expiry_date=_date(expiry, what="date of expiry", pivot=None),
        optional_data=_strip(optional),
    )


def _parse_td1(text: str, today: datetime.date) -> Mrz:
    line1, line2, line3 = text[0:30], text[30:60], text[60:90]
    number, number_cd, optional1 = line1[5:14], line1[14], line1[15:30]
    if number_cd == "<":
        number, number_cd, optional1 = _long_number(number, optional1)
    _verify(number, number_cd, what="document number")
    dob, dob_cd = line2[0:6], line2[6]
    expiry, expiry_cd = line2[8:14], line2[14]
    _verify(dob, dob_cd, what="date of birth")
    _verify(expiry, expiry_cd, what="date of expiry")
    composite_field = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    _verify(composite_field, line2[29], what="composite")
    surname, given = _names(line3)
    optional = _strip(optional1)
    optional2 = _strip(line2[18:29])
    if optional2:
        optional = f"{optional}<{optional2}"
    return Mrz(
        document_code=_strip(line1[0:2]),
        issuing_state=_strip(line1[2:5]),
        document_number=_strip(number),
        surname=surname,
        given_names=given,
        nationality=_strip(line2[15:18]),
        date_of_birth=_date(dob, what="date of birth", pivot=today),
        sex=_sex(line2[7]),
        expiry_date=_date(expiry, what="date of expiry", pivot=None),
        optional_data=optional,
    )
