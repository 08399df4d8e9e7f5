"""Every portal URL, walked as Alice: each page that shows personal data (and each login
step) says ``Cache-Control: no-store``, so no browser cache or proxy keeps it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern

from accounts.models import Account, Person
from accounts.services import account_set_state
from pki import services as pki
from portal import urls as portal_urls
from signing.models import SplitKey
from tests import factories
from tests.helpers.webeid import token_login
from tests.personas import ALICE
from tests.pki import factories as f

# url name → (method, path with {account} for Alice's account, POST data, personal?)
# "personal": the page shows personal data or is a step of the login, so it must be
# no-store; the two others answer with a bare redirect.
PAGES: dict[str, tuple[str, str, dict[str, str], bool]] = {
    "home": ("GET", "/portal/", {}, False),
    "login": ("GET", "/portal/login", {}, True),
    "login-challenge": ("POST", "/portal/login/challenge", {}, True),
    "login-token": ("LOGIN", "/portal/login/web-eid", {}, True),
    "login-certificate": ("POST", "/portal/login/certificate", {}, True),
    "logout": ("POST", "/portal/logout", {}, False),
    "accounts": ("GET", "/portal/accounts", {}, True),
    "account": ("GET", "/portal/accounts/{account}", {}, True),
    "certificate-pem": ("GET", "/portal/accounts/{account}/certificates/AUTH.pem", {}, True),
    "account-action": ("GET", "/portal/accounts/{account}/suspend", {}, True),
    "register": ("POST", "/portal/register", {}, True),  # shows the new ticket's code
    "contact": ("GET", "/portal/contact", {}, True),
    "verify-email": ("GET", "/portal/contact/verify/not-a-token", {}, True),
}


def test_the_table_covers_every_portal_url() -> None:
    names = {p.name for p in portal_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(PAGES), "a URL of portal.urls is missing from (or extra in) PAGES"


@pytest.fixture
def account(alice: Person, ca_hierarchy: list[Any]) -> Account:
    """Alice's active account with an authentication certificate (for its PEM)."""
    Person.objects.filter(pk=alice.pk).update(email="alice@example.org")
    account = account_set_state(
        account=factories.account(alice), state=Account.State.ACTIVE, actor="test"
    )
    certificate = pki.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=account.document_number,
        purpose="AUTH",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
        base_url="http://127.0.0.1:8000",
    )
    SplitKey.objects.create(
        account=account,
        purpose="AUTH",
        state=SplitKey.State.ACTIVE,
        bits=f.TEST_KEY_BITS // 2,
        n1="01",
        n2="02",
        token_hash=b"\0" * 32,
        certificate=certificate,
    )
    return account


@pytest.mark.parametrize("name", sorted(PAGES))
def test_pages_with_personal_data_are_no_store(name: str, account: Account) -> None:
    method, path, data, personal = PAGES[name]
    client = Client()
    assert token_login(client, ALICE).status_code == 200
    url = path.format(account=account.uuid)
    response: Any
    if method == "LOGIN":
        response = token_login(Client(), ALICE)
    elif method == "POST":
        response = client.post(url, data)
    else:
        response = client.get(url)
    assert response.status_code in (200, 302, 403), (name, response.status_code)
    if name == "certificate-pem":
        assert response.status_code == 200 and b"BEGIN CERTIFICATE" in response.content
    shown = {  # the personal data on the page (contact: Alice's address, set below)
        "accounts": account.document_number,
        "account": account.document_number,
        "account-action": account.document_number,
        "register": 'id="ticket-code"',
        "contact": "alice@example.org",
    }
    if name in shown:
        assert response.status_code == 200
        assert shown[name] in response.content.decode(), name
    if personal:
        directives = response["Cache-Control"].replace(" ", "").split(",")
        assert "no-store" in directives, (name, response["Cache-Control"])
