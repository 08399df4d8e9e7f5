"""Bad input through the pages: each a form error, 403 or 404, never a 500, nothing saved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditRecord
from enrolment import applications as svc
from enrolment.models import Application
from tests.factories import Office, application_form, application_input
from tests.helpers.ra_office import login


@pytest.fixture
def olga(office: Office) -> Client:
    client = Client(raise_request_exception=True)
    login(client, office.olga)
    return client


def test_an_application_is_created_from_the_form(olga: Client) -> None:
    response = olga.post("/ra/applications/new/", application_form())
    application = Application.objects.get()
    assert response["Location"] == f"/ra/applications/{application.pk}/"
    assert application.surname == "Tamm" and application.phone == "+37255551234"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "<script>alert(1)</script>"),
        ("surname", '"><img src=x onerror=alert(1)>'),
        ("semantics_identifier", "PNOEE-49002124278"),  # check digit
        ("semantics_identifier", "x" * 61),
        ("date_of_birth", "1980-02-30"),
        ("date_of_birth", "08.01.1980"),
        ("document_expiry", "2020-01-01"),
        ("document_number", "<b>AB12345</b>"),
        ("document_country", "<>"),
        ("email", "<script>@x"),
        ("phone", "<script>"),
        ("level", "GOD"),
        ("document_checked", ""),
    ],
)
def test_bad_form_input_is_a_form_error(olga: Client, field: str, value: str) -> None:
    before = AuditRecord.objects.count()
    data = application_form()
    if value:
        data[field] = value
    else:
        data.pop(field)
    response = olga.post("/ra/applications/new/", data)
    assert response.status_code == 400
    assert f'id="id_{field}_error"'.encode() in response.content
    assert b"<script>alert" not in response.content  # escaped when shown back
    assert Application.objects.count() == 0 and AuditRecord.objects.count() == before


def test_missing_csrf_token_is_refused(office: Office) -> None:
    client = Client(enforce_csrf_checks=True)
    login_client = Client()
    login(login_client, office.olga)
    client.cookies = login_client.cookies  # a logged-in session, but no CSRF token
    response = client.post("/ra/applications/new/", application_form())
    assert response.status_code == 403 and Application.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/ra/applications/999999/",
        "/ra/applications/99999999999999999999999/",
        "/ra/applications/-1/",
        "/ra/applications/abc/",
        "/ra/applications/0/ticket/",
    ],
)
def test_tampered_ids_are_404(olga: Client, path: str) -> None:
    assert olga.get(path).status_code == 404


def test_another_branch_sees_nothing(office: Office) -> None:
    application = svc.application_create(
        officer=office.olga, data=application_input(), source_ip=None
    )
    bob = Client()
    login(bob, office.bob)
    assert application.number.encode() not in bob.get("/ra/").content
    assert bob.get(f"/ra/?q={application.number}").status_code == 200
    assert b"No applications found" in bob.get(f"/ra/?q={application.number}").content
    response = bob.post(f"/ra/applications/{application.pk}/cancel/", {"reason": "mine"})
    assert response.status_code == 404
    assert Application.objects.get(pk=application.pk).state == Application.State.DRAFT


def test_search_finds_by_name_and_number(olga: Client, office: Office) -> None:
    # A surname with a letter beyond ASCII: the search folds its case too.
    application = svc.application_create(
        officer=office.olga, data=application_input(surname="Männik"), source_ip=None
    )
    assert application.number.encode() in olga.get("/ra/?q=männik").content
    assert b"No applications found" in olga.get("/ra/?q=nobody").content
    assert olga.get("/ra/?state=NONSENSE").status_code == 200


def _printed(office: Office) -> Application:
    application = svc.application_registry_check(
        application=svc.application_create(
            officer=office.olga, data=application_input(), source_ip=None
        ),
        officer=office.olga,
        source_ip=None,
    )
    return svc.application_print(application=application, officer=office.olga, source_ip=None)[0]


def test_oversized_and_wrong_uploads(olga: Client, office: Office, settings: Any) -> None:
    settings.RA_MAX_SCAN_BYTES = 2048
    application = _printed(office)
    url = f"/ra/applications/{application.pk}/confirm-signature/"
    big = SimpleUploadedFile("scan.pdf", b"%PDF-" + b"x" * 200_000, "application/pdf")
    response = olga.post(url, {"received": "on", "scan": big})
    assert response.status_code == 413 and b'id="id_scan_error"' in response.content
    html = SimpleUploadedFile("scan.pdf", b"<html><script>", "application/pdf")
    response = olga.post(url, {"received": "on", "scan": html})
    assert response.status_code == 400 and b"PDF, PNG or JPEG" in response.content
    response = olga.post(url, {"scan": SimpleUploadedFile("s.png", b"\x89PNG\r\n\x1a\n")})
    assert response.status_code == 400 and b'id="id_received_error"' in response.content
    assert Application.objects.get(pk=application.pk).state == Application.State.PAPER_PRINTED


def test_cancel_reason_is_checked(olga: Client, office: Office) -> None:
    application = _printed(office)
    url = f"/ra/applications/{application.pk}/cancel/"
    response = olga.post(url, {"reason": "<script>alert(1)</script>"})
    assert response.status_code == 400 and b'id="id_reason_error"' in response.content
    assert olga.post(url, {"reason": ""}).status_code == 400
    assert olga.post(url, {"reason": "Customer left"}).status_code == 302
    detail = olga.get(f"/ra/applications/{application.pk}/").content.decode()
    assert "Customer left" in detail and "application.cancelled" in detail


def test_the_pages_speak_estonian(olga: Client, office: Office) -> None:
    olga.cookies["django_language"] = "et"
    page = olga.get("/ra/applications/new/").content.decode()
    assert "Uus taotlus" in page and "Isikukood" in page
    response = olga.post(
        "/ra/applications/new/", application_form(semantics_identifier="PNOEE-49002124278")
    )
    assert "Isikukood ei ole korrektne." in response.content.decode()


def test_flagged_application_shows_its_reasons(olga: Client, office: Office) -> None:
    application = svc.application_registry_check(
        application=svc.application_create(
            officer=office.olga,
            data=application_input(document_expiry=timezone.localdate() + timedelta(days=3)),
            source_ip=None,
        ),
        officer=office.olga,
        source_ip=None,
    )
    page = olga.get(f"/ra/applications/{application.pk}/").content.decode()
    assert "The document expires within 30 days" in page and 'id="approve"' not in page
    response = olga.post(f"/ra/applications/{application.pk}/approve/")
    assert response.status_code == 403


def test_every_showing_of_a_ticket_code_is_audited(olga: Client, office: Office) -> None:
    application = svc.application_registry_check(
        application=svc.application_create(
            officer=office.olga, data=application_input(), source_ip=None
        ),
        officer=office.olga,
        source_ip=None,
    )
    application, _ = svc.application_print(
        application=application, officer=office.olga, source_ip=None
    )
    response = olga.get(f"/ra/applications/{application.pk}/application.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    shown = AuditRecord.objects.get(action="application.ticket_code_shown")
    assert shown.actor == "officer:olga" and shown.data == {"shown_on": "pdf"}
    assert shown.source_ip == "127.0.0.1"
