"""The Celery application: ``celery -A smartid worker``.

Without a broker URL (the embedded mode) ``CELERY_TASK_ALWAYS_EAGER`` makes
tasks run in the calling process, so one command runs the whole platform.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartid.settings")

app = Celery("smartid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_unsafe_worker(**kwargs: object) -> None:
    # Imported when the worker starts: the checks need the apps loaded, and this module is
    # imported before Django is set up (smartid/__init__.py loads the Celery app).
    from smartid.checks import refuse_unsafe_start

    refuse_unsafe_start()
