"""account_suspend / account_resume: state and certificate holds in one transaction."""

from __future__ import annotations

import pytest

from accounts.models import Account
from accounts.services import InvalidTransition, account_set_state
from audit.models import AuditRecord
from pki.models import Certificate
from signing.models import Transaction
from signing.services.lifecycle import account_resume, account_suspend
from tests.helpers.platform import Platform, auth_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def statuses(account: Account) -> set[str]:
    return set(
        Certificate.objects.filter(split_key__account=account).values_list("status", flat=True)
    )


def test_suspend_holds_and_resume_releases(platform: Platform) -> None:
    _, account = platform.registered()
    pending = auth_transaction(account)
    account_suspend(account=account, actor="portal:test")
    account.refresh_from_db()
    assert account.state == Account.State.SUSPENDED
    assert statuses(account) == {Certificate.Status.ON_HOLD}
    pending.refresh_from_db()
    assert pending.result == Transaction.Result.DOCUMENT_UNUSABLE
    with pytest.raises(InvalidTransition):
        account_suspend(account=account, actor="portal:test")
    account_resume(account=account, actor="portal:test")
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert statuses(account) == {Certificate.Status.GOOD}
    actions = list(
        AuditRecord.objects.filter(actor="portal:test")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [
        "account.state_changed",
        "certificate.held",
        "certificate.held",
        "certificate.released",
        "certificate.released",
        "account.state_changed",
    ]


def test_an_administrators_lock_is_not_the_owners_to_lift(platform: Platform) -> None:
    _, account = platform.registered()
    account_set_state(account=account, state=Account.State.LOCKED, actor="admin")
    for service in (account_suspend, account_resume):
        with pytest.raises(InvalidTransition):
            service(account=account, actor="portal:test")
    account.refresh_from_db()
    assert account.state == Account.State.LOCKED
    assert statuses(account) == {Certificate.Status.GOOD}


def test_resume_keeps_a_hold_the_ca_placed_before(platform: Platform) -> None:
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from pki.services import certificate_hold

    _, account = platform.registered()
    signing = Certificate.objects.get(split_key__account=account, purpose="SIGN")
    with time_machine.travel(timezone.now() - timedelta(minutes=5)):
        certificate_hold(certificate=signing, actor="ca:officer")  # the CA's own reason
    account_suspend(account=account, actor="portal:test")
    account_resume(account=account, actor="portal:test")
    signing.refresh_from_db()
    assert signing.status == Certificate.Status.ON_HOLD  # still the CA's hold
    authentication = Certificate.objects.get(split_key__account=account, purpose="AUTH")
    assert authentication.status == Certificate.Status.GOOD
