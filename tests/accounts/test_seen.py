"""A device's "last seen" time and address (accounts/seen.py).

With Redis an app request writes no row: it records the time and address in a Redis hash
in the round trip that remembers its nonce, and the beat task ``flush_devices_seen``
copies the hash into the rows. The RP's ``deviceIpAddress`` reads the hash first, so it is
the current address at once. Without Redis (embedded) the request writes the row, at most
once a minute or when the address changes. Both paths run in every test run: the embedded
one on a LocMem cache, the Redis one on the run's ``REDIS_URL`` (skipped without it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import seen
from accounts.models import Device, Person
from accounts.tasks import flush_devices_seen
from core.redisclient import client_options, shared_client
from signing.engine import appauth
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import poll, sign_body, start
from tests.live import LiveASGIServer
from tests.personas import ALICE, PIN1, PIN2, RP_A

PATH = "/app/v1/accounts"
HOME, CAFE, THIEF = "198.51.100.7", "203.0.113.9", "192.0.2.66"


@pytest.fixture
def embedded(settings: Any) -> None:
    """The embedded mode's cache (process memory), whatever this run's REDIS_URL says."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def redis(settings: Any) -> Iterator[Any]:
    """This run's Redis as the shared cache, or the test is skipped (fails in CI)."""
    url = django_settings.REDIS_URL
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is required")
        pytest.skip("needs REDIS_URL")
    settings.CACHES = {
        "default": {
            "BACKEND": "core.redisclient.SharedRedisCache",
            "LOCATION": url,
            "OPTIONS": client_options(url, timeout=2.0),
        }
    }
    client = shared_client()
    assert client is not None
    yield client
    client.delete(seen.seen_key())


class Phone:
    """A registered device (no accounts needed) whose requests this test signs."""

    def __init__(self, person: Person) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.device = Device.objects.create(
            person=person, platform="test", name="t", public_key=der, interactions=[]
        )

    def headers(self, path: str = PATH) -> dict[str, str]:
        return appauth.sign_request(
            self.key, "GET", path, b"", device_id=str(self.device.pk), timestamp=_now()
        )

    def get(self, address: str, headers: dict[str, str] | None = None) -> Any:
        return Client().get(PATH, headers=headers or self.headers(), REMOTE_ADDR=address)

    def row(self) -> Device:
        return Device.objects.get(pk=self.device.pk)


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


@pytest.fixture
def phone(alice: Person) -> Phone:
    phone = Phone(alice)
    Device.objects.filter(pk=phone.device.pk).update(last_seen_at=None, last_ip=None)
    return phone


def _device_updates(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("UPDATE") and "accounts_device" in q["sql"]
    ]


# --- with Redis ------------------------------------------------------------------------


def test_a_request_records_in_redis_and_writes_no_row(redis: Any, phone: Phone) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = phone.get(HOME)
    assert response.status_code == 200, response.content
    assert _device_updates(queries) == []
    row = phone.row()
    assert row.last_seen_at is None and row.last_ip is None
    assert seen.device_last_ip(row) == HOME
    assert 0 < redis.ttl(seen.seen_key()) <= seen.SEEN_KEEP_SECONDS  # no key without an end


def test_the_flush_writes_the_time_and_address_once(redis: Any, phone: Phone) -> None:
    moment = datetime(2026, 12, 4, 10, 30, 15, 250000, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        assert phone.get(HOME).status_code == 200
    assert flush_devices_seen.delay().get() == 1
    row = phone.row()
    assert row.last_seen_at == moment and row.last_ip == HOME
    with CaptureQueriesContext(connection) as queries:
        assert flush_devices_seen.delay().get() == 0  # nothing left: no statement at all
    assert queries.captured_queries == []
    assert phone.row().last_seen_at == moment


def test_a_request_during_the_flush_is_kept_for_the_next(
    redis: Any, phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert phone.get(HOME).status_code == 200
    write_rows = seen._write_rows

    def then_a_request(batch: list[tuple[bytes, bytes]]) -> None:
        write_rows(batch)
        assert phone.get(CAFE).status_code == 200  # between the read and the removal

    monkeypatch.setattr(seen, "_write_rows", then_a_request)
    assert seen.devices_seen_flush() == 1
    assert phone.row().last_ip == HOME
    assert seen.device_last_ip(phone.row()) == CAFE
    monkeypatch.undo()
    assert seen.devices_seen_flush() == 1
    assert phone.row().last_ip == CAFE


def test_an_older_record_does_not_overwrite_a_newer_row(redis: Any, phone: Phone) -> None:
    assert phone.get(CAFE).status_code == 200
    later = datetime.now(UTC) + timedelta(hours=1)
    Device.objects.filter(pk=phone.device.pk).update(last_seen_at=later, last_ip=HOME)
    assert seen.devices_seen_flush() == 1
    row = phone.row()
    assert row.last_seen_at == later and row.last_ip == HOME


def test_a_deleted_device_is_skipped(redis: Any, phone: Phone) -> None:
    gone = str(uuid.uuid4())
    redis.hset(seen.seen_key(), mapping={gone: f"1700000000.5 {THIEF}", "junk": "x y"})
    assert phone.get(HOME).status_code == 200
    assert seen.devices_seen_flush() == 3
    assert phone.row().last_ip == HOME
    assert not Device.objects.filter(pk=gone).exists()
    assert redis.exists(seen.seen_key()) == 0


def test_a_replay_is_refused_and_records_nothing(redis: Any, phone: Phone) -> None:
    headers = phone.headers()
    assert phone.get(HOME, headers).status_code == 200
    replay = phone.get(THIEF, headers)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed_request"
    assert seen.device_last_ip(phone.row()) == HOME


@pytest.fixture
def redis_down(settings: Any) -> None:
    """The shared cache on a port where no Redis listens (a stopped Redis)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "core.redisclient.SharedRedisCache",
            "LOCATION": url,
            "OPTIONS": client_options(url, timeout=0.2),
        }
    }


def test_redis_down_is_a_503_and_changes_nothing(redis_down: None, phone: Phone) -> None:
    response = phone.get(HOME)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert phone.row().last_ip is None


def test_redis_down_is_a_503_for_the_long_poll_too(
    redis_down: None, asgi_server: LiveASGIServer, phone: Phone
) -> None:
    path = "/app/v1/transactions/pending?timeoutMs=0"
    response = httpx.get(f"{asgi_server.url}{path}", headers=phone.headers(path), timeout=15)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


# --- embedded (no Redis) ---------------------------------------------------------------


def test_embedded_writes_the_row_once_a_minute_or_on_a_new_address(
    embedded: None, phone: Phone
) -> None:
    assert shared_client() is None
    with CaptureQueriesContext(connection) as queries:
        assert phone.get(HOME).status_code == 200
    assert len(_device_updates(queries)) == 1
    first = phone.row().last_seen_at
    assert first is not None and phone.row().last_ip == HOME
    with CaptureQueriesContext(connection) as queries:
        assert phone.get(HOME).status_code == 200  # within the minute: no write
    assert _device_updates(queries) == []
    assert phone.get(CAFE).status_code == 200
    assert phone.row().last_ip == CAFE
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        assert phone.get(CAFE).status_code == 200
    last_seen = phone.row().last_seen_at
    assert last_seen is not None and last_seen > first + timedelta(minutes=1)
    assert flush_devices_seen.delay().get() == 0


def test_embedded_replay_is_refused_and_records_nothing(embedded: None, phone: Phone) -> None:
    headers = phone.headers()
    assert phone.get(HOME, headers).status_code == 200
    replay = phone.get(THIEF, headers)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed_request"
    assert phone.row().last_ip == HOME


# --- the relying party sees the current address at once ------------------------------


def _v2_flow(platform: Platform) -> str:
    body = {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": base64.b64encode(hashlib.sha256(b"login").digest()).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
        "requestProperties": {"shareMdClientIpAddress": True},
    }
    url = f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}"
    return str(httpx.post(url, json=body, timeout=30).json()["sessionID"])


def _v2_answer(platform: Platform, session: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(
        f"{platform.url}/v2/session/{session}", params={"timeoutMs": 5000}, timeout=30
    ).json()
    return answer


def _v3_flow(platform: Platform) -> str:
    path = f"signature/notification/etsi/{ALICE.semantics_identifier}"
    body = sign_body(requestProperties={"shareMdClientIpAddress": True})
    return str(start(platform.url, path, body)["sessionID"])


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("mode", ["embedded", "redis"])
def test_the_rp_sees_the_new_address_at_once(
    request: pytest.FixtureRequest, platform: Platform, rp_a: Any, settings: Any, version: int,
    mode: str,
) -> None:  # fmt: skip
    request.getfixturevalue(mode)
    app, account = platform.registered(ALICE)
    seen.devices_seen_flush()
    device = account.device
    assert Device.objects.get(pk=device.pk).last_ip == "127.0.0.1"
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    app._client.headers["X-Forwarded-For"] = CAFE  # the phone moved to a café's network
    session = _v2_flow(platform) if version == 2 else _v3_flow(platform)
    (tx,) = app.pending(timeout_ms=5000)
    assert app.approve(tx, PIN1 if version == 2 else PIN2).ok
    answer = _v2_answer(platform, session) if version == 2 else poll(platform.url, session)
    assert answer["state"] == "COMPLETE" and answer["deviceIpAddress"] == CAFE
    row = Device.objects.get(pk=device.pk)
    if mode == "redis":
        assert row.last_ip == "127.0.0.1"  # not flushed yet: the answer read Redis
        assert seen.devices_seen_flush() == 1
    assert Device.objects.get(pk=device.pk).last_ip == CAFE
