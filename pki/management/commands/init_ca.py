"""Create the CA hierarchy (root, EID-Q, EID-NQ with OCSP responders) if it is missing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from pki.services import ca_hierarchy_create


class Command(BaseCommand):
    help = "Create the CA hierarchy with keys in the configured key store (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default=None, help="Public URL for AIA/CRL (SITE_URL).")

    def handle(self, *args: Any, base_url: str | None, **options: Any) -> None:
        for ca in ca_hierarchy_create(actor="command:init_ca", base_url=base_url):
            self.stdout.write(f"  {ca.kind:<4} {ca.slug:<8} {ca.common_name}")
