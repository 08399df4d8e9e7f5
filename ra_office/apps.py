from __future__ import annotations

from django.apps import AppConfig


class RaOfficeConfig(AppConfig):
    name = "ra_office"
    verbose_name = "RA office"
