"""A code is accepted as the authenticator app shows it: in groups ("123 456")."""

from __future__ import annotations

import pytest
from django.test import Client

from ra_office.forms import TotpForm
from tests.factories import Office
from tests.helpers.ra_office import totp_now
from tests.personas import PASSWORD


def test_the_totp_code_is_accepted_as_the_app_shows_it(office: Office) -> None:
    client = Client()
    client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
    client.get("/ra/login/totp/")  # the first login shows the key (enrolment)
    code = totp_now(office.olga)
    response = client.post("/ra/login/totp/", {"token": f" {code[:3]} {code[3:]} "})
    assert response["Location"] == "/ra/"


@pytest.mark.parametrize("typed", ["123 456", "123-456", "123\u00a0456", " 123456 ", "12 34 56"])
def test_group_separators_are_dropped(typed: str) -> None:
    form = TotpForm({"token": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["token"] == "123456"


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "１２３４５６", ""])
def test_anything_but_six_digits_is_refused(typed: str) -> None:
    assert not TotpForm({"token": typed}).is_valid()
