"""The RA office of the demo: registry persons, a bank with two branches and its officers.

Called once at the end of ``demo_setup``; idempotent. Officers get a fresh password on
every run (printed, like the administrator's); their TOTP keys are kept and printed, so an
authenticator app set up once keeps working.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import audit_record
from demo.registry import demo_registry_load
from enrolment.applications import officer_create
from enrolment.models import Branch, Officer, RegistrationAuthority

ACTOR = "demo_setup"


@dataclass(frozen=True)
class DemoOfficer:
    username: str
    given_name: str
    surname: str
    role: str
    branch: str


DEMO_BRANCHES = (
    ("tallinn", "Tallinn, Viru väljak", "Viru väljak 2, Tallinn"),
    ("tartu", "Tartu, Raekoja plats", "Raekoja plats 1, Tartu"),
)
DEMO_OFFICERS = (
    DemoOfficer("olga", "Olga", "Ohvitser", Officer.Role.OFFICER, "tallinn"),
    DemoOfficer("sven", "Sven", "Supervisor", Officer.Role.SUPERVISOR, "tallinn"),
    DemoOfficer("tarmo", "Tarmo", "Tartlane", Officer.Role.OFFICER, "tartu"),
)


@transaction.atomic
def ra_demo_setup(*, base_url: str) -> list[str]:
    """Create what is missing; returns the console lines (logins, passwords, TOTP keys)."""
    demo_registry_load(actor=ACTOR)
    authority, created = RegistrationAuthority.objects.get_or_create(
        code="demobank", defaults={"name": "Demo Bank"}
    )
    if created:
        audit_record(
            actor=ACTOR,
            action="ra.authority_created",
            object_type="enrolment.RegistrationAuthority",
            object_id=authority.pk,
            data={"code": authority.code},
        )
    for code, name, address in DEMO_BRANCHES:
        branch, created = Branch.objects.get_or_create(
            code=code, defaults={"authority": authority, "name": name, "address": address}
        )
        if created:
            audit_record(
                actor=ACTOR,
                action="ra.branch_created",
                object_type="enrolment.Branch",
                object_id=branch.pk,
                data={"code": code},
            )
    lines = [f"  RA office: {base_url}/ra/ (password, then the TOTP code of the key below)"]
    for demo in DEMO_OFFICERS:
        password = secrets.token_urlsafe(12)
        officer = (
            Officer.objects.select_related("user").filter(user__username=demo.username).first()
        )
        if officer is None:
            officer, device = officer_create(
                username=demo.username,
                password=password,
                branch=Branch.objects.get(code=demo.branch),
                role=demo.role,
                actor=ACTOR,
                given_name=demo.given_name,
                surname=demo.surname,
            )
        else:
            officer.user.set_password(password)
            officer.user.save(update_fields=["password"])
            device = TOTPDevice.objects.filter(user=officer.user).order_by("-confirmed").first()
            if device is None:
                device = TOTPDevice.objects.create(user=officer.user, name="RA office")
            audit_record(
                actor=ACTOR,
                action="officer.password_reset",
                object_type="enrolment.Officer",
                object_id=officer.pk,
            )
        lines.append(
            f"    {demo.username:6} {demo.role.lower():10} {demo.branch:8} "
            f"password {password}  TOTP {device.config_url}"
        )
    return lines
