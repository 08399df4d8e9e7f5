"""``manage.py reset_officer_totp <username>``: an officer lost the phone with the codes."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from enrolment.applications import officer_totp_reset
from enrolment.models import Officer


class Command(BaseCommand):
    help = (
        "Remove an officer's TOTP devices (audited); the officer enrols a new authenticator "
        "at the next login, after the password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        officer = (
            Officer.objects.select_related("user")
            .filter(user__username=options["username"])
            .first()
        )
        if officer is None:
            raise CommandError(f"No officer {options['username']!r}.")
        count = officer_totp_reset(officer=officer, actor=f"operator:{getpass.getuser()}")
        self.stdout.write(f"Removed {count} TOTP device(s) of {officer.username}.")
