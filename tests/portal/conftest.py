"""Portal fixtures: Alice logged in with her (virtual) ID-card."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Person
from tests.helpers.webeid import token_login
from tests.personas import ALICE


@pytest.fixture
def alice_client(alice: Person) -> Client:
    client = Client()
    assert token_login(client, ALICE).status_code == 200
    return client
