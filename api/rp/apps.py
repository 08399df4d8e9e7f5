from __future__ import annotations

from django.apps import AppConfig


class RelyingPartyApiConfig(AppConfig):
    name = "api.rp"
    label = "rp"
    verbose_name = "Relying parties"
