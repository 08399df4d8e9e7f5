"""Prepare the demo: an administrator whose fresh password is printed on the console, and
the published demo world (demo.world: the DEMO relying parties and every test identity
on a virtual device; ``demo_devices`` answers for them)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from demo.officers import ra_demo_setup
from demo.virtualcard import portal_demo_setup
from demo.world import (
    DEMO_IDENTITIES,
    DEMO_RELYING_PARTIES,
    DemoError,
    demo_populate,
)
from signing.engine import verification_code

# The hash of the spec's example (rp-api.md §2): SHA-512("Hello SMART-ID"), code 7180.
EXAMPLE_DATA = b"Hello SMART-ID"
#: Back to the start of the line and erase it (ANSI), for a progress line kept in place.
CLEAR_LINE = "\r\x1b[K"


def demo_state_dir() -> Path:
    """Where the virtual devices keep their state (shared with ``demo_devices``)."""
    return Path(settings.DATA_DIR) / "demo-devices"


def curl_example(base: str) -> list[str]:
    digest = hashlib.sha512(EXAMPLE_DATA).digest()
    rp = DEMO_RELYING_PARTIES[0]
    body = (
        f'{{"relyingPartyUUID":"{rp.uuid}","relyingPartyName":"{rp.name}",'
        f'"certificateLevel":"QUALIFIED","hash":"{base64.b64encode(digest).decode()}",'
        '"hashType":"SHA512","allowedInteractionsOrder":'
        '[{"type":"displayTextAndPIN","displayText60":"Log in to Demo bank?"}]}'
    )
    return [
        f"  Try it (verification code {verification_code(digest)}):",
        f"    curl -s {base}/v2/authentication/etsi/PNOEE-40504040001 \\",
        "      -H 'Content-Type: application/json' \\",
        f"      -d '{body}'",
        f"    curl -s '{base}/v2/session/<sessionID from the answer>?timeoutMs=10000'",
    ]


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo administrator and print its credentials; create the "
        "demo relying parties and accounts (docs/demo.md). Not in live mode."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--no-accounts",
            action="store_true",
            help="only the administrator: no demo relying parties and accounts",
        )

    def handle(self, *args: Any, username: str, no_accounts: bool, **options: Any) -> None:
        if settings.IS_LIVE:
            raise CommandError("demo_setup never runs in live mode; use createsuperuser.")
        password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
        base = settings.SITE_URL
        lines = [
            "",
            f"  Start:    {base}/  (the portal, the RA office, the admin, the API documents)",
            f"  Admin:    {base}/admin/",
            f"  User:     {username} ({'created' if created else 'password reset'})",
            f"  Password: {password}",
            f"  Health:   {base}/health",
            "",
        ]
        if not no_accounts:
            lines += self._demo_world(base)
        lines += ra_demo_setup(base_url=base) + [""]
        lines += portal_demo_setup(base_url=base)
        self.stdout.write("\n".join(lines))

    def _demo_world(self, base: str) -> list[str]:
        state_dir = demo_state_dir()
        # A terminal gets one line that counts up in place; a log file (not a terminal)
        # gets only the lines that stay, not 60 steps of a count.
        in_place = self.stdout.isatty()
        shown = False  # a transient line is on the screen

        def progress(message: str, *, transient: bool = False) -> None:
            nonlocal shown
            if transient and not in_place:
                return
            if shown:
                self.stdout.write(CLEAR_LINE, ending="")
            text = f"  demo: {message}"
            if transient:  # a wrapped line could not be rewritten in place: cut to fit
                text = text[: shutil.get_terminal_size().columns - 1]
            self.stdout.write(text, ending="" if transient else "\n")
            self.stdout.flush()
            shown = transient

        try:
            population = demo_populate(
                base_url=base,
                bits=settings.SPLITKEY_BITS,
                state_dir=state_dir,
                progress=progress,
            )
        except DemoError as exc:
            raise CommandError(exc.message) from None
        rps = [f"    {rp.uuid}  {rp.name!r:18} {rp.note}" for rp in DEMO_RELYING_PARTIES]
        return [
            f"  Demo:     {len(DEMO_IDENTITIES)} accounts on virtual devices in {state_dir}",
            f"            ({len(population.registered)} registered now, "
            f"{len(population.skipped)} already there; {population.seconds:.1f} s)",
            f"  RP API:   {base}/v1/ and {base}/v2/, relying parties (from any address):",
            *rps,
            "  Accounts: docs/demo.md (PNOEE-40504040001 answers OK, PNOEE-30403039917 "
            "refuses, ...; PINs 1234/12345)",
            *curl_example(base),
            "",
        ]
