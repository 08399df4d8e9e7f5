"""Re-key of an ACTIVE account from its app (docs/app-api.md §8): new keys, new certificates.

Three steps, like a registration's §2.2-2.4, on the same building blocks:

1. ``renewal_start`` — the old signing key (PIN2) signs the request for the two new
   client moduli (``engine.renewal_statement``). The signature runs the ordinary protocol
   on the old key: a wrong PIN counts toward its lock (and nine revoke it) exactly as in a
   transaction. Only a good signature creates the renewal: each new n1 is paired with a
   server half from the pool, the new keys wait beside the old ones.
2. ``renewal_submit_shares`` — d1″ of both new keys; the certificate requests to sign.
3. ``renewal_complete`` — both new keys sign their certificate requests (the new PINs).
   Both signatures verify or nothing changes; then the signed requests are stored on the
   new keys (``ISSUING``), the renewal is ``ISSUING``, and the task ``complete_renewal``
   is enqueued when this commits (run in place when tasks are eager). The app waits on
   its long poll (``renewal_status``, §8.4).
4. ``renewal_issue`` (the task) — in **one database transaction**: the old certificates
   are revoked as *superseded*, the new ones issued, the old server shares destroyed, the
   new keys activated, waiting transactions ended. Any failure, a worker killed at any
   point included, rolls all of it back: the old keys keep working, no certificate exists
   that nothing uses, and the redelivered (or resumed: ``renewals_stalled``) task does it
   again from the start. A second run finds the renewal ``COMPLETE`` and does nothing.

A renewal nobody completes within ``RENEWAL_TTL`` is abandoned by the housekeeping task
(its waiting keys are deleted: they never signed anything and hold no certificate). One
whose task cannot swap it — redelivered and resumed for ``ISSUING_MAX_AGE`` after the app
signed — is failed by the same housekeeping, as a refusal of the CA would fail it: the old
keys stay, the app learns ``FAILED`` on §8.4 and drops the new keys it kept. Without that
bound it would be resumed for ever, and block every later re-key of the account.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from celery import shared_task
from celery.app.task import Task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from audit.services import audit_record
from core.faults import fault_point
from pki import services as pki
from pki.models import Certificate
from signing import engine, keys
from signing.models import KeyRenewal, SplitKey, Transaction
from signing.services.channels import publish_on_commit, renewal_channel
from signing.services.errors import BadRequest, NotFound, SigningError, WrongState
from signing.services.expiry import account_valid_until, validity
from signing.services.issuance import STALLED_AFTER, csr_der, identity_of
from signing.services.keystate import Answer, answer_for, decrypt_s1p, int_from, sign
from signing.services.lifecycle import close_account
from signing.services.registration import PURPOSES, CsrToSign, NewKey, store_shares
from signing.services.transactions import finish

logger = logging.getLogger(__name__)

RENEWAL_TTL = timedelta(minutes=15)
#: How long after §8.3 the task may keep trying to swap an ``ISSUING`` renewal (a passing
#: outage of the CA or the database is retried meanwhile); then the renewal fails.
ISSUING_MAX_AGE = timedelta(hours=24)


class RenewalFailed(SigningError):
    """A new key's certificate request signature did not verify: nothing changed."""

    code = "renewal_failed"


def _actor(account: Account) -> str:
    return f"device:{account.device_id}"


def _active_account(account: Account) -> Account:
    row = Account.objects.select_for_update().select_related("person").get(pk=account.pk)
    if row.state != Account.State.ACTIVE:
        raise WrongState("Only an active account can be renewed.")
    if validity(account_valid_until(row)).expired:
        raise WrongState("The account has expired; register again.", code="account_expired")
    return row


def _abandon(renewal: KeyRenewal) -> None:
    """Drop an unfinished renewal: its waiting keys never signed and hold no certificate."""
    SplitKey.objects.filter(renewal=renewal).exclude(state=SplitKey.State.ACTIVE).delete()
    renewal.state = KeyRenewal.State.ABANDONED
    renewal.save(update_fields=["state"])


@dataclass(frozen=True)
class Started:
    """The old key's answer, and the renewal with its new keys when the proof was good."""

    answer: Answer
    renewal: KeyRenewal | None = None
    keys: Mapping[str, NewKey] | None = None


@transaction.atomic
def renewal_start(
    *,
    account: Account,
    moduli: Mapping[str, bytes],
    envelope: object,
    token: bytes,
    rnonce: bytes,
) -> Started:
    """Step 1: the old PIN2 key proves the request, then the new keys get server halves.

    A refused proof (wrong PIN, locked, revoked, clone) commits the old key's new state
    and nothing else. A good proof with an unusable n1 rolls everything back (the old key's
    token included), so the app keeps its old token.
    """
    account = _active_account(account)
    if KeyRenewal.objects.filter(account=account, state=KeyRenewal.State.ISSUING).exists():
        raise WrongState("A re-key of this account is being completed; wait for it.")
    if set(moduli) != set(PURPOSES):
        raise BadRequest("Send n1 for both AUTH and SIGN.")
    bits = settings.SPLITKEY_BITS
    size = (bits + 7) // 8
    n1 = {p: int_from(moduli[p], length=size, what="n1") for p in PURPOSES}
    old = (
        SplitKey.objects.select_for_update()
        .filter(account=account, purpose=SplitKey.Purpose.SIGN, state=SplitKey.State.ACTIVE)
        .first()
    )
    if old is None:
        raise WrongState("The account has no active signing key.")
    s1_prime = decrypt_s1p(
        envelope, aad=engine.renewal_aad(account.document_number, "proof"), key=old
    )
    statement = engine.renewal_statement(
        account.document_number, moduli[SplitKey.Purpose.AUTH], moduli[SplitKey.Purpose.SIGN]
    )
    outcome = sign(
        old,
        digest=hashlib.sha256(statement).digest(),
        hash_alg="SHA256",
        padding="PKCS1v15",
        salt=None,
        s1_prime=s1_prime,
        token=token,
        rnonce=rnonce,
        now=timezone.now(),
    )
    answer = answer_for(outcome)
    actor = _actor(account)
    if outcome.status != engine.OutcomeStatus.SIGNED:
        audit_record(
            actor=actor,
            action=f"key.{outcome.status.value}",
            object_type="signing.SplitKey",
            object_id=old.pk,
            data={"fails": outcome.fails, "operation": "renewal"},
        )
        if outcome.revoke:
            reason = "clone" if outcome.status == engine.OutcomeStatus.CLONE else "pin_tries"
            close_account(account, actor=actor, reason=reason)
        return Started(answer=answer)
    for previous in KeyRenewal.objects.select_for_update().filter(
        account=account, state=KeyRenewal.State.OPEN
    ):
        _abandon(previous)  # a new start (or a retransmit of this one) replaces it
    renewal = KeyRenewal.objects.create(account=account, expires_at=timezone.now() + RENEWAL_TTL)
    created: dict[str, NewKey] = {}
    for purpose in PURPOSES:
        n2_hex, wrapped_half = keys.pool_take(bits=bits)
        n2 = int(n2_hex, 16)
        others = {n1[p] for p in PURPOSES if p != purpose}
        known = others | (
            {n1[purpose]}
            if SplitKey.objects.filter(n1=format(n1[purpose], "x")).exists()
            else set()
        )
        try:
            engine.validate_client_modulus(n1[purpose], bits, n2, known=known)
            composite = engine.composite_public_key(n1[purpose], n2)
        except engine.ModulusRejected as exc:
            raise BadRequest(f"n1 rejected: {exc.reason.value}.", code="modulus_rejected") from None
        state, first_token = engine.new_key_state()
        key = SplitKey(
            account=account,
            renewal=renewal,
            purpose=purpose,
            bits=bits,
            n1=format(n1[purpose], "x"),
            n2=n2_hex,
            wrapped_server_half=wrapped_half,
            token_hash=state.token_hash,
        )
        key.save()
        created[purpose] = NewKey(n=composite.n, token=first_token)
    audit_record(
        actor=actor,
        action="renewal.started",
        object_type="accounts.Account",
        object_id=account.pk,
        data={"renewal": str(renewal.pk), "bits": bits},
    )
    return Started(answer=answer, renewal=renewal, keys=created)


def _lock_renewal(device_id: UUID | str, renewal_id: UUID | str) -> tuple[KeyRenewal, Account]:
    """The device's renewal and its account, locked account first, then the renewal (the
    order of ``renewal_start`` and of the task): another device's renewal is 404."""
    account_id = (
        KeyRenewal.objects.filter(pk=renewal_id, account__device_id=device_id)
        .values_list("account_id", flat=True)
        .first()
    )
    if account_id is None:
        raise NotFound("No such renewal.")
    account = Account.objects.select_for_update().select_related("person").get(pk=account_id)
    renewal = KeyRenewal.objects.select_for_update().get(pk=renewal_id)
    return renewal, account


def _new_keys(renewal: KeyRenewal) -> dict[str, SplitKey]:
    return {
        k.purpose: k
        for k in SplitKey.objects.select_for_update().filter(renewal=renewal).order_by("purpose")
    }


def _require_open(renewal: KeyRenewal, now: datetime) -> None:
    if renewal.state != KeyRenewal.State.OPEN or renewal.expires_at <= now:
        raise WrongState("The renewal is finished or has expired; start again.")


#: A new key's certificate request to sign (the same as a registration's).
RenewalCsr = CsrToSign


@transaction.atomic
def renewal_submit_shares(
    *, device_id: UUID | str, renewal_id: UUID | str, shares: Mapping[str, tuple[bytes, bytes]]
) -> dict[str, RenewalCsr]:
    """Step 2: d1″ (wrapped) per new key, a new token, the certificate request to sign."""
    renewal, account = _lock_renewal(device_id, renewal_id)
    _require_open(renewal, timezone.now())
    if set(shares) != set(PURPOSES):
        raise BadRequest("Send d1″ for both AUTH and SIGN.")
    found = _new_keys(renewal)
    if set(found) != set(PURPOSES) or any(
        k.state != SplitKey.State.AWAITING_SHARE for k in found.values()
    ):
        raise WrongState("The shares were already submitted.")
    result = store_shares(found, shares, document_number=account.document_number)
    audit_record(
        actor=_actor(account),
        action="renewal.shares_submitted",
        object_type="accounts.Account",
        object_id=account.pk,
        data={"renewal": str(renewal.pk)},
    )
    return result


@dataclass(frozen=True)
class Completed:
    """The new keys' answers (a new token each; the certificate once issued) and the
    renewal's state: ``ISSUING`` until the task has swapped the keys, then ``COMPLETE``."""

    account: Account
    renewal: KeyRenewal
    keys: Mapping[str, Answer]


@transaction.atomic
def renewal_complete(
    *,
    device_id: UUID | str,
    renewal_id: UUID | str,
    signatures: Mapping[str, tuple[object, bytes, bytes]],
) -> Completed:
    """Step 3: both certificate-request signatures; the swap is the task's.

    ``signatures`` maps AUTH and SIGN to (s1′ envelope, token, rnonce). Both must verify,
    or nothing changes. Then the signed requests are stored on the new keys (``ISSUING``),
    the renewal is ``ISSUING`` and :func:`renewal_enqueue` hands it to the task
    ``complete_renewal``, which issues and swaps in one transaction (:func:`renewal_issue`).
    A retransmit (the same rnonces) gets the identical answer, with the certificates once
    they are issued.
    """
    if set(signatures) != set(PURPOSES):
        raise BadRequest("Send the signatures of both AUTH and SIGN.")
    renewal, account = _lock_renewal(device_id, renewal_id)
    found = _new_keys(renewal)
    if renewal.state in (KeyRenewal.State.ISSUING, KeyRenewal.State.COMPLETE):
        return _replayed(renewal, account, found, signatures)
    now = timezone.now()
    _require_open(renewal, now)
    if account.state != Account.State.ACTIVE:
        raise WrongState("Only an active account can be renewed.")
    if set(found) != set(PURPOSES) or any(
        k.state != SplitKey.State.AWAITING_CSR for k in found.values()
    ):
        raise WrongState("The shares of the new keys were not submitted.")
    actor = _actor(account)
    tokens: dict[str, bytes | None] = {}
    for purpose in PURPOSES:
        key = found[purpose]
        envelope, token, rnonce = signatures[purpose]
        s1_prime = decrypt_s1p(envelope, aad=engine.renewal_aad(str(renewal.pk), purpose), key=key)
        info = bytes(key.csr_info or b"")
        outcome = sign(
            key,
            digest=hashlib.sha256(info).digest(),
            hash_alg="SHA256",
            padding="PKCS1v15",
            salt=None,
            s1_prime=s1_prime,
            token=token,
            rnonce=rnonce,
            now=now,
        )
        if outcome.status != engine.OutcomeStatus.SIGNED or outcome.signature is None:
            # Raising rolls back everything, this key's state included: the new key is not
            # in use, so a failed check is the app's fault, not a PIN guess on a live key.
            raise RenewalFailed(
                f"The {purpose} certificate request signature of the new key did not verify."
            )
        key.csr_signature = outcome.signature
        key.csr_signed_at = now
        key.state = SplitKey.State.ISSUING
        key.save(update_fields=["csr_signature", "csr_signed_at", "state"])
        tokens[purpose] = outcome.new_token
    renewal.state = KeyRenewal.State.ISSUING
    renewal.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action="renewal.signed",
        object_type="accounts.Account",
        object_id=account.pk,
        data={"renewal": str(renewal.pk), "keys": {p: found[p].pk for p in PURPOSES}},
    )
    renewal_enqueue(renewal_id=renewal.pk)
    renewal.refresh_from_db(fields=["state"])
    issued = _issued(renewal)
    answers: dict[str, Answer] = {
        p: Answer(status="OK", token=tokens[p], certificate=issued.get(p)) for p in PURPOSES
    }
    return Completed(account=account, renewal=renewal, keys=answers)


def _issued(renewal: KeyRenewal) -> dict[str, bytes]:
    """The new keys' certificates, once the swap has committed (else nothing)."""
    if renewal.state != KeyRenewal.State.COMPLETE:
        return {}
    return {
        k.purpose: bytes(k.certificate.der)
        for k in SplitKey.objects.filter(renewal=renewal).select_related("certificate")
        if k.certificate is not None
    }


# --- the task: issue the new certificates and swap the keys, exactly once ----------------

TASK_ACTOR = "task:complete_renewal"


class RenewalRefused(SigningError):
    """The CA refused a new certificate for good: the renewal failed, the old keys stay."""

    code = "renewal_failed"


def renewal_issue(*, renewal_id: UUID | str) -> bool:
    """Issue the new certificates of an ``ISSUING`` renewal and swap the keys; idempotent.

    True when this run did the swap, False when there was nothing to do (another run did
    it, or the renewal is moot). A refusal of the CA (``pki.PkiError`` but a missing CA)
    fails the renewal and raises :class:`RenewalRefused`; anything else propagates for the
    task to retry — the transaction is rolled back, the old keys serve meanwhile.
    """
    try:
        return _swap(renewal_id)
    except pki.CARequired:
        raise
    except pki.PkiError as exc:
        _refused(renewal_id, reason=exc.code)
        raise RenewalRefused(f"The CA refused a new certificate: {exc.message}") from exc


@transaction.atomic
def _swap(renewal_id: UUID | str) -> bool:
    """The one transaction of the swap (module docstring of ``signing.services.issuance``
    for the crash safety: it is the same).

    1. lock the account, the renewal, the new keys, the old keys (account → renewal →
       key, the order of ``renewal_start``, ``renewal_complete`` and ``close_account``);
    2. look before signing: only a renewal still ``ISSUING`` of an account still
       ``ACTIVE`` is swapped; a renewal of an account that left ``ACTIVE`` meanwhile
       (closed, suspended) is abandoned;
    3. revoke the old certificates (*superseded*), destroy the old keys' shares, issue
       the new certificates, activate the new keys, end waiting transactions;
    4. commit, then wake the app's long poll (``renewal_channel``).
    """
    account_id = (
        KeyRenewal.objects.filter(pk=renewal_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        return False
    account = Account.objects.select_for_update().select_related("person").get(pk=account_id)
    renewal = KeyRenewal.objects.select_for_update().get(pk=renewal_id)
    if renewal.state != KeyRenewal.State.ISSUING:
        return False  # another run swapped the keys, or the renewal ended
    found = _new_keys(renewal)
    if account.state != Account.State.ACTIVE:
        _abandon(renewal)
        publish_on_commit(renewal_channel(renewal.pk))
        return False
    if set(found) != set(PURPOSES) or any(
        k.state != SplitKey.State.ISSUING or k.certificate_id is not None for k in found.values()
    ):
        logger.error("renewal %s is ISSUING but its keys are not: left alone", renewal.pk)
        return False
    old_keys = list(
        SplitKey.objects.select_for_update()
        .filter(account=account, state=SplitKey.State.ACTIVE)
        .exclude(renewal=renewal)
        .order_by("pk")
    )
    fault_point("renewal:before-sign")
    now = timezone.now()
    for certificate in Certificate.objects.filter(
        split_key__in=old_keys, status__in=[Certificate.Status.GOOD, Certificate.Status.ON_HOLD]
    ).order_by("pk"):
        pki.certificate_revoke(
            certificate=certificate, reason=Certificate.Reason.SUPERSEDED, actor=TASK_ACTOR
        )
    for key in old_keys:
        _destroy_superseded(key, now)
    for purpose in PURPOSES:
        key = found[purpose]
        certificate = pki.certificate_issue(
            csr_der=csr_der(bytes(key.csr_info or b""), bytes(key.csr_signature or b"")),
            identity=identity_of(account),
            document_number=account.document_number,
            purpose=purpose,
            qualified=account.is_qualified,
            allowed_key_bits=set(engine.composite_bit_lengths(key.bits)),
            actor=TASK_ACTOR,
        )
        key.certificate = certificate
        key.state = SplitKey.State.ACTIVE
        key.save(update_fields=["certificate", "state"])
    for tx in Transaction.objects.select_for_update().filter(
        account=account, state=Transaction.State.PENDING
    ):
        finish(tx, Transaction.Result.DOCUMENT_UNUSABLE)  # made for the old keys
    renewal.state = KeyRenewal.State.COMPLETE
    renewal.completed_at = now
    renewal.save(update_fields=["state", "completed_at"])
    audit_record(
        actor=TASK_ACTOR,
        action="renewal.completed",
        object_type="accounts.Account",
        object_id=account.pk,
        data={
            "renewal": str(renewal.pk),
            "superseded": [k.pk for k in old_keys],
            "keys": {p: found[p].pk for p in PURPOSES},
        },
    )
    publish_on_commit(renewal_channel(renewal.pk))
    fault_point("renewal:after-sign")  # signed, swapped and written, not committed
    return True


@transaction.atomic
def _refused(renewal_id: UUID | str, *, reason: str) -> bool:
    """The CA refused for good (or the swap is overdue): the renewal fails, its new keys
    go, the old ones stay. Whether it was still ``ISSUING`` (else nothing changes)."""
    account_id = (
        KeyRenewal.objects.filter(pk=renewal_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        return False
    Account.objects.select_for_update().get(pk=account_id)
    renewal = KeyRenewal.objects.select_for_update().get(pk=renewal_id)
    if renewal.state != KeyRenewal.State.ISSUING:
        return False
    SplitKey.objects.filter(renewal=renewal).exclude(state=SplitKey.State.ACTIVE).delete()
    renewal.state = KeyRenewal.State.FAILED
    renewal.save(update_fields=["state"])
    audit_record(
        actor=TASK_ACTOR,
        action="renewal.failed",
        object_type="accounts.Account",
        object_id=account_id,
        data={"renewal": str(renewal.pk), "reason": reason},
    )
    publish_on_commit(renewal_channel(renewal.pk))
    return True


MAX_RETRIES = 10


@shared_task(
    name="signing.tasks.complete_renewal",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
)
def complete_renewal(self: Task, renewal_id: str) -> bool:  # type: ignore[type-arg]
    """Issue a re-key's certificates and swap its keys (:func:`renewal_issue`); whether
    this run did. Registered by ``signing.tasks``, like ``issue_certificates``.

    A refusal of the CA fails the renewal (nothing to retry); any other error is retried
    with a growing delay, the old keys serving meanwhile.
    """
    try:
        swapped = renewal_issue(renewal_id=renewal_id)
    except RenewalRefused:
        logger.exception("renewal %s failed for good", renewal_id)
        return False
    except Exception as exc:
        logger.exception("renewal %s failed; retrying", renewal_id)
        raise self.retry(exc=exc, countdown=min(5 * 2**self.request.retries, 300)) from None
    logger.info("renewal %s: swapped=%s (task %s)", renewal_id, swapped, self.request.id)
    return swapped


def renewal_enqueue(*, renewal_id: UUID | str) -> None:
    """Swap the renewal's keys: in a worker once this transaction commits, or — eager
    tasks, the embedded mode — right here, in a savepoint of the caller's transaction
    (as ``issuance_enqueue``, which explains why). A failure does not fail the committed
    request: the renewal stays ``ISSUING``, the old keys serve, and it is sent again
    (:func:`renewals_stalled`).
    """
    renewal_id = str(renewal_id)
    if complete_renewal.app.conf.task_always_eager:
        try:
            complete_renewal.delay(renewal_id)
        except Exception:
            logger.exception("renewal %s failed; it will be sent again", renewal_id)
        return
    transaction.on_commit(lambda: complete_renewal.delay(renewal_id), robust=True)


def renewals_stalled() -> list[str]:
    """Renewals ``ISSUING`` for longer than ``STALLED_AFTER`` (a lost message), and not yet
    past ``ISSUING_MAX_AGE`` (those are failed: :func:`renewals_fail_overdue`)."""
    now = timezone.now()
    return sorted(
        str(pk)
        for pk in KeyRenewal.objects.filter(
            state=KeyRenewal.State.ISSUING,
            keys__csr_signed_at__lt=now - STALLED_AFTER,
            keys__csr_signed_at__gte=now - ISSUING_MAX_AGE,
        )
        .values_list("pk", flat=True)
        .distinct()
    )


def renewals_fail_overdue(*, now: datetime | None = None) -> int:
    """Fail the renewals still ``ISSUING`` ``ISSUING_MAX_AGE`` after the app signed their
    requests: the task could not swap them in all that time (a CA or database fault that
    never passed, a bug). The old keys stay; the waiting ones are deleted; the app's
    §8.4 answers ``FAILED``. The number failed."""
    cutoff = (now or timezone.now()) - ISSUING_MAX_AGE
    overdue = list(
        KeyRenewal.objects.filter(state=KeyRenewal.State.ISSUING, keys__csr_signed_at__lt=cutoff)
        .values_list("pk", flat=True)
        .distinct()[:500]
    )
    failed = 0
    for renewal_id in overdue:
        if _refused(renewal_id, reason="issuing_overdue"):
            logger.error("renewal %s was not swapped in %s: failed", renewal_id, ISSUING_MAX_AGE)
            failed += 1
    return failed


@dataclass(frozen=True)
class RenewalStatus:
    """What the app's §8.4 long poll answers."""

    renewal: KeyRenewal
    account: Account
    certificates: dict[str, bytes]

    @property
    def ready(self) -> bool:
        """The swap committed, or the renewal ended without it: nothing more will come."""
        return self.renewal.state != KeyRenewal.State.ISSUING


def renewal_status(*, device_id: UUID | str, renewal_id: UUID | str) -> RenewalStatus:
    """The device's renewal, and its new certificates once swapped (another's: 404)."""
    renewal = (
        KeyRenewal.objects.select_related("account", "account__person")
        .filter(pk=renewal_id, account__device_id=device_id)
        .first()
    )
    if renewal is None:
        raise NotFound("No such renewal.")
    return RenewalStatus(renewal=renewal, account=renewal.account, certificates=_issued(renewal))


def _destroy_superseded(key: SplitKey, now: datetime) -> None:
    """The old key after a re-key: shares gone, revoked (any later use answers REVOKED)."""
    key.wrapped_d1pp = None
    key.wrapped_server_half = None
    key.state = SplitKey.State.DESTROYED
    key.destroyed_at = now
    key.revoked = True
    key.revoke_reason = ""  # superseded: neither a clone nor PIN tries
    key.save(
        update_fields=[
            "wrapped_d1pp",
            "wrapped_server_half",
            "state",
            "destroyed_at",
            "revoked",
            "revoke_reason",
        ]
    )


def _replayed(
    renewal: KeyRenewal,
    account: Account,
    found: Mapping[str, SplitKey],
    signatures: Mapping[str, tuple[object, bytes, bytes]],
) -> Completed:
    """The identical answer to a retransmit (the certificates once issued), else 409."""
    issued = _issued(renewal)
    answers: dict[str, Answer] = {}
    for purpose in PURPOSES:
        key = found.get(purpose)
        envelope, token, rnonce = signatures[purpose]
        if key is None or key.state not in (SplitKey.State.ISSUING, SplitKey.State.ACTIVE):
            raise WrongState("The renewal is finished.")
        s1_prime = decrypt_s1p(envelope, aad=engine.renewal_aad(str(renewal.pk), purpose), key=key)
        outcome = sign(
            key,
            digest=hashlib.sha256(bytes(key.csr_info or b"")).digest(),
            hash_alg="SHA256",
            padding="PKCS1v15",
            salt=None,
            s1_prime=s1_prime,
            token=token,
            rnonce=rnonce,
            now=timezone.now(),
        )
        if not outcome.replayed or outcome.status != engine.OutcomeStatus.SIGNED:
            raise WrongState("The renewal is finished.")
        answers[purpose] = Answer(
            status="OK", token=outcome.new_token, certificate=issued.get(purpose)
        )
    return Completed(account=account, renewal=renewal, keys=answers)


def renewals_expire_abandoned(*, now: datetime | None = None) -> int:
    """Abandon open renewals past their time (their waiting keys are deleted)."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        for renewal in KeyRenewal.objects.select_for_update().filter(
            state=KeyRenewal.State.OPEN, expires_at__lte=now
        )[:500]:
            _abandon(renewal)
            count += 1
    return count
