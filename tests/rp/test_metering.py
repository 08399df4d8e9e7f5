"""RP usage metering (api/rp/metering.py): statements count exactly the finished sessions a
relying party started, recounting changes nothing, purging keeps the counts, and a month
without traffic is an empty statement."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from api.rp import metering
from api.rp.models import RelyingParty, RpSession, Usage, UsageMonth
from api.rp.tasks import aggregate_rp_usage, purge_rp_sessions
from audit.models import AuditRecord
from device.app import DeviceApp
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import auth_body, start
from tests.personas import ALICE, PIN1, RP_A, RP_B

ALICE_ID = ALICE.semantics_identifier
THIS_MONTH = metering.month_start(timezone.now().date())


def _v2_start(platform: Platform, rp: Any, text: str) -> str:
    body = {
        "relyingPartyUUID": rp.uuid,
        "relyingPartyName": rp.name,
        "hash": base64.b64encode(hashlib.sha256(text.encode()).digest()).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
    }
    answer = httpx.post(f"{platform.url}/v2/authentication/etsi/{ALICE_ID}", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    session_id: str = answer.json()["sessionID"]
    return session_id


def _answer(app: DeviceApp, *, approve: bool) -> None:
    (tx,) = app.pending(timeout_ms=5000)
    if approve:
        assert app.approve(tx, PIN1).ok
    else:
        app.refuse(tx)


@pytest.fixture
def traffic(platform: Platform, rp_a: RelyingParty, rp_b: RelyingParty) -> dict[str, Any]:
    """RP A: two logins, one refused, one device link nobody opens, one still running;
    RP B: one login."""
    app, _ = platform.registered(ALICE)
    for text, approve in (("a1", True), ("a2", True), ("a3", False)):
        _v2_start(platform, RP_A, text)
        _answer(app, approve=approve)
    _v2_start(platform, RP_B, "b1")
    _answer(app, approve=True)
    unopened = start(platform.url, "authentication/device-link/anonymous", auth_body())
    running = _v2_start(platform, RP_A, "still running")
    return {"unopened": unopened["sessionID"], "running": running, "rp_a": rp_a, "rp_b": rp_b}


def test_statements_count_exactly_the_finished_sessions(traffic: dict[str, Any]) -> None:
    rp_a, rp_b = traffic["rp_a"], traffic["rp_b"]
    # Before the device link's time is up, it is still running: not counted.
    statement = metering.statement(rp_a, THIS_MONTH)
    assert statement.rows == [
        (2, "AUTHENTICATION", "QUALIFIED", "OK", 2),
        (2, "AUTHENTICATION", "QUALIFIED", "USER_REFUSED_DISPLAYTEXTANDPIN", 1),
    ]
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        statement = metering.statement(rp_a, THIS_MONTH)
        # Now the link's time is up, and so is the running session's transaction's (nobody
        # polled it: it counts all the same).
        assert statement.rows == [
            (2, "AUTHENTICATION", "QUALIFIED", "OK", 2),
            (2, "AUTHENTICATION", "QUALIFIED", "TIMEOUT", 1),
            (2, "AUTHENTICATION", "QUALIFIED", "USER_REFUSED_DISPLAYTEXTANDPIN", 1),
            (3, "AUTHENTICATION", "QUALIFIED", "TIMEOUT", 1),
        ]
        assert statement.total == 5 == RpSession.objects.filter(relying_party=rp_a).count()
        assert metering.statement(rp_b, THIS_MONTH).rows == [
            (2, "AUTHENTICATION", "QUALIFIED", "OK", 1)
        ]
        # Recounting, by hand or by the beat task, gives the same rows.
        before = sorted(Usage.objects.values_list("relying_party", "end_result", "count"))
        assert aggregate_rp_usage() == 6
        assert metering.aggregate(THIS_MONTH) == 6
        assert sorted(Usage.objects.values_list("relying_party", "end_result", "count")) == before


def test_a_polled_timeout_counts_once(platform: Platform, traffic: Any) -> None:
    rp_a = traffic["rp_a"]
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        unpolled = metering.statement(rp_a, THIS_MONTH).rows
        # The RP's poll ends the transaction for good (TIMEOUT): the same count.
        answer = httpx.get(f"{platform.url}/v2/session/{traffic['running']}", timeout=30)
        assert answer.json()["result"]["endResult"] == "TIMEOUT"
        assert metering.statement(rp_a, THIS_MONTH).rows == unpolled


def test_csv_and_pdf_say_the_same(traffic: dict[str, Any], tmp_path: Path) -> None:
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        statement = metering.statement(traffic["rp_a"], THIS_MONTH)
        pdf = metering.statement_pdf(statement)
    lines = statement.csv().splitlines()
    month = f"{THIS_MONTH:%Y-%m}"
    assert lines[0] == "relying_party,month,api_version,kind,certificate_level,end_result,count"
    assert f"{RP_A.name},{month},2,AUTHENTICATION,QUALIFIED,OK,2" in lines
    assert lines[-1] == f"{RP_A.name},{month},,,,TOTAL,5"
    assert pdf.startswith(b"%PDF")
    (tmp_path / "s.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "s.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "usage statement" in text and RP_A.name in text
    assert "USER_REFUSED" in text and "TIMEOUT" in text
    assert text.split("Total")[1].split()[0] == "5"


def test_a_month_without_traffic_is_an_empty_statement(rp_a: RelyingParty) -> None:
    statement = metering.statement(rp_a, THIS_MONTH.replace(year=THIS_MONTH.year - 5))
    assert (statement.rows, statement.total, statement.final) == ([], 0, True)
    assert statement.csv().splitlines()[-1].endswith(",TOTAL,0")
    assert metering.statement_pdf(statement).startswith(b"%PDF")


def test_purge_keeps_the_counts_and_freezes_the_month(
    traffic: dict[str, Any], settings: Any
) -> None:
    rp_a = traffic["rp_a"]
    settings.RP_SESSION_RETENTION_DAYS = 31
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        expected = metering.statement(rp_a, THIS_MONTH).rows
        assert purge_rp_sessions() == 0  # this month is inside the retention
    later = timezone.now() + timedelta(days=100)
    with time_machine.travel(later):
        assert purge_rp_sessions() == 6  # every session of the month: 5 of A + 1 of B
        assert not RpSession.objects.exists()
        assert not Transaction.objects.filter(group__isnull=False).exists()
        assert UsageMonth.objects.get(month=THIS_MONTH).frozen
        # The running one ended in the last count before the purge (TIMEOUT by then).
        counted = metering.statement(rp_a, THIS_MONTH).rows
        assert counted[:2] == expected[:2] and metering.aggregate(THIS_MONTH) == 6
        assert metering.statement(rp_a, THIS_MONTH).rows == counted


def test_the_command(traffic: dict[str, Any], tmp_path: Path) -> None:
    out = io.StringIO()
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        call_command("rp_statement", RP_A.uuid, f"{THIS_MONTH:%Y-%m}", stdout=out)
    assert out.getvalue().splitlines()[-1].endswith(",TOTAL,5")
    pdf = tmp_path / "s.pdf"
    call_command(
        "rp_statement", RP_A.uuid, f"{THIS_MONTH:%Y-%m}", "--format", "pdf", "--output", str(pdf),
        stderr=io.StringIO(),
    )  # fmt: skip
    assert pdf.read_bytes().startswith(b"%PDF")
    for args, message in [
        (["not-a-uuid", "2026-11"], "not a UUID"),
        ([RP_A.uuid, "2026-13"], "month must be in 1..12"),
        ([RP_A.uuid, "11/2026"], "not a month"),
        (["00000000-0000-4000-8000-00000000abcd", "2026-11"], "no relying party"),
        ([RP_A.uuid, "2026-11", "--format", "pdf"], "needs --output"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("rp_statement", *args)


def test_the_admin_statement(traffic: dict[str, Any], admin_client: Client) -> None:
    rp_a = traffic["rp_a"]
    url = "/admin/rp/usage/statement/"
    assert b"relying_party" in admin_client.get(url).content  # the form
    answer = admin_client.get(
        url, {"relying_party": rp_a.pk, "month": f"{THIS_MONTH:%Y-%m}", "format": "csv"}
    )
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert answer.content.decode().splitlines()[-1].endswith(",TOTAL,3")  # link not timed out
    assert AuditRecord.objects.filter(action="rp.statement").count() == 1
    refused = admin_client.get(url, {"relying_party": rp_a.pk, "month": "soon", "format": "csv"})
    assert refused.status_code == 200 and b"YYYY-MM" in refused.content
    assert AuditRecord.objects.filter(action="rp.statement").count() == 1
    foreign = admin_client.get(
        url, {"relying_party": "999999", "month": "2026-11", "format": "pdf"}
    )
    assert foreign.status_code == 200 and b"Select a valid choice" in foreign.content


def test_staff_without_the_right_get_no_statement(
    rp_a: RelyingParty, django_user_model: Any
) -> None:
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client = Client()
    client.force_login(clerk)
    answer = client.get("/admin/rp/usage/statement/", {"relying_party": rp_a.pk})
    assert answer.status_code == 403
