"""An account's life cycle after registration: suspended and resumed by its owner, closed.

Each step carries its side effects on the account's certificates (held, released,
revoked), its server key shares (destroyed on close) and its waiting transactions
(DOCUMENT_UNUSABLE), in the same database transaction as the state change.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from accounts.services import InvalidTransition, account_set_state
from pki import services as pki
from pki.models import Certificate
from signing import engine
from signing.models import SplitKey, Transaction
from signing.services.transactions import finish


def _destroy_keys(account: Account, *, reason: str) -> None:
    now = timezone.now()
    keys_alive = SplitKey.objects.select_for_update().filter(account=account)
    for key in keys_alive.exclude(state=SplitKey.State.DESTROYED):
        key.wrapped_d1pp = None
        key.wrapped_server_half = None
        key.state = SplitKey.State.DESTROYED
        key.destroyed_at = now
        if not key.revoked:
            key.revoked = True
            key.revoke_reason = (
                reason if reason in engine.RevokeReason._value2member_map_ else "clone"
            )
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


def close_account(account: Account, *, actor: str, reason: str) -> None:
    """Revoke the certificates, destroy the server shares, close the account (REVOKED).

    The account row is locked first, as the issuance task locks it before it issues a
    certificate: a certificate issued concurrently is then either revoked here or never
    issued, never left good on a closed account.
    """
    row = Account.objects.select_for_update().get(pk=account.pk)
    for certificate in Certificate.objects.filter(split_key__account=account).exclude(
        status=Certificate.Status.REVOKED
    ):
        pki.certificate_revoke(
            certificate=certificate,
            reason=Certificate.Reason.KEY_COMPROMISE
            if reason == "clone"
            else Certificate.Reason.CESSATION_OF_OPERATION,
            actor=actor,
        )
    _destroy_keys(account, reason=reason)
    if row.state != Account.State.REVOKED:
        account_set_state(account=row, state=Account.State.REVOKED, actor=actor, reason=reason)
    for tx in Transaction.objects.select_for_update().filter(
        account=account, state=Transaction.State.PENDING
    ):
        finish(tx, Transaction.Result.DOCUMENT_UNUSABLE)


@transaction.atomic
def account_close(*, account: Account, actor: str, reason: str = "closed") -> None:
    """Close an account for good (owner's request, officer, administrator)."""
    close_account(account, actor=actor, reason=reason)


@transaction.atomic
def account_suspend(*, account: Account, actor: str, reason: str = "suspended by owner") -> Account:
    """Suspend an ACTIVE account: no transactions, certificates on hold until resumed.

    OCSP and the CRL then say revoked with reason certificateHold, so a relying party
    that checks a held certificate refuses it too; waiting transactions end as
    DOCUMENT_UNUSABLE. An account locked by an administrator cannot be suspended (nor
    resumed) by its owner: the transition rules of ``Account`` decide.
    """
    row = account_set_state(
        account=account, state=Account.State.SUSPENDED, actor=actor, reason=reason
    )
    for certificate in Certificate.objects.filter(
        split_key__account=row, status=Certificate.Status.GOOD
    ).order_by("pk"):
        pki.certificate_hold(certificate=certificate, actor=actor)
    for tx in Transaction.objects.select_for_update().filter(
        account=row, state=Transaction.State.PENDING
    ):
        finish(tx, Transaction.Result.DOCUMENT_UNUSABLE)
    return row


@transaction.atomic
def account_resume(*, account: Account, actor: str, reason: str = "resumed by owner") -> Account:
    """Undo ``account_suspend``: certificates released from hold, the account ACTIVE."""
    row = Account.objects.select_for_update().get(pk=account.pk)
    if row.state != Account.State.SUSPENDED:
        raise InvalidTransition("Only a suspended account can be resumed.")
    # Only the holds the suspension placed (at or after it began; the CA records whole
    # seconds): a certificate the CA held earlier for a reason of its own stays on hold.
    for certificate in Certificate.objects.filter(
        split_key__account=row,
        status=Certificate.Status.ON_HOLD,
        revoked_at__gte=row.state_changed_at.replace(microsecond=0),
    ).order_by("pk"):
        pki.certificate_release(certificate=certificate, actor=actor)
    return account_set_state(account=row, state=Account.State.ACTIVE, actor=actor, reason=reason)
