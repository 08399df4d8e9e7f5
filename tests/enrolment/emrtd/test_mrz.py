"""MRZ parsing and check digits against the specimens of ICAO Doc 9303."""

from __future__ import annotations

import datetime

import pytest

from enrolment.emrtd import EmrtdError
from enrolment.emrtd.mrz import check_digit, parse_mrz

TODAY = datetime.date(2026, 1, 1)
# Doc 9303 part 4 appendix A (TD3) and part 5 appendix A (TD1) specimens.
TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
TD1 = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
TD2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<D231458907UTO7408122F1204159<<<<<<<6"


def test_check_digits_of_the_specimen() -> None:
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("120415") == "9"
    assert check_digit("ZE184226B<<<<<") == "1"
    assert check_digit("<<<<<<") == "0"


def test_td3_specimen() -> None:
    mrz = parse_mrz(TD3, today=TODAY)
    assert (mrz.document_code, mrz.issuing_state, mrz.document_number) == ("P", "UTO", "L898902C3")
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert mrz.date_of_birth == datetime.date(1974, 8, 12)
    assert mrz.expiry_date == datetime.date(2012, 4, 15)
    assert (mrz.sex, mrz.nationality, mrz.optional_data) == ("F", "UTO", "ZE184226B")
    assert mrz.personal_code is None  # not all digits
    assert mrz.issuing_country is None  # Utopia is fictional


def test_td1_specimen() -> None:
    mrz = parse_mrz(TD1, today=TODAY)
    assert (mrz.document_code, mrz.document_number) == ("I", "D23145890")
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert mrz.date_of_birth == datetime.date(1974, 8, 12)
    assert mrz.optional_data == ""


def test_td2_specimen() -> None:
    # Doc 9303 part 6 appendix A.
    mrz = parse_mrz(TD2, today=TODAY)
    assert (mrz.document_code, mrz.issuing_state, mrz.document_number) == ("I", "UTO", "D23145890")
    assert (mrz.surname, mrz.given_names, mrz.sex) == ("ERIKSSON", "ANNA MARIA", "F")
    assert (mrz.nationality, mrz.optional_data) == ("UTO", "")
    assert mrz.date_of_birth == datetime.date(1974, 8, 12)
    assert mrz.expiry_date == datetime.date(2012, 4, 15)


def test_td2_long_document_number() -> None:
    # Doc 9303 part 6 §4.2.4 note j: as TD1, the number continues in the optional data.
    body = "D23145890<UTO7408122F1204159" + "7349<<<"
    text = TD2[:36] + body + check_digit(body[0:10] + body[13:20] + body[21:35])
    mrz = parse_mrz(text, today=TODAY)
    assert (mrz.document_number, mrz.optional_data) == ("D23145890734", "")
    wrong = text[:64] + "8" + text[65:]  # the long number's check digit
    with pytest.raises(EmrtdError) as caught:
        parse_mrz(wrong[:-1] + check_digit(wrong[36:46] + wrong[49:56] + wrong[57:71]), today=TODAY)
    assert caught.value.code == "mrz_check_digit"


def test_td1_long_document_number() -> None:
    # Doc 9303 part 5 §4.2.4: D23145890734 continues in the optional data, then its digit.
    line1 = "I<UTOD23145890<7349<<<<<<<<<<<"
    line2_body = "7408122F1204159UTO<<<<<<<<<<<"
    composite = check_digit(line1[5:30] + line2_body[0:7] + line2_body[8:15] + line2_body[18:29])
    text = line1 + line2_body + composite + "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
    assert parse_mrz(text, today=TODAY).document_number == "D23145890734"


def test_birth_century_follows_today() -> None:
    assert parse_mrz(TD3, today=datetime.date(2073, 1, 1)).date_of_birth.year == 1974
    # Born in '74 seen from 2075: the person would be 1 year old or 101; the MRZ can't tell,
    # we take the most recent past century.
    assert parse_mrz(TD3, today=datetime.date(2075, 1, 1)).date_of_birth.year == 2074


def _positions(text: str, digits: list[int]) -> list[tuple[int, str]]:
    return [(p, str((int(text[p]) + 1) % 10)) for p in digits]


@pytest.mark.parametrize(
    ("text", "position"),
    # TD3: document number, birth, expiry, optional data, composite check digits
    [(TD3, p) for p in (53, 63, 71, 86, 87)]
    # TD1: document number, birth, expiry, composite
    + [(TD1, p) for p in (14, 36, 44, 59)]
    # TD2: document number, birth, expiry, composite
    + [(TD2, p) for p in (45, 55, 63, 71)],
)
def test_every_check_digit_is_checked(text: str, position: int) -> None:
    broken = text[:position] + str((int(text[position]) + 1) % 10) + text[position + 1 :]
    with pytest.raises(EmrtdError) as caught:
        parse_mrz(broken, today=TODAY)
    assert caught.value.code == "mrz_check_digit"


def test_a_changed_date_breaks_its_check_digit() -> None:
    broken = TD3.replace("740812", "750812")
    with pytest.raises(EmrtdError) as caught:
        parse_mrz(broken, today=TODAY)
    assert caught.value.code == "mrz_check_digit"


@pytest.mark.parametrize(
    "text",
    [
        TD3[:-1],  # wrong length
        TD3.lower(),  # outside the alphabet
        TD3.replace("7408122", "7413122").replace("<<10", "<<10"),  # month 13 (digit first)
        "",
    ],
)
def test_malformed_mrz(text: str) -> None:
    with pytest.raises(EmrtdError) as caught:
        parse_mrz(text, today=TODAY)
    assert caught.value.code in {"malformed", "mrz_check_digit"}


def test_an_impossible_date_with_right_check_digits_is_malformed() -> None:
    body = "L898902C36UTO" + "741312" + check_digit("741312") + "F1204159ZE184226B<<<<<1"
    composite = check_digit(body[0:10] + body[13:20] + body[21:43])
    with pytest.raises(EmrtdError) as caught:
        parse_mrz(TD3[:44] + body + composite, today=TODAY)
    assert caught.value.code == "malformed"
