"""The RP API's session metrics: started in ``services.session_start``, ended when the
session's decisive transaction finishes (``signing.signals.transaction_finished``).

Labels: the relying party's registered ``relyingPartyName`` (a closed set: only
registered parties start sessions), the API version, the session type and, for ended
sessions, the end result in that version's vocabulary (``api.rp.v3.vocabulary``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.core.cache import cache

from api.rp.models import RpSession
from api.rp.v3 import vocabulary
from core import metrics
from signing.models import Transaction

logger = logging.getLogger(__name__)

#: How long a session's labels are remembered for its end (longer than any session lives).
LABELS_SECONDS = 15 * 60


def _labels_key(session_id: object) -> str:
    return f"metrics:rp-session-labels:{session_id}"


def count_started(session: RpSession) -> None:
    """A new session (called once, when it is created). Its labels are remembered in the
    shared cache, so counting its end (on whichever node) costs no SQL on the hot path."""
    labels = [session.relying_party.name, session.api_version, session.kind]

    def count() -> None:
        metrics.RP_SESSIONS_STARTED.labels(
            rp=labels[0], version=str(labels[1]), type=labels[2]
        ).inc()
        try:
            cache.set(_labels_key(session.pk), labels, LABELS_SECONDS)
        except Exception:  # no cache: the end looks the session up instead
            logger.debug("metrics: session labels not cached", exc_info=True)

    metrics.on_commit(count)


def _session_labels(session_id: uuid.UUID) -> tuple[str, int, str] | None:
    try:
        remembered = cache.get(_labels_key(session_id))
    except Exception:  # no cache: ask the database
        logger.debug("metrics: session labels not read from the cache", exc_info=True)
        remembered = None
    if isinstance(remembered, list) and len(remembered) == 3:
        return str(remembered[0]), int(remembered[1]), str(remembered[2])
    session = (
        RpSession.objects.select_related("relying_party")
        .only("api_version", "kind", "relying_party__name")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        return None
    return session.relying_party.name, session.api_version, session.kind


def count_ended(sender: Any, transaction: Transaction, **kwargs: Any) -> None:
    """Receiver of ``transaction_finished``: the end of the transaction's RP session.

    Only the first transaction of a group finishes (the others are cancelled in the same
    database transaction), so each session is counted once. Transactions of no RP session
    (an onboarding login with an existing account) are not RP sessions.
    """
    if transaction.group is None:
        return
    labels = _session_labels(transaction.group)
    if labels is None:
        return
    rp, version, kind = labels
    metrics.RP_SESSIONS_ENDED.labels(
        rp=rp,
        version=str(version),
        type=kind,
        end_result=vocabulary.end_result(version, transaction),
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
