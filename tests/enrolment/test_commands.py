"""Operator commands: create_ticket and init_ca."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from enrolment.models import RegistrationTicket
from enrolment.services import TicketUsed, ticket_redeem
from pki.models import CertificateAuthority


@pytest.mark.django_db
def test_create_ticket_prints_a_code_that_redeems_once() -> None:
    out = StringIO()
    call_command(
        "create_ticket",
        "--semantics-id",
        "PNOLV-030303-10012",
        "--given-name",
        "OK",
        "--surname",
        "TESTNUMBER",
        "--level",
        "ADVANCED",
        stdout=out,
    )
    text = out.getvalue()
    code = next(line.split(": ", 1)[1] for line in text.splitlines() if "code:" in line)
    assert "smartid://register?" in text
    ticket = RegistrationTicket.objects.get()
    assert ticket.level == "ADVANCED" and ticket.identity_source == "ADMIN"
    assert ticket.person.national_id == "030303-10012"  # split on the first hyphen
    key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "A" * 88
    account, _ = ticket_redeem(
        code=code,
        platform="p",
        device_name="n",
        public_key=key.encode(),
        interactions=["displayTextAndPIN"],
    )
    assert account.document_number.startswith(
        "PNOLV-030303-10012-"
    ) and account.document_number.endswith("-NQ")
    with pytest.raises(TicketUsed):
        ticket_redeem(code=code, platform="p", device_name="n", public_key=b"k", interactions=[])


@pytest.mark.django_db
@pytest.mark.parametrize("semantics_id", ["EE-123", "PNOEE", "PNOee-123", "PNOEE-" + "1" * 50])
def test_create_ticket_refuses_bad_identifiers(semantics_id: str) -> None:
    with pytest.raises(CommandError):
        call_command(
            "create_ticket",
            "--semantics-id",
            semantics_id,
            "--given-name",
            "A",
            "--surname",
            "B",
            stdout=StringIO(),
        )
    assert RegistrationTicket.objects.count() == 0


@pytest.mark.django_db
def test_init_ca_is_idempotent() -> None:
    first, second = StringIO(), StringIO()
    call_command("init_ca", "--base-url", "http://pki.example.test", stdout=first)
    call_command("init_ca", stdout=second)
    assert CertificateAuthority.objects.count() == 3
    assert first.getvalue() == second.getvalue()
    assert "TEST of Open eID EID-Q" in first.getvalue()
