"""A thousand open long polls on one process cost no threads and all wake up."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from typing import Any

import httpx

from api.rp.models import RelyingParty
from core import events
from tests.helpers.platform import Platform
from tests.personas import ALICE, RP_A

POLLS = 1000


def test_thousand_concurrent_polls_stay_healthy(platform: Platform, rp_a: RelyingParty) -> None:
    app, _ = platform.registered(ALICE)
    raw = hashlib.sha256(b"many polls").digest()
    body = {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": base64.b64encode(raw).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Hi"}],
    }
    session_id = httpx.post(
        f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}", json=body
    ).json()["sessionID"]
    pending = app.pending(timeout_ms=5000)
    url = f"{platform.url}/v2/session/{session_id}"
    limits = httpx.Limits(max_connections=POLLS + 10, max_keepalive_connections=POLLS + 10)
    threads = {"before": threading.active_count()}

    async def scenario() -> tuple[list[dict[str, Any]], float, int, float]:
        async with httpx.AsyncClient(timeout=90, limits=limits) as client:
            polls = [
                asyncio.create_task(client.get(url, params={"timeoutMs": 60000}))
                for _ in range(POLLS)
            ]
            deadline = time.monotonic() + 60
            while events.waiting() < POLLS:  # every poll is parked on the event bus
                assert time.monotonic() < deadline, f"only {events.waiting()} polls parked"
                await asyncio.sleep(0.05)
            parked = events.waiting()
            threads["parked"] = threading.active_count()
            started = time.monotonic()
            health = await client.get(f"{platform.url}/health")  # the server still answers
            health_time = time.monotonic() - started
            assert health.status_code == 200
            await asyncio.to_thread(app.approve, pending[0], "1234")
            answered = time.monotonic()
            responses = await asyncio.gather(*polls)
            return [r.json() for r in responses], time.monotonic() - answered, parked, health_time

    bodies, wake_all, parked, health_time = asyncio.run(scenario())
    assert parked >= POLLS
    # An open poll costs no thread (smartid/asgi.py's lean long-poll handler).
    assert threads["parked"] - threads["before"] < 50, threads
    assert all(b["state"] == "COMPLETE" and b["result"]["endResult"] == "OK" for b in bodies)
    assert len(bodies) == POLLS
    # All thousand re-read and answered within a bounded time (generous for a shared CI box).
    assert wake_all < 20, wake_all
    assert health_time < 5, health_time
