"""A re-key picked up again (docs/app-api.md §8.5, docs/device.md): the app stopped waiting
after §8.3 — its wait ran out, the answer to §8.3 was lost, the process was killed — and
finishes it later from the new keys it kept in its state; the old keys go only once the
service says it swapped. A renewal that failed is dropped and the old keys sign on. An
``ISSUING`` renewal its task can never swap fails after ``ISSUING_MAX_AGE``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db.models import F

from accounts.models import Account, Person
from device import NetworkError, ProtocolError, RenewalPending, StateError
from device.__main__ import main
from device.app import DeviceApp
from device.state import FileStore, MemoryStore
from pki.models import Certificate
from signing import tasks
from signing.models import KeyRenewal, SplitKey
from signing.services import renewal as renewal_service
from tests.helpers.issuance import assert_renewed_once
from tests.helpers.platform import Platform, auth_transaction
from tests.personas import PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)

NEW1, NEW2 = "4321", "54321"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The re-key task is sent to a worker that is not there: the test runs it instead."""
    sent: list[str] = []
    monkeypatch.setattr(renewal_service.complete_renewal, "delay", sent.append)
    return sent


def _old(account: Account) -> dict[str, int]:
    return {
        k.purpose: k.certificate_id
        for k in SplitKey.objects.filter(account=account, state=SplitKey.State.ACTIVE)
        if k.certificate_id is not None
    }


def _approve(app: DeviceApp, account: Account, pin: str) -> str:
    tx = auth_transaction(account)
    found = {t.id: t for t in app.pending(timeout_ms=5000)}
    return app.approve(found[str(tx.pk)], pin).status


def _keys_of(app: DeviceApp) -> list[int]:
    """The service's keys behind the app's current keys (by composite n)."""
    ns = {k.n for k in app.local_accounts()[0].keys.values()}
    return [k.pk for k in SplitKey.objects.all() if int(k.n1, 16) * int(k.n2, 16) in ns]


def _restarted(platform: Platform, app: DeviceApp) -> DeviceApp:
    """The app started again on the state it saved (a new process)."""
    return platform.device(app.session.store)  # type: ignore[arg-type]


def _held_back(platform: Platform) -> tuple[DeviceApp, Account, KeyRenewal]:
    """An app whose ``renew`` gave up waiting (1 s) while its renewal is ``ISSUING``."""
    app, account = platform.registered(certificate_wait=1)
    with pytest.raises(RenewalPending, match="old keys still work until it does"):
        app.renew(account.document_number, PIN2, NEW1, NEW2)
    renewal = KeyRenewal.objects.get(account=account)
    assert renewal.state == KeyRenewal.State.ISSUING
    assert app.pending_renewals() == {account.document_number: str(renewal.pk)}
    return app, account, renewal


def test_a_renewal_whose_wait_ran_out_is_finished_later(
    platform: Platform, queued: list[str]
) -> None:
    app, account, renewal = _held_back(platform)
    old = _old(account)
    # Until the swap the old keys serve, from the same state that keeps the new ones.
    assert _approve(app, account, PIN1) == "OK"
    app = _restarted(platform, app)
    with pytest.raises(RenewalPending):
        app.resume_renewal(account.document_number, wait=0)  # still issuing: both kept
    assert app.pending_renewals() == {account.document_number: str(renewal.pk)}
    assert _approve(app, account, PIN1) == "OK"
    backup = platform.clone(app)  # the old keys alone, as they were just before the swap
    backup.local_accounts()[0].renewal = None

    assert tasks.complete_renewal.apply(args=(str(renewal.pk),)).result is True  # a worker
    new = assert_renewed_once(renewal, old)
    app = _restarted(platform, app)
    result = app.resume_renewal(account.document_number)
    assert result is not None and result.ok
    assert result.certificates == {c.purpose: bytes(c.der) for c in new}
    assert app.pending_renewals() == {}
    assert app.resume_renewal(account.document_number) is None
    # The new keys sign with the new PINs; the old ones are refused.
    assert _approve(app, account, NEW1) == "OK"
    assert SplitKey.objects.filter(pk__in=_keys_of(backup), state="DESTROYED").count() == 2
    with pytest.raises(ProtocolError, match="another key"):
        _approve(backup, account, PIN1)


def test_a_lost_answer_to_the_completion_is_fetched_again(
    platform: Platform, tmp_path: Path
) -> None:
    """Embedded mode: §8.3 swaps at once, and its answer (new tokens, certificates) is
    lost twice, as if the app was killed. The old keys are destroyed at the service; the
    CLI's next ``renew`` sends the kept §8.3 request again and swaps locally."""
    app, account = platform.registered()
    real = app.session.request
    lost = {"n": 0}

    def lose_completion(method: str, path: str, body: bytes | None, **kw: Any) -> Any:
        answer = real(method, path, body, **kw)
        if path.endswith("/complete") and lost["n"] < 2:
            lost["n"] += 1
            raise NetworkError("connection reset")
        return answer

    app.session.request = lose_completion  # type: ignore[method-assign]
    with pytest.raises(NetworkError):
        app.renew(account.document_number, PIN2, NEW1, NEW2)
    renewal = KeyRenewal.objects.get(account=account)
    assert renewal.state == KeyRenewal.State.COMPLETE  # swapped; the app has not seen it
    path = tmp_path / "device.json"
    FileStore(path).save(app.session.store.load())
    pending = FileStore(path).load().accounts[account.document_number].renewal
    assert pending is not None and pending.request is not None

    with httpx.Client(base_url=platform.url) as client:
        assert main(["status", "--offline", "--state", str(path)], client=client) == 0
        assert main(["renew", "--state", str(path)], client=client) == 0  # no PIN asked
    state = FileStore(path).load()
    assert state.accounts[account.document_number].renewal is None
    store = MemoryStore()
    store.save(state)
    renewed = platform.device(store)
    certificates = {k.purpose: k.certificate for k in renewed.local_accounts()[0].keys.values()}
    assert certificates == {
        c.purpose: bytes(c.der) for c in Certificate.objects.filter(split_key__renewal=renewal)
    }
    assert _approve(renewed, account, NEW1) == "OK"


def test_a_failed_renewal_is_dropped_and_the_old_keys_sign_on(
    platform: Platform, queued: list[str]
) -> None:
    app, account, renewal = _held_back(platform)
    old = _old(account)
    Person.objects.filter(pk=account.person_id).update(given_name="")  # the CA refuses
    assert tasks.complete_renewal.apply(args=(str(renewal.pk),)).result is False
    Person.objects.filter(pk=account.person_id).update(given_name="Alice")
    renewal.refresh_from_db()
    assert renewal.state == KeyRenewal.State.FAILED
    app = _restarted(platform, app)
    with pytest.raises(ProtocolError, match="ended 'FAILED'; the old keys still work"):
        app.resume_renewal(account.document_number)
    assert app.pending_renewals() == {}
    assert _restarted(platform, app).pending_renewals() == {}  # saved
    assert _old(account) == old
    assert _approve(app, account, PIN1) == "OK"


def test_an_issuing_renewal_its_task_cannot_swap_fails_after_a_bound(
    platform: Platform, queued: list[str]
) -> None:
    app, account, renewal = _held_back(platform)
    old = _old(account)
    assert renewal_service.renewals_fail_overdue() == 0  # young: retried, not failed
    SplitKey.objects.filter(renewal=renewal).update(
        csr_signed_at=F("csr_signed_at") - renewal_service.ISSUING_MAX_AGE + timedelta(minutes=1)
    )
    queued.clear()
    assert tasks.resume_issuance.apply().result == 1  # nearly overdue: still sent again
    assert renewal_service.renewals_fail_overdue() == 0
    SplitKey.objects.filter(renewal=renewal).update(
        csr_signed_at=F("csr_signed_at") - timedelta(minutes=2)
    )
    assert tasks.resume_issuance.apply().result == 0  # overdue: no longer sent
    ran = tasks.account_expiry_housekeeping.apply()
    assert ran.successful(), ran.traceback
    housekeeping = ran.result
    assert isinstance(housekeeping, dict)
    assert housekeeping["renewals_failed"] == 1
    assert renewal_service.renewals_fail_overdue() == 0  # once
    renewal.refresh_from_db()
    assert renewal.state == KeyRenewal.State.FAILED
    assert not SplitKey.objects.filter(renewal=renewal).exists()
    assert set(
        Certificate.objects.filter(pk__in=old.values()).values_list("status", flat=True)
    ) == {"GOOD"}
    # A late delivery of the task finds nothing to do.
    assert tasks.complete_renewal.apply(args=(str(renewal.pk),)).result is False
    with pytest.raises(ProtocolError, match="ended 'FAILED'"):
        app.resume_renewal(account.document_number)
    assert _approve(app, account, PIN1) == "OK"


def test_using_the_account_finishes_a_swapped_renewal(
    platform: Platform, queued: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No ``renew`` needed: a transaction made for the new keys, or ``status``, finishes
    it; a token refresh waits (the old token sent to a new key would look like a clone)."""
    app, account, renewal = _held_back(platform)
    with pytest.raises(StateError, match="waits for the service"):
        app.refresh(account.document_number, "AUTH")
    assert tasks.complete_renewal.apply(args=(str(renewal.pk),)).result is True
    assert _approve(app, account, NEW1) == "OK"  # the transaction is for the new AUTH key
    assert app.pending_renewals() == {}
    assert app.refresh(account.document_number, "SIGN") == "OK"

    other, account2, renewal2 = _held_back(platform)  # a second device, same steps
    path = tmp_path / "device.json"
    FileStore(path).save(other.session.store.load())
    with httpx.Client(base_url=platform.url) as client:
        assert main(["status", "--state", str(path)], client=client) == 0
        assert "renewal waiting for the service: run 'renew'" in capsys.readouterr().out
        assert tasks.complete_renewal.apply(args=(str(renewal2.pk),)).result is True
        assert main(["status", "--state", str(path)], client=client) == 0
    shown = capsys.readouterr().out
    assert f"Renewal of {account2.document_number} finished" in shown
    assert "renewal waiting" not in shown
    assert FileStore(path).load().accounts[account2.document_number].renewal is None
