"""Rate limits (core/ratelimit.py): per relying party on session starts, per address on the
portal's and the RA office's logins; 429 with Retry-After, nothing created, shared by every
process that shares the cache."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from audit.models import AuditRecord
from core import ratelimit
from tests.factories import Office
from tests.helpers.platform import Platform
from tests.personas import ALICE, PASSWORD, RP_A, RP_B

ROOT = Path(__file__).resolve().parents[2]
ALICE_ID = ALICE.semantics_identifier
#: Well inside a second, so every request of a test lands in the same one-second window.
FROZEN = datetime(2026, 12, 3, 12, 0, 0, 100000, tzinfo=UTC)


def _auth(rp: Any, text: str) -> dict[str, Any]:
    return {
        "relyingPartyUUID": rp.uuid,
        "relyingPartyName": rp.name,
        "hash": base64.b64encode(hashlib.sha256(text.encode()).digest()).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
    }


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty, rp_b: RelyingParty) -> Account:
    return platform.registered(ALICE)[1]


def test_session_starts_over_the_rps_rate_get_429_and_create_nothing(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    rp_a.session_starts_per_second = 2
    rp_a.save()
    url = f"{platform.url}/v2/authentication/etsi/{ALICE_ID}"
    with time_machine.travel(FROZEN, tick=False):
        answers = [httpx.post(url, json=_auth(RP_A, f"login {i}"), timeout=30) for i in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        refused = answers[2]
        assert refused.headers["Retry-After"] == "1"
        assert refused.json() == {
            "code": 429,
            "message": "Too many session starts (over 2 per second); try again later.",
            "error": "too_many_requests",
        }
        assert RpSession.objects.filter(relying_party=rp_a).count() == 2
        # Another relying party has its own budget.
        assert httpx.post(url, json=_auth(RP_B, "b"), timeout=30).status_code == 200
        # v3 counts against the same budget and answers with a problem document.
        v3 = httpx.post(
            f"{platform.url}/v3/signature/certificate/{alice.document_number}",
            json={"relyingPartyUUID": RP_A.uuid, "relyingPartyName": RP_A.name},
            timeout=30,
        )
        assert v3.status_code == 429 and v3.headers["Retry-After"] == "1"
        assert v3.headers["Content-Type"] == "application/json"
        assert v3.json()["status"] == 429 and v3.json()["title"] == "Too Many Requests"
    # The next second is a new window.
    with time_machine.travel(FROZEN.replace(second=1), tick=False):
        again = httpx.post(url, json=_auth(RP_A, "later"), timeout=30)
        assert again.status_code == 200
    assert RpSession.objects.filter(relying_party=rp_a).count() == 3


def test_a_foreign_or_malformed_start_spends_no_budget(
    platform: Platform, rp_a: RelyingParty, alice: Account
) -> None:
    rp_a.session_starts_per_second = 1
    rp_a.save()
    url = f"{platform.url}/v2/authentication/etsi/{ALICE_ID}"
    with time_machine.travel(FROZEN, tick=False):
        wrong_name = {**_auth(RP_A, "x"), "relyingPartyName": "SOMEONE ELSE"}
        assert httpx.post(url, json=wrong_name, timeout=30).status_code == 401
        assert httpx.post(url, json={"hash": 1}, timeout=30).status_code == 400
        assert httpx.post(url, json=_auth(RP_A, "mine"), timeout=30).status_code == 200


def test_portal_logins_per_address(settings: Any) -> None:
    settings.LOGINS_PER_ADDRESS_MINUTE = 2
    client = Client(REMOTE_ADDR="198.51.100.7")
    with time_machine.travel(FROZEN, tick=False):
        statuses = [
            client.post("/portal/login/web-eid", b"{}", content_type="application/json").status_code
            for _ in range(3)
        ]
        assert statuses == [400, 400, 429]
        refused = client.post("/portal/login/web-eid", b"{}", content_type="application/json")
        assert refused.headers["Retry-After"] == "60"  # the minute's window is at its start
        assert refused.json()["code"] == "too_many_requests"
        page = client.post("/portal/login/certificate")
        assert page.status_code == 429 and b"Too many login attempts" in page.content
        # Another address is not held back.
        other = Client(REMOTE_ADDR="198.51.100.8")
        response = other.post("/portal/login/web-eid", b"{}", content_type="application/json")
        assert response.status_code == 400


def test_ra_logins_per_address_check_nothing_over_the_limit(office: Office, settings: Any) -> None:
    settings.LOGINS_PER_ADDRESS_MINUTE = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    with time_machine.travel(FROZEN, tick=False):
        for name in ("olga", "sven"):  # two names: the per-name throttle has nothing to say
            response = client.post("/ra/login/", {"username": name, "password": "wrong"})
            assert b"Wrong user name or password" in response.content
        audited = AuditRecord.objects.count()
        response = client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
        assert response.status_code == 429 and response.headers["Retry-After"] == "60"
        assert b"Too many login attempts" in response.content
        assert "ra_preauth" not in client.session  # the right password was not even checked
        assert AuditRecord.objects.count() == audited  # no failure, no success recorded
        # From her own desk (another address) Olga logs in as usual.
        desk = Client(REMOTE_ADDR="203.0.113.10")
        response = desk.post("/ra/login/", {"username": "olga", "password": PASSWORD})
        assert response["Location"] == "/ra/login/totp/"


def test_limit_rejects_nonsense() -> None:
    for scope, count, seconds in [("has space", 1, 1), ("ok", 0, 1), ("ok", 1, 0)]:
        with pytest.raises(ValueError, match="invalid limit"):
            ratelimit.Limit(scope, count, seconds)


_HAMMER = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "smartid.settings"
django.setup()
from core import ratelimit
limit = ratelimit.Limit(sys.argv[1], 50, 3600)
passed = 0
for _ in range(40):
    try:
        ratelimit.hit(limit, "one key")
        passed += 1
    except ratelimit.RateLimited:
        pass
print(passed)
"""


def test_processes_sharing_redis_share_one_budget(tmp_path: Path) -> None:
    """Four processes (as four nodes would) hit one key 160 times: exactly 50 pass."""
    if not django_settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is required for the cross-process rate-limit test")
        pytest.skip("needs REDIS_URL (the cache the nodes share)")
    if time.time() % 3600 > 3540:  # keep all hits inside one hour-long window
        time.sleep(3600 - time.time() % 3600 + 1)
    scope = f"test_{uuid.uuid4().hex}"
    env = {**os.environ, "SMARTID_DATA_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen(  # noqa: S603 -- our interpreter, our script
            [sys.executable, "-c", _HAMMER, scope],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    passed = [int(worker.communicate(timeout=120)[0].strip()) for worker in workers]
    assert sum(passed) == 50, passed
