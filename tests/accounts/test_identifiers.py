"""accounts.identifiers: the one pattern of semantics identifiers and the personal-code
rules (python-stdnum, and the cases where we are stricter than stdnum)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from stdnum.ee import ik
from stdnum.lt import asmens
from stdnum.lv import pvn

from accounts.identifiers import (
    DOCUMENT_NUMBER_PATTERN,
    SEMANTICS_ID_PATTERN,
    SEMANTICS_ID_RE,
    InvalidIdentifier,
    SemanticsIdentifier,
    parse_document_number,
    parse_semantics_identifier,
    personal_code_birth_date,
    personal_code_check_digit,
    personal_code_date_of_birth,
)

ROOT = Path(__file__).resolve().parents[2]


# --- semantics identifiers and document numbers ----------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PNOEE-30303039914", SemanticsIdentifier("PNO", "EE", "30303039914")),
        ("IDCLV-311299-19993", SemanticsIdentifier("IDC", "LV", "311299-19993")),
        ("PASBE-A" + "b-" * 20, SemanticsIdentifier("PAS", "BE", "A" + "b-" * 20)),
    ],
)
def test_semantics_identifiers_parse(value: str, expected: SemanticsIdentifier) -> None:
    assert parse_semantics_identifier(value) == expected
    assert str(expected) == value


@pytest.mark.parametrize(
    "value",
    [
        "PNOEE--30303039914",  # the identifier starts with a letter or digit
        "PNOEE-" + "1" * 42,  # at most 41 characters
        "pnoee-30303039914",
        "TINEE-30303039914",
        "PNOEE30303039914",
        "PNOEE-30303039914\n",
        "PNOEE-3030303991ä",
        "",
        None,
    ],
)
def test_not_semantics_identifiers(value: object) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_semantics_identifier(value)  # type: ignore[arg-type]
    assert not isinstance(value, str) or SEMANTICS_ID_RE.fullmatch(value) is None


def test_the_published_patterns_are_the_parsers_patterns() -> None:
    # The OpenAPI documents publish these strings; ECMA-262 reads them as Python does.
    assert SEMANTICS_ID_PATTERN == r"^(PNO|IDC|PAS)[A-Z]{2}-[A-Za-z0-9][A-Za-z0-9-]{0,40}$"
    assert re.fullmatch(DOCUMENT_NUMBER_PATTERN, "PNOLV-311299-19993-AB12-NQ")
    assert re.fullmatch(SEMANTICS_ID_PATTERN, "PNOEE-" + "1" * 41)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PNOEE-30303039914-AB12-Q", ("PNOEE-30303039914", True)),
        ("PNOLV-311299-19993-ZZ99-NQ", ("PNOLV-311299-19993", False)),
    ],
)
def test_document_numbers_parse(value: str, expected: tuple[str, bool]) -> None:
    assert parse_document_number(value) == expected


@pytest.mark.parametrize(
    "value", ["PNOEE-30303039914-AB12", "PNOEE-30303039914-ab12-Q", "PNOEE-1-AB12-QQ", 7]
)
def test_not_document_numbers(value: object) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_document_number(value)  # type: ignore[arg-type]


def test_the_module_imports_no_django() -> None:
    # The Mobile-ID client and the Web eID validator import it and run without Django.
    script = (
        "import sys, accounts.identifiers;"
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --- EE and LT personal codes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first_ten", "digit"),
    [("3800108571", 8), ("3760503006", 4), ("6000101990", 6), ("3330924006", 4)],
)
def test_check_digit(first_ten: str, digit: int) -> None:
    assert personal_code_check_digit(first_ten) == digit
    assert str(digit) == ik.calc_check_digit(first_ten + "0")


@pytest.mark.parametrize("first_ten", ["380010857", "38001085718", "380010857x", 3800108571])
def test_check_digit_needs_ten_digits(first_ten: object) -> None:
    with pytest.raises(ValueError):
        personal_code_check_digit(first_ten)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("country", "code", "born"),
    [
        ("EE", "38001085718", date(1980, 1, 8)),
        ("EE", "60001019906", date(2000, 1, 1)),
        ("LT", "33309240064", date(1933, 9, 24)),  # python-stdnum's own example
        ("LT", "61101012257", date(2011, 1, 1)),
        ("LT", "37605030064", date(1976, 5, 3)),  # the second weight set decides
    ],
)
def test_valid_ee_lt_codes(country: str, code: str, born: date) -> None:
    assert personal_code_birth_date(code, country=country) == born
    assert personal_code_date_of_birth(country, code) == born


@pytest.mark.parametrize(
    ("country", "code", "message"),
    [
        ("LT", "33309240065", "check digit"),
        ("LT", "61101012250", "check digit"),
        ("EE", "38001085719", "check digit"),
        ("LT", "33313240064", "calendar date"),
        ("LT", "3330924006", "11 digits"),
        ("LT", "3330924006X", "11 digits"),
        ("LT", "3330924006４", "11 digits"),  # a full-width digit
    ],
)
def test_invalid_ee_lt_codes(country: str, code: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        personal_code_date_of_birth(country, code)


@pytest.mark.parametrize(
    ("country", "code"),
    [
        # Century digit 7: born in 2180. stdnum.ee.ik accepts it; no one alive has it.
        ("EE", "78001085711"),
        # Century digit 9: stdnum.lt.asmens accepts it without a date; we need the date.
        ("LT", "90000000018"),
    ],
)
def test_codes_stdnum_accepts_and_we_refuse(country: str, code: str) -> None:
    assert ik.is_valid(code) or asmens.is_valid(code)
    with pytest.raises(InvalidIdentifier, match="first digit of a personal code is 1 to 6"):
        personal_code_date_of_birth(country, code)


# --- LV personal codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "born"),
    [
        ("161175-19997", date(1975, 11, 16)),  # python-stdnum's own example
        ("311299-19993", date(1999, 12, 31)),
        ("030303-10012", date(1903, 3, 3)),
        ("010111-23474", date(2011, 1, 1)),
        ("328673-00679", None),  # since July 2017: "32…", no date of birth
        ("320000-10003", None),
    ],
)
def test_valid_lv_codes(code: str, born: date | None) -> None:
    assert personal_code_date_of_birth("LV", code) == born


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("161175-19998", "check digit"),
        ("328673-00677", "check digit"),  # a 32… code has a check digit too
        ("161375-19997", "calendar date"),
        ("16117519997", "looks like"),  # the hyphen is part of the code
        ("161175 19997", "looks like"),
        ("1611751-9997", "looks like"),
        ("LV161175-1999", "looks like"),
    ],
)
def test_invalid_lv_codes(code: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        personal_code_date_of_birth("LV", code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # A legal entity's number (first digit above 3): stdnum.lv.pvn takes it as a VAT
        # number of a company; it is no person's code.
        ("400035-21600", "looks like"),
        # Century digit 3: stdnum.lv.pvn reads a birth in 2175; only 0-2 are issued.
        ("161175-39998", "century digit"),
    ],
)
def test_lv_numbers_stdnum_accepts_and_we_refuse(code: str, message: str) -> None:
    assert pvn.is_valid(code)
    with pytest.raises(InvalidIdentifier, match=message):
        personal_code_date_of_birth("LV", code)


def test_other_countries_are_not_checked_here() -> None:
    with pytest.raises(InvalidIdentifier, match="not checked"):
        personal_code_date_of_birth("BE", "05040400032")
