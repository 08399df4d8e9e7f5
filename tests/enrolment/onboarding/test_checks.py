"""The biometric checks under load (issue 17): they run outside any database transaction,
and a per-address and a global budget bound how many run at once (docs/onboarding.md).

The face checker is patched to wait on an event, so a check can be held "running" while
the test does something else; it then runs for real (Alice's frames against her passport).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

import enrolment.biometrics
from audit.models import AuditRecord
from device.onboarding import _load_poses, perform_challenge
from device.passport import Passport
from device.state import b64
from enrolment import onboarding as service
from enrolment.models import OnboardingApplication, OnboardingEvidence
from enrolment.onboarding import collect
from enrolment.onboarding.budget import RETRY_AFTER_SECONDS, checks_admit
from tests.helpers.passports import Evidence
from tests.helpers.platform import Platform

pytestmark = pytest.mark.django_db(transaction=True)
State = OnboardingApplication.State
#: Long enough for a loaded CI machine; only ever reached when the code under test is wrong.
DEADLINE = 60.0


@dataclass
class Applicant:
    """One EMRTD application with its evidence uploaded, ready to submit."""

    url: str
    headers: dict[str, str]
    application_id: str

    def submit(self) -> httpx.Response:
        return httpx.post(self.url + "/submit", headers=self.headers, timeout=DEADLINE * 2)

    def row(self) -> OnboardingApplication:
        return OnboardingApplication.objects.get(pk=self.application_id)


@pytest.fixture
def applicant(platform: Platform, evidence: Evidence, settings: Any) -> Callable[[str], Applicant]:
    """``applicant(address)``: an application collected from that client address (the
    ASGI server believes X-Forwarded-For from 127.0.0.1, as behind a reverse proxy)."""
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    chip = Passport.load(evidence.passport)
    poses = _load_poses(evidence.selfies)

    def collect_from(address: str) -> Applicant:
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        headers = {"X-Forwarded-For": address}
        started = httpx.post(
            f"{platform.url}/app/v1/onboarding",
            headers=headers,
            json={"source": "EMRTD", "appKey": b64(der), "consentBiometrics": True},
        )
        assert started.status_code == 201, started.text
        body = started.json()
        url = f"{platform.url}/app/v1/onboarding/{body['applicationId']}"
        headers["Authorization"] = f"Bearer {body['token']}"
        passport = {
            "sod": b64(chip.sod),
            "dataGroups": {str(n): b64(d) for n, d in sorted(chip.data_groups.items())},
            "aaSignature": b64(chip.sign_aa(base64.b64decode(body["aaChallenge"]))),
        }
        assert httpx.put(url + "/passport", headers=headers, json=passport).status_code == 200
        challenge = httpx.post(url + "/liveness", headers=headers).json()
        frames = perform_challenge(poses, challenge["steps"], start_ms=challenge["issuedAtMs"])
        for index, (data, at) in enumerate(frames):
            frame = {"index": index, "capturedAtMs": at, "data": b64(data)}
            assert httpx.put(url + "/frames", headers=headers, json=frame).status_code == 200
        return Applicant(url, headers, body["applicationId"])

    return collect_from


class HeldChecks:
    """The face checker, patched: every check waits until ``release()``."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.released = threading.Event()

    def wait_running(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.entered.acquire(timeout=DEADLINE), "the check did not start"

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldChecks]:
    checks = HeldChecks()
    real = enrolment.biometrics.face_match

    def face_match(**kwargs: Any) -> Any:
        checks.entered.release()
        checks.released.wait(DEADLINE)
        return real(**kwargs)

    # passport.face_check imports the checker from the package when it runs.
    monkeypatch.setattr(enrolment.biometrics, "face_match", face_match)
    yield checks
    checks.release()  # never leave a server thread waiting


def _in_thread(action: Callable[[], Any]) -> Any:
    """Run ``action`` on a thread of its own (its own database connection)."""

    def run() -> Any:
        try:
            return action()
        finally:
            connection.close()

    return run


def test_a_running_check_holds_no_database_lock(
    applicant: Callable[[str], Applicant], held: HeldChecks, registry: None
) -> None:
    """While one application's face check runs, other writers commit: another
    application's frame upload (the same table) and even a write to the checked row."""
    alice, other = applicant("198.51.100.1"), applicant("198.51.100.2")
    other_frame = OnboardingEvidence.objects.get(
        application__pk=other.application_id, kind=OnboardingEvidence.Kind.FRAME, number=0
    )
    frame_body = {
        "index": 0,
        "capturedAtMs": other_frame.captured_at_ms,
        "data": b64(bytes(other_frame.data)),
    }

    def write() -> None:
        response = httpx.put(
            other.url + "/frames", headers=other.headers, json=frame_body, timeout=DEADLINE
        )
        assert response.status_code == 200, response.text
        with transaction.atomic():  # the checked row itself: no SELECT … FOR UPDATE on it
            OnboardingApplication.objects.filter(pk=alice.application_id).update(
                updated_at=timezone.now()
            )

    with ThreadPoolExecutor(2) as pool:
        submitted = pool.submit(alice.submit)
        held.wait_running()
        assert alice.row().step == "face"
        writer = pool.submit(_in_thread(write))
        try:
            writer.result(timeout=DEADLINE)  # raises TimeoutError if a lock held it up
            assert not held.released.is_set()  # … and the check was running throughout
        finally:
            held.release()
        assert submitted.result(timeout=DEADLINE).status_code == 202
    application = alice.row()
    assert application.state == State.SECONDARY, application.checks
    assert application.checks["face"]["ok"] and application.checks["liveness"]["ok"]


def test_the_same_step_run_twice_at_once_is_recorded_once(
    applicant: Callable[[str], Applicant], held: HeldChecks, registry: None
) -> None:
    """A restarted pipeline (housekeeping, a redelivered message) may run a check while
    the first run still does: only one records it, and the other does not mistake the
    first one's frames for a replay."""
    alice = applicant("198.51.100.1")
    with ThreadPoolExecutor(2) as pool:
        submitted = pool.submit(alice.submit)
        held.wait_running()
        again = pool.submit(
            _in_thread(lambda: service.onboarding_run(application_id=alice.application_id))
        )
        held.wait_running()  # both runs are inside the face check now
        held.release()
        assert submitted.result(timeout=DEADLINE).status_code == 202
        again.result(timeout=DEADLINE)
    application = alice.row()
    assert application.state == State.SECONDARY, application.checks
    steps = AuditRecord.objects.filter(object_id=alice.application_id, action__startswith="onb")
    actions = list(steps.values_list("action", flat=True))
    assert actions.count("onboarding.step.face") == 1
    assert actions.count("onboarding.step.liveness") == 1


def _refused_unchanged(applicant: Applicant, response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == status
    application = applicant.row()
    assert (application.state, application.step, application.checks) == (
        State.COLLECTING,
        "",
        {},
    )
    assert not AuditRecord.objects.filter(
        object_id=applicant.application_id, action="onboarding.submitted"
    ).exists()


def test_budgets_per_address_and_in_total(
    applicant: Callable[[str], Applicant], held: HeldChecks, registry: None, settings: Any
) -> None:
    settings.BIOMETRIC_CHECKS_PER_ADDRESS = 1
    settings.BIOMETRIC_CHECKS_TOTAL = 2
    first, second = applicant("198.51.100.1"), applicant("198.51.100.1")
    third, fourth = applicant("203.0.113.7"), applicant("2001:db8::1")
    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(first.submit)]
        held.wait_running()
        # The same address again: 429 until its first check is over.
        response = second.submit()
        _refused_unchanged(second, response, 429)
        assert response.json()["error"] == "too_many_requests"
        # Another address takes the second global slot; a third address finds none.
        running.append(pool.submit(third.submit))
        held.wait_running()
        response = fourth.submit()
        _refused_unchanged(fourth, response, 503)
        assert response.json()["error"] == "checks_busy"
        held.release()
        assert [r.result(timeout=DEADLINE).status_code for r in running] == [202, 202]
    # The checks are over and their slots given back: the refused ones may come again.
    assert second.submit().status_code == 202
    assert fourth.submit().status_code == 202


def test_a_slot_a_crashed_worker_kept_frees_itself(
    applicant: Callable[[str], Applicant],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.BIOMETRIC_CHECKS_PER_ADDRESS = 1
    settings.BIOMETRIC_SLOT_SECONDS = 1
    first, second = applicant("198.51.100.1"), applicant("198.51.100.1")
    # Submitted, but no worker ever finishes the checks (it died holding the slot).
    monkeypatch.setattr(collect, "enqueue", lambda application_id: None)
    assert first.submit().status_code == 202
    response = second.submit()
    _refused_unchanged(second, response, 429)
    # The slot expires on its own: wait for that, with a deadline.
    deadline = time.monotonic() + DEADLINE
    while (response := second.submit()).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert response.status_code == 202


def test_admission_is_atomic_under_contention(settings: Any) -> None:
    """Forty submissions racing for a global budget of five: exactly five get a slot."""
    settings.BIOMETRIC_CHECKS_TOTAL = 5
    cache.clear()
    barrier = threading.Barrier(40)

    def admit(number: int) -> bool:
        barrier.wait()
        try:
            checks_admit(application_id=f"racer-{number}", address=f"192.0.2.{number}")
        except service.ChecksBusy:
            return False
        return True

    with ThreadPoolExecutor(40) as pool:
        admitted = list(pool.map(admit, range(40)))
    assert admitted.count(True) == 5
