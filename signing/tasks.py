"""Celery tasks of the signing service (thin: they call services)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from signing.keys import pool_fill
from signing.services.expiry import expiry_notices_send, registrations_expire_abandoned
from signing.services.renewal import renewals_expire_abandoned
from signing.services.transactions import transactions_expire_due


@shared_task(acks_late=True)
def fill_key_pool() -> int:
    """Keep enough pre-generated server halves so registration never waits for primes."""
    return pool_fill(bits=settings.SPLITKEY_BITS, target=settings.KEY_POOL_SIZE)


@shared_task
def expire_transactions() -> int:
    """End overdue transactions with TIMEOUT, so waiting relying parties learn it."""
    return transactions_expire_due()


@shared_task
def account_expiry_housekeeping() -> dict[str, int]:
    """Hourly: expiry notices, registrations never finished, renewals never completed."""
    return {
        "notices": expiry_notices_send(),
        "registrations_closed": registrations_expire_abandoned(),
        "renewals_abandoned": renewals_expire_abandoned(),
    }
