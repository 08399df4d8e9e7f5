"""ASGI entry point: ``uvicorn smartid.asgi:application``."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartid.settings")

from django.conf import settings  # noqa: E402 -- after DJANGO_SETTINGS_MODULE

application = get_asgi_application()

from smartid.checks import refuse_unsafe_start  # noqa: E402 -- needs the apps loaded

refuse_unsafe_start()

if not settings.IS_LIVE:
    # The embedded mode has no reverse proxy: serve /static/ from the apps' folders.
    # Django's own handler, so the rest of the stack stays fully async.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
