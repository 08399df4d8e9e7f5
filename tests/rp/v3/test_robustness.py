"""Randomly damaged v3 requests never give a 500, and a refusal creates nothing."""

from __future__ import annotations

import copy
import random
from typing import Any

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import auth_body, choice_body, post, sign_body
from tests.personas import ALICE

ALICE_ID = ALICE.semantics_identifier
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, "", " ", "\x00", "ä" * 300, "A" * 5000, [], [None], {},
    {"a": {"b": []}}, "=" * 44, "https://x|y", "SHA-512", "rsassa-pss", "displayTextAndPIN",
]  # fmt: skip


def paths(body: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix] if prefix else []
    if isinstance(body, dict):
        for key, value in body.items():
            found += paths(value, (*prefix, key))
    return found


def damaged(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths(body))
        parent = body
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent, dict) else {}
        if not isinstance(parent, dict):
            continue
        if rng.random() < 0.2:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    if rng.random() < 0.2:
        body[rng.choice(["nonce", "vcType", "initialCallbackUrl", "linkedSessionID", "x"])] = (
            copy.deepcopy(rng.choice(ODD_VALUES))
        )
    return body


def test_damaged_requests(platform: Platform, rp_a: RelyingParty, rng: random.Random) -> None:
    account: Account = platform.registered(ALICE)[1]
    operations = [
        ("authentication/device-link/anonymous", auth_body()),
        (f"authentication/notification/etsi/{ALICE_ID}", auth_body(notification=True)),
        (f"signature/device-link/document/{account.document_number}", sign_body()),
        (f"signature/notification/etsi/{ALICE_ID}", sign_body()),
        (f"signature/notification/linked/{account.document_number}", sign_body()),
        (f"signature/certificate/{account.document_number}", choice_body()),
        ("signature/certificate-choice/device-link/anonymous", choice_body()),
        (f"signature/certificate-choice/notification/etsi/{ALICE_ID}", choice_body()),
    ]
    statuses: dict[int, int] = {}
    for _ in range(150):
        path, body = rng.choice(operations)
        sessions, transactions = RpSession.objects.count(), Transaction.objects.count()
        response = post(platform.url, path, damaged(body, rng))
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400, 401, 403, 404), response.text
        if response.status_code != 200:
            assert response.headers["content-type"] == "application/json"
            assert RpSession.objects.count() == sessions
            assert Transaction.objects.count() == transactions
    assert statuses.get(400, 0) > 50, statuses
