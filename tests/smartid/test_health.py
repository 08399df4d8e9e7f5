"""The health endpoint and the JSON error format, through a real ASGI server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.conf import settings

from tests.live import LiveASGIServer


def test_health_reports_database_and_redis(asgi_server: LiveASGIServer) -> None:
    response = httpx.get(f"{asgi_server.url}/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not configured")
    assert "no-cache" in response.headers["cache-control"]


def test_health_head_is_allowed(asgi_server: LiveASGIServer) -> None:
    assert httpx.head(f"{asgi_server.url}/health").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_health_wrong_method(asgi_server: LiveASGIServer, method: str) -> None:
    response = httpx.request(method, f"{asgi_server.url}/health", content=b"{}")
    assert response.status_code == 405


def test_unknown_api_path_is_json_404(asgi_server: LiveASGIServer) -> None:
    response = httpx.get(f"{asgi_server.url}/v2/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Not found"}


def test_foreign_host_header_is_refused(asgi_server: LiveASGIServer) -> None:
    response = httpx.get(f"{asgi_server.url}/health", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_malformed_request_line_gets_400_not_500(asgi_server: LiveASGIServer) -> None:
    response = httpx.get(f"{asgi_server.url}/health?%ff=%00")
    assert response.status_code == 200


def test_admin_login_page_is_served(asgi_server: LiveASGIServer) -> None:
    response = httpx.get(f"{asgi_server.url}/admin/login/")
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.text
    static = httpx.get(f"{asgi_server.url}/static/admin/css/base.css")
    assert static.status_code == 200


def test_admin_requires_login(asgi_server: LiveASGIServer) -> None:
    response = httpx.get(f"{asgi_server.url}/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response.headers["location"]


def test_admin_post_without_csrf_is_refused(asgi_server: LiveASGIServer) -> None:
    response = httpx.post(
        f"{asgi_server.url}/admin/login/", data={"username": "x", "password": "y"}
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_machine_endpoints_negotiate_no_language(client: Any) -> None:
    """Pages speak the visitor's language; /health, OCSP, the APIs answer the same bytes."""
    machine = client.get("/health", HTTP_ACCEPT_LANGUAGE="et")
    assert "Content-Language" not in machine
    assert "Accept-Language" not in machine.get("Vary", "")
    page = client.get("/portal/login", HTTP_ACCEPT_LANGUAGE="et")
    assert page["Content-Language"] == "et"
    assert "Accept-Language" in page["Vary"]
