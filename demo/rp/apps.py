from __future__ import annotations

from django.apps import AppConfig


class DemoRpConfig(AppConfig):
    """The demo relying party (``/demo-rp/``): its templates, static files and Estonian."""

    name = "demo.rp"
    label = "demo_rp"
    verbose_name = "Demo relying party"
