"""Every RP API v3 start operation answers as docs/spec/rp-api.md §5 says (RUNNING)."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
from django.test import override_settings

from accounts.models import Account
from accounts.services import account_set_state
from api.rp.models import RelyingParty, RpSession
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import (
    assert_problem,
    auth_body,
    choice_body,
    post,
    sign_body,
    start,
    status,
)
from tests.personas import ALICE, RP_A

ALICE_ID = ALICE.semantics_identifier


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty) -> Account:
    return platform.registered(ALICE)[1]


def assert_device_link(answer: dict[str, str]) -> None:
    assert set(answer) == {"sessionID", "sessionToken", "sessionSecret", "deviceLinkBase"}
    assert re.fullmatch(r"[A-Za-z0-9]{24}", answer["sessionToken"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{24}", answer["sessionSecret"])
    assert len(base64.b64decode(answer["sessionSecret"])) == 18
    assert answer["deviceLinkBase"].endswith("/device-link")


def test_device_link_starts_create_no_transaction(platform: Platform, alice: Account) -> None:
    paths = [
        ("authentication/device-link/anonymous", auth_body()),
        (f"authentication/device-link/etsi/{ALICE_ID}", auth_body()),
        (f"authentication/device-link/document/{alice.document_number}", auth_body()),
        (f"signature/device-link/etsi/{ALICE_ID}", sign_body()),
        (f"signature/device-link/document/{alice.document_number}", sign_body()),
        ("signature/certificate-choice/device-link/anonymous", choice_body()),
    ]
    tokens = set()
    for path, body in paths:
        answer = start(platform.url, path, body)
        assert_device_link(answer)
        tokens.add(answer["sessionToken"])
        session = RpSession.objects.get(pk=answer["sessionID"])
        assert session.api_version == 3 and session.flow == RpSession.Flow.DEVICE_LINK
        assert session.session_secret is not None
        assert bytes(session.session_secret) == base64.b64decode(answer["sessionSecret"])
        assert not Transaction.objects.filter(group=session.pk).exists()
        running = status(platform.url, answer["sessionID"])
        assert running.status_code == 200 and running.json() == {"state": "RUNNING"}
    assert len(tokens) == len(paths)


def test_qr_only_device_link_has_no_callback(platform: Platform, alice: Account) -> None:
    body = auth_body()
    del body["initialCallbackUrl"]
    answer = start(platform.url, "authentication/device-link/anonymous", body)
    assert RpSession.objects.get(pk=answer["sessionID"]).initial_callback_url == ""
    answer = start(
        platform.url,
        "authentication/device-link/anonymous",
        auth_body(
            initialCallbackUrl=None,
            signatureProtocolParameters={
                "rpChallenge": base64.b64encode(b"x" * 64).decode(),
                "signatureAlgorithm": "rsassa-pss",
                "signatureAlgorithmParameters": {"hashAlgorithm": "SHA-256"},
            },
        ),
    )
    assert RpSession.objects.get(pk=answer["sessionID"]).initial_callback_url == ""


def test_interactions_are_kept_as_received(platform: Platform, alice: Account) -> None:
    body = auth_body()
    answer = start(platform.url, f"authentication/device-link/etsi/{ALICE_ID}", body)
    session = RpSession.objects.get(pk=answer["sessionID"])
    assert session.interactions == body["interactions"]
    assert session.signature_protocol == "ACSP_V2"
    assert session.protocol_parameters == {
        "rpChallenge": body["signatureProtocolParameters"]["rpChallenge"],
        "signatureAlgorithm": "rsassa-pss",
        "hashAlgorithm": "SHA3-512",
    }


def test_notification_starts_create_one_transaction(platform: Platform, alice: Account) -> None:
    answer = start(
        platform.url, f"authentication/notification/etsi/{ALICE_ID}", auth_body(notification=True)
    )
    assert set(answer) == {"sessionID"}
    tx = Transaction.objects.get(group=answer["sessionID"])
    assert (tx.account, tx.flow_type, tx.protocol) == (alice, "Notification", "ACSP_V2")
    assert status(platform.url, answer["sessionID"]).json() == {"state": "RUNNING"}

    answer = start(
        platform.url,
        f"authentication/notification/document/{alice.document_number}",
        auth_body(notification=True),
    )
    assert Transaction.objects.filter(group=answer["sessionID"]).count() == 1

    for path in (f"etsi/{ALICE_ID}", f"document/{alice.document_number}"):
        answer = start(platform.url, f"signature/notification/{path}", sign_body(nonce=path[:20]))
        assert set(answer) == {"sessionID", "vc"}
        assert answer["vc"]["type"] == "numeric4"
        assert re.fullmatch(r"\d{4}", answer["vc"]["value"])
        session = RpSession.objects.get(pk=answer["sessionID"])
        assert session.vc == answer["vc"]["value"]
        tx = Transaction.objects.get(group=session.pk)
        assert (tx.vc, tx.protocol, tx.flow_type) == (
            session.vc,
            "RAW_DIGEST_SIGNATURE",
            "Notification",
        )

    answer = start(
        platform.url, f"signature/certificate-choice/notification/etsi/{ALICE_ID}", choice_body()
    )
    assert set(answer) == {"sessionID"}
    assert Transaction.objects.get(group=answer["sessionID"]).kind == "CERTIFICATE_CHOICE"


def test_signing_certificate_needs_no_interaction(platform: Platform, alice: Account) -> None:
    answer = start(platform.url, f"signature/certificate/{alice.document_number}", choice_body())
    assert answer["state"] == "OK"
    assert answer["cert"]["certificateLevel"] == "QUALIFIED"
    key = alice.keys.get(purpose="SIGN")
    assert key.certificate is not None
    assert base64.b64decode(answer["cert"]["value"]) == bytes(key.certificate.der)
    assert not RpSession.objects.exists()
    missing = post(platform.url, "signature/certificate/PNOEE-30303039914-AAAA-Q", choice_body())
    assert_problem(missing, 404)
    # Suspended: the document exists but cannot be used now (v2's 472 case).
    account_set_state(account=alice, state=Account.State.SUSPENDED, actor="test")
    unusable = start(platform.url, f"signature/certificate/{alice.document_number}", choice_body())
    assert unusable == {"state": "DOCUMENT_UNUSABLE"}
    response = post(platform.url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    assert assert_problem(response, 404)["errors"][0]["code"] == (
        "PERSON_SHOULD_VIEW_SMART_ID_PORTAL"
    )
    # The first step of a signature: it needs the permission to sign.
    RelyingParty.objects.update(can_sign=False)
    response = post(platform.url, f"signature/certificate/{alice.document_number}", choice_body())
    assert_problem(response, 403)
    assert not RpSession.objects.exists()


def test_identical_requests_within_15_seconds_are_one_session(
    platform: Platform, alice: Account
) -> None:
    path = f"signature/notification/etsi/{ALICE_ID}"
    first = start(platform.url, path, sign_body())
    assert start(platform.url, path, sign_body()) == first
    assert start(platform.url, path, sign_body(nonce="other"))["sessionID"] != first["sessionID"]
    link = start(platform.url, "signature/certificate-choice/device-link/anonymous", choice_body())
    again = start(platform.url, "signature/certificate-choice/device-link/anonymous", choice_body())
    assert again == link


def test_unknown_relying_party_is_401(platform: Platform, alice: Account) -> None:
    changes: list[dict[str, Any]] = [
        {"relyingPartyUUID": "00000000-0000-0000-0000-000000000001"},
        {"relyingPartyName": "OTHER"},
        # The registered spelling only: the name goes into the authCode and the ACSP_V2
        # payload (v1/v2 take any case).
        {"relyingPartyName": RP_A.name.lower()},
    ]
    assert RP_A.name.lower() != RP_A.name
    for change in changes:
        response = post(
            platform.url, f"signature/notification/etsi/{ALICE_ID}", sign_body(**change)
        )
        problem = assert_problem(response, 401)
        spelled = change.get("relyingPartyName") == RP_A.name.lower()
        assert ("spelled exactly" in problem["detail"]) == spelled, problem
    assert not RpSession.objects.exists()


def test_another_relying_partys_session_is_not_found(platform: Platform, alice: Account) -> None:
    answer = start(platform.url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    # The poll comes from an address of another relying party (the session's RP is
    # elsewhere now): the session is not found.
    RelyingParty.objects.filter(pk=RpSession.objects.get().relying_party_id).update(
        allowed_networks=["192.0.2.1/32"]
    )
    assert_problem(status(platform.url, answer["sessionID"]), 404)


def test_sessions_answer_only_under_their_own_version(platform: Platform, alice: Account) -> None:
    answer = start(platform.url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    for version in ("v1", "v2"):
        url = f"{platform.url}/{version}/session/{answer['sessionID']}"
        response = httpx_get(url)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
    assert_problem(status(platform.url, "6ef2d0c3-6cf6-4d1a-9b7d-2d6f3bff9c11"), 404)
    assert_problem(status(platform.url, "not-a-uuid"), 404)
    bad = httpx_get(f"{platform.url}/v3/session/{answer['sessionID']}?timeoutMs=999")
    assert_problem(bad, 400)
    posted = httpx.post(f"{platform.url}/v3/session/{answer['sessionID']}", timeout=30)
    assert assert_problem(posted, 405) and posted.headers["Allow"] == "GET"
    got = httpx_get(f"{platform.url}/v3/signature/notification/etsi/{ALICE_ID}")
    assert assert_problem(got, 405) and "POST" in got.headers["Allow"]


def httpx_get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def test_permissions(platform: Platform, alice: Account) -> None:
    rp = RelyingParty.objects.get()
    rp.allow_advanced = False
    rp.can_see_device_ip = False
    rp.save()
    path = f"signature/notification/etsi/{ALICE_ID}"
    assert_problem(post(platform.url, path, sign_body(certificateLevel="ADVANCED")), 403)
    shared = post(platform.url, path, sign_body(requestProperties={"shareMdClientIpAddress": True}))
    body = assert_problem(shared, 403)
    assert body["errors"][0]["pointer"] == "/requestProperties/shareMdClientIpAddress"
    ignored = start(platform.url, path, sign_body(requestProperties={"futureThing": 1}))
    assert status(platform.url, ignored["sessionID"]).json() == {
        "state": "RUNNING",
        "ignoredProperties": ["futureThing"],
    }
    with override_settings(RP_API_MAINTENANCE=True):
        assert_problem(post(platform.url, path, sign_body(nonce="m")), 580)


def test_no_suitable_account_is_404_with_a_code(platform: Platform, rp_a: RelyingParty) -> None:
    platform.registered(ALICE)
    Account.objects.update(level="ADVANCED")
    response = post(platform.url, f"signature/notification/etsi/{ALICE_ID}", sign_body())
    body = assert_problem(response, 404)
    assert body["errors"][0]["code"] == "NO_SUITABLE_ACCOUNT_FOUND"
    response = post(platform.url, f"authentication/device-link/etsi/{ALICE_ID}", auth_body())
    assert assert_problem(response, 404)["errors"][0]["code"] == "NO_SUITABLE_ACCOUNT_FOUND"
    unknown = post(platform.url, "authentication/device-link/etsi/PNOEE-30303039914", auth_body())
    assert_problem(unknown, 404)
    assert not RpSession.objects.exists()
