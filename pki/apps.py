from __future__ import annotations

from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "pki"
    verbose_name = "Certification authority"
