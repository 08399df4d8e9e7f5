"""Security target F1 for re-key: the worker of ``complete_renewal`` SIGKILLed before
signing, and after signing and swapping but before the commit (docs/deployment.md
"Queues").

As tests/signing/test_issuance_worker.py: a real ``celery worker`` started with
``SMARTID_FAULT_KILL_AT`` kills itself at that point of its first swap; until a second
worker gets the message back (after the visibility timeout), nothing of the killed run
exists and the old keys serve. Afterwards: one new certificate per purpose, unique serials,
one issuance audit record each, the old certificates revoked exactly once.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.models import AuditRecord
from pki.models import Certificate
from signing.models import KeyRenewal, SplitKey
from tests.helpers.issuance import Renewing, assert_renewed_once
from tests.helpers.platform import Platform, auth_transaction
from tests.helpers.worker import real_workers, wait_for, worker_env
from tests.personas import PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)

NEW1, NEW2 = "4321", "54321"


def _received(log: Path) -> set[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return set(re.findall(r"signing\.tasks\.complete_renewal\[([0-9a-f-]{36})\] received", text))


def _ran(log: Path, task_id: str) -> Callable[[], bool]:
    """The task's own log line (complete_renewal logs its task id when it is done)."""
    return lambda: f"(task {task_id})" in log.read_text(errors="replace")


@pytest.mark.parametrize("point", ["renewal:before-sign", "renewal:after-sign"])
def test_a_worker_killed_during_the_swap_renews_exactly_once(
    platform: Platform, tmp_path: Path, point: str
) -> None:
    app, account = platform.registered()  # before the workers: issued in place
    backup = platform.clone(app)  # the old keys
    old = {
        k.purpose: k.certificate_id
        for k in SplitKey.objects.filter(account=account, state=SplitKey.State.ACTIVE)
        if k.certificate_id is not None
    }
    log = tmp_path / "worker.log"
    with real_workers(log) as start:
        first = start(worker_env(tmp_path, SITE_URL=platform.url, SMARTID_FAULT_KILL_AT=point))
        flow = Renewing(app, account.document_number)
        flow.start(PIN2, NEW1, NEW2)

        process = first.process
        assert process is not None
        wait_for(lambda: process.poll() is not None, 90, "the worker to kill itself", log)
        assert process.returncode == -signal.SIGKILL
        killed = _received(log)
        assert killed, "the killed worker had received the swap"
        # Nothing of the killed run committed: no new certificate, no revocation, no
        # audit record; the old keys and certificates serve.
        renewal = KeyRenewal.objects.get(account=account)
        assert renewal.state == KeyRenewal.State.ISSUING
        assert Certificate.objects.filter(document_number=account.document_number).count() == 2
        assert set(
            Certificate.objects.filter(pk__in=old.values()).values_list("status", flat=True)
        ) == {"GOOD"}
        assert not AuditRecord.objects.filter(action="certificate.revoked").exists()
        assert not AuditRecord.objects.filter(action="renewal.completed").exists()
        tx = auth_transaction(account)
        found = {t.id: t for t in backup.pending(timeout_ms=5000)}
        assert backup.approve(found[str(tx.pk)], PIN1).status == "OK"

        start(worker_env(tmp_path, SITE_URL=platform.url))
        result = flow.finish(seconds=120)  # the app's long poll returns with both
        assert result.ok
        new = assert_renewed_once(renewal, old)
        assert {c.purpose: bytes(c.der) for c in new} == result.certificates
        # The killed worker's message came back and ran (the swapping run, or a no-op).
        for task_id in sorted(killed):
            wait_for(_ran(log, task_id), 60, f"the redelivery of {task_id}", log)
        assert_renewed_once(renewal, old)
