"""RP API refusals, idempotency, session binding and lifetime (rp-api.md §1)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_set_state
from api.rp.models import RelyingParty, RpSession
from signing.models import Transaction
from tests.helpers.answering import Answering
from tests.helpers.corpus import corpus_files
from tests.helpers.platform import Platform
from tests.personas import ALICE, RP_A, RP_B

RAW = hashlib.sha256(b"hello").digest()
AUTH = {
    "relyingPartyUUID": RP_A.uuid,
    "relyingPartyName": RP_A.name,
    "hash": base64.b64encode(RAW).decode(),
    "hashType": "SHA256",
    "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
}
ALICE_ID = ALICE.semantics_identifier  # as the paths name her


def post(platform: Platform, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    if isinstance(body, bytes | str):
        return httpx.post(f"{platform.url}/v2/{path}", content=body, timeout=30, **kwargs)
    return httpx.post(f"{platform.url}/v2/{path}", json=body, timeout=30, **kwargs)


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty) -> Account:
    return platform.registered(ALICE)[1]


def test_every_java_client_request_body_is_accepted(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    paths = corpus_files("requests")
    assert len(paths) == 14
    for path in paths:
        body = json.loads(path.read_text())
        kind = (
            "certificatechoice"
            if "certificateChoice" in path.name
            else ("authentication" if path.name.startswith("authentication") else "signature")
        )
        response = post(platform, f"{kind}/etsi/{ALICE_ID}", body)
        assert response.status_code == 200, (path.name, response.text)
        assert set(response.json()) == {"sessionID"}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"relyingPartyUUID": "00000000-0000-0000-0000-000000000001"}, 401),
        ({"relyingPartyUUID": "not-a-uuid"}, 401),
        ({"relyingPartyName": "OTHER"}, 401),
        ({"relyingPartyName": "Ä" * 17}, 400),  # 34 bytes
        ({"relyingPartyUUID": None}, 400),
        ({"hash": "!!!"}, 400),
        ({"hash": base64.b64encode(b"short").decode()}, 400),
        ({"hashType": "SHA512"}, 400),  # a SHA-256 hash
        ({"hashType": "MD5"}, 400),
        ({"certificateLevel": "QSCD"}, 400),  # not for authentication
        ({"certificateLevel": "SUPER"}, 400),
        ({"nonce": ""}, 400),
        ({"nonce": "x" * 31}, 400),
        ({"allowedInteractionsOrder": []}, 400),
        (
            {
                "allowedInteractionsOrder": [
                    {"type": "displayTextAndPIN", "displayText60": "x" * 61}
                ]
            },
            400,
        ),
        (
            {
                "allowedInteractionsOrder": [
                    {"type": "confirmationMessage", "displayText200": "x" * 201}
                ]
            },
            400,
        ),
        ({"allowedInteractionsOrder": [{"type": "confirmationMessage"}]}, 400),
        ({"allowedInteractionsOrder": [{"type": "dance", "displayText60": "x"}]}, 400),
        ({"allowedInteractionsOrder": "displayTextAndPIN"}, 400),
        ({"requestProperties": {"shareMdClientIpAddress": "yes"}}, 400),
        ({"capabilities": "QUALIFIED"}, 400),
    ],
)
def test_bad_requests_get_the_spec_code_and_create_nothing(
    platform: Platform, rp_a: RelyingParty, alice: Account, change: dict[str, Any], status: int
) -> None:
    body = {**AUTH, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = post(platform, f"authentication/etsi/{ALICE_ID}", body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == status
    assert RpSession.objects.count() == 0 and Transaction.objects.count() == 0


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"", "ä".encode("latin-1"), b"{" * 5000])
def test_non_json_bodies(platform: Platform, rp_a: RelyingParty, raw: bytes) -> None:
    response = post(
        platform,
        f"authentication/etsi/{ALICE_ID}",
        raw,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_oversized_body_is_refused(platform: Platform, rp_a: RelyingParty) -> None:
    body = {**AUTH, "padding": "x" * (2 * 1024 * 1024)}
    response = post(platform, f"authentication/etsi/{ALICE_ID}", body)
    assert response.status_code == 400
    assert RpSession.objects.count() == 0


def test_unknown_paths_and_methods(platform: Platform, rp_a: RelyingParty) -> None:
    assert httpx.post(f"{platform.url}/v2/authentication/pno/EE/123", json=AUTH).status_code == 404
    assert httpx.post(f"{platform.url}/v3/nothing", json=AUTH).json()["code"] == 404
    assert httpx.get(f"{platform.url}/v2/authentication/etsi/{ALICE_ID}").status_code == 405
    assert httpx.post(f"{platform.url}/v2/session/{'0' * 36}").status_code == 405


def test_people_and_accounts(platform: Platform, rp_a: RelyingParty, alice: Account) -> None:
    assert post(platform, "authentication/etsi/PNOEE-10101010005", AUTH).status_code == 404
    assert post(platform, "authentication/etsi/garbage", AUTH).status_code == 404
    assert post(platform, f"authentication/document/{ALICE_ID}-ZZZZ-Q", AUTH).status_code == 404
    # An ADVANCED-only person asked for QUALIFIED: 471.
    app = platform.device()
    app.register(platform.ticket("PNOLT-40504049999", level="ADVANCED"), "1234", "12345")
    assert post(platform, "authentication/etsi/PNOLT-40504049999", AUTH).status_code == 471
    assert (
        post(
            platform,
            "authentication/etsi/PNOLT-40504049999",
            {**AUTH, "certificateLevel": "ADVANCED"},
        ).status_code
        == 200
    )
    # Suspended: the person should look at the app or portal (472).
    account_set_state(account=alice, state=Account.State.SUSPENDED, actor="test")
    assert (
        post(platform, f"authentication/etsi/{ALICE_ID}", {**AUTH, "nonce": "1"}).status_code == 472
    )


def test_each_relying_party_answers_only_to_its_own_name(
    platform: Platform, rp_a: RelyingParty, rp_b: RelyingParty, alice: Account
) -> None:
    mixed = {**AUTH, "relyingPartyUUID": RP_B.uuid, "relyingPartyName": RP_A.name}
    assert post(platform, f"authentication/etsi/{ALICE_ID}", mixed).status_code == 401
    own = {**AUTH, "relyingPartyUUID": RP_B.uuid, "relyingPartyName": RP_B.name}
    assert post(platform, f"authentication/etsi/{ALICE_ID}", own).status_code == 200


def test_permissions(platform: Platform, rp_a: RelyingParty, alice: Account) -> None:
    RelyingParty.objects.filter(pk=rp_a.pk).update(can_sign=False, allow_advanced=False)
    assert post(platform, f"signature/etsi/{ALICE_ID}", AUTH).status_code == 403
    assert (
        post(
            platform, f"authentication/etsi/{ALICE_ID}", {**AUTH, "certificateLevel": "ADVANCED"}
        ).status_code
        == 403
    )
    RelyingParty.objects.filter(pk=rp_a.pk).update(allowed_networks=["192.0.2.0/24"])
    assert post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).status_code == 401
    with override_settings(RP_API_MAINTENANCE=True):
        RelyingParty.objects.filter(pk=rp_a.pk).update(allowed_networks=["127.0.0.1"])
        assert post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).status_code == 580
    assert RpSession.objects.count() == 0


def test_idempotency_window_and_nonce(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    first = post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).json()["sessionID"]
    assert post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).json()["sessionID"] == first
    with_nonce = post(platform, f"authentication/etsi/{ALICE_ID}", {**AUTH, "nonce": "abc"}).json()[
        "sessionID"
    ]
    assert with_nonce != first
    assert (
        post(platform, f"authentication/etsi/{ALICE_ID}", {**AUTH, "nonce": "abc"}).json()[
            "sessionID"
        ]
        == with_nonce
    )
    with time_machine.travel(timezone.now() + timedelta(seconds=16), tick=True):
        assert post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).json()["sessionID"] != first


def test_sessions_are_bound_to_their_rp_and_expire(
    platform: Platform, rp_a: RelyingParty, alice: Account, answering: Answering
) -> None:
    session_id = post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).json()["sessionID"]
    status = httpx.get(f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000})
    assert status.json() == {"state": "RUNNING"}
    # Another RP (other address) asking for it: 404, the same as an unknown id.
    RelyingParty.objects.filter(pk=rp_a.pk).update(allowed_networks=["192.0.2.1"])
    foreign = httpx.get(f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000})
    unknown = httpx.get(
        f"{platform.url}/v2/session/6ef2d0c3-6cf6-4d1a-9b7d-2d6f3bff9c11",
        params={"timeoutMs": 1000},
    )
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    RelyingParty.objects.filter(pk=rp_a.pk).update(allowed_networks=["127.0.0.1"])
    for bad in ("999", "120001", "abc", "-5"):
        assert (
            httpx.get(
                f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": bad}
            ).status_code
            == 400
        )
    assert httpx.get(f"{platform.url}/v2/session/not-a-uuid").status_code == 404

    # Nobody answers: TIMEOUT after the transaction's life, readable for 5 minutes, then 404.
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=True) as traveller:
        body = httpx.get(
            f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000}
        ).json()
        assert body == {"state": "COMPLETE", "result": {"endResult": "TIMEOUT"}}
        traveller.shift(timedelta(minutes=4, seconds=50))
        assert (
            httpx.get(
                f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000}
            ).status_code
            == 200
        )
        traveller.shift(timedelta(seconds=20))
        assert (
            httpx.get(
                f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000}
            ).status_code
            == 404
        )


def test_refusals_in_v2_and_v1(
    platform: Platform, rp_a: RelyingParty, alice: Account, answering: Answering
) -> None:
    app = platform.device()  # a second registered person refuses everything
    app.register(platform.ticket("PNOEE-30403039917"), "1234", "12345")
    answering.start(app, mode="refuse")
    v2 = post(platform, "authentication/etsi/PNOEE-30403039917", AUTH).json()["sessionID"]
    body = httpx.get(f"{platform.url}/v2/session/{v2}", params={"timeoutMs": 10000}).json()
    assert body == {"state": "COMPLETE", "result": {"endResult": "USER_REFUSED_DISPLAYTEXTANDPIN"}}
    v1_body = {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": AUTH["hash"],
        "hashType": "SHA256",
        "displayText": "Log in?",
        "certificateLevel": "QUALIFIED",
    }
    v1 = httpx.post(
        f"{platform.url}/v1/authentication/etsi/PNOEE-30403039917", json=v1_body
    ).json()["sessionID"]
    body = httpx.get(f"{platform.url}/v1/session/{v1}", params={"timeoutMs": 10000}).json()
    assert body == {"state": "COMPLETE", "result": {"endResult": "USER_REFUSED"}}


def test_app_without_the_interaction(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    only_confirmation = {
        **AUTH,
        "allowedInteractionsOrder": [{"type": "confirmationMessage", "displayText200": "OK?"}],
    }
    alice.device.interactions = ["displayTextAndPIN"]
    alice.device.save()
    session_id = post(platform, f"authentication/etsi/{ALICE_ID}", only_confirmation).json()[
        "sessionID"
    ]
    body = httpx.get(f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 1000}).json()
    assert body["result"]["endResult"] == "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP"


def test_long_poll_returns_quickly_after_completion(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    app, account = platform.registered("PNOEE-50001029996")
    session_id = post(platform, "authentication/etsi/PNOEE-50001029996", AUTH).json()["sessionID"]
    pending = app.pending(timeout_ms=5000)
    done: dict[str, float] = {}

    async def wait() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(
                f"{platform.url}/v2/session/{session_id}", params={"timeoutMs": 30000}
            )
            done["at"] = time.monotonic()
            return dict(response.json())

    async def scenario() -> dict[str, Any]:
        task = asyncio.create_task(wait())
        await asyncio.sleep(0.5)  # the poll is open and waiting
        await asyncio.to_thread(app.approve, pending[0], "1234")
        done["answered"] = time.monotonic()
        return await task

    body = asyncio.run(scenario())
    assert body["result"]["endResult"] == "OK"
    assert done["at"] - done["answered"] < 0.1


def test_a_held_certificate_cannot_log_in(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    """An operator suspends the certificate (not the account): the RP API refuses it."""
    from pki.services import certificate_hold, certificate_release
    from signing.models import SplitKey

    key = SplitKey.objects.get(account=alice, purpose="AUTH")
    assert key.certificate is not None
    certificate_hold(certificate=key.certificate, actor="test")
    assert post(platform, f"authentication/etsi/{ALICE_ID}", AUTH).status_code == 472
    assert post(platform, f"signature/etsi/{ALICE_ID}", AUTH).status_code == 200  # PIN2 key is fine
    certificate_release(certificate=key.certificate, actor="test")
    assert (
        post(platform, f"authentication/etsi/{ALICE_ID}", {**AUTH, "nonce": "2"}).status_code == 200
    )
