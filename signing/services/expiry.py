"""Account validity: when an account expires, the notices before, and abandoned registrations.

An account is valid as long as the certificates of its active keys are: its validity ends
at the earliest ``not_after`` among them (``CERTIFICATE_VALIDITY_DAYS`` after issuance, 3
years by default). Nothing has to run for an account to expire: every reader compares
that date with the clock, so relying parties are refused the moment it passes
(``api.rp.services``), and the portal and the app show it. A re-key
(``signing.services.renewal``) gives new certificates and so a new validity period.

The periodic task (``signing.tasks.account_expiry_housekeeping``) only does what needs a
clock tick: the e-mail notices before expiry, and closing registrations that were never
finished.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import BadHeaderError, send_mail
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from audit.services import audit_record
from pki.models import Certificate
from signing.models import ExpiryNotice, SplitKey
from signing.services.lifecycle import close_account

logger = logging.getLogger(__name__)

ACTOR = "task:account_expiry"


def with_valid_until(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """Annotate ``valid_until``: the earliest ``not_after`` of the active keys' certificates
    (None while the account has none, e.g. a registration that is not finished)."""
    return accounts.annotate(
        valid_until=Min("keys__certificate__not_after", filter=Q(keys__state=SplitKey.State.ACTIVE))
    )


def account_valid_until(account: Account) -> datetime | None:
    """When the account stops being usable: its active certificates' earliest expiry."""
    found: datetime | None = Certificate.objects.filter(
        split_key__account=account, split_key__state=SplitKey.State.ACTIVE
    ).aggregate(m=Min("not_after"))["m"]
    return found


def renewal_window() -> timedelta:
    """How long before expiry the owner is asked to renew (the first notice)."""
    days = settings.EXPIRY_NOTICE_DAYS
    return timedelta(days=max(days) if days else 0)


@dataclass(frozen=True)
class Validity:
    """An account's validity as its owner sees it (the app's status, the portal)."""

    valid_until: datetime | None
    expired: bool
    renewal_due: bool


def validity(valid_until: datetime | None, now: datetime | None = None) -> Validity:
    now = now or timezone.now()
    if valid_until is None:
        return Validity(None, False, False)
    expired = valid_until <= now
    return Validity(valid_until, expired, not expired and valid_until - now <= renewal_window())


def is_expired(account: Account, now: datetime | None = None) -> bool:
    return validity(account_valid_until(account), now).expired


# --- the periodic task ---------------------------------------------------------------


def _threshold(left: timedelta) -> int | None:
    """The notice due for ``left`` until expiry: the smallest threshold not yet below it
    (a task that ran late sends the latest notice, not every missed one)."""
    due = [d for d in settings.EXPIRY_NOTICE_DAYS if left <= timedelta(days=d)]
    return min(due) if due else None


def _notice_text(account: Account, valid_until: datetime) -> tuple[str, str]:
    day = f"{valid_until:%Y-%m-%d}"
    subject = f"Your Open eID account {account.document_number} expires on {day}"
    body = (
        f"Your Open eID account {account.document_number} on the device "
        f'"{account.device.name}" is valid until {day} {valid_until:%H:%M} UTC.\n\n'
        "Renew it in the app before then: the app makes new keys and you choose new PINs; "
        "you confirm with your current PIN2. An expired account cannot be renewed: you "
        "would have to register again.\n"
    )
    return subject, body


def expiry_notices_send(*, now: datetime | None = None) -> int:
    """Notify owners of accounts that expire soon (each notice once per validity period).

    The notice is recorded in the app's account status in any case; the e-mail goes to the
    person's address when there is one. A failed e-mail leaves no record, so the next run
    tries again.
    """
    now = now or timezone.now()
    if not settings.EXPIRY_NOTICE_DAYS:
        return 0
    horizon = now + renewal_window()
    candidates = (
        with_valid_until(Account.objects.filter(state=Account.State.ACTIVE))
        .filter(valid_until__gt=now, valid_until__lte=horizon)  # type: ignore[misc]
        .select_related("person", "device")
    )
    sent = 0
    for account in candidates:
        valid_until: datetime = account.valid_until  # type: ignore[attr-defined]
        days = _threshold(valid_until - now)
        if days is None:
            continue
        if ExpiryNotice.objects.filter(
            account=account, not_after=valid_until, days_before=days
        ).exists():
            continue
        try:
            with transaction.atomic():
                ExpiryNotice.objects.create(
                    account=account,
                    not_after=valid_until,
                    days_before=days,
                    emailed=bool(account.person.email),
                )
                if account.person.email:
                    subject, body = _notice_text(account, valid_until)
                    send_mail(subject, body, None, [account.person.email], fail_silently=False)
                audit_record(
                    actor=ACTOR,
                    action="account.expiry_notice",
                    object_type="accounts.Account",
                    object_id=account.pk,
                    data={"valid_until": valid_until.isoformat(), "days_before": days},
                )
        except IntegrityError:
            continue  # another worker sent it
        except (smtplib.SMTPException, OSError, BadHeaderError) as exc:
            logger.warning("expiry notice for %s failed: %s", account.pk, type(exc).__name__)
            continue
        sent += 1
    return sent


def registrations_expire_abandoned(*, now: datetime | None = None) -> int:
    """Close registrations still PENDING after ``REGISTRATION_PENDING_HOURS``.

    The app redeemed its ticket but never signed both certificate requests: the account is
    closed (REVOKED) as ``close_account`` does it — a certificate issued for one key is
    revoked, the server key halves are destroyed — so nothing half-made stays usable.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.REGISTRATION_PENDING_HOURS)
    ids = list(
        Account.objects.filter(state=Account.State.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    closed = 0
    for pk in ids:
        with transaction.atomic():
            account = (
                Account.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state=Account.State.PENDING)
                .first()
            )
            if account is None:
                continue
            close_account(account, actor=ACTOR, reason="registration expired")
            closed += 1
    return closed
