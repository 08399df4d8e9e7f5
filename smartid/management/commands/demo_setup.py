"""Prepare the demo: an administrator whose fresh password is printed on the console."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create (or reset) the demo administrator and print its credentials. Not in live mode."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
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
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Admin:    {base}/admin/",
                    f"  User:     {username} ({'created' if created else 'password reset'})",
                    f"  Password: {password}",
                    f"  Health:   {base}/health",
                    "",
                ]
            )
        )
