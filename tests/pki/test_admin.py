"""Django admin of the CA: read-only, and status changes go through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import AuditRecord
from pki import services
from pki.models import Certificate, CertificateAuthority
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


def test_revoke_action_goes_through_the_service(
    admin_client: Client, certificate: Certificate
) -> None:
    response = admin_client.post(
        "/admin/pki/certificate/",
        {"action": "revoke_compromised", "_selected_action": [certificate.pk]},
        follow=True,
    )
    assert response.status_code == 200
    certificate.refresh_from_db()
    assert certificate.status == "REVOKED"
    assert certificate.revocation_reason == "key_compromise"
    record = AuditRecord.objects.get(action="certificate.revoked")
    assert record.actor == "admin:root"


def test_hold_and_release_actions(admin_client: Client, certificate: Certificate) -> None:
    admin_client.post(
        "/admin/pki/certificate/", {"action": "hold", "_selected_action": [certificate.pk]}
    )
    certificate.refresh_from_db()
    assert certificate.status == "ON_HOLD"
    admin_client.post(
        "/admin/pki/certificate/", {"action": "release", "_selected_action": [certificate.pk]}
    )
    certificate.refresh_from_db()
    assert certificate.status == "GOOD"


def test_invalid_transition_is_a_message_not_an_error(
    admin_client: Client, certificate: Certificate
) -> None:
    response = admin_client.post(
        "/admin/pki/certificate/",
        {"action": "release", "_selected_action": [certificate.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Only a certificate on hold can be released" in response.content.decode()


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
