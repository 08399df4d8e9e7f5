"""Codes are read as people type them: the groups they were printed in do not matter."""

from __future__ import annotations

import pytest

from accounts.services import person_get_or_create
from enrolment.secondary import code_hash, code_matches, normalise_code
from enrolment.services import ticket_create, ticket_redeem
from enrolment.tickets import normalise_typed_code


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1247 3521", "12473521"),
        ("1247-3521", "12473521"),
        ("1247\u00a03521", "12473521"),  # a no-break space, pasted from the e-mail
        ("1247\u20133521", "12473521"),  # an en dash a word processor made
        ("  12473521\n", "12473521"),
        ("abcd-efgh ijkl", "ABCDEFGHIJKL"),
    ],
)
def test_separators_and_case(typed: str, read: str) -> None:
    assert normalise_typed_code(typed) == read


def test_the_secondary_code_is_accepted_as_printed() -> None:
    assert normalise_code("1247 3521") == "12473521"
    assert code_matches("1247 3521", code_hash("12473521"))
    assert normalise_code("1247 352x") is None


@pytest.mark.django_db
def test_a_ticket_is_redeemed_as_typed() -> None:
    person = person_get_or_create(
        semantics_identifier="PNOEE-49002124277", given_name="Alice", surname="Tamm", actor="t"
    )
    _, code = ticket_create(
        person=person, identity_source="ADMIN", level="QUALIFIED", created_by="test"
    )
    typed = code.replace("-", " ").lower()  # "abcd efgh …", as read out over the phone
    key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "A" * 88
    account, _ = ticket_redeem(
        code=typed, platform="p", device_name="n", public_key=key.encode(), interactions=[]
    )
    assert account.person == person
