"""The client against the local simulator over real HTTP (uvicorn on 127.0.0.1).

Acceptance (issue 8): authentication against the simulator yields a verified identity; a
wrong signature or a foreign certificate is refused; SK's failure numbers map to clear
errors.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import override_settings

from demo.mobileid.simulator import SUBSCRIBERS, Behaviour, simulator_trust_anchors
from enrolment.mobileid import MobileIdClient, MobileIdError, client_from_settings
from tests.live import LiveASGIServer

DEMO_UUID = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def mid_url(asgi_server: LiveASGIServer) -> str:
    return f"{asgi_server.url}/mid-api"


@pytest.fixture
def client(mid_url: str) -> Iterator[MobileIdClient]:
    client = MobileIdClient(
        base_url=mid_url,
        relying_party_uuid=DEMO_UUID,
        relying_party_name="DEMO",
        trust_anchors=simulator_trust_anchors(),
        poll_timeout_ms=1000,
        overall_timeout_s=20,
    )
    yield client
    client.close()


def _authenticate(client: MobileIdClient, phone: str, code: str) -> Any:
    session = client.authentication_start(phone_number=phone, national_identity_number=code)
    return client.authentication_finish(session)


def test_sks_demo_person_is_verified(client: MobileIdClient) -> None:
    identity = _authenticate(client, "+37200000766", "60001019906")
    assert identity.semantics_identifier == "PNOEE-60001019906"
    assert identity.given_name == "MARY ÄNN"
    assert identity.surname == "O’CONNEŽ-ŠUSLIK TESTNUMBER"
    assert identity.country == "EE"
    assert "BEGIN CERTIFICATE" in identity.certificate_pem


def test_p384_subscriber_is_verified(client: MobileIdClient) -> None:
    assert _authenticate(client, "+37268000769", "60001017869").given_name == "JAAN"


EXPECTED = {
    Behaviour.NOT_MID_CLIENT: "not_mid_client",
    Behaviour.USER_CANCELLED: "user_cancelled",
    Behaviour.TIMEOUT: "timeout",
    Behaviour.PHONE_ABSENT: "phone_absent",
    Behaviour.DELIVERY_ERROR: "delivery_error",
    Behaviour.SIM_ERROR: "sim_error",
    Behaviour.SIGNATURE_HASH_MISMATCH: "hash_mismatch",
    Behaviour.WRONG_SIGNATURE: "signature_invalid",
    Behaviour.FOREIGN_CA: "certificate_untrusted",
    Behaviour.EXPIRED_CERTIFICATE: "certificate_expired",
}


@pytest.mark.parametrize(
    "subscriber",
    [s for s in SUBSCRIBERS if s.behaviour is not Behaviour.OK],
    ids=lambda s: f"{s.phone_number}-{s.behaviour}",
)
def test_every_failing_number_gives_its_error(client: MobileIdClient, subscriber: Any) -> None:
    with pytest.raises(MobileIdError) as caught:
        _authenticate(client, subscriber.phone_number, subscriber.national_identity_number)
    assert caught.value.code == EXPECTED[subscriber.behaviour]


def test_a_known_phone_with_another_persons_code_is_not_a_client(client: MobileIdClient) -> None:
    with pytest.raises(MobileIdError) as caught:
        _authenticate(client, "+37200000766", "38001085718")
    assert caught.value.code == "not_mid_client"


def test_the_simulators_answer_only_verifies_with_its_own_ca(mid_url: str) -> None:
    from tests.enrolment.mobileid.helpers import ca

    stranger = MobileIdClient(
        base_url=mid_url,
        relying_party_uuid=DEMO_UUID,
        relying_party_name="DEMO",
        trust_anchors=[ca("trusted")[1]],
        poll_timeout_ms=1000,
    )
    with pytest.raises(MobileIdError) as caught:
        _authenticate(stranger, "+37200000766", "60001019906")
    assert caught.value.code == "certificate_untrusted"


def test_client_from_settings_uses_the_simulator(mid_url: str) -> None:
    with override_settings(MOBILE_ID_URL=mid_url):
        client = client_from_settings()
    identity = _authenticate(client, "+37200000766", "60001019906")
    assert identity.semantics_identifier == "PNOEE-60001019906"


def test_mobile_id_off_is_service_unavailable() -> None:
    with override_settings(MOBILE_ID_URL=""), pytest.raises(MobileIdError) as caught:
        client_from_settings()
    assert caught.value.code == "service_unavailable"


def test_long_poll_reports_running_until_the_person_answers(
    client: MobileIdClient, mid_url: str
) -> None:
    with override_settings(MOBILE_ID_SIMULATOR_DELAY_MS=1500):
        session = client.authentication_start(
            phone_number="+37200000766", national_identity_number="60001019906"
        )
    first = httpx.get(
        f"{mid_url}/authentication/session/{session.session_id}",
        params={"timeoutMs": "1000"},
        timeout=10,
    )
    assert first.status_code == 200
    assert first.json()["state"] == "RUNNING"
    identity = client.authentication_finish(session)
    assert identity.semantics_identifier == "PNOEE-60001019906"


# --- the simulator's wire format --------------------------------------------------------


def _start_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "relyingPartyUUID": DEMO_UUID,
        "relyingPartyName": "DEMO",
        "phoneNumber": "+37200000766",
        "nationalIdentityNumber": "60001019906",
        "hash": base64.b64encode(secrets.token_bytes(32)).decode(),
        "hashType": "SHA256",
        "language": "ENG",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"hash": base64.b64encode(b"x" * 20).decode()}, 400, "length of the hash"),
        ({"hash": "%%%"}, 400, "Base64"),
        ({"hashType": "MD5"}, 400, "hashType"),
        ({"phoneNumber": None}, 400, "phoneNumber"),
        ({"displayText": "x" * 41}, 400, "displayText"),
        ({"relyingPartyUUID": "00000000-0000-0000-0000-000000000001"}, 401, "authorize"),
        ({"relyingPartyName": "BANK"}, 401, "authorize"),
    ],
)
def test_start_errors_are_sks_json_errors(
    mid_url: str, overrides: dict[str, Any], status: int, message: str
) -> None:
    response = httpx.post(f"{mid_url}/authentication", json=_start_body(**overrides), timeout=10)
    assert response.status_code == status
    document = response.json()
    assert message in document["error"]
    assert set(document) == {"error", "time", "traceId"}


def test_unknown_session_wrong_method_and_unknown_path(mid_url: str) -> None:
    unknown = httpx.get(
        f"{mid_url}/authentication/session/00000000-0000-0000-0000-000000000000", timeout=10
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "SessionID not found"
    wrong = httpx.get(f"{mid_url}/authentication", timeout=10)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"
    nowhere = httpx.get(f"{mid_url}/signature", timeout=10)
    assert nowhere.status_code == 404
    assert "error" in nowhere.json()
    bad_timeout = httpx.get(
        f"{mid_url}/authentication/session/x", params={"timeoutMs": "soon"}, timeout=10
    )
    assert bad_timeout.status_code == 400
    assert httpx.get(f"{mid_url}/version", timeout=10).text.startswith("Version: ")
