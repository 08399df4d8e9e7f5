"""The machine endpoints' handler (smartid/machine.py) through a real ASGI server: the same
answers, headers and checks as Django's full chain, with fewer thread hand-offs."""

from __future__ import annotations

import httpx
import pytest

from smartid.asgi import LONG_POLL_PATHS, MACHINE_PATHS
from tests.live import LiveASGIServer


@pytest.mark.parametrize(
    ("path", "machine"),
    [
        ("/v2/authentication/etsi/PNOEE-30303039914", True),
        ("/v3/signature/notification/etsi/PNOEE-30303039914", True),
        ("/v1/certificatechoice/pno/EE/30303039914", True),
        ("/app/v1/transactions/4d4e0f6a-1111-4a5b-9c8d-7e6f5a4b3c2d/confirm", True),
        ("/app/v1/registrations/4d4e0f6a-1111-4a5b-9c8d-7e6f5a4b3c2d/certificates", False),
        ("/portal/", False),
        ("/ra/login/", False),
        ("/admin/", False),
        ("/ocsp", False),
        ("/v22/x", False),
    ],
)
def test_which_paths_take_the_machine_handler(path: str, machine: bool) -> None:
    assert bool(MACHINE_PATHS.match(path)) is machine


def test_long_polls_keep_their_own_handler() -> None:
    for path in (
        "/v2/session/4d4e0f6a-1111-4a5b-9c8d-7e6f5a4b3c2d",
        "/app/v1/transactions/pending",
    ):
        assert LONG_POLL_PATHS.match(path)


def test_rp_api_answers_with_the_security_headers_and_a_request_id(
    asgi_server: LiveASGIServer,
) -> None:
    response = httpx.post(
        f"{asgi_server.url}/v2/authentication/etsi/PNOEE-30303039914",
        content=b"{not json",
        headers={"Content-Type": "application/json", "X-Request-ID": "trace-12345678"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"] == "trace-12345678"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src" in response.headers["content-security-policy"]
    assert "set-cookie" not in response.headers


def test_app_api_without_a_device_signature_is_refused(asgi_server: LiveASGIServer) -> None:
    response = httpx.post(
        f"{asgi_server.url}/app/v1/transactions/4d4e0f6a-1111-4a5b-9c8d-7e6f5a4b3c2d/confirm",
        json={"interaction": "displayTextAndPIN"},
    )
    assert response.status_code == 401
    assert "error" in response.json()


def test_a_foreign_host_header_is_refused_on_the_machine_paths(
    asgi_server: LiveASGIServer,
) -> None:
    response = httpx.post(
        f"{asgi_server.url}/v2/authentication/etsi/PNOEE-30303039914",
        json={},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_many_requests_in_a_row_all_answer(asgi_server: LiveASGIServer) -> None:
    # The handler's threads keep their SQLite connection between requests: a request after
    # many others on the same threads still reads the database (unknown RP: 401).
    with httpx.Client(base_url=asgi_server.url) as client:
        statuses = {
            client.post(
                "/v2/authentication/etsi/PNOEE-30303039914",
                json={
                    "relyingPartyUUID": "00000000-0000-4000-8000-000000000000",
                    "relyingPartyName": "NOBODY",
                    "certificateLevel": "QUALIFIED",
                    "hash": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    "hashType": "SHA256",
                },
            ).status_code
            for _ in range(40)
        }
    assert statuses == {401}
