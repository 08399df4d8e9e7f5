"""The support desk in the admin: audited lookups, no secrets on any page, the guided
suspension; and the auditor's chain verification."""

from __future__ import annotations

import base64
import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from audit.models import AuditRecord
from pki.models import Certificate
from tests.factories import Office
from tests.helpers.admin_world import RESTRICTED_MARKS, SECRET, World, admin_world
from tests.personas import ALICE

#: Pages about a person that the support desk reads.
SUPPORT_PAGES = (
    "accounts_person",
    "accounts_account",
    "accounts_device",
    "signing_transaction",
    "pki_certificate",
    "enrolment_registrationticket",
    "enrolment_application",
    "enrolment_onboardingapplication",
)
#: Labels of secret columns: not one may appear on a page, even as a field name.
SECRET_LABELS = (
    "wrapped",
    "token_hash",
    "code_hash",
    "ticket_code",
    "signed_scan",
    "aa_challenge",
    "session_secret",
    "public_key",
    "face_distance",
    "liveness",
    "key_label",
)


@pytest.fixture
def world(office: Office) -> World:
    return admin_world(office)


def _client(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


def _renderings(blob: bytes) -> list[str]:
    head = blob[:12]
    return [head.hex(), head.hex().upper(), base64.b64encode(head).decode()[:16], repr(head)[2:-1]]


def _page(client: Client, prefix: str, world: World) -> str:
    url = reverse(f"admin:{prefix}_change", args=[world.objects[prefix].pk])
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def test_support_pages_show_the_person_and_no_secret(world: World) -> None:
    client = _client(world, "support")
    for prefix in SUPPORT_PAGES:
        page = _page(client, prefix, world)
        assert ALICE.semantics_identifier in page or ALICE.surname in page, prefix
        assert "memory at 0x" not in page, prefix
        for label in SECRET_LABELS:
            for form in (label, label.replace("_", " ")):
                # (the scan's harmless media type may show: "signed_scan_type")
                pattern = re.escape(form) + r"(?![_ ]type)"
                assert not re.search(pattern, page, re.IGNORECASE), (prefix, form)
        for rendering in _renderings(SECRET):
            assert rendering not in page, prefix
        for mark in RESTRICTED_MARKS:
            assert mark not in page, (prefix, mark)


def test_restricted_fields_show_only_to_their_permission(world: World) -> None:
    """The gate is a permission, not a blanket removal: the superuser (who holds them
    all) sees the liveness and face-comparison data and the CA's key label."""
    client = _client(world, "super")
    onboarding = _page(client, "enrolment_onboardingapplication", world)
    assert "turn-left-matrix" in onboarding and "0.4242" in onboarding
    assert "ca-key-label-matrix" in _page(client, "pki_certificateauthority", world)
    for rendering in _renderings(SECRET):
        assert rendering not in onboarding
    operator = _page(_client(world, "ca"), "pki_certificateauthority", world)
    assert "Matrix Q" in operator and "ca-key-label-matrix" not in operator


def test_every_lookup_is_audited_with_whom(world: World) -> None:
    client = _client(world, "support")
    for prefix in SUPPORT_PAGES:
        before = AuditRecord.objects.count()
        _page(client, prefix, world)
        _page(client, prefix, world)  # every view, not the first one only
        records = list(AuditRecord.objects.order_by("-sequence")[:2])
        assert AuditRecord.objects.count() == before + 2, prefix
        obj = world.objects[prefix]
        for record in records:
            assert record.action == "admin.lookup"
            assert record.actor == "admin:sam"
            assert record.object_type == obj._meta.label
            assert record.object_id == str(obj.pk)
            assert record.source_ip == "127.0.0.1"
            subject = record.data["subject"]
            assert subject.startswith(ALICE.semantics_identifier), (prefix, subject)


def test_a_search_is_audited_and_exact(world: World) -> None:
    client = _client(world, "support")
    account = world.row("accounts_account", Account)
    for term, found in (
        (ALICE.semantics_identifier, True),
        (account.document_number, True),
        (f"  {account.document_number} ", True),
        (ALICE.semantics_identifier[:-1], False),  # exact: no partial matches
        ("' OR 1=1 --", False),
    ):
        response = client.get(reverse("admin:accounts_account_changelist"), {"q": term})
        assert response.status_code == 200
        assert (account.document_number in response.content.decode()) is found, term
        record = AuditRecord.objects.latest("sequence")
        assert (record.action, record.actor) == ("admin.search", "admin:sam")
        assert record.data == {"term": term.strip()}
    # A value of the wrong type for a field (a name for a UUID) finds nothing, no error.
    rp = _client(world, "rp")
    sessions = rp.get(reverse("admin:rp_rpsession_changelist"), {"q": "not-a-uuid"})
    assert sessions.status_code == 200
    assert "0 rp sessions" in sessions.content.decode().lower()


def test_person_page_links_to_the_persons_rows(world: World) -> None:
    page = _page(_client(world, "support"), "accounts_person", world)
    for name in ("account", "device", "registrationticket", "application"):
        assert f"/{name}/?q={ALICE.semantics_identifier}" in page, name


# --- the guided suspension ----------------------------------------------------------


def _suspend_url(world: World) -> str:
    return reverse("admin:accounts_account_suspend", args=[world.objects["accounts_account"].pk])


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"reason": "", "confirm": "on"}, "This field is required."),
        ({"reason": "lost"}, "This field is required."),  # identity not confirmed
        ({"reason": "ok", "confirm": "on"}, "at least 5 characters"),
        ({"reason": "x" * 201, "confirm": "on"}, "at most 200 characters"),
    ],
)
def test_suspension_needs_a_reason_and_a_verified_caller(
    world: World, form: dict[str, str], error: str
) -> None:
    client = _client(world, "support")
    audits = AuditRecord.objects.count()
    response = client.post(_suspend_url(world), form)
    assert response.status_code == 400
    assert error in html.unescape(response.content.decode())
    assert world.row("accounts_account", Account).state == Account.State.ACTIVE
    assert AuditRecord.objects.count() == audits


def test_support_suspends_with_a_reason(world: World) -> None:
    client = _client(world, "support")
    account = world.objects["accounts_account"]
    shown = client.get(_suspend_url(world))
    assert shown.status_code == 200
    assert "certificateHold" in shown.content.decode()
    response = client.post(
        _suspend_url(world), {"reason": "phone stolen, owner called", "confirm": "on"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_account_change", args=[account.pk])
    assert world.row("accounts_account", Account).state == Account.State.SUSPENDED
    assert world.row("pki_certificate", Certificate).status == Certificate.Status.ON_HOLD
    record = AuditRecord.objects.filter(action="account.state_changed").latest("sequence")
    assert record.actor == "admin:sam"
    assert record.data == {
        "from": "ACTIVE",
        "to": "SUSPENDED",
        "reason": "support desk: phone stolen, owner called",
    }
    # Again: the account is no longer active; a form error, nothing changes.
    audits = AuditRecord.objects.count()
    again = client.post(_suspend_url(world), {"reason": "called again", "confirm": "on"})
    assert again.status_code == 400
    assert "cannot go from SUSPENDED" in again.content.decode()
    assert AuditRecord.objects.count() == audits


def test_suspension_of_an_unknown_account_is_404(world: World) -> None:
    client = _client(world, "support")
    for object_id in ("999999", "not-a-number"):
        url = reverse("admin:accounts_account_suspend", args=[object_id])
        assert client.post(url, {"reason": "phone stolen", "confirm": "on"}).status_code == 404


# --- the auditor ----------------------------------------------------------------------


def test_auditor_verifies_the_chain_and_sees_a_break(world: World) -> None:
    client = _client(world, "auditor")
    url = reverse("admin:audit_auditrecord_verify")
    listing = client.get(reverse("admin:audit_auditrecord_changelist")).content.decode()
    assert url in listing  # the list links to the verification
    intact = client.post(url)
    assert intact.status_code == 200
    count = AuditRecord.objects.count()
    assert f"Audit chain intact: {count - 1} records." in intact.content.decode()
    record = AuditRecord.objects.latest("sequence")
    assert (record.action, record.actor) == ("audit.chain_verified", "admin:aude")
    assert record.data == {"intact": True, "records": count - 1}

    AuditRecord.objects.filter(sequence=3).update(actor="someone else")
    broken = client.post(url)
    assert broken.status_code == 200
    assert "Audit chain broken at sequence 3" in broken.content.decode()
    assert AuditRecord.objects.latest("sequence").data["intact"] is False
