"""``/health/live`` and ``/health/ready``: each readiness check fails with its reason
(a database or broker that is down, a missing key store, stale CRLs, no beat or two)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.utils import OperationalError
from django.utils import timezone

from smartid import beat, health

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def ready(client: Any) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/ready")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


@pytest.fixture
def redis_url() -> str:
    """A real Redis (the test run's REDIS_URL), or the test is skipped (fails in CI)."""
    url = django_settings.REDIS_URL
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is required")
        pytest.skip("needs REDIS_URL")
    return str(url)


@pytest.fixture
def tasks_via() -> Iterator[Any]:
    """Send tasks to a broker instead of running them eagerly: ``tasks_via(url)``."""
    from smartid.celery import app

    saved = app.conf.task_always_eager, app.conf.broker_url

    def use(url: str) -> None:
        app.conf.update(task_always_eager=False, broker_url=url)

    yield use
    app.conf.update(task_always_eager=saved[0], broker_url=saved[1])


@pytest.fixture
def beat_keys(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.delete(beat.HEARTBEAT_KEY, beat.CONFLICT_KEY)
    yield client
    client.delete(beat.HEARTBEAT_KEY, beat.CONFLICT_KEY)
    client.close()


def test_ready_when_everything_answers(client: Any, ca_hierarchy: list[Any]) -> None:
    status, body = ready(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["checks"] == {
        "database": "ok",
        "redis": "ok" if django_settings.REDIS_URL else "not used",
        "keystore": "ok",
        "broker": "not used",  # the tests run tasks eagerly
        "crl": "ok",
        "beat": "not used",
    }


def test_live_asks_no_dependency(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", down)
    assert client.get("/health/live").json() == {"status": "ok"}
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["database"] == "unavailable: OperationalError"
    assert client.get("/health").status_code == 503  # the old endpoint agrees


@pytest.mark.django_db
def test_no_ca_means_no_crl(client: Any) -> None:
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["crl"] == "no certification authority (run manage.py init_ca)"


def test_stale_crl(client: Any, ca_hierarchy: list[Any], settings: Any) -> None:
    later = timezone.now() + timedelta(hours=settings.CRL_VALIDITY_HOURS) - timedelta(minutes=30)
    with time_machine.travel(later):
        status, body = ready(client)
    assert status == 503
    assert body["checks"]["crl"].startswith("the CRL of ")
    assert "expires at" in body["checks"]["crl"]


def test_missing_key_store(
    client: Any, ca_hierarchy: list[Any], settings: Any, tmp_path: Path
) -> None:
    settings.KEYSTORE_KEK_FILE = tmp_path / "elsewhere" / "kek.bin"  # no CA keys there
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["keystore"].startswith("the CA key ")
    assert body["checks"]["keystore"].endswith(" is missing from the key store")


def test_unloadable_pkcs11_module(client: Any, ca_hierarchy: list[Any], settings: Any) -> None:
    settings.KEYSTORE_BACKEND = "pkcs11"
    settings.PKCS11_MODULE = "/nonexistent/libnothing.so"
    settings.PKCS11_PIN = "1234"
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["keystore"].startswith("unavailable: Cannot load PKCS#11 module")


@pytest.mark.django_db
def test_redis_down(client: Any, settings: Any) -> None:
    settings.REDIS_URL = CLOSED_PORT_URL
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["redis"] == "unavailable: ConnectionError"
    assert body["checks"]["beat"] == "not used"  # eager tasks: no beat to ask about


@pytest.mark.django_db
def test_broker_down(client: Any, settings: Any, tasks_via: Any) -> None:
    tasks_via(CLOSED_PORT_URL)
    settings.REDIS_URL = ""
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["broker"].startswith("unavailable: ")
    assert body["checks"]["beat"] == "not used"


@pytest.mark.django_db
def test_broker_up(tasks_via: Any, redis_url: str) -> None:
    tasks_via(redis_url)
    assert health.check_broker() == "ok"


@pytest.mark.django_db
def test_no_beat_one_beat_two_beats(
    client: Any, tasks_via: Any, beat_keys: redis.Redis, redis_url: str
) -> None:
    tasks_via(redis_url)
    assert health.check_beat().startswith("no beat heartbeat")

    first = beat.BeatLock(redis.Redis.from_url(redis_url), owner="host-a:1:aa")
    assert first.acquire()
    assert health.check_beat() == "ok"
    assert first.renew()

    second = beat.BeatLock(redis.Redis.from_url(redis_url), owner="host-b:2:bb")
    assert not second.acquire(wait=0)
    assert beat_keys.get(beat.HEARTBEAT_KEY) == b"host-a:1:aa"  # the first keeps it
    reason = health.check_beat()
    assert reason == (
        "more than one beat: beat host-b:2:bb found the heartbeat owned by beat host-a:1:aa"
    )
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["beat"] == reason


@pytest.mark.django_db
def test_a_second_beat_refuses_to_start(
    settings: Any, beat_keys: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    from smartid.celery import app

    settings.REDIS_URL = redis_url

    class QuickScheduler(beat.HeartbeatScheduler):
        start_wait = 0.0  # the real one waits one TTL for a dead beat's key to expire

    first = QuickScheduler(app=app, schedule_filename=str(tmp_path / "first"))
    try:
        owner = beat_keys.get(beat.HEARTBEAT_KEY)
        assert owner is not None
        with pytest.raises(ImproperlyConfigured, match="Another celery beat is running"):
            QuickScheduler(app=app, schedule_filename=str(tmp_path / "second"))
        assert beat_keys.get(beat.HEARTBEAT_KEY) == owner
        assert beat_keys.get(beat.CONFLICT_KEY) is not None
    finally:
        first.close()
    assert beat_keys.get(beat.HEARTBEAT_KEY) is None  # a stopped beat lets the next one in
    beat_keys.delete(beat.CONFLICT_KEY)
    third = QuickScheduler(app=app, schedule_filename=str(tmp_path / "third"))
    third.close()


def test_renewal_finds_another_owner(beat_keys: redis.Redis, redis_url: str) -> None:
    mine = beat.BeatLock(redis.Redis.from_url(redis_url), owner="host-a:1:aa")
    assert mine.acquire()
    beat_keys.set(beat.HEARTBEAT_KEY, "host-c:3:cc")  # e.g. Redis lost the key, another took it
    assert not mine.renew()
    assert b"host-c:3:cc" in (beat_keys.get(beat.CONFLICT_KEY) or b"")
