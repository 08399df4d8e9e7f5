"""Security target F1: the issuance worker SIGKILLed before signing, and after signing but
before the commit (docs/deployment.md "Queues").

A real ``celery worker`` (tests/helpers/worker.py) on this test's database and Redis is
started with ``SMARTID_FAULT_KILL_AT`` and kills itself at that point of its first
issuance; a second worker without the hook gets the message back after the visibility
timeout. The app, meanwhile, waits on its long poll. Afterwards: exactly one certificate
per purpose, distinct serials, one issuance audit record each, the account active.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from accounts.models import Account
from audit.models import AuditRecord
from signing.models import SplitKey
from tests.helpers.issuance import Registering, assert_exactly_once, issued
from tests.helpers.platform import Platform
from tests.helpers.worker import real_workers, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


def _received(log: Path) -> set[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return set(re.findall(r"signing\.tasks\.issue_certificates\[([0-9a-f-]{36})\] received", text))


def _ran(log: Path, task_id: str) -> Callable[[], bool]:
    """The task's own log line (issue_certificates logs its task id when it is done)."""
    return lambda: f"(task {task_id})" in log.read_text(errors="replace")


@pytest.mark.parametrize("point", ["issuance:before-sign", "issuance:after-sign"])
def test_a_worker_killed_during_issuance_issues_exactly_once(
    platform: Platform, tmp_path: Path, point: str
) -> None:
    log = tmp_path / "worker.log"
    with real_workers(log) as start:
        first = start(worker_env(tmp_path, SITE_URL=platform.url, SMARTID_FAULT_KILL_AT=point))
        flow = Registering(platform.device())
        flow.start(platform.ticket())

        process = first.process
        assert process is not None
        wait_for(lambda: process.poll() is not None, 90, "the worker to kill itself", log)
        assert process.returncode == -signal.SIGKILL
        killed = _received(log)
        assert killed, "the killed worker had received an issuance"
        account = Account.objects.get(device_id=str(flow.app.device_id))
        # Nothing of the killed run committed: no certificate, no audit record.
        assert issued(account.document_number) == []
        assert not AuditRecord.objects.filter(action="certificate.issued").exists()
        assert SplitKey.objects.filter(account=account, state="ISSUING").exists()
        assert account.state == Account.State.PENDING

        start(worker_env(tmp_path, SITE_URL=platform.url))
        result = flow.finish(seconds=120)  # the app's long poll returns with both
        assert result.state == "ACTIVE"
        certificates = assert_exactly_once(account.document_number)
        assert {c.purpose: bytes(c.der) for c in certificates} == result.certificates
        # The killed worker's message came back and ran (a no-op, or the issuing run).
        for task_id in sorted(killed):
            wait_for(_ran(log, task_id), 60, f"the redelivery of {task_id}", log)
        assert_exactly_once(account.document_number)
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
