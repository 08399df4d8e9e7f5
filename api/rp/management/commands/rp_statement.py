"""``manage.py rp_statement <RP UUID> <YYYY-MM> [--format csv|pdf] [--output FILE]``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from api.rp import metering
from api.rp.models import RelyingParty


class Command(BaseCommand):
    help = "A relying party's usage statement for one month (counted afresh), as CSV or PDF."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("relying_party", help="the relying party's UUID")
        parser.add_argument("month", help="YYYY-MM (UTC)")
        parser.add_argument("--format", choices=("csv", "pdf"), default="csv")
        parser.add_argument("--output", help="a file (default: standard output; CSV only)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rp_uuid = uuid.UUID(options["relying_party"])
        except ValueError:
            raise CommandError(f"not a UUID: {options['relying_party']!r}") from None
        try:
            month = metering.parse_month(options["month"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        relying_party = RelyingParty.objects.filter(uuid=rp_uuid).first()
        if relying_party is None:
            raise CommandError(f"no relying party {rp_uuid}")
        statement = metering.statement(relying_party, month)
        if options["format"] == "pdf":
            if not options["output"]:
                raise CommandError("a PDF needs --output FILE")
            Path(options["output"]).write_bytes(metering.statement_pdf(statement))
        elif options["output"]:
            Path(options["output"]).write_text(statement.csv(), encoding="utf-8", newline="")
        else:
            self.stdout.write(statement.csv(), ending="")
        if options["output"]:
            self.stderr.write(
                f"{relying_party.name} {options['month']}: {statement.total} sessions "
                f"({'final' if statement.final else 'provisional'}) → {options['output']}"
            )
