"""The SQL statements one RP authentication flow costs the server (issue 17: ≤ 15).

Every statement any thread of this process sends is counted (the live server runs in this
process), phase by phase: the RP's POST, the app's long poll, its confirmation, the RP's
poll. ``BEGIN`` is left out: psycopg sends it on PostgreSQL without a statement of Django's,
so the count is the same on both databases. The budget is the count today; a change that
adds a statement to the hot path fails here and must say why. A device idle for minutes
costs the same with Redis: its "last seen" goes to Redis, not to its row.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from accounts.models import Device
from core.redisclient import shared_client
from device.app import DeviceApp
from tests.helpers.platform import Platform
from tests.personas import ALICE, PIN1, RP_A

BUDGET = {"POST": 5, "pending": 2, "confirm": 5, "poll": 3}


class Statements:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def add(self, sql: str) -> None:
        if not sql.lstrip().upper().startswith("BEGIN"):
            with self.lock:
                self.seen.append(sql)

    def take(self) -> list[str]:
        with self.lock:
            taken, self.seen = self.seen, []
        return taken


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    counted = Statements()
    execute, executemany = CursorWrapper.execute, CursorWrapper.executemany

    def counting_execute(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        counted.add(sql)
        return execute(self, sql, params)

    def counting_executemany(self: CursorWrapper, sql: str, params: Any) -> Any:
        counted.add(sql)
        return executemany(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counting_execute)
    monkeypatch.setattr(CursorWrapper, "executemany", counting_executemany)
    yield counted


def _flow(platform: Platform, statements: Statements, app: DeviceApp) -> dict[str, list[str]]:
    body = {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": base64.b64encode(hashlib.sha256(b"login").digest()).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
    }
    statements.take()
    url = f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}"
    session = httpx.post(url, json=body, timeout=30).json()["sessionID"]
    used = {"POST": statements.take()}
    (tx,) = app.pending(timeout_ms=5000)
    used["pending"] = statements.take()
    assert app.approve(tx, PIN1).ok
    used["confirm"] = statements.take()
    answer = httpx.get(f"{platform.url}/v2/session/{session}", timeout=30).json()
    used["poll"] = statements.take()
    assert answer["state"] == "COMPLETE" and answer["result"]["endResult"] == "OK"
    return used


def test_an_rp_authentication_flow_stays_within_its_statement_budget(
    platform: Platform, rp_a: Any, statements: Statements
) -> None:
    app, _ = platform.registered(ALICE)
    app.accounts()  # the app's own bookkeeping, not part of a flow
    used = _flow(platform, statements, app)
    for phase, budget in BUDGET.items():
        assert len(used[phase]) <= budget, (phase, [s[:70] for s in used[phase]])
    assert sum(len(s) for s in used.values()) <= 15


def test_a_device_idle_for_minutes_costs_no_more_with_redis(
    platform: Platform, rp_a: Any, statements: Statements
) -> None:
    """With Redis a device's "last seen" costs no statement (accounts/seen.py); embedded,
    the first request after a minute idle writes it: a 16th statement, in one process."""
    app, account = platform.registered(ALICE)
    Device.objects.filter(pk=account.device_id).update(
        last_seen_at=timezone.now() - timedelta(minutes=10)
    )
    used = _flow(platform, statements, app)
    total = sum(len(s) for s in used.values())
    assert total <= (15 if shared_client() is not None else 16), used
