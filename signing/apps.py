from __future__ import annotations

from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "signing"
    verbose_name = "Split-key signing"
