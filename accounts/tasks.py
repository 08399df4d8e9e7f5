"""Celery tasks of the accounts (thin: they call services)."""

from __future__ import annotations

from celery import shared_task

from accounts.seen import devices_seen_flush

__all__ = ["flush_devices_seen"]


@shared_task
def flush_devices_seen() -> int:
    """Every minute: the devices' "last seen" records from Redis into their rows
    (accounts/seen.py); nothing to do in the embedded mode. The number of records."""
    return devices_seen_flush()
