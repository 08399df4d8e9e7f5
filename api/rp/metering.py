"""RP usage metering: finished sessions counted per relying party and month, and purged
after the retention period once counted.

A session counts in the month (UTC) it was created, once it has finished: its decisive
transaction (the first to complete that another device did not pre-empt) gives the end
result, in the platform's own words (``Transaction.Result``: one vocabulary for v1, v2 and
v3); a device link nobody opened within ``SESSION_TTL`` counts as ``TIMEOUT``. Sessions
still running are not counted yet; the next aggregation counts them.

:func:`aggregate` recomputes a month from its sessions and replaces that month's rows in
one transaction, so running it twice, or on two nodes at once, gives the same numbers.
:func:`purge` aggregates each month past the retention one last time, marks it frozen
(its counts are final) and only then deletes its sessions and their transactions. A frozen
month is never recomputed (there is nothing left to count it from).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from api.rp.models import RelyingParty, RpSession, Usage, UsageMonth
from api.rp.services import SESSION_TTL
from core.pdf import html_to_pdf
from signing.models import Transaction

#: The columns of a statement, in order (CSV header and PDF table).
COLUMNS = ("api_version", "kind", "certificate_level", "end_result", "count")
UNFINISHED = "RUNNING"


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def parse_month(text: str) -> date:
    """``YYYY-MM`` → the first day of that month; ValueError for anything else."""
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return date(int(text[:4]), int(text[5:]), 1)


def _bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end_month = next_month(month)
    return start, datetime(end_month.year, end_month.month, 1, tzinfo=UTC)


def _finished_counts(month: date) -> list[dict[str, Any]]:
    """One dict per (RP, version, kind, level, end result) of the month's finished sessions."""
    start, end = _bounds(month)
    decisive = (
        Transaction.objects.filter(group=OuterRef("pk"), state=Transaction.State.COMPLETE)
        .exclude(result=Transaction.Result.CANCELLED)
        .order_by("completed_at")
        .values("result")[:1]
    )
    now = timezone.now()
    any_transaction = Transaction.objects.filter(group=OuterRef("pk"))
    live = any_transaction.filter(state=Transaction.State.PENDING, expires_at__gt=now)
    sessions = (
        RpSession.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(
            decided=Subquery(decisive),
            has_transaction=Exists(any_transaction),
            has_live=Exists(live),
        )
        .annotate(
            outcome=Coalesce(
                F("decided"),
                # Ended without a decision: every transaction timed out (whether or not
                # anyone has polled since), or a device link nobody opened in time.
                Value(Transaction.Result.TIMEOUT.value),
                output_field=CharField(),
            )
        )
        .filter(
            Q(decided__isnull=False)
            | Q(has_live=False, has_transaction=True)
            | Q(has_transaction=False, created_at__lt=now - SESSION_TTL)
        )
    )
    return list(
        sessions.values(
            "relying_party_id", "api_version", "kind", "certificate_level", "outcome"
        ).annotate(count=Count("pk"))
    )


def aggregate(month: date) -> int:
    """(Re)count ``month``; return the number of sessions counted. A frozen month stays."""
    month = month_start(month)
    with transaction.atomic():
        record, _ = UsageMonth.objects.select_for_update().get_or_create(month=month)
        if record.frozen:
            return sum(Usage.objects.filter(month=month).values_list("count", flat=True))
        rows = _finished_counts(month)
        Usage.objects.filter(month=month).delete()
        Usage.objects.bulk_create(
            Usage(
                month=month,
                relying_party_id=row["relying_party_id"],
                api_version=row["api_version"],
                kind=row["kind"],
                certificate_level=row["certificate_level"],
                end_result=row["outcome"],
                count=row["count"],
            )
            for row in rows
        )
        record.aggregated_at = timezone.now()
        record.save(update_fields=["aggregated_at"])
    return sum(int(row["count"]) for row in rows)


def purge(now: datetime | None = None) -> tuple[int, int]:
    """Count, freeze and delete every month wholly older than the retention period.

    Returns (sessions, transactions) deleted. A month goes only as a whole, so its counts
    never mix purged and present sessions.
    """
    now = now or timezone.now()
    cutoff = month_start((now - timedelta(days=settings.RP_SESSION_RETENTION_DAYS)).date())
    oldest = RpSession.objects.order_by("created_at").values_list("created_at", flat=True).first()
    sessions = transactions = 0
    month = month_start(oldest.date()) if oldest is not None else cutoff
    while month < cutoff:
        aggregate(month)
        start, end = _bounds(month)
        with transaction.atomic():
            UsageMonth.objects.filter(month=month).update(frozen=True)
            ids = RpSession.objects.filter(created_at__gte=start, created_at__lt=end)
            transactions += Transaction.objects.filter(group__in=ids.values("pk")).delete()[0]
            sessions += ids.delete()[0]
        month = next_month(month)
    return sessions, transactions


@dataclass(frozen=True)
class Statement:
    """One relying party's usage in one month."""

    relying_party: RelyingParty
    month: date
    rows: list[tuple[int, str, str, str, int]]  # COLUMNS
    final: bool  # the month is over and every session in it has finished (or was purged)

    @property
    def total(self) -> int:
        return sum(row[-1] for row in self.rows)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["relying_party", "month", *COLUMNS])
        name = self.relying_party.name
        for row in self.rows:
            writer.writerow([name, f"{self.month:%Y-%m}", *row])
        writer.writerow([name, f"{self.month:%Y-%m}", "", "", "", "TOTAL", self.total])
        return out.getvalue()


def statement(relying_party: RelyingParty, month: date, *, refresh: bool = True) -> Statement:
    """The relying party's statement for ``month`` (counted afresh unless ``refresh`` is off).

    A month without traffic is an empty statement with a total of 0, not an error.
    """
    month = month_start(month)
    if refresh:
        aggregate(month)
    rows = [
        (u.api_version, u.kind, u.certificate_level, u.end_result, u.count)
        for u in Usage.objects.filter(month=month, relying_party=relying_party).order_by(
            "api_version", "kind", "certificate_level", "end_result"
        )
    ]
    _, end = _bounds(month)
    record = UsageMonth.objects.filter(month=month).first()
    final = bool(record and record.frozen) or timezone.now() >= end + SESSION_TTL
    return Statement(relying_party, month, rows, final)


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF in the platform's paper style (the RA office's papers)."""
    html = render_to_string(
        "rp/statement_pdf.html", {"statement": statement, "printed_at": timezone.now()}
    )
    return html_to_pdf(html)
