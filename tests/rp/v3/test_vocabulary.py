"""Each RP API version answers only in its own end-result vocabulary (api.rp.v3.vocabulary)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from django.utils import timezone

from api.rp.models import RelyingParty
from api.rp.v3 import vocabulary
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import interactions, sign_body, start
from tests.personas import ALICE, RP_A

R = Transaction.Result
INTERACTIONS = ["", *vocabulary.V2_REFUSAL_BY_INTERACTION]
RESULTS = [r for r in R if r != R.CANCELLED]


@pytest.mark.parametrize("result", RESULTS)
@pytest.mark.parametrize("refused", INTERACTIONS)
def test_every_result_has_a_word_in_every_version(result: str, refused: str) -> None:
    tx = Transaction(result=result, refused_interaction=refused)
    assert vocabulary.end_result_v1(tx) in vocabulary.V1_END_RESULTS
    assert vocabulary.end_result_v2(tx) in vocabulary.V2_END_RESULTS
    word, interaction = vocabulary.end_result_v3(tx)
    assert word in vocabulary.V3_END_RESULTS
    assert word != "SERVER_ERROR"  # every stored result is known
    assert bool(interaction) == (word == "USER_REFUSED_INTERACTION")


def test_the_mapping_of_refusals() -> None:
    refused = Transaction(
        result=R.USER_REFUSED_INTERACTION, refused_interaction="confirmationMessage"
    )
    assert vocabulary.end_result_v1(refused) == "USER_REFUSED"
    assert vocabulary.end_result_v2(refused) == "USER_REFUSED_CONFIRMATIONMESSAGE"
    assert vocabulary.end_result_v3(refused) == ("USER_REFUSED_INTERACTION", "confirmationMessage")
    v2_style = Transaction(result=R.USER_REFUSED_VC_CHOICE)
    assert vocabulary.end_result_v3(v2_style) == (
        "USER_REFUSED_INTERACTION",
        "verificationCodeChoice",
    )
    failed = Transaction(result=R.PROTOCOL_FAILURE)
    assert (
        vocabulary.end_result_v1(failed) == vocabulary.end_result_v2(failed) == "DOCUMENT_UNUSABLE"
    )
    assert vocabulary.end_result_v3(failed) == ("PROTOCOL_FAILURE", "")
    for result in (R.WRONG_PIN, R.LOCKED, R.REVOKED, R.CLONE_DETECTED):
        assert vocabulary.end_result_v3(Transaction(result=result)) == ("DOCUMENT_UNUSABLE", "")
    assert vocabulary.end_result_v3(Transaction(result="SOMETHING_NEW")) == ("SERVER_ERROR", "")


def finish(session_id: str, result: str, refused: str = "") -> None:
    """As if the device had answered: the session's transaction ends with ``result``."""
    Transaction.objects.filter(group=session_id).update(
        state=Transaction.State.COMPLETE,
        result=result,
        refused_interaction=refused,
        completed_at=timezone.now(),
    )


def poll(base: str, version: int, session_id: str) -> Any:
    response = httpx.get(
        f"{base}/v{version}/session/{session_id}", params={"timeoutMs": 1000}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("result", "refused", "v1", "v2", "v3"),
    [
        (
            R.USER_REFUSED_INTERACTION,
            "confirmationMessage",
            "USER_REFUSED",
            "USER_REFUSED_CONFIRMATIONMESSAGE",
            "USER_REFUSED_INTERACTION",
        ),
        (
            R.USER_REFUSED_INTERACTION,
            "displayTextAndPIN",
            "USER_REFUSED",
            "USER_REFUSED_DISPLAYTEXTANDPIN",
            "USER_REFUSED_INTERACTION",
        ),
        (R.PROTOCOL_FAILURE, "", "DOCUMENT_UNUSABLE", "DOCUMENT_UNUSABLE", "PROTOCOL_FAILURE"),
        (
            R.REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP,
            "",
            "DOCUMENT_UNUSABLE",
            "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP",
            "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP",
        ),
        (R.WRONG_PIN, "", "DOCUMENT_UNUSABLE", "DOCUMENT_UNUSABLE", "DOCUMENT_UNUSABLE"),
    ],
)
def test_a_poll_hears_its_own_versions_word(
    platform: Platform,
    rp_a: RelyingParty,
    result: str,
    refused: str,
    v1: str,
    v2: str,
    v3: str,
) -> None:
    platform.registered(ALICE)
    raw = hashlib.sha256(b"vocabulary").digest()
    old = {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": base64.b64encode(raw).decode(),
        "hashType": "SHA256",
    }
    sessions = {}
    for version in (1, 2):
        response = httpx.post(
            f"{platform.url}/v{version}/signature/etsi/{ALICE.semantics_identifier}",
            json=old,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        sessions[version] = response.json()["sessionID"]
    body = sign_body(
        interactions=interactions(
            {"type": "confirmationMessage", "displayText200": "Sign?"},
            {"type": "displayTextAndPIN", "displayText60": "Sign?"},
        )
    )
    sessions[3] = start(
        platform.url, f"signature/notification/etsi/{ALICE.semantics_identifier}", body
    )["sessionID"]
    for session_id in sessions.values():
        finish(session_id, result, refused)
    assert poll(platform.url, 1, sessions[1])["result"] == {"endResult": v1}
    assert poll(platform.url, 2, sessions[2])["result"] == {"endResult": v2}
    answer = poll(platform.url, 3, sessions[3])["result"]
    assert answer["endResult"] == v3
    if v3 == "USER_REFUSED_INTERACTION":
        assert answer["details"] == {"interaction": refused}
    # Cached final answers keep to their version too.
    for version, session_id in sessions.items():
        for other in {1, 2, 3} - {version}:
            response = httpx.get(f"{platform.url}/v{other}/session/{session_id}", timeout=30)
            assert response.status_code == 404
