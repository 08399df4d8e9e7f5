"""Celery tasks of the CA: thin interfaces over the services (docs/style.md point 9).

``publish_crl`` is defined in ``pki.crl`` (see there why) and registered by this import.
"""

from __future__ import annotations

import logging

from celery import shared_task

from pki.crl import crl_publish, publish_crl
from pki.models import Certificate, CertificateAuthority
from pki.services import InvalidTransition, certificate_revoke

__all__ = ["publish_all_crls", "publish_crl", "revoke_certificate"]

logger = logging.getLogger(__name__)


@shared_task
def publish_all_crls() -> int:
    """The schedule: a fresh CRL of every CA, well before the last one expires."""
    count = 0
    for ca in CertificateAuthority.objects.all():
        crl_publish(ca=ca, actor="task:publish_all_crls")
        count += 1
    return count


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=5, default_retry_delay=10)
def revoke_certificate(certificate_id: int, reason: str, actor: str, note: str = "") -> str:
    """Revoke one certificate in a worker (the queue ``issuance``: it is the CA's work).

    For revocations that need not share a transaction with a state change of their own:
    the CA operator's revoke action (``pki.admin.revoke``, enqueued when its request
    commits). Revocations that must be atomic with other changes stay in their
    transaction: closing an account (the account and its certificates together, so a
    concurrent issuance never leaves a good certificate on a closed account) and re-key's
    swap (``signing.services.renewal``: the old certificates are revoked in the commit
    that activates the new ones). Idempotent: a certificate already revoked is left as it
    is — no second audit record, no new CRL — so a redelivered or doubled message has one
    effect. Returns the certificate's status afterwards.
    """
    if reason not in Certificate.Reason.values or reason == Certificate.Reason.CERTIFICATE_HOLD:
        logger.error("revoke_certificate %s: %r is not a revocation reason", certificate_id, reason)
        return "REFUSED"
    certificate = Certificate.objects.filter(pk=certificate_id).first()
    if certificate is None:
        return "MISSING"
    try:
        return certificate_revoke(
            certificate=certificate, reason=reason, actor=actor, note=note
        ).status
    except InvalidTransition:
        # Revoked already (by an earlier delivery of this message, or by someone else).
        certificate.refresh_from_db(fields=["status"])
        return certificate.status
