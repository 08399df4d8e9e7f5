"""Transactions for a device: creating, finishing, reading and expiring them.

A transaction is what a relying party (or the portal) asks of one account's device; the
device's answer to it is ``signing.services.answers``.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Device
from core import metrics
from core.compiled import Arg, CompiledQuery, CompiledUpdate
from signing import engine
from signing.engine.encoding import check_digest, hash_spec
from signing.engine.vc import decoy_codes, verification_code
from signing.models import SplitKey, Transaction
from signing.services.channels import (
    device_channel,
    group_channel,
    publish_on_commit,
    transaction_channel,
)
from signing.services.errors import BadRequest, NotFound, WrongState
from signing.signals import transaction_finished

logger = logging.getLogger(__name__)

VC_INTERACTIONS = frozenset(
    {"verificationCodeChoice", "confirmationMessageAndVerificationCodeChoice"}
)

#: The two statements of every device's answer and every long poll (core/compiled.py).
_FINISH = CompiledUpdate(
    Transaction,
    ["state", "result", "signature", "interaction_used", "refused_interaction", "completed_at"],
)
_PENDING = CompiledQuery(
    lambda: (
        Transaction.objects.select_related("account", "key")
        .filter(
            account__device=Arg("device", Device._meta.pk),
            state=Transaction.State.PENDING,
            expires_at__gt=Arg("now", Transaction._meta.get_field("expires_at")),
        )
        .order_by("created_at")[:10]
    )
)


def finish(
    tx: Transaction,
    result: str,
    *,
    signature: bytes | None = None,
    interaction: str = "",
    refused_interaction: str = "",
) -> None:
    tx.state = Transaction.State.COMPLETE
    tx.result = result
    tx.signature = signature
    tx.interaction_used = interaction
    tx.refused_interaction = refused_interaction
    tx.completed_at = timezone.now()
    _FINISH.save(tx)
    publish_on_commit(transaction_channel(tx.pk))
    metrics.on_commit(lambda: _announce_finished(tx))
    if tx.group is None:
        return
    devices: list[uuid.UUID] = []
    if tx.has_alternatives:
        # Alternatives on the person's other devices: the first answer decides.
        others = Transaction.objects.filter(
            group=tx.group, state=Transaction.State.PENDING
        ).exclude(pk=tx.pk)
        pending = list(others.values_list("pk", "account__device_id"))
        if pending:
            Transaction.objects.filter(
                pk__in=[pk for pk, _ in pending], state=Transaction.State.PENDING
            ).update(
                state=Transaction.State.COMPLETE,
                result=Transaction.Result.CANCELLED,
                completed_at=tx.completed_at,
            )
        devices = [device for _, device in pending]
    # The session's long polls (the RP's) wake on the group's channel.
    publish_on_commit(group_channel(tx.group), *(device_channel(d) for d in devices))


def _active_key(account: Account, purpose: str) -> SplitKey:
    """The account's active key for ``purpose``; from ``account.keys`` when the caller
    prefetched them (the RP API reads them with the accounts), else one query."""
    keys = [k for k in account.keys.all() if k.purpose == purpose]
    active = sorted((k for k in keys if k.state == SplitKey.State.ACTIVE), key=lambda k: k.pk)
    if not active:
        raise WrongState("The account has no active key for this purpose.")
    return active[0]


def _announce_finished(tx: Transaction) -> None:
    metrics.TRANSACTIONS_FINISHED.labels(kind=tx.kind, result=tx.result).inc()
    for receiver, answer in transaction_finished.send_robust(sender=Transaction, transaction=tx):
        if isinstance(answer, Exception):
            logger.error("transaction_finished receiver %r failed: %r", receiver, answer)


# No savepoint: callers create transactions inside their own atomic block (an RP session
# and its transactions commit together) and none of them recovers from an error here.
@transaction.atomic(savepoint=False)
def transaction_create(
    *,
    account: Account,
    kind: str,
    rp_name: str,
    interactions: list[dict[str, str]],
    digest: bytes | None = None,
    hash_type: str = "",
    padding: str = "PKCS1v15",
    ttl: timedelta = timedelta(minutes=3),
    group: uuid.UUID | None = None,
    has_alternatives: bool = True,
    protocol: str = "",
    protocol_parameters: dict[str, str] | None = None,
    vc: str = "",
    flow_type: str = "",
    vc_shown_on: str = "",
) -> Transaction:
    """Create a transaction for the account's device and wake the device.

    If the app can show none of the RP's interactions, the transaction is created
    already finished with REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP.

    RP API v3: ``protocol`` names the signature protocol (``ACSP_V2``: no digest yet, the
    app's answer completes the payload; ``RAW_DIGEST_SIGNATURE``: ``digest`` is signed as
    it is), ``protocol_parameters`` what its payload is built from, and ``vc`` the
    verification code fixed at the start, ``flow_type`` how the session reached the app
    (QR, Web2App, App2App, Notification).

    ``vc_shown_on`` (``Transaction.VcShownOn``): ``vc`` is shown on that screen and never
    to the app, which must pick it from its choices; such a transaction offers code
    choices only, so it cannot be approved blind.
    """
    if vc_shown_on and not (
        engine.is_verification_code(vc)
        and interactions
        and all(i.get("type") in VC_INTERACTIONS for i in interactions)
    ):
        raise BadRequest("A code shown on another screen needs the code and code choices only.")
    purpose = (
        SplitKey.Purpose.AUTH if kind == Transaction.Kind.AUTHENTICATION else SplitKey.Purpose.SIGN
    )
    key = None
    salt = None
    vc_choices: list[str] = []
    acsp = protocol == "ACSP_V2"
    if kind != Transaction.Kind.CERTIFICATE_CHOICE and acsp:
        # The digest is HASH(payload), known only when the app answers; the salt's size
        # is the hash's.
        try:
            digest_size = hash_spec(hash_type).digest_size
        except engine.InvalidInput:
            raise BadRequest("The hash type is unknown.") from None
        key = _active_key(account, purpose)
        salt = secrets.token_bytes(digest_size)
        if vc and any(i.get("type") in VC_INTERACTIONS for i in interactions):
            vc_choices = decoy_codes(vc, 3)
    elif kind != Transaction.Kind.CERTIFICATE_CHOICE:
        if digest is None:
            raise BadRequest("A hash and its type are required.")
        try:
            digest_size = check_digest(digest, hash_type).digest_size
        except engine.InvalidInput:
            raise BadRequest(
                "The hash type is unknown or the hash length does not match."
            ) from None
        key = _active_key(account, purpose)
        if padding == "PSS":
            salt = secrets.token_bytes(digest_size)
        if any(i.get("type") in VC_INTERACTIONS for i in interactions):
            vc_choices = decoy_codes(vc or verification_code(digest), 3)
    tx = Transaction.objects.create(
        account=account,
        key=key,
        kind=kind,
        rp_name=rp_name,
        hash=digest,
        hash_type=hash_type,
        padding=padding if digest is not None or acsp else "",
        salt=salt,
        interactions=interactions,
        vc=vc,
        vc_choices=vc_choices,
        vc_shown_on=vc_shown_on,
        protocol=protocol,
        protocol_parameters=protocol_parameters or {},
        flow_type=flow_type,
        expires_at=timezone.now() + ttl,
        group=group,
        has_alternatives=has_alternatives and group is not None,
    )
    if kind != Transaction.Kind.CERTIFICATE_CHOICE and (
        first_supported_interaction(tx, account.device) is None
    ):
        finish(tx, Transaction.Result.REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP)
        return tx
    publish_on_commit(device_channel(account.device_id))
    return tx


def first_supported_interaction(tx: Transaction, device: Device) -> str | None:
    """The interaction the app uses: the first of the RP's list that the app supports."""
    supported = set(device.interactions)
    for interaction in tx.interactions:
        if interaction.get("type") in supported:
            return str(interaction["type"])
    return None


def transaction_for_device(*, device: Device, transaction_id: uuid.UUID | str) -> Transaction:
    """The device's own transaction (another device's or an unknown id: NotFound)."""
    tx = (
        Transaction.objects.select_related("account", "key")
        .filter(pk=transaction_id, account__device=device)
        .first()
    )
    if tx is None:
        raise NotFound("No such transaction.")
    return tx


def pending_for_device(device: Device) -> list[Transaction]:
    return _PENDING.all(device=device.pk, now=timezone.now())


def expire_if_due(tx: Transaction) -> bool:
    if tx.state == Transaction.State.PENDING and tx.expires_at <= timezone.now():
        finish(tx, Transaction.Result.TIMEOUT)
        return True
    return False


@transaction.atomic
def transaction_expire(*, transaction_id: uuid.UUID | str) -> None:
    """End an overdue transaction with TIMEOUT (committed on its own)."""
    tx = Transaction.objects.select_for_update().filter(pk=transaction_id).first()
    if tx is not None:
        expire_if_due(tx)


@transaction.atomic
def transactions_expire_due() -> int:
    """The periodic sweep: every overdue transaction ends with TIMEOUT."""
    due = Transaction.objects.select_for_update(skip_locked=True).filter(
        state=Transaction.State.PENDING, expires_at__lte=timezone.now()
    )[:1000]
    count = 0
    for tx in due:
        count += expire_if_due(tx)
    return count
