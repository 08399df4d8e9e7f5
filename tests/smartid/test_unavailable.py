"""A shared service that stops answering costs a request a 503, never a 500 or a hang.

Found by the multi-node test (docs/deployment.md "Multi-node test"): with Redis frozen
(SIGSTOP) every RP status poll and app call waited on a socket without a timeout, then
failed with 500 after redis-py's retries. Now the Redis clients give up after
``SMARTID_REDIS_TIMEOUT``, do not wait for a Redis that just timed out again for a second
(core/redisclient.py), and ``ServiceUnavailableMiddleware`` (also in the long-poll handler)
answers 503 with ``Retry-After``.

The frozen Redis here is a socket that accepts connections and never answers, as a
stopped Redis does (the kernel still completes the handshake). Without the timeouts the
requests below would hang: httpx's own timeout turns that into a failure.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from django.core.cache import caches
from django.db import IntegrityError, InterfaceError, OperationalError
from django.test import Client, RequestFactory

from api.rp import services
from api.rp.models import RelyingParty, RpSession
from core.errors import is_unavailable
from core.redisclient import client_options
from smartid.views import service_unavailable
from tests.live import LiveASGIServer

#: Long enough for 2 Redis timeouts and more; a hang would run into it.
CLIENT_TIMEOUT = 15.0


class FrozenRedis:
    """A server that accepts connections, counts them and never answers (as a Redis
    stopped with SIGSTOP, whose kernel still completes the handshakes)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.connections.append(self.listener.accept()[0])
            except OSError:  # closed
                return

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def frozen_redis() -> Iterator[FrozenRedis]:
    server = FrozenRedis()
    yield server
    server.close()


@pytest.fixture
def frozen_redis_cache(frozen_redis: FrozenRedis, settings: Any) -> None:
    """The cache, configured as settings.py does, on a frozen Redis."""
    url = frozen_redis.url
    settings.CACHES = {
        "default": {
            "BACKEND": "core.redisclient.SharedRedisCache",
            "LOCATION": url,
            "OPTIONS": client_options(url, timeout=settings.REDIS_TIMEOUT),
        }
    }


def test_after_a_timeout_redis_is_not_waited_for_again_at_once(
    frozen_redis: FrozenRedis,
) -> None:
    url = frozen_redis.url
    client = redis.Redis.from_url(url, **client_options(url, timeout=0.2))
    with pytest.raises(redis.RedisError):
        client.get("key")
    # One connection, one timeout: the retry and the next call do not try again.
    assert len(frozen_redis.connections) == 1
    with pytest.raises(redis.ConnectionError, match="not waiting for it again yet"):
        client.get("key")
    assert len(frozen_redis.connections) == 1


def test_the_cache_keeps_one_pool_per_process(frozen_redis_cache: None) -> None:
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first is not second  # what Django makes per thread or async context
    assert first._cache is second._cache  # type: ignore[attr-defined]


def _session(rp: RelyingParty, version: int) -> RpSession:
    return RpSession.objects.create(
        relying_party=rp,
        kind=RpSession.Kind.AUTHENTICATION,
        api_version=version,
        fingerprint="0" * 64,
        certificate_level="QUALIFIED",
    )


@pytest.mark.parametrize("version", [1, 2])
def test_rp_status_poll_with_frozen_redis_is_503(
    frozen_redis_cache: None, asgi_server: LiveASGIServer, rp_a: RelyingParty, version: int
) -> None:
    # Once the session is found, the poll reads the cache of final answers (api/rp/lookup.py).
    session = _session(rp_a, version)
    response = httpx.get(
        f"{asgi_server.url}/v{version}/session/{session.pk}",
        params={"timeoutMs": 1000},
        timeout=CLIENT_TIMEOUT,
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["code"] == 503
    assert body["error"] == "unavailable"


def test_rp_v3_status_poll_with_frozen_redis_is_a_503_problem(
    frozen_redis_cache: None, asgi_server: LiveASGIServer, rp_a: RelyingParty
) -> None:
    session = _session(rp_a, 3)
    response = httpx.get(
        f"{asgi_server.url}/v3/session/{session.pk}",
        params={"timeoutMs": 1000},
        timeout=CLIENT_TIMEOUT,
    )
    assert response.status_code == 503
    assert response.json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Service temporarily unavailable, try again in a moment",
    }


@pytest.fixture
def database_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The RP check reaches a database that has just closed its connections."""

    def closed(**kwargs: Any) -> RelyingParty:
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(services, "authenticate", closed)


V2_BODY = {
    "relyingPartyUUID": "00000000-0000-0000-0000-000000000000",
    "relyingPartyName": "DEMO",
    "hash": base64.b64encode(bytes(64)).decode(),
    "hashType": "SHA512",
    "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
}


def test_rp_v2_session_start_without_database_is_503(db: None, database_gone: None) -> None:
    response = Client().post(
        "/v2/authentication/etsi/PNOEE-40504040001", V2_BODY, content_type="application/json"
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"] == "unavailable"


def test_rp_v3_session_start_without_database_is_a_503_problem(
    db: None, database_gone: None
) -> None:
    body = {
        "relyingPartyUUID": "00000000-0000-4000-8000-000000000000",
        "relyingPartyName": "DEMO",
        "signatureProtocol": "ACSP_V2",
        "signatureProtocolParameters": {
            "rpChallenge": base64.b64encode(bytes(32)).decode(),
            "signatureAlgorithm": "rsassa-pss",
            "signatureAlgorithmParameters": {"hashAlgorithm": "SHA-512"},
        },
        "interactions": base64.b64encode(
            b'[{"type":"displayTextAndPIN","displayText60":"Log in?"}]'
        ).decode(),
        "vcType": "numeric4",
    }
    response = Client().post(
        "/v3/authentication/notification/etsi/PNOEE-40504040001",
        body,
        content_type="application/json",
    )
    assert response.status_code == 503
    assert response.json()["status"] == 503


def test_a_page_gets_a_plain_503() -> None:
    response = service_unavailable(RequestFactory().get("/portal/"))
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert response["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (redis.TimeoutError("Timeout reading from socket"), True),
        (redis.ConnectionError("Connection refused"), True),
        (OperationalError("the database system is shutting down"), True),
        (InterfaceError("connection already closed"), True),
        (redis.ResponseError("WRONGTYPE"), False),  # a defect, not an outage
        (IntegrityError("duplicate key"), False),
        (ValueError("bad"), False),
    ],
)
def test_what_counts_as_unavailable(exc: Exception, unavailable: bool) -> None:
    assert is_unavailable(exc) is unavailable


def test_other_errors_stay_500(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: Any) -> RelyingParty:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "authenticate", broken)
    client = Client(raise_request_exception=False)
    response = client.post(
        "/v2/authentication/etsi/PNOEE-40504040001", V2_BODY, content_type="application/json"
    )
    assert response.status_code == 500
