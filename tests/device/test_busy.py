"""The app waits and tries again when the service sheds a call as busy (503, Retry-After)."""

from __future__ import annotations

import httpx
import pytest

from device.errors import ApiError
from device.session import BUSY_RETRIES, Session
from device.state import MemoryStore

BUSY = {"code": 503, "message": "The service is busy; nothing was done.", "error": "overloaded"}


def _session(answers: list[httpx.Response], waits: list[float]) -> tuple[Session, list[str]]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return answers.pop(0)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://service")
    return Session(client, MemoryStore(), clock=lambda: 0.0, sleep=waits.append), seen


def test_a_busy_answer_is_retried_after_the_wait_it_names() -> None:
    waits: list[float] = []
    answers = [
        httpx.Response(503, json=BUSY, headers={"Retry-After": "1"}),
        httpx.Response(503, json=BUSY, headers={"Retry-After": "2"}),
        httpx.Response(200, json={"accounts": []}),
    ]
    session, seen = _session(answers, waits)
    assert session.request("GET", "/app/v1/accounts", None, device_id=None) == {"accounts": []}
    assert waits == [1.0, 2.0] and len(seen) == 3


@pytest.mark.parametrize("retry_after", [None, "30", "soon", "1.5", "-1"])
def test_other_503s_are_errors_at_once(retry_after: str | None) -> None:
    waits: list[float] = []
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    session, seen = _session([httpx.Response(503, json=BUSY, headers=headers)], waits)
    with pytest.raises(ApiError) as raised:
        session.request("GET", "/app/v1/accounts", None, device_id=None)
    assert raised.value.status == 503 and waits == [] and len(seen) == 1


def test_a_service_that_stays_busy_is_an_error_after_a_few_tries() -> None:
    waits: list[float] = []
    answers = [
        httpx.Response(503, json=BUSY, headers={"Retry-After": "1"}) for _ in range(BUSY_RETRIES)
    ]
    session, seen = _session(answers, waits)
    with pytest.raises(ApiError) as raised:
        session.request("POST", "/app/v1/transactions/x/confirm", b"{}", device_id=None)
    assert raised.value.status == 503 and len(seen) == BUSY_RETRIES
    assert waits == [1.0] * (BUSY_RETRIES - 1)  # no wait after the last try
