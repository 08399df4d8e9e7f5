from __future__ import annotations

from smartid.celery import app as celery_app

__all__ = ["celery_app"]
