"""RA office personas: officer Olga and supervisor Sven of branch A, officer Charlie of
branch B (an outsider to A's applications), and an administrator without an officer
profile. ``login(client, officer)`` goes through the real password and TOTP pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo.registry import demo_registry_load
from enrolment.applications import ApplicationInput, officer_create
from enrolment.models import Branch, Officer, RegistrationAuthority
from tests.signing.conftest import platform  # noqa: F401 -- fixture of the browser test

PASSWORD = "correct horse battery staple"
# Mari-Liis Männik in the demo registry: an adult with nothing to flag.
MARI = {
    "semantics_identifier": "PNOEE-38001085718",
    "given_name": "Mari-Liis",
    "surname": "Männik",
    "date_of_birth": date(1980, 1, 8),
}


@dataclass
class Office:
    olga: Officer
    sven: Officer
    charlie: Officer
    branch_a: Branch
    branch_b: Branch


def totp_now(officer: Officer, *, offset: int = 0) -> str:
    """The code the officer's authenticator shows now (``offset`` steps later)."""
    device = TOTPDevice.objects.filter(user=officer.user).order_by("-confirmed").first()
    assert device is not None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():06d}"


def application_input(**overrides: Any) -> ApplicationInput:
    data: dict[str, Any] = {
        **MARI,
        "document_type": "ID_CARD",
        "document_number": "AB1234567",
        "document_country": "EE",
        "document_expiry": timezone.localdate() + timedelta(days=3 * 365),
        "document_checked": True,
        "level": "QUALIFIED",
        "email": "mari@example.org",
        "phone": "+372 5555 1234",
    }
    data.update(overrides)
    return ApplicationInput(**data)


def form_data(**overrides: Any) -> dict[str, Any]:
    """The same applicant as POST data of the application form."""
    data = application_input().__dict__ | overrides
    out = {}
    for key, value in data.items():
        if isinstance(value, bool):
            if value:
                out[key] = "on"
        else:
            out[key] = value.isoformat() if isinstance(value, date) else value
    return out


@pytest.fixture
def office(db: None, settings: Any) -> Office:
    return make_office(settings)


def make_office(settings: Any) -> Office:
    """Branches A and B with their officers (tests elsewhere wrap it in a fixture)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # tests enter wrong codes on purpose
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_registry_load(actor="test")
    authority = RegistrationAuthority.objects.create(code="bank", name="Bank")
    branch_a = Branch.objects.create(authority=authority, code="a", name="Branch A")
    branch_b = Branch.objects.create(authority=authority, code="b", name="Branch B")
    officers = {}
    for username, branch, role, surname in (
        ("olga", branch_a, Officer.Role.OFFICER, "Ohvitser"),
        ("sven", branch_a, Officer.Role.SUPERVISOR, "Saar"),
        ("charlie", branch_b, Officer.Role.OFFICER, "Outsider"),
    ):
        officers[username], _ = officer_create(
            username=username,
            password=PASSWORD,
            branch=branch,
            role=role,
            actor="test",
            given_name=username.title(),
            surname=surname,
        )
    return Office(branch_a=branch_a, branch_b=branch_b, **officers)


def login(client: Client, officer: Officer) -> None:
    """Password, then the TOTP code (which also confirms the device the first time)."""
    response = client.post("/ra/login/", {"username": officer.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/ra/login/totp/", response
    response = client.post("/ra/login/totp/", {"token": totp_now(officer)})
    assert response.status_code == 302 and response["Location"] == "/ra/", response


@pytest.fixture
def admin_user(db: None) -> Any:
    return get_user_model().objects.create_superuser("admin", "admin@example.org", PASSWORD)
