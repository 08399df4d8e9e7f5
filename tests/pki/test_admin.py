"""Django admin of the CA: read-only, and status changes go through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import AuditRecord
from pki import services, tasks
from pki.models import Certificate, CertificateAuthority, RevocationList
from tests.pki import factories as f


@pytest.fixture
def certificate(ca_hierarchy: list[CertificateAuthority]) -> Certificate:
    return services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="AUTH",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
    )


@pytest.fixture
def admin_client(db: None) -> Client:
    user = User.objects.create_superuser("root", "root@example.test", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(db: None) -> Client:
    user = User.objects.create_user("olga", "olga@example.test", "pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def _confirm(client: Client, action: str, certificate: Certificate, **form: str) -> Any:
    """The second step of a reasoned action: the form filled in and confirmed."""
    return client.post(
        "/admin/pki/certificate/",
        {"action": action, "_selected_action": [certificate.pk], "confirm": "yes", **form},
        follow=True,
    )


def test_revoke_action_asks_for_a_reason_then_goes_through_the_service(
    admin_client: Client, certificate: Certificate, django_capture_on_commit_callbacks: Any
) -> None:
    audits = AuditRecord.objects.count()
    asked = admin_client.post(
        "/admin/pki/certificate/", {"action": "revoke", "_selected_action": [certificate.pk]}
    )
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Revoke certificates" in page and str(certificate) in page
    assert 'name="reason"' in page and 'name="note"' in page
    certificate.refresh_from_db()
    assert certificate.status == "GOOD" and AuditRecord.objects.count() == audits

    with django_capture_on_commit_callbacks(execute=True):  # eager: the task runs here
        response = _confirm(
            admin_client,
            "revoke",
            certificate,
            reason="key_compromise",
            note="phone reported stolen",
        )
    assert response.status_code == 200
    certificate.refresh_from_db()
    assert certificate.status == "REVOKED"
    assert certificate.revocation_reason == "key_compromise"
    record = AuditRecord.objects.get(action="certificate.revoked")
    assert record.actor == "admin:root"
    assert record.data["note"] == "phone reported stolen"
    assert record.data["reason"] == "key_compromise"


def test_the_revoke_action_sends_the_revocation_to_the_task_which_runs_once(
    admin_client: Client,
    certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """With a broker the action only enqueues ``revoke_certificate``; a worker revokes, and
    a second delivery of the message is a no-op."""
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.revoke_certificate, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _confirm(
            admin_client,
            "revoke",
            certificate,
            reason="key_compromise",
            note="phone reported stolen",
        )
    assert sent == []  # nothing is sent before the request commits
    for callback in callbacks:
        callback()
    assert "1 certificate(s) sent for revocation" in response.content.decode()
    assert sent == [(certificate.pk, "key_compromise", "admin:root", "phone reported stolen")]
    certificate.refresh_from_db()
    assert certificate.status == "GOOD"  # until the worker runs
    for _ in range(2):  # the worker's run, then a redelivery
        result = tasks.revoke_certificate.apply(args=sent[0])
        assert result.successful() and result.result == "REVOKED"
    certificate.refresh_from_db()
    assert certificate.status == "REVOKED" and certificate.revocation_reason == "key_compromise"
    (record,) = AuditRecord.objects.filter(action="certificate.revoked")
    assert record.actor == "admin:root" and record.data["note"] == "phone reported stolen"
    # Asked again, the action refuses a revoked certificate and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = _confirm(admin_client, "revoke", certificate, reason="superseded", note="once more")
    assert "Revoked already." in again.content.decode()
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"reason": "key_compromise", "note": ""}, "This field is required."),
        ({"reason": "key_compromise", "note": "abc"}, "at least 5 characters"),
        ({"reason": "certificate_hold", "note": "a good reason"}, "Select a valid choice."),
        ({"reason": "key_compromise", "note": "x" * 201}, "at most 200 characters"),
    ],
)
def test_a_bad_reason_is_a_form_error_and_changes_nothing(
    admin_client: Client, certificate: Certificate, form: dict[str, str], error: str
) -> None:
    audits = AuditRecord.objects.count()
    response = admin_client.post(
        "/admin/pki/certificate/",
        {"action": "revoke", "_selected_action": [certificate.pk], "confirm": "yes", **form},
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    certificate.refresh_from_db()
    assert certificate.status == "GOOD"
    assert AuditRecord.objects.count() == audits


def test_hold_and_release_actions(admin_client: Client, certificate: Certificate) -> None:
    _confirm(admin_client, "hold", certificate, note="owner called: lost phone")
    certificate.refresh_from_db()
    assert certificate.status == "ON_HOLD"
    held = AuditRecord.objects.get(action="certificate.held")
    assert held.data["note"] == "owner called: lost phone"
    _confirm(admin_client, "release", certificate, note="owner found the phone")
    certificate.refresh_from_db()
    assert certificate.status == "GOOD"
    released = AuditRecord.objects.get(action="certificate.released")
    assert released.data["note"] == "owner found the phone"


def test_invalid_transition_is_a_message_not_an_error(
    admin_client: Client, certificate: Certificate
) -> None:
    response = _confirm(admin_client, "release", certificate, note="release it please")
    assert response.status_code == 200
    assert "Only a certificate on hold can be released" in response.content.decode()


def test_publish_crl_action_asks_for_a_reason(
    admin_client: Client, certificate: Certificate
) -> None:
    ca = certificate.issuer
    before = RevocationList.objects.filter(issuer=ca).count()
    asked = admin_client.post(
        "/admin/pki/certificateauthority/", {"action": "publish_crl", "_selected_action": [ca.pk]}
    )
    assert asked.status_code == 200 and "Publish CRLs" in asked.content.decode()
    assert RevocationList.objects.filter(issuer=ca).count() == before
    response = admin_client.post(
        "/admin/pki/certificateauthority/",
        {
            "action": "publish_crl",
            "_selected_action": [ca.pk],
            "confirm": "yes",
            "note": "relying party asked for a fresh CRL",
        },
        follow=True,
    )
    assert response.status_code == 200
    latest = RevocationList.objects.filter(issuer=ca).order_by("-number").first()
    assert latest is not None and RevocationList.objects.filter(issuer=ca).count() == before + 1
    assert f"CRL number {latest.number} published" in response.content.decode()
    record = AuditRecord.objects.filter(action="crl.published").latest("sequence")
    assert record.actor == "admin:root"
    assert record.data["note"] == "relying party asked for a fresh CRL"


def test_nothing_can_be_edited_or_added(admin_client: Client, certificate: Certificate) -> None:
    assert admin_client.get("/admin/pki/certificate/add/").status_code == 403
    detail = admin_client.get(f"/admin/pki/certificate/{certificate.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert (
        admin_client.post(
            f"/admin/pki/certificate/{certificate.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert Certificate.objects.filter(pk=certificate.pk).exists()
    ca = CertificateAuthority.objects.first()
    assert ca is not None
    assert (
        admin_client.post(
            f"/admin/pki/certificateauthority/{ca.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )


def test_plain_staff_cannot_see_or_revoke(staff_client: Client, certificate: Certificate) -> None:
    assert staff_client.get("/admin/pki/certificate/").status_code == 403
    response = staff_client.post(
        "/admin/pki/certificate/", {"action": "revoke", "_selected_action": [certificate.pk]}
    )
    assert response.status_code == 403
    certificate.refresh_from_db()
    assert certificate.status == "GOOD"


def test_anonymous_is_sent_to_login(certificate: Certificate) -> None:
    response = Client().get("/admin/pki/certificate/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_malformed_action_ids_change_nothing(
    admin_client: Client, certificate: Certificate
) -> None:
    """A malformed id is a 400 (core.admin.ReadOnlyAdmin), even next to a valid one: the
    valid certificate is not revoked either, and nothing is audited."""
    audits = AuditRecord.objects.count()
    for selected in (["not-a-number"], [str(certificate.pk), "1x"]):
        response = admin_client.post(
            "/admin/pki/certificate/", {"action": "revoke", "_selected_action": selected}
        )
        assert response.status_code == 400, selected
    certificate.refresh_from_db()
    assert certificate.status == "GOOD"
    assert AuditRecord.objects.count() == audits
