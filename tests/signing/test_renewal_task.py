"""Re-key's swap as a task (docs/app-api.md §8.3-8.4): the reference app against the running
ASGI server, with the task ``complete_renewal`` run eagerly, or held back and run by the
test as a worker would (twice, late, refused by the CA).

The real worker killed with SIGKILL is tests/signing/test_renewal_worker.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F

from accounts.models import Account, Person
from device import ProtocolError
from device.app import DeviceApp
from pki.models import Certificate
from signing import tasks
from signing.models import KeyRenewal, SplitKey
from signing.services import renewal as renewal_service
from signing.services.errors import WrongState
from signing.services.issuance import STALLED_AFTER
from signing.services.lifecycle import account_close
from tests.helpers.issuance import Renewing, assert_renewed_once
from tests.helpers.platform import Platform, auth_transaction, send_signed, signed_headers
from tests.personas import BOB, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)

NEW1, NEW2 = "4321", "54321"


def _ran(result: Any) -> Any:
    """An eagerly applied task's return value (see tests/signing/test_issuance.py)."""
    assert result.successful(), result.traceback
    return result.result


def _old(account: Account) -> dict[str, int]:
    return {
        k.purpose: k.certificate_id
        for k in SplitKey.objects.filter(account=account, state=SplitKey.State.ACTIVE)
        if k.certificate_id is not None
    }


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The re-key task is sent to a worker that is not there: the test runs it instead."""
    sent: list[str] = []
    monkeypatch.setattr(renewal_service.complete_renewal, "delay", sent.append)
    return sent


@pytest.fixture
def renewing(platform: Platform) -> Iterator[Callable[..., tuple[Renewing, Account]]]:
    """A registered app (issued at once: embedded mode) renewing in a thread; a copy of
    its state before the renewal is ``backups[flow]`` (the old keys)."""
    started: list[Renewing] = []

    def start(**options: Any) -> tuple[Renewing, Account]:
        app, account = platform.registered(**options)
        BACKUPS[id(app)] = platform.clone(app)
        flow = Renewing(app, account.document_number)
        flow.start(PIN2, NEW1, NEW2)
        started.append(flow)
        return flow, account

    yield start
    for flow in started:
        flow.thread.join(timeout=60)
        BACKUPS.pop(id(flow.app), None)


BACKUPS: dict[int, DeviceApp] = {}


def _poll(app: DeviceApp, renewal_id: object, timeout_ms: object = 0) -> Any:
    return send_signed(
        app, "GET", f"/app/v1/renewals/{renewal_id}/certificates?timeoutMs={timeout_ms}"
    )


def _approve_with_old_keys(platform: Platform, backup: DeviceApp, account: Account) -> str:
    """An authentication answered with the old AUTH key (a copy of the app's old state)."""
    tx = auth_transaction(account)
    found = {t.id: t for t in backup.pending(timeout_ms=5000)}
    return backup.approve(found[str(tx.pk)], PIN1).status


# --- the embedded mode -------------------------------------------------------------------


def test_embedded_mode_answers_the_completion_with_the_certificates(platform: Platform) -> None:
    app, account = platform.registered()
    old = _old(account)
    result = app.renew(account.document_number, PIN2, NEW1, NEW2)
    assert result.ok
    renewal = KeyRenewal.objects.get(account=account)
    new = assert_renewed_once(renewal, old)
    assert {c.purpose: bytes(c.der) for c in new} == result.certificates
    _, response = app.recorder.last("/complete")  # type: ignore[attr-defined]
    assert response.json()["state"] == "COMPLETE"
    assert all(k["certificate"] for k in response.json()["keys"].values())
    recorder = app.recorder  # type: ignore[attr-defined]
    assert not [r for r in recorder.requests if r.url.path.endswith("/certificates")]
    # A redelivered message (or a second one) finds nothing to do.
    assert _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),))) is False
    assert assert_renewed_once(renewal, old) == new


# --- a worker swaps: the app waits on its long poll ---------------------------------------


def test_the_app_waits_until_a_worker_swapped_and_a_second_run_is_a_no_op(
    platform: Platform, renewing: Callable[..., tuple[Renewing, Account]], queued: list[str]
) -> None:
    flow, account = renewing()
    backup = BACKUPS[id(flow.app)]  # the old keys, before the renewal
    old = _old(account)
    renewal = flow.renewal()
    assert queued == [str(renewal.pk)]
    # Until the swap the old keys and certificates serve; the new keys are not in use.
    assert Certificate.objects.filter(document_number=account.document_number).count() == 2
    assert set(
        Certificate.objects.filter(pk__in=old.values()).values_list("status", flat=True)
    ) == {"GOOD"}
    assert _approve_with_old_keys(platform, backup, account) == "OK"
    not_yet = _poll(flow.app, renewal.pk)
    assert not_yet.status_code == 200
    assert not_yet.json()["ready"] is False and not_yet.json()["state"] == "ISSUING"
    assert not_yet.json()["certificates"] == {}
    # A second start is refused while this one is being completed.
    with pytest.raises(WrongState, match="being completed"):
        renewal_service.renewal_start(
            account=account, moduli={}, envelope=None, token=b"", rnonce=b""
        )

    assert _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),))) is True  # the worker
    result = flow.finish()
    assert result.ok
    new = assert_renewed_once(renewal, old)
    assert {c.purpose: bytes(c.der) for c in new} == result.certificates
    # The task run again (a redelivery, two messages): nothing more.
    assert _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),))) is False
    assert assert_renewed_once(renewal, old) == new
    ready = _poll(flow.app, renewal.pk).json()
    assert ready["ready"] is True and ready["state"] == "COMPLETE"
    assert set(ready["certificates"]) == {"AUTH", "SIGN"}
    # The renewed app signs with the new PIN.
    tx = auth_transaction(account)
    found = {t.id: t for t in flow.app.pending(timeout_ms=5000)}
    assert flow.app.approve(found[str(tx.pk)], NEW1).status == "OK"


def test_two_runs_at_once_swap_once(
    renewing: Callable[..., tuple[Renewing, Account]], queued: list[str]
) -> None:
    """The service called twice on the pending renewal, as two deliveries would."""
    flow, account = renewing()
    old = _old(account)
    renewal = flow.renewal()
    assert renewal_service.renewal_issue(renewal_id=renewal.pk) is True
    assert renewal_service.renewal_issue(renewal_id=renewal.pk) is False
    assert flow.finish().ok
    assert_renewed_once(renewal, old)


def test_a_stalled_renewal_is_sent_again(
    renewing: Callable[..., tuple[Renewing, Account]], queued: list[str]
) -> None:
    flow, account = renewing()
    renewal = flow.renewal()
    queued.clear()
    assert _ran(tasks.resume_issuance.apply()) == 0  # just signed: not stalled
    SplitKey.objects.filter(renewal=renewal).update(
        csr_signed_at=F("csr_signed_at") - STALLED_AFTER - timedelta(seconds=1)
    )
    assert _ran(tasks.resume_issuance.apply()) == 1
    assert queued == [str(renewal.pk)]
    _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),)))
    assert flow.finish().ok
    assert _ran(tasks.resume_issuance.apply()) == 0


def test_a_refusal_of_the_ca_fails_the_renewal_and_keeps_the_old_keys(
    platform: Platform, renewing: Callable[..., tuple[Renewing, Account]], queued: list[str]
) -> None:
    flow, account = renewing()
    old = _old(account)
    renewal = flow.renewal()
    Person.objects.filter(pk=account.person_id).update(given_name="")  # an invalid subject
    assert _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),))) is False  # no retry
    renewal.refresh_from_db()
    assert renewal.state == KeyRenewal.State.FAILED
    assert not SplitKey.objects.filter(renewal=renewal).exists()
    assert Certificate.objects.filter(document_number=account.document_number).count() == 2
    assert set(
        Certificate.objects.filter(pk__in=old.values()).values_list("status", flat=True)
    ) == {"GOOD"}
    with pytest.raises(ProtocolError, match="ended 'FAILED'; the old keys still work"):
        flow.finish()
    Person.objects.filter(pk=account.person_id).update(given_name="Alice")
    tx = auth_transaction(account)
    found = {t.id: t for t in flow.app.pending(timeout_ms=5000)}
    assert flow.app.approve(found[str(tx.pk)], PIN1).status == "OK"  # the app kept them


def test_closing_the_account_meanwhile_abandons_the_renewal(
    renewing: Callable[..., tuple[Renewing, Account]], queued: list[str]
) -> None:
    flow, account = renewing()
    renewal = flow.renewal()
    account_close(account=account, actor="test", reason="closed")
    assert _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),))) is False
    renewal.refresh_from_db()
    assert renewal.state == KeyRenewal.State.ABANDONED
    assert not Certificate.objects.filter(split_key__renewal=renewal).exists()
    assert not Certificate.objects.filter(
        document_number=account.document_number, status="GOOD"
    ).exists()
    with pytest.raises(ProtocolError, match="ended 'ABANDONED'"):
        flow.finish()


# --- §8.4 refuses what it must -----------------------------------------------------------


def test_the_long_poll_refuses_wrong_foreign_and_malformed_requests(
    platform: Platform, renewing: Callable[..., tuple[Renewing, Account]], queued: list[str]
) -> None:
    other, _ = platform.registered(BOB)
    flow, account = renewing()
    renewal = flow.renewal()
    path = f"/app/v1/renewals/{renewal.pk}/certificates?timeoutMs=0"
    # Wrong: no signature, or a signature over another request.
    unsigned = platform.clients[0].get(path)
    assert unsigned.status_code == 401 and unsigned.json()["error"]
    headers = signed_headers(flow.app, "GET", f"/app/v1/renewals/{renewal.pk}/certificates")
    mismatched = platform.clients[0].get(path, headers=headers)
    assert mismatched.status_code == 401 and mismatched.json()["error"]
    # Foreign: another device's renewal, and one that does not exist, are the same 404.
    foreign = _poll(other, renewal.pk)
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    unknown = _poll(flow.app, "00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    # Malformed: not a UUID, a bad timeoutMs, another method.
    not_uuid = send_signed(flow.app, "GET", "/app/v1/renewals/not-a-uuid/certificates")
    assert not_uuid.status_code == 404 and not_uuid.json()["code"] == 404
    for bad in ("-1", "120001", "soon"):
        answer = _poll(flow.app, renewal.pk, timeout_ms=bad)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    posted = send_signed(flow.app, "POST", f"/app/v1/renewals/{renewal.pk}/certificates")
    assert posted.status_code == 405
    # Nothing changed: still waiting for its task, which then swaps as ever.
    renewal.refresh_from_db()
    assert renewal.state == KeyRenewal.State.ISSUING
    _ran(tasks.complete_renewal.apply(args=(str(renewal.pk),)))
    assert flow.finish().ok
