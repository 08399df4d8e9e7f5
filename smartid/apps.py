from __future__ import annotations

from django.apps import AppConfig


class SmartidConfig(AppConfig):
    name = "smartid"
    verbose_name = "Smart-ID platform"

    def ready(self) -> None:
        from smartid import checks  # noqa: F401 -- registers the system checks
