"""Create an RA officer or supervisor; print the TOTP provisioning URI and a terminal QR."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import segno
from django.core.management.base import BaseCommand, CommandError, CommandParser

from enrolment.applications import OfficerError, officer_create
from enrolment.models import Branch, Officer

ACTOR = "command:create_officer"


def provisioning_lines(config_url: str) -> list[str]:
    """The otpauth:// URI and the same as a QR code drawn with terminal characters."""
    buffer = io.StringIO()
    segno.make(config_url, error="m").terminal(out=buffer, compact=True, border=2)
    return [f"  TOTP URI: {config_url}", buffer.getvalue()]


class Command(BaseCommand):
    help = (
        "Create an RA office officer bound to a branch. Prints the password (unless given "
        "with --password-file) and the authenticator enrolment (otpauth:// URI and QR)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--branch", required=True, help="branch code")
        parser.add_argument("--role", choices=["officer", "supervisor"], default="officer")
        parser.add_argument("--password-file", type=Path, help="file whose first line is it")
        # Required: the four-eyes rule compares the officer's surname with the applicant's.
        parser.add_argument("--given-name", required=True)
        parser.add_argument("--surname", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        branch = Branch.objects.filter(code=options["branch"]).first()
        if branch is None:
            known = ", ".join(Branch.objects.values_list("code", flat=True)) or "none"
            raise CommandError(f"No branch {options['branch']!r} (known: {known}).")
        password_file: Path | None = options["password_file"]
        if password_file is not None:
            try:
                password = password_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read a password from {password_file}: {exc}") from None
            if len(password) < 12:
                raise CommandError("The password must have at least 12 characters.")
        else:
            password = secrets.token_urlsafe(12)
        try:
            officer, device = officer_create(
                username=options["username"],
                password=password,
                branch=branch,
                role=Officer.Role.SUPERVISOR
                if options["role"] == "supervisor"
                else Officer.Role.OFFICER,
                actor=ACTOR,
                given_name=options["given_name"],
                surname=options["surname"],
            )
        except OfficerError as exc:
            raise CommandError(exc.message) from None
        lines = [f"Officer {officer.username} ({officer.role}) at {branch}"]
        if password_file is None:
            lines.append(f"  Password: {password}")
        lines += provisioning_lines(device.config_url)
        lines.append("  Scan it with an authenticator app; the first code confirms it.")
        self.stdout.write("\n".join(lines))
