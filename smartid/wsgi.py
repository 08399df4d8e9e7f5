"""WSGI entry point, for tools that need one; the platform runs on ASGI."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartid.settings")

application = get_wsgi_application()

from smartid.checks import refuse_unsafe_start  # noqa: E402 -- needs the apps loaded

refuse_unsafe_start()
