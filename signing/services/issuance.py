"""Issuing the certificates of split keys: the work of the task ``issue_certificates``.

A key whose certificate request the app has signed is ``ISSUING``: the request's first
split signature is stored on the key (``registration_sign_csr``), which enqueues the task
when its transaction commits. The task runs :func:`certificates_issue` for the account; it
issues every waiting key's certificate, each in a transaction of its own:

1. lock the account row, then the key row (the order of every writer of both:
   registration, closing an account), so a closed account never gets a certificate;
2. look before signing: only a key still ``ISSUING``, of an account still ``PENDING`` or
   ``ACTIVE``, gets one — anything else means another run did it, or it is moot;
3. ``pki.certificate_issue`` inserts the certificate row, signs and writes the
   ``certificate.issued`` audit record, all in this transaction;
4. the key becomes ``ACTIVE``; when every key of the account is, so does the account;
5. commit, then wake the app's long poll (``registration_channel``).

Crash safety (docs/deployment.md "Queues"): a worker killed before the commit leaves
nothing — the certificate it may have signed is discarded with the transaction, and its
random 159-bit serial was never recorded or published — and the message comes back (acks
late), finds the key still ``ISSUING`` and issues with a fresh serial. A delivery after the
commit finds nothing to do. Two deliveries at once: the second waits for the account lock,
then finds nothing to do; the constraint ``one_certificate_per_purpose`` stands behind it.

Re-key (``signing.services.renewal``) follows the same rules in a task of its own,
``complete_renewal``: its two new keys are ``ISSUING`` too, but their certificates must be
issued in the one transaction that also revokes the old certificates, destroys the old
shares and activates the new keys (the old keys work until that commits), so the keys of
a renewal are not this task's (:func:`certificates_issue` and :func:`issuance_stalled`
leave them out).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from asn1crypto import csr as acsr
from celery import shared_task
from celery.app.task import Task
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_set_state
from core.errors import DomainError
from core.faults import fault_point
from pki import services as pki
from pki.models import Certificate
from pki.profiles import SubjectIdentity
from signing import engine
from signing.models import SplitKey
from signing.services.channels import publish_on_commit, registration_channel
from signing.services.lifecycle import close_account

logger = logging.getLogger(__name__)

ACTOR = "task:issue_certificates"
#: An issuance waiting this long is sent to a worker again (its message may be lost).
STALLED_AFTER = timedelta(seconds=60)
#: Account states in which a waiting key gets its certificate (registration, re-key).
ISSUABLE = (Account.State.PENDING, Account.State.ACTIVE)


class IssuanceFailed(DomainError):
    """The CA refused a request for good (not a passing outage): the registration fails."""

    code = "issuance_failed"


def identity_of(account: Account) -> SubjectIdentity:
    person = account.person
    return SubjectIdentity(
        semantics_identifier=person.semantics_identifier,
        given_name=person.given_name,
        surname=person.surname,
        country=person.country,
        date_of_birth=person.date_of_birth,
    )


def csr_der(info: bytes, signature: bytes) -> bytes:
    """The PKCS#10 request: the key's CertificationRequestInfo and its split signature."""
    request = acsr.CertificationRequest(
        {
            "certification_request_info": acsr.CertificationRequestInfo.load(info),
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
        }
    )
    return bytes(request.dump())


def _waiting(account_id: int) -> list[int]:
    return list(
        SplitKey.objects.filter(
            account_id=account_id, state=SplitKey.State.ISSUING, renewal__isnull=True
        )
        .order_by("purpose")
        .values_list("pk", flat=True)
    )


def certificates_issue(*, account_id: int) -> list[Certificate]:
    """Issue the certificate of every ``ISSUING`` key of the account; idempotent.

    Returns the certificates this run issued (empty when another run did). A CA error that
    will not pass (``pki.PkiError`` but a missing CA) closes a pending registration and
    raises :class:`IssuanceFailed`; anything else propagates for the task to retry.
    """
    issued = []
    for key_id in _waiting(account_id):
        try:
            certificate = _issue_one(account_id=account_id, key_id=key_id)
        except pki.CARequired:
            raise
        except pki.PkiError as exc:
            _fail(account_id, reason=exc.code)
            raise IssuanceFailed(f"The CA refused the request: {exc.message}") from exc
        if certificate is not None:
            issued.append(certificate)
    return issued


@transaction.atomic
def _issue_one(*, account_id: int, key_id: int) -> Certificate | None:
    account = (
        Account.objects.select_for_update().select_related("person").filter(pk=account_id).first()
    )
    key = SplitKey.objects.select_for_update().filter(pk=key_id, account_id=account_id).first()
    if account is None or key is None or account.state not in ISSUABLE:
        return None
    if key.state != SplitKey.State.ISSUING or key.certificate_id is not None:
        return None  # another run issued it (or the key is gone): nothing to do
    fault_point("issuance:before-sign")
    certificate = pki.certificate_issue(
        csr_der=csr_der(bytes(key.csr_info or b""), bytes(key.csr_signature or b"")),
        identity=identity_of(account),
        document_number=account.document_number,
        purpose=key.purpose,
        qualified=account.is_qualified,
        allowed_key_bits=set(engine.composite_bit_lengths(key.bits)),
        actor=ACTOR,
    )
    key.certificate = certificate
    key.state = SplitKey.State.ACTIVE
    key.save(update_fields=["certificate", "state"])
    others = SplitKey.objects.filter(account=account).exclude(pk=key.pk)
    if account.state == Account.State.PENDING and all(
        k.state == SplitKey.State.ACTIVE for k in others
    ):
        account_set_state(
            account=account,
            state=Account.State.ACTIVE,
            actor=ACTOR,
            reason="both certificates issued",
        )
    publish_on_commit(registration_channel(account.uuid))
    fault_point("issuance:after-sign")  # signed and written, not committed
    return certificate


@transaction.atomic
def _fail(account_id: int, *, reason: str) -> None:
    account = Account.objects.select_for_update().get(pk=account_id)
    if account.state != Account.State.PENDING:
        logger.error("issuance for account %s refused by the CA: %s", account_id, reason)
        return
    close_account(account, actor=ACTOR, reason=f"issuance: {reason}")
    publish_on_commit(registration_channel(account.uuid))


MAX_RETRIES = 10


@shared_task(
    name="signing.tasks.issue_certificates",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def issue_certificates(self: Task, account_id: int) -> int:  # type: ignore[type-arg]
    """Issue the account's waiting certificates (:func:`certificates_issue`); the number
    issued. Defined here, beside the service that enqueues it, and registered by
    ``signing.tasks`` (what Celery discovers), as the onboarding pipeline's task is.

    A refusal of the CA ends the registration (nothing to retry); any other error (the
    database, the key store, a missing CA) is retried with a growing delay.
    """
    try:
        count = len(certificates_issue(account_id=account_id))
    except IssuanceFailed:
        logger.exception("issuance for account %s failed for good", account_id)
        return 0
    except Exception as exc:
        logger.exception("issuance for account %s failed; retrying", account_id)
        raise self.retry(exc=exc, countdown=min(5 * 2**self.request.retries, 300)) from None
    logger.info("issuance for account %s: %d issued (task %s)", account_id, count, self.request.id)
    return count


def issuance_enqueue(*, account_id: int) -> None:
    """Issue the account's waiting certificates: in a worker once this transaction commits,
    or — the embedded mode, eager tasks — right here, synchronously, inside it.

    Eager, no worker has to see the commit, and running now keeps the caller's transaction
    whole (the demo registers a device inside one); each key's issuance is a savepoint.
    Either way a failure does not fail the committed request: the key stays ``ISSUING``
    and is sent again (:func:`issuance_stalled`), and the app keeps waiting on §2.5. With
    a broker, ``robust`` covers a broker that is down at the moment of the commit.
    """
    if issue_certificates.app.conf.task_always_eager:
        try:
            issue_certificates.delay(account_id)
        except Exception:
            logger.exception("issuance for account %s failed; it will be sent again", account_id)
        return
    transaction.on_commit(lambda: issue_certificates.delay(account_id), robust=True)


def issuance_stalled() -> list[int]:
    """Accounts with a key ``ISSUING`` for longer than ``STALLED_AFTER`` (a lost message)."""
    cutoff = timezone.now() - STALLED_AFTER
    return sorted(
        set(
            SplitKey.objects.filter(
                state=SplitKey.State.ISSUING,
                renewal__isnull=True,  # a re-key's: renewals_stalled
                csr_signed_at__lt=cutoff,
                account__state__in=ISSUABLE,
            ).values_list("account_id", flat=True)
        )
    )
