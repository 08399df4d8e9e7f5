"""Event-bus channels of the split-key service: who is woken when something changes."""

from __future__ import annotations

import functools
import uuid

from django.db import transaction

from core import events


def device_channel(device_id: object) -> str:
    return f"device:{device_id}"


def transaction_channel(transaction_id: uuid.UUID | str) -> str:
    return f"transaction:{transaction_id}"


def group_channel(group: uuid.UUID | str) -> str:
    return f"group:{group}"


def publish_on_commit(*channels: str) -> None:
    """Wake the channels' waiters once the current database transaction commits."""
    for channel in channels:
        transaction.on_commit(functools.partial(events.publish, channel))


def registration_channel(registration_id: uuid.UUID | str) -> str:
    """Woken when a certificate of the registration is issued (or the issuance fails)."""
    return f"registration:{registration_id}"


def renewal_channel(renewal_id: uuid.UUID | str) -> str:
    """Woken when a re-key's swap commits (or it fails): the app's §8.4 long poll."""
    return f"renewal:{renewal_id}"
