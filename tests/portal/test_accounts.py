"""Accounts pages: ownership (Alice never reaches Bob's accounts), actions, contact data."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Account, Person
from accounts.services import account_set_state
from audit.models import AuditRecord
from enrolment.models import RegistrationTicket
from tests import factories
from tests.helpers.webeid import token_login
from tests.personas import BOB

pytestmark = pytest.mark.django_db


def active_account(person: Person, name: str = "Pixel") -> Account:
    account = factories.account(person, name)
    return account_set_state(account=account, state=Account.State.ACTIVE, actor="test")


def test_logged_out_visitors_are_sent_to_login() -> None:
    client = Client()
    for url in ("/portal/accounts", "/portal/register", "/portal/contact", "/portal/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/login")


def test_accounts_page_lists_only_the_persons_accounts(
    alice_client: Client, alice: Person, bob: Person
) -> None:
    mine = active_account(alice, "Alice's phone")
    theirs = active_account(bob, "Bob's phone")
    page = alice_client.get("/portal/accounts").content.decode()
    assert mine.document_number in page and "Alice&#x27;s phone" in page
    assert theirs.document_number not in page
    assert "Pending applications" in page
    detail = alice_client.get(f"/portal/accounts/{mine.uuid}")
    assert detail.status_code == 200 and mine.document_number.encode() in detail.content


def test_every_portal_url_with_a_foreign_account_is_404(alice_client: Client, bob: Person) -> None:
    theirs = active_account(bob)
    base = f"/portal/accounts/{theirs.uuid}"
    urls = [
        base,
        f"{base}/certificates/AUTH.pem",
        f"{base}/certificates/SIGN.pem",
        f"{base}/suspend",
        f"{base}/resume",
        f"{base}/delete",
    ]
    for url in urls:
        assert alice_client.get(url).status_code == 404, url
        assert alice_client.post(url).status_code in (404, 405), url
    for action in ("suspend", "resume", "delete"):
        assert alice_client.post(f"{base}/{action}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == Account.State.ACTIVE
    # An unknown id and a malformed one look the same.
    assert (
        alice_client.get("/portal/accounts/00000000-0000-0000-0000-000000000000").status_code == 404
    )
    assert alice_client.get("/portal/accounts/not-a-uuid").status_code == 404
    assert not AuditRecord.objects.filter(
        object_type="accounts.Account", object_id=str(theirs.pk), actor__startswith="portal:"
    ).exists()


def test_suspend_resume_delete_ask_first_and_are_audited(
    alice_client: Client, alice: Person
) -> None:
    account = active_account(alice)
    base = f"/portal/accounts/{account.uuid}"
    confirm = alice_client.get(f"{base}/suspend")
    assert confirm.status_code == 200 and b"Suspend this account?" in confirm.content
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE  # asking changes nothing
    assert alice_client.post(f"{base}/suspend").status_code == 302
    account.refresh_from_db()
    assert account.state == Account.State.SUSPENDED
    # Not possible twice; a resume is.
    assert alice_client.post(f"{base}/suspend").status_code == 302
    account.refresh_from_db()
    assert account.state == Account.State.SUSPENDED
    alice_client.post(f"{base}/resume")
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    alice_client.post(f"{base}/delete")
    account.refresh_from_db()
    assert account.state == Account.State.REVOKED
    actor = f"portal:{alice.semantics_identifier}"
    changes = AuditRecord.objects.filter(actor=actor, action="account.state_changed")
    assert [r.data["to"] for r in changes.order_by("sequence")] == [
        "SUSPENDED",
        "ACTIVE",
        "REVOKED",
    ]
    assert alice_client.get(f"{base}/unknown-action").status_code == 404


def test_an_account_locked_by_an_administrator_cannot_be_resumed_by_its_owner(
    alice_client: Client, alice: Person
) -> None:
    account = active_account(alice)
    account_set_state(account=account, state=Account.State.LOCKED, actor="admin")
    alice_client.post(f"/portal/accounts/{account.uuid}/resume")
    alice_client.post(f"/portal/accounts/{account.uuid}/suspend")
    account.refresh_from_db()
    assert account.state == Account.State.LOCKED


def test_register_creates_an_id_card_ticket(alice_client: Client, alice: Person) -> None:
    assert alice_client.get("/portal/register").status_code == 200
    assert not RegistrationTicket.objects.exists()
    page = alice_client.post("/portal/register").content.decode()
    ticket = RegistrationTicket.objects.get()
    assert ticket.person == alice
    assert ticket.identity_source == RegistrationTicket.Source.ID_CARD
    assert ticket.level == Account.Level.QUALIFIED
    assert ticket.created_by == f"portal:{alice.semantics_identifier}"
    code = re.search(r'id="ticket-code">([A-Z2-7-]+)<', page)
    assert code is not None and len(code.group(1).replace("-", "")) == 26
    assert 'src="data:image/svg+xml' in page


def test_contact_data_and_email_verification(
    alice_client: Client, alice: Person, bob: Person, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            "/portal/contact", {"email": "alice@example.org", "phone": "+372 5555 1234"}
        )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.phone == "+372 5555 1234"
    assert alice.email == ""  # not before the link is opened
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.org"]
    link = re.search(r"https?://\S+/portal/contact/verify/(\S+)", str(mail.outbox[0].body))
    assert link is not None
    token = link.group(1)
    # Bob cannot use Alice's link.
    bob_client = Client()
    token_login(bob_client, BOB)
    bob_client.get(f"/portal/contact/verify/{token}")
    bob.refresh_from_db()
    assert bob.email == ""
    alice_client.get(f"/portal/contact/verify/{token}")
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"
    # Used once.
    again = alice_client.get(f"/portal/contact/verify/{token}", follow=True)
    assert b"not valid" in again.content


def test_bad_contact_data_changes_nothing(alice_client: Client, alice: Person) -> None:
    for data in (
        {"email": "not-an-address", "phone": ""},
        {"email": "", "phone": "call me maybe"},
        {"email": "a@" + "x" * 300 + ".org", "phone": ""},
    ):
        response = alice_client.post("/portal/contact", data)
        assert response.status_code == 200
        assert b'class="errorlist' in response.content
    alice.refresh_from_db()
    assert (alice.email, alice.phone) == ("", "")
    assert not mail.outbox


def test_pending_applications_show_a_new_account_requested_with_an_existing_one(
    alice_client: Client, alice: Person, bob: Person
) -> None:
    from enrolment.models import OnboardingApplication

    alice_account = factories.account(alice)
    Account.objects.filter(pk=alice_account.pk).update(state=Account.State.ACTIVE)
    OnboardingApplication.objects.create(
        token_hash=b"x" * 32,
        source=OnboardingApplication.Source.EXISTING_ACCOUNT,
        state=OnboardingApplication.State.CHECKING,
        level="QUALIFIED",
        existing_account=alice_account,
    )
    # Bob's undecided application and Alice's decided one are not shown.
    OnboardingApplication.objects.create(
        token_hash=b"y" * 32, source="MOBILE_ID", level="QUALIFIED", person=bob
    )
    OnboardingApplication.objects.create(
        token_hash=b"z" * 32,
        source="MOBILE_ID",
        level="QUALIFIED",
        person=alice,
        state=OnboardingApplication.State.REJECTED,
    )
    page = alice_client.get("/portal/accounts").content.decode()
    assert "Pending applications" in page
    assert alice_account.document_number in page
    assert page.count('<td class="state">') == 1
    assert "Being checked" in page
