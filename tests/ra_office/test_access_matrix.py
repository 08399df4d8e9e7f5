"""Role × URL matrix: every URL of the RA office, every persona, one fixed expectation.

Expectations: an HTTP status, or where a redirect goes ("login", "detail", "ticket").
An application of branch A is "not found" (404) for branch B's officer; an administrator
without an officer profile is refused (403) everywhere behind the login. Every page that
answers 200 says ``Cache-Control: no-store``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone

from enrolment import applications as svc
from enrolment.models import Application, OnboardingApplication
from ra_office import urls as ra_urls
from tests.factories import Office, application_input
from tests.helpers.ra_office import login

PERSONAS = ("anonymous", "officer_a", "officer_b", "supervisor_a", "admin")

# url name: (method, application fixture, POST data, expectations in PERSONAS order)
TABLE: dict[str, tuple[str, str | None, dict[str, str], tuple[Any, ...]]] = {
    "home": ("GET", None, {}, ("login", 200, 200, 200, 403)),
    "login": ("GET", None, {}, (200, 200, 200, 200, 200)),
    "login_totp": ("GET", None, {}, ("login", "login", "login", "login", "login")),
    "logout": ("POST", None, {}, ("login", "login", "login", "login", "login")),
    "approvals": ("GET", None, {}, ("login", 403, 403, 200, 403)),
    "application_new": ("GET", None, {}, ("login", 200, 200, 200, 403)),
    "application_detail": ("GET", "draft", {}, ("login", 200, 404, 200, 403)),
    "application_registry_check": ("POST", "draft", {}, ("login", "detail", 404, "detail", 403)),
    "application_approve": ("POST", "flagged", {}, ("login", 403, 404, "detail", 403)),
    "application_print": ("POST", "checked", {}, ("login", "detail", 404, "detail", 403)),
    "application_pdf": ("GET", "printed", {}, ("login", 200, 404, 200, 403)),
    "application_confirm_signature": (
        "POST",
        "printed",
        {"received": "on"},
        ("login", "detail", 404, "detail", 403),
    ),
    "application_release": ("POST", "signed", {}, ("login", "ticket", 404, "ticket", 403)),
    "application_ticket": ("GET", "released", {}, ("login", 200, 404, 200, 403)),
    "application_cancel": (
        "POST",
        "draft",
        {"reason": "Customer left"},
        ("login", "detail", 404, "detail", 403),
    ),
    # Remote onboarding's review queue: supervisors of any branch, nobody else.
    "reviews": ("GET", None, {}, ("login", 403, 403, 200, 403)),
    "review_detail": ("GET", "review", {}, ("login", 403, 403, 200, 403)),
    "review_decide": (
        "POST",
        "review",
        {"decision": "reject", "note": "photo does not match"},
        ("login", 403, 403, "reviews", 403),
    ),
}


# The state a POST leaves its object in when the persona is allowed; a refused persona
# (403, 404, login) must leave the state as it was.
STATE_AFTER = {
    "application_registry_check": "REGISTRY_CHECKED",
    "application_approve": "APPROVED",
    "application_print": "PAPER_PRINTED",
    "application_confirm_signature": "SIGNED",
    "application_release": "TICKET_RELEASED",
    "application_cancel": "CANCELLED",
    "review_decide": "REJECTED",
}


def test_the_table_covers_every_url() -> None:
    names = {p.name for p in ra_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(TABLE), "a URL of ra_office.urls is missing from (or extra in) TABLE"


def _applications(office: Office) -> dict[str, Application | OnboardingApplication]:
    ip = "127.0.0.1"
    olga = office.olga

    def checked(**overrides: Any) -> Application:
        created = svc.application_create(
            officer=olga, data=application_input(**overrides), source_ip=ip
        )
        return svc.application_registry_check(application=created, officer=olga, source_ip=ip)

    draft = svc.application_create(officer=olga, data=application_input(), source_ip=ip)
    flagged = checked(document_expiry=timezone.localdate() + timedelta(days=5))
    plain = checked()
    printed, _ = svc.application_print(application=checked(), officer=olga, source_ip=ip)
    signed, _ = svc.application_print(application=checked(), officer=olga, source_ip=ip)
    signed = svc.application_confirm_signature(application=signed, officer=olga, source_ip=ip)
    released, _ = svc.application_print(application=checked(), officer=olga, source_ip=ip)
    svc.application_confirm_signature(application=released, officer=olga, source_ip=ip)
    released, _ = svc.application_release_ticket(application=released, officer=olga, source_ip=ip)
    review = OnboardingApplication.objects.create(
        token_hash=b"\0" * 32,
        source=OnboardingApplication.Source.MOBILE_ID,
        level="QUALIFIED",
        state=OnboardingApplication.State.REVIEW,
    )
    return {
        "review": review,
        "draft": draft,
        "flagged": flagged,
        "checked": plain,
        "printed": printed,
        "signed": signed,
        "released": released,
    }


def _client(persona: str, office: Office, admin_user: Any) -> Client:
    client = Client()
    if persona == "admin":
        client.force_login(admin_user)
    elif persona != "anonymous":
        officer = {"officer_a": office.olga, "officer_b": office.bob}.get(persona, office.sven)
        login(client, officer)
    return client


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_matrix(name: str, persona: str, office: Office, admin_user: Any) -> None:
    method, fixture, data, expectations = TABLE[name]
    expected = expectations[PERSONAS.index(persona)]
    application = _applications(office)[fixture] if fixture else None
    url = reverse(f"ra_office:{name}", kwargs={"pk": application.pk} if application else None)
    client = _client(persona, office, admin_user)
    response = client.post(url, data) if method == "POST" else client.get(url)
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert response.status_code == 302
        assert application is not None or expected == "login"
        target = {
            "login": "/ra/login/",
            "detail": f"/ra/applications/{application.pk if application else 0}/",
            "ticket": f"/ra/applications/{application.pk if application else 0}/ticket/",
            "reviews": "/ra/reviews/",
        }[expected]
        assert response["Location"] == target
    if response.status_code == 200:
        # Every RA page shows personal data (or is a login step): no cache may keep it.
        assert "no-store" in response["Cache-Control"].replace(" ", "").split(","), name
    if application is not None and method == "POST":
        before = application.state
        application.refresh_from_db()
        allowed = isinstance(expected, str) and expected != "login"
        assert application.state == (STATE_AFTER[name] if allowed else before), persona
    if name == "application_pdf" and expected == 200:
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
