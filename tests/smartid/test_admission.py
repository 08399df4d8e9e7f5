"""Admission control (smartid/admission.py): beyond its places a process answers 503 with
Retry-After at once, in the path's error format; session starts give way to work in
progress; a freed place admits again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.test import override_settings

from smartid.admission import admitted


class SlowApp:
    """An ASGI app that holds every request until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inside = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.inside += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _request(app: Any, method: str, path: str) -> tuple[int, dict[str, str], Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    await app(scope, receive, send)
    start, body = sent[0], sent[1]["body"]
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], headers, json.loads(body) if start["status"] == 503 else body


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@override_settings(MAX_CONCURRENT_REQUESTS=4, ADMISSION_WAIT_MS=50)
def test_requests_beyond_the_places_are_shed_with_503_in_each_format() -> None:
    async def scenario() -> None:
        slow = SlowApp()
        app = admitted(slow)
        held = [asyncio.create_task(_request(app, "GET", "/app/v1/accounts")) for _ in range(4)]
        await asyncio.sleep(0.01)
        assert slow.inside == 4
        status, headers, body = await _request(app, "POST", "/v2/authentication/etsi/x")
        assert (status, headers["retry-after"]) == (503, "1")
        assert body == {
            "code": 503,
            "message": "The service is busy; nothing was done. Try again in a second.",
            "error": "overloaded",
        }
        status, headers, body = await _request(app, "POST", "/v3/signature/notification/etsi/x")
        assert status == 503 and body["status"] == 503 and body["title"] == "Service Unavailable"
        assert headers["content-type"] == "application/json"
        status, _, body = await _request(app, "GET", "/portal/accounts")
        assert status == 503 and "busy" in body["message"]
        assert slow.inside == 4  # nothing shed reached the application
        slow.release.set()
        assert [r[0] for r in await asyncio.gather(*held)] == [200] * 4
        # Places are free again: the next request goes through.
        assert (await _request(app, "GET", "/app/v1/accounts"))[0] == 200

    _run(scenario())


@override_settings(MAX_CONCURRENT_REQUESTS=4, ADMISSION_WAIT_MS=50)
def test_new_session_starts_give_way_to_work_in_progress() -> None:
    async def scenario() -> None:
        slow = SlowApp()
        app = admitted(slow)
        held = [asyncio.create_task(_request(app, "GET", "/app/v1/accounts")) for _ in range(3)]
        await asyncio.sleep(0.01)
        # Three of four places taken: a new RP session is shed, the app's confirmation is not.
        start = await _request(app, "POST", "/v2/signature/document/PNOEE-1-X-Q")
        assert start[0] == 503
        confirm = asyncio.create_task(
            _request(
                app, "POST", "/app/v1/transactions/00000000-0000-4000-8000-000000000000/confirm"
            )
        )
        await asyncio.sleep(0.01)
        assert slow.inside == 4
        slow.release.set()
        assert (await confirm)[0] == 200
        await asyncio.gather(*held)

    _run(scenario())


@override_settings(MAX_CONCURRENT_REQUESTS=1, ADMISSION_WAIT_MS=2000)
def test_a_request_waits_for_a_place_freed_within_the_wait() -> None:
    async def scenario() -> None:
        slow = SlowApp()
        app = admitted(slow)
        first = asyncio.create_task(_request(app, "GET", "/v2/openapi.json"))
        second = asyncio.create_task(_request(app, "GET", "/v2/openapi.json"))
        await asyncio.sleep(0.05)
        assert slow.inside == 1  # the second waits
        slow.release.set()
        assert [(await first)[0], (await second)[0]] == [200, 200]

    _run(scenario())


@override_settings(MAX_CONCURRENT_REQUESTS=0)
def test_a_cap_of_zero_switches_admission_off() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    assert admitted(app) is app
