"""Create an operator: a staff user in one or more roles (docs/operations-roles.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smartid.roles import ROLE_BY_SLUG, OperatorError, operator_create

ACTOR = "command:create_operator"


class Command(BaseCommand):
    help = (
        "Create a staff user for the admin in an operator role (least privilege; never a "
        "superuser). Prints the password unless given with --password-file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            required=True,
            choices=sorted(ROLE_BY_SLUG),
            help="the role; give it again for a second one",
        )
        parser.add_argument("--password-file", type=Path, help="file whose first line is it")

    def handle(self, *args: Any, **options: Any) -> None:
        password_file: Path | None = options["password_file"]
        password: str | None = None
        if password_file is not None:
            try:
                password = password_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read a password from {password_file}: {exc}") from None
        try:
            user, password = operator_create(
                username=options["username"], roles=options["role"], actor=ACTOR, password=password
            )
        except OperatorError as exc:
            raise CommandError(exc.message) from None
        groups = ", ".join(ROLE_BY_SLUG[slug].group for slug in sorted(set(options["role"])))
        lines = [f"Operator {user.get_username()} ({groups}) can log in at /admin/."]
        if password_file is None:
            lines.append(f"  Password: {password}")
        self.stdout.write("\n".join(lines))
