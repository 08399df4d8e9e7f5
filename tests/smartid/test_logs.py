"""Request ids and JSON logs: one id per request, answered in ``X-Request-ID``, in every
log line of the request and of the Celery tasks it enqueued (eager here; a real worker in
``test_logs_worker.py``)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.logs import JsonFormatter, RequestIdFilter, bind_request_id, reset_request_id
from tests.helpers.platform import Platform, auth_transaction
from tests.personas import PIN1

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger's output in the live format (the settings' json handler), with the
    request and task lines switched on."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in ("smartid.request", "smartid.tasks")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_request_gets_an_id_and_logs_it(client: Any, json_lines: io.StringIO) -> None:
    response = client.get("/health/live")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    [line] = [e for e in parsed(json_lines) if e["logger"] == "smartid.request"]
    assert line["request_id"] == request_id
    assert line["route"] == "health/live" and line["status"] == 200
    assert line["method"] == "GET" and line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert client.get("/health/live")["X-Request-ID"] != request_id  # one per request


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("3f2a8c1e-5b7d-4e0f-9a6b-1c2d3e4f5a6b", True),  # a proxy's UUID
        ("rp.bank123:0001", True),
        ("short", False),  # fewer than 8 characters
        ("x" * 65, False),  # more than 64
        ("abc def ghi", False),  # a space
        ('abcdefgh"}\n{"level":"INFO"', False),  # an attempt to forge a log line
        ("abcdefgh\u00e9ijk", False),  # non-ASCII
    ],
)
def test_incoming_request_ids_are_validated(
    client: Any, json_lines: io.StringIO, sent: str, kept: bool
) -> None:
    response = client.get("/health/live", HTTP_X_REQUEST_ID=sent)
    assert response.status_code == 200
    answered = response["X-Request-ID"]
    assert (answered == sent) is kept
    if not kept:
        assert len(answered) == 32
    lines = parsed(json_lines)  # every line is still one JSON object
    assert {e["request_id"] for e in lines if e["logger"] == "smartid.request"} == {answered}


def test_json_formatter_writes_one_object_per_line() -> None:
    record = logging.LogRecord("smartid.x", logging.ERROR, __file__, 1, "a %s", ("b",), None)
    record.task = "pki.tasks.publish_crl"
    token = bind_request_id("abcdef0123456789")
    try:
        assert RequestIdFilter().filter(record)
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            record.exc_info = sys.exc_info()
        text = JsonFormatter().format(record)
    finally:
        reset_request_id(token)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "a b" and entry["level"] == "ERROR"
    assert entry["logger"] == "smartid.x" and entry["request_id"] == "abcdef0123456789"
    assert entry["task"] == "pki.tasks.publish_crl"
    assert entry["time"].endswith("+00:00")
    assert "ValueError: boom" in entry["exception"]


def test_the_live_format_is_json_from_the_settings(tmp_path: Path) -> None:
    """SMARTID_LOG_FORMAT=json (the live default): what Django's LOGGING really writes."""
    env = {
        **os.environ,
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(tmp_path),
        "SMARTID_LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "smartid.settings",
    }
    env.pop("REDIS_URL", None)
    code = (
        "import django, logging; django.setup(); "
        "from core.logs import bind_request_id; bind_request_id('feedc0ffee123456'); "
        "logging.getLogger('smartid.probe').warning('hello %s', 'world')"
    )
    result = subprocess.run(  # noqa: S603 -- our own interpreter
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    [line] = [json.loads(x) for x in result.stderr.splitlines() if "smartid.probe" in x]
    assert line["message"] == "hello world"
    assert line["request_id"] == "feedc0ffee123456"
    assert line["level"] == "WARNING"


def test_a_task_enqueued_by_a_request_logs_the_request_id(
    platform: Platform, json_lines: io.StringIO
) -> None:
    """A clone revokes the certificates; the revocation enqueues the CRL task (eager in
    the tests: it runs inside the request), whose line carries the request's id."""
    app, account = platform.registered()
    copy = platform.clone(app)
    tx = auth_transaction(account)
    [pending] = [t for t in app.pending(timeout_ms=5000) if t.id == str(tx.pk)]
    assert app.approve(pending, PIN1).status == "OK"
    tx = auth_transaction(account)
    [pending] = [t for t in copy.pending(timeout_ms=5000) if t.id == str(tx.pk)]
    json_lines.truncate(0)
    json_lines.seek(0)
    assert copy.approve(pending, PIN1).status == "CLONE_DETECTED"
    _, response = copy.recorder.last("/confirm")  # type: ignore[attr-defined]
    request_id = response.headers["X-Request-ID"]
    lines = [e for e in parsed(json_lines) if e["request_id"] == request_id]
    web = [e for e in lines if e["logger"] == "smartid.request"]
    tasks = [e for e in lines if e["logger"] == "smartid.tasks"]
    assert [e["route"] for e in web] == ["app/v1/transactions/<uuid:transaction_id>/confirm"], lines
    assert {e["task"] for e in tasks} == {"pki.tasks.publish_crl"}
    assert {e["state"] for e in tasks} == {"SUCCESS"}
