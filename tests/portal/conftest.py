"""Portal fixtures: persons with accounts, and logging in with the virtual ID-card."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Account, Device, Person
from accounts.services import account_create, person_get_or_create
from demo import virtualcard
from portal import services

ALICE_CODE = "49002124277"  # a demo card: Alice Tamm
BOB_CODE = "38812245719"  # a demo card: Bob Kask


def make_account(person: Person, name: str = "Pixel") -> Account:
    device = Device.objects.create(
        person=person, platform="android", name=name, public_key=b"k", interactions=[]
    )
    return account_create(person=person, device=device, level="QUALIFIED", actor="test")


def person(code: str, given: str, surname: str) -> Person:
    return person_get_or_create(
        semantics_identifier=f"PNOEE-{code}", given_name=given, surname=surname, actor="test"
    )


def token_login(client: Client, code: str, **overrides: Any) -> Any:
    """Run the Web eID login as the browser would; returns the token response."""
    nonce = client.post("/portal/login/challenge").json()["challengeNonce"]
    origin = overrides.pop("sign_origin", services.site_origin())
    token = virtualcard.card_for(code).token_for(origin, nonce)
    body = {"authToken": token, "origin": origin, "challengeNonce": nonce, **overrides}
    return client.post("/portal/login/web-eid", body, content_type="application/json")


@pytest.fixture
def alice(db: None) -> Person:
    return person(ALICE_CODE, "Alice", "Tamm")


@pytest.fixture
def bob(db: None) -> Person:
    return person(BOB_CODE, "Bob", "Kask")


@pytest.fixture
def alice_client(alice: Person) -> Client:
    client = Client()
    assert token_login(client, ALICE_CODE).status_code == 200
    return client


# The live platform (uvicorn + CA + reference app) and the relying party of the RP tests.
from tests.rp.conftest import bank  # noqa: E402,F401 -- fixtures for the browser test
from tests.signing.conftest import platform  # noqa: E402,F401
