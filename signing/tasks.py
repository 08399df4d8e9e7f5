"""Celery tasks of the signing service (thin: they call services).

``issue_certificates`` and ``complete_renewal`` are defined beside their services
(``signing.services.issuance``, which explains why, and ``signing.services.renewal``) and
registered by this import.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from signing.keys import pool_fill, transport_keys_retire
from signing.services.expiry import expiry_notices_send, registrations_expire_abandoned
from signing.services.issuance import issuance_stalled, issue_certificates
from signing.services.renewal import (
    complete_renewal,
    renewals_expire_abandoned,
    renewals_fail_overdue,
    renewals_stalled,
)
from signing.services.transactions import transactions_expire_due

__all__ = [
    "account_expiry_housekeeping",
    "complete_renewal",
    "expire_transactions",
    "fill_key_pool",
    "issue_certificates",
    "resume_issuance",
]


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
    """Hourly: expiry notices, registrations never finished, renewals never completed
    (by the app, or by their task: ``ISSUING_MAX_AGE``), transport keys whose grace period
    is over (docs/app-api.md §9.2)."""
    return {
        "notices": expiry_notices_send(),
        "registrations_closed": registrations_expire_abandoned(),
        "renewals_abandoned": renewals_expire_abandoned(),
        "transport_keys_retired": len(transport_keys_retire(actor="task:housekeeping")),
        "renewals_failed": renewals_fail_overdue(),
    }


@shared_task
def resume_issuance() -> int:
    """Send stalled issuances and re-keys to a worker again (a message lost with Redis, or
    an embedded run that failed); harmless for one that is merely slow: the tasks are
    idempotent. The number sent.
    """
    stalled = issuance_stalled()
    for account_id in stalled:
        issue_certificates.delay(account_id)
    renewals = renewals_stalled()
    for renewal_id in renewals:
        complete_renewal.delay(renewal_id)
    return len(stalled) + len(renewals)
