"""Django admin of persons, accounts, enrolment and split keys (read-only; actions call services).

The accounts come from the reference app registering against the running server
(``platform`` of ``tests/conftest.py``), so every key row holds real wrapped
shares, token hashes and a cached retransmit response — exactly what must never render.
"""

from __future__ import annotations

import base64
import html
import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.contrib.auth.models import Permission, User
from django.test import Client

from accounts.models import Account, Person
from audit.models import AuditRecord
from enrolment.models import RegistrationTicket
from enrolment.services import ticket_redeem
from pki.models import Certificate
from signing import keys
from signing.models import ServerKeyHalf, ServiceKey, SplitKey, Transaction
from tests.helpers.platform import Platform, auth_transaction
from tests.personas import ALICE, PIN1, RP_A

ACCOUNT_LIST = "/admin/accounts/account/"
#: Fields whose label alone would show that a secret column is on the page.
SECRET_LABELS = (
    "wrapped_d1pp",
    "wrapped_server_half",
    "token_hash",
    "last_response",
    "last_rnonce_hash",
    "last_request_digest",
    "wrapped_private_key",
    "code_hash",
)
PERSON_LIST = "/admin/accounts/person/"
TICKET_CODE = re.compile(r"Ticket for [^<]*?: ([A-Z2-7]{4}(?:-[A-Z2-7]{1,4}){6})")


@pytest.fixture
def account(platform: Platform) -> Account:
    """An ACTIVE account after one approved authentication (so the retransmit cache is set)."""
    app, account = platform.registered()
    auth_transaction(account)
    [tx] = app.pending(timeout_ms=5000)
    assert app.approve(tx, PIN1).ok
    return account


@pytest.fixture
def admin_client(transactional_db: None) -> Client:
    user = User.objects.create_superuser("root", "root@example.test", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(transactional_db: None) -> Client:
    """Staff with every model permission of ``accounts`` (add, change, delete, view), but
    none of the custom ones a role grants for actions, and not a superuser."""
    user = User.objects.create_user("olga", "olga@example.test", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="accounts", codename__regex=r"^(add|change|delete|view)_"
        )
    )
    client = Client()
    client.force_login(user)
    return client


def _p256_der() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )


# --- lists and key material ---------------------------------------------------------


def test_superuser_sees_every_list(admin_client: Client, account: Account) -> None:
    keys.pool_add(bits=1024)
    device = account.device
    expected = {
        PERSON_LIST: account.person.semantics_identifier,
        ACCOUNT_LIST: account.document_number,
        "/admin/accounts/device/": device.name,
        "/admin/enrolment/registrationticket/": "Administrator",
        "/admin/signing/splitkey/": "Authentication (PIN1)",
        "/admin/signing/transaction/": RP_A.name,
        "/admin/signing/serverkeyhalf/": "1024",
        "/admin/signing/servicekey/": "transport",
    }
    for url, text in expected.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url


def _renderings(blob: bytes) -> list[str]:
    """Ways a binary value could show up in a page (long enough never to match by chance)."""
    head = blob[:12]
    return [
        head.hex(),
        head.hex().upper(),
        base64.b64encode(head).decode()[:16],
        html.escape(repr(head)[2:-1]),
        repr(head)[2:-1],
    ]


def _secret_fields(account: Account) -> dict[str, bytes]:
    secrets: dict[str, bytes] = {}
    for key in SplitKey.objects.filter(account=account):
        for name in (
            "wrapped_d1pp",
            "wrapped_server_half",
            "token_hash",
            "last_response",
            "last_rnonce_hash",
            "last_request_digest",
        ):
            value = getattr(key, name)
            assert value is not None, f"{name} should be set after a signature"
            secrets[f"{key.purpose}.{name}"] = bytes(value)
    for half in ServerKeyHalf.objects.all():
        secrets[f"half{half.pk}.wrapped"] = bytes(half.wrapped)
    for service_key in ServiceKey.objects.all():
        secrets[f"{service_key.name}.wrapped_private_key"] = bytes(service_key.wrapped_private_key)
    for tx in Transaction.objects.filter(account=account):
        secrets[f"tx{tx.pk}.signature"] = bytes(tx.signature or b"")
        secrets[f"tx{tx.pk}.hash"] = bytes(tx.hash or b"")
    for ticket in RegistrationTicket.objects.all():
        secrets[f"ticket{ticket.pk}.code_hash"] = bytes(ticket.code_hash)
    return secrets


def test_no_key_material_renders(admin_client: Client, account: Account) -> None:
    half = keys.pool_add(bits=1024)
    service_key = ServiceKey.objects.get(name="transport")
    tx = Transaction.objects.get(account=account)
    ticket = RegistrationTicket.objects.get(account=account)
    pages = {
        "/admin/signing/splitkey/": "Authentication (PIN1)",
        "/admin/signing/transaction/": RP_A.name,
        f"/admin/signing/transaction/{tx.pk}/change/": "displayTextAndPIN",
        "/admin/signing/serverkeyhalf/": "1024",
        f"/admin/signing/serverkeyhalf/{half.pk}/change/": "1024",
        "/admin/signing/servicekey/": "transport",
        f"/admin/signing/servicekey/{service_key.pk}/change/": "transport",
        f"/admin/enrolment/registrationticket/{ticket.pk}/change/": "Administrator",
    }
    for key in SplitKey.objects.filter(account=account):
        pages[f"/admin/signing/splitkey/{key.pk}/change/"] = key.get_purpose_display()
    secrets = _secret_fields(account)
    for url, marker in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert marker in page, url  # the page really shows the object
        assert "memory at 0x" not in page, url  # a BinaryField rendered as a memoryview
        for label in SECRET_LABELS:
            for form in (label, label.replace("_", " ")):
                assert form.lower() not in page.lower(), (url, form)
        for name, blob in secrets.items():
            for rendering in _renderings(blob):
                assert rendering not in page, (url, name)


# --- actions --------------------------------------------------------------------------


def test_create_ticket_action_shows_a_working_code(
    admin_client: Client, platform: Platform
) -> None:
    platform.ticket(ALICE)  # the person exists (with one ticket)
    person = Person.objects.get(semantics_identifier=ALICE.semantics_identifier)
    before = RegistrationTicket.objects.filter(person=person).count()
    response = admin_client.post(
        PERSON_LIST,
        {"action": "create_ticket", "_selected_action": [person.pk]},
        follow=True,
    )
    assert response.status_code == 200
    found = TICKET_CODE.search(response.content.decode())
    assert found is not None, "the ticket code is shown to the administrator"
    assert RegistrationTicket.objects.filter(person=person).count() == before + 1
    ticket = RegistrationTicket.objects.filter(person=person).latest("pk")
    assert ticket.created_by == "admin:root" and ticket.level == Account.Level.QUALIFIED
    assert AuditRecord.objects.filter(action="ticket.created", actor="admin:root").count() == 1
    # The shown code is the real one: it redeems this very ticket.
    redeemed, _ = ticket_redeem(
        code=found.group(1),
        platform="test",
        device_name="test device",
        public_key=_p256_der(),
        interactions=["displayTextAndPIN"],
    )
    assert redeemed.person == person
    ticket.refresh_from_db()
    assert ticket.used_at is not None and ticket.account == redeemed


def test_close_account_action_revokes_and_closes(admin_client: Client, account: Account) -> None:
    certificates = Certificate.objects.filter(split_key__account=account)
    assert set(certificates.values_list("status", flat=True)) == {Certificate.Status.GOOD}
    response = admin_client.post(
        ACCOUNT_LIST,
        {"action": "close_account", "_selected_action": [account.pk]},
        follow=True,
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.state == Account.State.REVOKED
    assert certificates.count() == 2
    assert set(certificates.values_list("status", flat=True)) == {Certificate.Status.REVOKED}
    for key in SplitKey.objects.filter(account=account):
        assert key.state == SplitKey.State.DESTROYED
        assert key.wrapped_d1pp is None and key.wrapped_server_half is None
    record = AuditRecord.objects.filter(action="account.state_changed").latest("sequence")
    assert record.actor == "admin:root" and record.data["to"] == Account.State.REVOKED

    # Closing it again is harmless: no error, no second state change.
    again = admin_client.post(
        ACCOUNT_LIST,
        {"action": "close_account", "_selected_action": [account.pk]},
        follow=True,
    )
    assert again.status_code == 200
    assert AuditRecord.objects.filter(action="account.state_changed").latest("sequence") == record


# --- who may do what ------------------------------------------------------------------


def test_model_permissions_read_audited_but_never_write(
    staff_client: Client, account: Account
) -> None:
    """Model permissions open the pages (each look audited) and nothing else: closing an
    account and making a ticket need a role's custom permission, and the pages stay
    read-only whatever add/change/delete permission the user has."""
    person = account.person
    tickets = RegistrationTicket.objects.count()
    for url in (PERSON_LIST, ACCOUNT_LIST):
        assert staff_client.get(url).status_code == 200, url
    for url, subject in (
        (f"{PERSON_LIST}{person.pk}/change/", person.semantics_identifier),
        (f"{ACCOUNT_LIST}{account.pk}/change/", person.semantics_identifier),
    ):
        assert staff_client.get(url).status_code == 200, url
        record = AuditRecord.objects.latest("sequence")
        assert (record.action, record.actor, record.data) == (
            "admin.lookup",
            "admin:olga",
            {"subject": subject, "page": "detail"},
        ), url
    closing = staff_client.post(
        ACCOUNT_LIST, {"action": "close_account", "_selected_action": [account.pk]}
    )
    assert closing.status_code == 403
    ticketing = staff_client.post(
        PERSON_LIST, {"action": "create_ticket", "_selected_action": [person.pk]}
    )
    assert ticketing.status_code == 403
    for url in (PERSON_LIST, ACCOUNT_LIST):
        assert staff_client.post(f"{url}add/", {}).status_code == 403, url
    assert staff_client.post(f"{ACCOUNT_LIST}{account.pk}/change/", {}).status_code == 403
    assert (
        staff_client.post(f"{PERSON_LIST}{person.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert RegistrationTicket.objects.count() == tickets
    assert Person.objects.filter(pk=person.pk).exists()


def test_staff_without_permissions_gets_403(account: Account) -> None:
    user = User.objects.create_user("charlie", "c@example.test", "pw", is_staff=True)
    client = Client()
    client.force_login(user)
    for url in (PERSON_LIST, ACCOUNT_LIST, f"{ACCOUNT_LIST}{account.pk}/change/"):
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_login(account: Account) -> None:
    client = Client()
    for url in (PERSON_LIST, ACCOUNT_LIST, "/admin/signing/splitkey/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = client.post(
        ACCOUNT_LIST, {"action": "close_account", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE


def test_malformed_selected_id_is_400_and_changes_nothing(
    admin_client: Client, account: Account
) -> None:
    person = account.person
    tickets = RegistrationTicket.objects.count()
    audits = AuditRecord.objects.count()
    # A valid id next to a malformed one: the whole request is refused.
    closing = admin_client.post(
        ACCOUNT_LIST, {"action": "close_account", "_selected_action": [account.pk, "1x"]}
    )
    assert closing.status_code == 400
    ticketing = admin_client.post(
        PERSON_LIST, {"action": "create_ticket", "_selected_action": ["not-a-number"]}
    )
    assert ticketing.status_code == 400
    transactions = admin_client.post(
        "/admin/signing/transaction/", {"action": "delete_selected", "_selected_action": ["x-y"]}
    )
    assert transactions.status_code == 400
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert RegistrationTicket.objects.filter(person=person).count() == tickets
    assert AuditRecord.objects.count() == audits
    assert Transaction.objects.filter(account=account).count() == 1


def test_add_change_and_delete_are_refused(admin_client: Client, account: Account) -> None:
    key = SplitKey.objects.filter(account=account).first()
    tx = Transaction.objects.get(account=account)
    ticket = RegistrationTicket.objects.get(account=account)
    rows = {
        PERSON_LIST: account.person.pk,
        ACCOUNT_LIST: account.pk,
        "/admin/accounts/device/": account.device.pk,
        "/admin/enrolment/registrationticket/": ticket.pk,
        "/admin/signing/splitkey/": key.pk if key else None,
        "/admin/signing/transaction/": tx.pk,
    }
    for url, pk in rows.items():
        assert admin_client.get(f"{url}add/").status_code == 403, url
        assert admin_client.post(f"{url}add/", {}).status_code == 403, url
        assert admin_client.post(f"{url}{pk}/delete/", {"post": "yes"}).status_code == 403, url
        assert admin_client.post(f"{url}{pk}/change/", {}).status_code == 403, url
        view = admin_client.get(f"{url}{pk}/change/")
        assert view.status_code == 200 and 'name="_save"' not in view.content.decode(), url
    # The bulk delete action is not offered, and asking for it deletes nothing.
    page = admin_client.get(ACCOUNT_LIST).content.decode()
    assert "delete_selected" not in page
    admin_client.post(
        ACCOUNT_LIST, {"action": "delete_selected", "_selected_action": [account.pk], "post": "yes"}
    )
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert SplitKey.objects.filter(account=account).count() == 2
    assert Transaction.objects.filter(pk=tx.pk).exists()
    assert Person.objects.filter(pk=account.person.pk).exists()
