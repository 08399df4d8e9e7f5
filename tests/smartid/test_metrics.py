"""``/metrics``: the exposition parses, the counters move with a real RP flow and the
device's answers, the dashboard names only metrics that exist, strangers are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from api.rp.models import RelyingParty
from api.rp.services import SESSION_TTL
from signing.models import Transaction
from tests.helpers import rp_v3
from tests.helpers.answering import Answering
from tests.helpers.platform import Platform, auth_transaction
from tests.personas import ALICE, PIN1, RP_A, WRONG1

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "smartid-dashboard.json"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) → value."""
    response = httpx.get(f"{base_url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def _auth_body(text: bytes) -> dict[str, Any]:
    return {
        "relyingPartyUUID": RP_A.uuid,
        "relyingPartyName": RP_A.name,
        "hash": base64.b64encode(hashlib.sha256(text).digest()).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
    }


def _final(base_url: str, session_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(
            f"{base_url}/v2/session/{session_id}", params={"timeoutMs": 2000}, timeout=30
        ).json()
        if body["state"] == "COMPLETE":
            return body
    raise AssertionError("the session did not complete")


def test_rp_flow_moves_the_session_counters(
    platform: Platform, rp_a: RelyingParty, answering: Answering
) -> None:
    app, _ = platform.registered(ALICE)  # issues two certificates
    before = scrape(platform.url)
    answering.start(app)
    started = httpx.post(
        f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}",
        json=_auth_body(b"metrics"),
        timeout=30,
    )
    assert started.status_code == 200, started.text
    assert _final(platform.url, started.json()["sessionID"])["result"]["endResult"] == "OK"
    after = scrape(platform.url)

    session = {"rp": RP_A.name, "version": "2", "type": "AUTHENTICATION"}
    assert value(after, "smartid_rp_sessions_started_total", **session) == (
        value(before, "smartid_rp_sessions_started_total", **session) + 1
    )
    ended = {**session, "end_result": "OK"}
    assert value(after, "smartid_rp_sessions_ended_total", **ended) == (
        value(before, "smartid_rp_sessions_ended_total", **ended) + 1
    )
    ok = {"kind": "AUTHENTICATION", "result": "OK"}
    assert value(after, "smartid_transactions_finished_total", **ok) == (
        value(before, "smartid_transactions_finished_total", **ok) + 1
    )
    # The request that started the session, under its route pattern (not its path).
    route = (
        r"^v(?P<version>[12])/authentication/"
        r"(?P<target_kind>etsi|document)/(?P<target>[^/]{1,100})$"
    )
    start_count = "smartid_http_request_duration_seconds_count"
    assert value(after, start_count, route=route, method="POST", status="200") == (
        value(before, start_count, route=route, method="POST", status="200") + 1
    )
    # Registration issued the AUTH and the SIGN certificate (counted before `before`).
    assert value(before, "smartid_certificate_issuance_duration_seconds_count") >= 2
    # The scrape-time gauges: the CA's CRLs and the key pool.
    assert value(after, "smartid_crl_age_seconds") >= 0
    assert {dict(ls)["ca"] for (n, ls) in after if n == "smartid_crl_expiry_seconds"} >= {
        ca.slug for ca in platform.hierarchy
    }
    assert ("smartid_key_pool_target", ()) in after


def _answer(app: Any, tx: Transaction, pin: str) -> str:
    [pending] = [t for t in app.pending(timeout_ms=5000) if t.id == str(tx.pk)]
    return str(app.approve(pending, pin).status)


def test_wrong_pins_and_locks_are_counted(platform: Platform) -> None:
    app, account = platform.registered()
    before = scrape(platform.url)
    for _ in range(3):  # the third wrong PIN locks the key for 3 hours
        assert _answer(app, auth_transaction(account), WRONG1) == "WRONG_PIN"
    assert _answer(app, auth_transaction(account), PIN1) == "LOCKED"
    after = scrape(platform.url)
    assert value(after, "smartid_pin_failures_total", purpose="AUTH") == (
        value(before, "smartid_pin_failures_total", purpose="AUTH") + 3
    )
    assert value(after, "smartid_pin_locks_total", purpose="AUTH", lock="temporary") == (
        value(before, "smartid_pin_locks_total", purpose="AUTH", lock="temporary") + 1
    )
    assert value(after, "smartid_pin_locked_attempts_total", purpose="AUTH") == (
        value(before, "smartid_pin_locked_attempts_total", purpose="AUTH") + 1
    )


def test_clone_detections_are_counted(platform: Platform) -> None:
    app, account = platform.registered()
    copy = platform.clone(app)
    before = scrape(platform.url)
    assert _answer(app, auth_transaction(account), PIN1) == "OK"  # the token rotates
    assert copy.refresh(account.document_number, "AUTH") == "TOKEN_MISMATCH"
    middle = scrape(platform.url)
    assert value(middle, "smartid_clone_detections_total", stage="suspected") == (
        value(before, "smartid_clone_detections_total", stage="suspected") + 1
    )
    assert _answer(copy, auth_transaction(account), PIN1) == "CLONE_DETECTED"
    after = scrape(platform.url)
    assert value(after, "smartid_clone_detections_total", stage="confirmed") == (
        value(middle, "smartid_clone_detections_total", stage="confirmed") + 1
    )


def test_ocsp_answers_are_counted(platform: Platform) -> None:
    before = scrape(platform.url)
    response = httpx.post(
        f"{platform.url}/ocsp",
        content=b"not an OCSP request",
        headers={"Content-Type": "application/ocsp-request"},
    )
    assert response.status_code == 200
    after = scrape(platform.url)
    assert value(after, "smartid_ocsp_responses_total", result="malformed") == (
        value(before, "smartid_ocsp_responses_total", result="malformed") + 1
    )


def _declared_names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


@pytest.mark.django_db
def test_the_dashboard_names_only_metrics_that_exist(client: Any) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["panels"] and dashboard["uid"] == "smartid-platform"
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for expr in expressions for name in re.findall(r"\bsmartid_[a-z0-9_]+", expr)}
    response = client.get("/metrics")
    assert response.status_code == 200
    declared = _declared_names(response.content.decode())
    assert used, "the dashboard uses no metric"
    assert used <= declared, sorted(used - declared)
    # …and it shows every metric family of ours.
    families = {f.name for f in text_string_to_metric_families(response.content.decode())}
    # (the classic format writes a counter's or histogram's creation time as its own
    # ``_created`` gauge family)
    ours = {f for f in families if f.startswith("smartid_") and not f.endswith("_created")}
    shown = {f for f in ours if any(re.search(rf"\b{f}(_|\b)", e) for e in expressions)}
    assert shown == ours, sorted(ours - shown)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("192.0.2.7", {}, 403),
        # The reverse proxy on the same host forwards an outsider: not the proxy's loopback.
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "198.51.100.9"}, 403),
    ],
)
def test_metrics_are_for_allowed_addresses_only(
    client: Any, remote: str, headers: dict[str, str], status: int
) -> None:
    response = client.get("/metrics", REMOTE_ADDR=remote, **headers)
    assert response.status_code == status
    if status == 403:
        assert response.json() == {"code": 403, "message": "Forbidden"}
        assert b"smartid_" not in response.content


@pytest.mark.django_db
def test_metrics_token_is_required_when_configured(client: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-token-for-the-scraper"
    settings.METRICS_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    wrong = {"HTTP_AUTHORIZATION": "Bearer nope"}
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **wrong).status_code == 403
    right = {"HTTP_AUTHORIZATION": "Bearer s3cret-token-for-the-scraper"}
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **right).status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # both rules hold together
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **right).status_code == 403


@pytest.mark.django_db
def test_metrics_refuse_writes(client: Any) -> None:
    assert client.post("/metrics").status_code == 405


def test_multiprocess_mode_adds_up_the_processes(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, what two processes counted is scraped by a third
    (as with ``uvicorn --workers N`` and Celery's prefork children)."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {
        **os.environ,
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "smartid.settings",
    }
    env.pop("REDIS_URL", None)
    count = (
        "import django; django.setup(); from core import metrics; "
        "metrics.OCSP_RESPONSES.labels(result='malformed').inc(2)"
    )
    expose = (
        "import django; django.setup(); from smartid import metrics; "
        "from prometheus_client import generate_latest; "
        "print(generate_latest(metrics.registry()).decode())"
    )
    for code in (count, count):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)  # noqa: S603
    assert len(list(folder.glob("counter_*.db"))) == 2  # one file per process
    result = subprocess.run(  # noqa: S603 -- our own interpreter
        [sys.executable, "-c", expose], cwd=ROOT, env=env, capture_output=True, text=True
    )
    # The scrape-time gauges need the database; this folder has none, so they are empty.
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    [sample] = [s for s in families["smartid_ocsp_responses"].samples if s.name.endswith("_total")]
    assert sample.value == 4 and sample.labels == {"result": "malformed"}
    assert "smartid_crl_age_seconds" in families


def test_an_unopened_device_link_is_counted_once(platform: Platform, rp_a: RelyingParty) -> None:
    """No transaction ever finishes for it: the first poll that sees its TIMEOUT counts it."""
    answer = rp_v3.start(platform.url, "authentication/device-link/anonymous", rp_v3.auth_body())
    before = scrape(platform.url)
    labels = {"rp": RP_A.name, "version": "3", "type": "AUTHENTICATION", "end_result": "TIMEOUT"}
    with time_machine.travel(timezone.now() + SESSION_TTL + SESSION_TTL / 2):
        for _ in range(2):  # a second poll (and the 60-second answer cache) counts nothing
            body = rp_v3.status(platform.url, answer["sessionID"]).json()
            assert body["result"] == {"endResult": "TIMEOUT"}
    after = scrape(platform.url)
    assert value(after, "smartid_rp_sessions_ended_total", **labels) == (
        value(before, "smartid_rp_sessions_ended_total", **labels) + 1
    )
