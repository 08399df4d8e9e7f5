"""Rotate the transport key (docs/operations.md, "Rotating the transport key")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from signing import keys

ACTOR = "command:rotate_transport_key"
DEFAULT_GRACE_HOURS = 72


class Command(BaseCommand):
    help = (
        "Make a new transport key endorsed by the current one; the current one keeps "
        "decrypting for --grace-hours. --retire destroys the keys whose grace is over "
        "(and does nothing else)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=DEFAULT_GRACE_HOURS,
            help=f"How long the previous key still decrypts (default {DEFAULT_GRACE_HOURS}).",
        )
        parser.add_argument(
            "--retire",
            action="store_true",
            help="Only retire: destroy the private keys whose grace period has ended.",
        )

    def handle(self, *args: Any, grace_hours: float, retire: bool, **options: Any) -> None:
        if retire:
            retired = keys.transport_keys_retire(actor=ACTOR)
            for kid in retired:
                self.stdout.write(f"retired transport key {kid}")
            if not retired:
                self.stdout.write("no transport key is due for retirement")
            return
        if not 0 <= grace_hours <= 24 * 90:
            raise CommandError("--grace-hours must be between 0 and 2160 (90 days)")
        previous = keys.transport_key_ring(reload=True).current
        new = keys.transport_key_rotate(grace=timedelta(hours=grace_hours), actor=ACTOR)
        until = timezone.now() + timedelta(hours=grace_hours)
        self.stdout.write(f"new transport key {new.key_id}, endorsed by {previous.key_id}")
        self.stdout.write(
            f"{previous.key_id} decrypts until {until:%Y-%m-%d %H:%M} UTC; then run "
            "'manage.py rotate_transport_key --retire' (the hourly housekeeping does it too)"
        )
