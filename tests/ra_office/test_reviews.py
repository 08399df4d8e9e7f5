"""The manual review queue of remote onboarding (issue 8) in the RA office."""

from __future__ import annotations

import base64
import io

import pytest
from django.test import Client

from audit.models import AuditRecord
from enrolment.models import OnboardingApplication, OnboardingEvidence
from signing.engine import public_key_der
from tests.factories import Office
from tests.helpers.images import alice_photo
from tests.helpers.ra_office import login
from tests.personas import ALICE

State = OnboardingApplication.State


def _selfie_jpeg() -> bytes:
    out = io.BytesIO()
    alice_photo().save(out, format="JPEG")
    return out.getvalue()


def _under_review(source: str = "MOBILE_ID") -> OnboardingApplication:
    from cryptography.hazmat.primitives.asymmetric import ec

    app_key = public_key_der(ec.generate_private_key(ec.SECP256R1()).public_key())
    application = OnboardingApplication.objects.create(
        token_hash=b"\0" * 32,
        source=source,
        level="QUALIFIED",
        state=State.REVIEW,
        identity={
            "app_key": base64.b64encode(app_key).decode(),
            "semantics_identifier": ALICE.semantics_identifier,
            "given_name": ALICE.given_name,
            "surname": ALICE.surname,
            "date_of_birth": "1990-02-12",
        },
        checks={"decision": {"ok": True, "outcome": "review", "reasons": ["registry warnings"]}},
    )
    OnboardingEvidence.objects.create(
        application=application, kind=OnboardingEvidence.Kind.FRAME, number=0, data=_selfie_jpeg()
    )
    return application


@pytest.fixture
def supervisor(office: Office) -> Client:
    client = Client()
    login(client, office.sven)
    return client


def test_supervisor_sees_the_queue_and_the_photos(supervisor: Client) -> None:
    application = _under_review()
    queue = supervisor.get("/ra/reviews/").content.decode()
    assert ALICE.semantics_identifier in queue and "registry warnings" in queue
    page = supervisor.get(f"/ra/reviews/{application.pk}/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"].replace(" ", "").split(",")
    assert b'src="data:image/jpeg;base64,' in page.content


def test_approval_issues_the_ticket_and_is_audited(supervisor: Client, office: Office) -> None:
    application = _under_review()
    response = supervisor.post(
        f"/ra/reviews/{application.pk}/decide/",
        {"decision": "approve", "note": "registry warning resolved by phone"},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == State.APPROVED and application.ticket is not None
    assert application.reviewed_by == "officer:sven"
    record = AuditRecord.objects.get(action="onboarding.reviewed")
    assert record.actor == "officer:sven" and record.data["approve"] is True
    # Decided: no longer in the queue, its page is gone.
    assert supervisor.get(f"/ra/reviews/{application.pk}/").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"decision": "approve"},
        {"decision": "maybe", "note": "x"},
        {"decision": "reject", "note": "x" * 501},
    ],
)
def test_a_bad_decision_is_a_form_error_and_changes_nothing(
    supervisor: Client, body: dict[str, str]
) -> None:
    application = _under_review()
    response = supervisor.post(f"/ra/reviews/{application.pk}/decide/", body)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    application.refresh_from_db()
    assert application.state == State.REVIEW
    assert not AuditRecord.objects.filter(action="onboarding.reviewed").exists()


def test_unknown_and_malformed_ids_are_404(supervisor: Client) -> None:
    assert supervisor.get("/ra/reviews/0b0e2f3c-0000-4000-8000-000000000000/").status_code == 404
    assert supervisor.get("/ra/reviews/not-a-uuid/").status_code == 404
