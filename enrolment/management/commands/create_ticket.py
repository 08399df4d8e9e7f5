"""Create a registration ticket for a person (an administrator's identity check)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.services import InvalidPerson, person_get_or_create
from enrolment.models import RegistrationTicket
from enrolment.services import ticket_create, ticket_qr_payload


class Command(BaseCommand):
    help = "Create a one-time registration ticket; prints the code for the app."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--semantics-id", required=True, help="e.g. PNOEE-40504040001")
        parser.add_argument("--given-name", required=True)
        parser.add_argument("--surname", required=True)
        parser.add_argument("--date-of-birth", type=date.fromisoformat, default=None)
        parser.add_argument("--email", default="")
        parser.add_argument("--level", choices=["QUALIFIED", "ADVANCED"], default="QUALIFIED")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = "command:create_ticket"
        try:
            person = person_get_or_create(
                semantics_identifier=options["semantics_id"],
                given_name=options["given_name"],
                surname=options["surname"],
                date_of_birth=options["date_of_birth"],
                email=options["email"],
                actor=actor,
            )
        except InvalidPerson as exc:
            raise CommandError(exc.message) from None
        ticket, code = ticket_create(
            person=person,
            identity_source=RegistrationTicket.Source.ADMIN,
            level=options["level"],
            created_by=actor,
        )
        self.stdout.write(
            f"Ticket for {person} ({ticket.level}), until {ticket.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        self.stdout.write(f"  code: {code}")
        self.stdout.write(f"  QR:   {ticket_qr_payload(code)}")
