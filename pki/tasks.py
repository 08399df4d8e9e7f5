"""Celery tasks of the CA: thin interfaces over the services (docs/style.md point 9)."""

from __future__ import annotations

from celery import shared_task

from pki.crl import crl_publish
from pki.models import CertificateAuthority


@shared_task(bind=True, max_retries=5, default_retry_delay=10, acks_late=True)
def publish_crl(self: object, ca_id: int) -> int:
    """Publish a new CRL of one CA. A repeat only publishes a newer CRL: harmless."""
    ca = CertificateAuthority.objects.filter(pk=ca_id).first()
    if ca is None:
        return 0
    return crl_publish(ca=ca, actor="task:publish_crl").number


@shared_task
def publish_all_crls() -> int:
    """The schedule: a fresh CRL of every CA, well before the last one expires."""
    count = 0
    for ca in CertificateAuthority.objects.all():
        crl_publish(ca=ca, actor="task:publish_all_crls")
        count += 1
    return count
