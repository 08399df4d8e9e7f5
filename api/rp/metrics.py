"""The RP API's session metrics: started in ``services.session_start``, ended when the
session's decisive transaction finishes (``signing.signals.transaction_finished``).

Labels: the relying party's registered ``relyingPartyName`` (a closed set: only
registered parties start sessions), the API version, the session type and, for ended
sessions, the end result in that version's vocabulary (``api.rp.v3.vocabulary``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.cache import cache

from api.rp.models import RpSession
from api.rp.v3 import vocabulary
from core import metrics
from signing.models import Transaction


def count_started(session: RpSession) -> None:
    """A new session (called once, when it is created)."""
    metrics.on_commit(
        metrics.RP_SESSIONS_STARTED.labels(
            rp=session.relying_party.name,
            version=str(session.api_version),
            type=session.kind,
        ).inc
    )


def count_ended(sender: Any, transaction: Transaction, **kwargs: Any) -> None:
    """Receiver of ``transaction_finished``: the end of the transaction's RP session.

    Only the first transaction of a group finishes (the others are cancelled in the same
    database transaction), so each session is counted once. Transactions of no RP session
    (an onboarding login with an existing account) are not RP sessions.
    """
    if transaction.group is None:
        return
    session = (
        RpSession.objects.select_related("relying_party")
        .only("api_version", "kind", "relying_party__name")
        .filter(pk=transaction.group)
        .first()
    )
    if session is None:
        return
    metrics.RP_SESSIONS_ENDED.labels(
        rp=session.relying_party.name,
        version=str(session.api_version),
        type=session.kind,
        end_result=vocabulary.end_result(session.api_version, transaction),
    ).inc()


def count_unopened_timeout(session: RpSession, *, keep: timedelta) -> None:
    """A v3 device link nobody opened: it ends with TIMEOUT without any transaction, so
    nothing finishes. It is counted by the first status poll that sees it end (the shared
    cache remembers that for ``keep``, so later polls and other processes do not count it
    again); a session nobody polls after its end is not counted."""
    if cache.add(
        f"metrics:rp-unopened-timeout:{session.pk}", 1, timeout=max(1, int(keep.total_seconds()))
    ):
        metrics.RP_SESSIONS_ENDED.labels(
            rp=session.relying_party.name,
            version=str(session.api_version),
            type=session.kind,
            end_result="TIMEOUT",
        ).inc()
