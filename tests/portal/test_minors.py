"""The portal registers no minor remotely (REMOTE_REGISTRATION_MIN_AGE, default 18): the page
says why and where to go instead, and nothing is created."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from enrolment.models import RegistrationTicket
from tests.helpers.webeid import token_login
from tests.personas import Citizen

#: 15 years old on the day of this session (2026-12-03) and for years around it.
MARI = Citizen(
    given_name="Mari",
    surname="Kask",
    personal_code="61101151236",
    date_of_birth=date(2011, 1, 15),
    sex="F",
)


@pytest.fixture
def mari_client(db: None) -> Client:
    client = Client()
    assert token_login(client, MARI).status_code == 200
    return client


def test_a_minor_is_sent_to_an_office(mari_client: Client) -> None:
    page = mari_client.get("/portal/register")
    assert page.status_code == 200
    assert b'id="minor-refusal"' in page.content and b"legal representative" in page.content
    assert b'id="create-ticket"' not in page.content  # nothing to press
    refused = mari_client.post("/portal/register")
    assert refused.status_code == 403 and b"Applicants under 18" in refused.content
    assert not RegistrationTicket.objects.exists()


def test_the_operator_may_allow_older_minors(mari_client: Client, settings: Any) -> None:
    settings.REMOTE_REGISTRATION_MIN_AGE = 15
    mari_client.post("/portal/register")
    assert RegistrationTicket.objects.get().person.semantics_identifier == MARI.semantics_identifier
    settings.REMOTE_REGISTRATION_MIN_AGE = 16
    assert mari_client.post("/portal/register").status_code == 403
    assert RegistrationTicket.objects.count() == 1
