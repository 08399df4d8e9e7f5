"""Certificate issuance as a task (docs/app-api.md §2.5): the reference app against the running
ASGI server, with the task run eagerly, or held back and run by the test as a worker would.

The real worker killed with SIGKILL is tests/signing/test_issuance_worker.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F

from accounts.models import Account, Person
from audit.models import AuditRecord
from core.faults import fault_point
from device import ProtocolError
from device.app import DeviceApp
from signing import tasks
from signing.models import SplitKey
from signing.services import issuance
from signing.services.lifecycle import account_close
from tests.helpers.issuance import Registering, assert_exactly_once, issued
from tests.helpers.platform import Platform, send_signed
from tests.personas import BOB

pytestmark = pytest.mark.django_db(transaction=True)


def _ran(result: Any) -> Any:
    """The return value of an eagerly applied task (read directly: ``EagerResult.get``
    refuses once Celery's process-wide "inside a worker" flag is set, which one CI run saw
    set by an earlier test)."""
    assert result.successful(), result.traceback
    return result.result


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The issuance task is sent to a worker that is not there: the test runs it instead."""
    sent: list[int] = []
    monkeypatch.setattr(issuance.issue_certificates, "delay", sent.append)
    return sent


@pytest.fixture
def registering(platform: Platform) -> Iterator[Callable[[], Registering]]:
    started: list[Registering] = []

    def start() -> Registering:
        flow = Registering(platform.device())
        flow.start(platform.ticket())
        started.append(flow)
        return flow

    yield start
    for flow in started:
        flow.thread.join(timeout=60)


def _poll(app: DeviceApp, account: Account, timeout_ms: int = 0) -> Any:
    path = f"/app/v1/registrations/{account.uuid}/certificates?timeoutMs={timeout_ms}"
    return send_signed(app, "GET", path)


# --- the embedded mode -------------------------------------------------------------------


def test_embedded_mode_answers_the_csr_signature_with_the_certificate(
    platform: Platform,
) -> None:
    app, account = platform.registered()
    assert account.state == Account.State.ACTIVE
    certificates = assert_exactly_once(account.document_number)
    recorder = app.recorder  # type: ignore[attr-defined]
    for certificate in certificates:
        _, response = recorder.last(f"/keys/{certificate.purpose}/csr-signature")
        assert response.json()["status"] == "OK"
        assert response.json()["certificate"]  # no need to wait on §2.5
    assert not [r for r in recorder.requests if r.url.path.endswith("/certificates")]
    signed = AuditRecord.objects.filter(action="keys.csr_signed", object_type="signing.SplitKey")
    assert signed.count() == 2
    # A redelivered message finds nothing to do.
    assert _ran(tasks.issue_certificates.apply(args=(account.pk,))) == 0
    assert assert_exactly_once(account.document_number) == certificates


# --- a worker issues: the app waits on its long poll --------------------------------------


def test_the_app_waits_on_its_long_poll_until_a_worker_issued(
    registering: Callable[[], Registering], queued: list[int]
) -> None:
    flow = registering()
    account = flow.account()
    assert queued == [account.pk, account.pk]  # one message per CSR signature
    assert issued(account.document_number) == []
    not_yet = _poll(flow.app, account)
    assert not_yet.status_code == 200
    assert not_yet.json() == {
        "ready": False,
        "account": {"documentNumber": account.document_number, "state": "PENDING"},
        "certificates": {},
    }

    assert _ran(tasks.issue_certificates.apply(args=(account.pk,))) == 2  # the worker's run
    result = flow.finish()
    assert result.state == "ACTIVE"
    certificates = assert_exactly_once(account.document_number)
    assert {c.purpose: bytes(c.der) for c in certificates} == result.certificates
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    # The second message (and any redelivery) is a no-op.
    assert _ran(tasks.issue_certificates.apply(args=(account.pk,))) == 0
    assert assert_exactly_once(account.document_number) == certificates
    ready = _poll(flow.app, account).json()
    assert ready["ready"] is True and set(ready["certificates"]) == {"AUTH", "SIGN"}


@pytest.mark.parametrize("point", ["issuance:before-sign", "issuance:after-sign"])
def test_a_run_that_dies_leaves_nothing_and_the_next_issues_once(
    registering: Callable[[], Registering],
    queued: list[int],
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    """The in-process model of the SIGKILL test: the run ends at the fault point without
    committing; the transaction's work is gone, and the redelivery issues exactly once.
    """

    class Killed(BaseException):
        pass

    def die(name: str) -> None:
        if name == point:
            raise Killed(name)

    flow = registering()
    account = flow.account()
    monkeypatch.setattr(issuance, "fault_point", die)
    with pytest.raises(Killed):
        issuance.certificates_issue(account_id=account.pk)
    assert issued(account.document_number) == []
    assert not AuditRecord.objects.filter(action="certificate.issued").exists()
    assert set(SplitKey.objects.filter(account=account).values_list("state", flat=True)) == {
        "ISSUING"
    }

    monkeypatch.setattr(issuance, "fault_point", fault_point)
    assert _ran(tasks.issue_certificates.apply(args=(account.pk,))) == 2
    assert flow.finish().state == "ACTIVE"
    assert_exactly_once(account.document_number)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: PostgreSQL (CI) only")
def test_two_deliveries_at_once_issue_once(
    registering: Callable[[], Registering], queued: list[int]
) -> None:
    flow = registering()
    account = flow.account()
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def deliver() -> None:
        barrier.wait()
        try:
            counts.append(issuance.certificates_issue(account_id=account.pk).__len__())
        finally:
            connection.close()

    runs = [threading.Thread(target=deliver) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert sum(counts) == 2 and len(counts) == 2
    assert flow.finish().state == "ACTIVE"
    assert_exactly_once(account.document_number)


def test_an_account_closed_while_issuing_gets_no_certificate(
    registering: Callable[[], Registering], queued: list[int]
) -> None:
    flow = registering()
    account = flow.account()
    account_close(account=account, actor="test", reason="closed by owner")
    assert _ran(tasks.issue_certificates.apply(args=(account.pk,))) == 0
    assert issued(account.document_number) == []
    with pytest.raises(ProtocolError, match="could not issue the certificates"):
        flow.finish()


def test_a_request_the_ca_refuses_ends_the_registration(
    registering: Callable[[], Registering], queued: list[int]
) -> None:
    flow = registering()
    account = flow.account()
    Person.objects.filter(pk=account.person_id).update(given_name="")  # an invalid subject
    assert _ran(tasks.issue_certificates.apply(args=(account.pk,))) == 0  # no retry either
    account.refresh_from_db()
    assert account.state == Account.State.REVOKED
    assert issued(account.document_number) == []
    states = set(SplitKey.objects.filter(account=account).values_list("state", flat=True))
    assert states == {SplitKey.State.DESTROYED}
    with pytest.raises(ProtocolError, match="could not issue the certificates"):
        flow.finish()


def test_a_stalled_issuance_is_sent_again(
    registering: Callable[[], Registering], queued: list[int]
) -> None:
    flow = registering()
    account = flow.account()
    queued.clear()
    assert _ran(tasks.resume_issuance.apply()) == 0  # just signed: not stalled
    # A minute later (the message was lost with Redis, say): sent again, once per account.
    # (Backdated rather than time travel: the app's signed requests run on the real clock.)
    keys = SplitKey.objects.filter(account=account)
    keys.update(csr_signed_at=F("csr_signed_at") - issuance.STALLED_AFTER - timedelta(seconds=1))
    assert _ran(tasks.resume_issuance.apply()) == 1
    assert queued == [account.pk]
    _ran(tasks.issue_certificates.apply(args=(account.pk,)))
    assert flow.finish().state == "ACTIVE"
    assert _ran(tasks.resume_issuance.apply()) == 0


# --- §2.5 refuses what it must -----------------------------------------------------------


def test_the_long_poll_is_the_owning_device_s_only(
    platform: Platform, registering: Callable[[], Registering], monkeypatch: pytest.MonkeyPatch
) -> None:
    other, _ = platform.registered(BOB)  # issued at once (embedded mode)
    monkeypatch.setattr(issuance.issue_certificates, "delay", lambda account_id: None)
    flow = registering()
    account = flow.account()
    foreign = _poll(other, account)
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    unsigned = platform.clients[0].get(
        f"/app/v1/registrations/{account.uuid}/certificates?timeoutMs=0"
    )
    assert unsigned.status_code == 401
    for bad in ("-1", "120001", "soon"):
        answer = _poll(flow.app, account, timeout_ms=bad)  # type: ignore[arg-type]
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    posted = send_signed(flow.app, "POST", f"/app/v1/registrations/{account.uuid}/certificates")
    assert posted.status_code == 405
    _ran(tasks.issue_certificates.apply(args=(account.pk,)))
    assert flow.finish().state == "ACTIVE"
