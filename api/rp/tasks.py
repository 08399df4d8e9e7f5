"""Periodic RP usage metering (beat: smartid/settings.py CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from api.rp import metering


@shared_task(acks_late=True)
def aggregate_rp_usage() -> int:
    """Recount this month and the last (a session of the 31st may finish on the 1st).

    Idempotent: a recount replaces the month's rows, so a redelivered task changes nothing.
    """
    this_month = metering.month_start(timezone.now().date())
    last_month = metering.month_start(this_month - timedelta(days=1))
    return metering.aggregate(last_month) + metering.aggregate(this_month)


@shared_task(acks_late=True)
def purge_rp_sessions() -> int:
    """Count, freeze and delete the months past SMARTID_RP_SESSION_RETENTION_DAYS."""
    sessions, _ = metering.purge()
    return sessions
