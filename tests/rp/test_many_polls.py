"""A thousand open long polls on one process cost no threads and all wake up."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
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


def test_a_poll_whose_client_went_away_is_dropped(platform: Platform, rp_a: RelyingParty) -> None:
    """The long-poll handler watches the connection: a client that hangs up frees its
    place on the event bus at once, not when the poll would have timed out."""
    raw = hashlib.sha256(b"gone").digest()
    body = {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": base64.b64encode(raw).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Hi"}],
    }
    platform.registered(ALICE)
    session_id = httpx.post(
        f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}", json=body
    ).json()["sessionID"]
    before = events.waiting()
    host, port = platform.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(
            f"GET /v2/session/{session_id}?timeoutMs=60000 HTTP/1.1\r\n"
            f"Host: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        deadline = time.monotonic() + 10
        while events.waiting() <= before:
            assert time.monotonic() < deadline, "the poll never parked"
            time.sleep(0.02)
    deadline = time.monotonic() + 10  # closed: well before the 60 s of the poll
    while events.waiting() > before:
        assert time.monotonic() < deadline, f"{events.waiting()} polls still parked"
        time.sleep(0.02)
    # The server goes on answering the session.
    status = httpx.get(f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000})
    assert status.status_code == 200 and status.json()["state"] == "RUNNING"
