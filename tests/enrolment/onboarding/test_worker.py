"""Onboarding end to end with a real Celery worker over Redis, including a worker killed
in the middle of the pipeline (docs/design.md §5: idempotent tasks, acks late).

The worker is its own process (``tests/helpers/worker.py``) on this test's database and
Redis; the web side is the in-process ASGI server of the other tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts.models import Account
from audit.models import AuditRecord
from device.onboarding import Onboarding
from enrolment.models import OnboardingApplication, RegistrationTicket
from tests.helpers.answering import Answering
from tests.helpers.passports import Evidence
from tests.helpers.platform import Platform
from tests.helpers.worker import Worker, real_workers, wait_for, worker_env
from tests.personas import ALICE, PIN1, PIN2, RP_A

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def workers(
    platform: Platform, csca_folder: Path, tmp_path: Path, settings: Any
) -> Iterator[Callable[[], Worker]]:
    """Start workers on demand; the web side enqueues to Redis instead of running eagerly."""
    mail_dir = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = mail_dir
    env = worker_env(
        tmp_path,
        EMRTD_CSCA_PATH=str(csca_folder),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
        SITE_URL=platform.url,
    )
    with real_workers(tmp_path / "worker.log") as start:
        yield lambda: start(env)


def _mailed_code(folder: Path) -> str:
    """The code from the worker's mail file (the worker writes it as the step commits)."""

    def codes() -> list[tuple[str, str]]:
        text = "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.log")))
        return re.findall(r"\b(\d{4}) ?(\d{4})\b", text) if ALICE.email in text else []

    wait_for(lambda: bool(codes()), 30, "the one-time code's e-mail", folder / "none.log")
    return "".join(codes()[-1])


def test_worker_killed_mid_pipeline_finishes_the_application_once(
    platform: Platform,
    registry: None,
    evidence: Evidence,
    workers: Callable[[], Worker],
    rp_a: Any,
    answering: Answering,
    tmp_path: Path,
) -> None:
    first = workers()
    app = platform.device()
    flow = Onboarding(app)
    flow.passport(evidence.passport, evidence.selfies)
    application = OnboardingApplication.objects.get(pk=flow.application_id)

    def checks() -> dict[str, Any]:
        application.refresh_from_db()
        return dict(application.checks)

    # Kill the worker as soon as the chip checks are done: it is then matching faces.
    wait_for(lambda: "active" in checks(), 90, "the chip checks", first.log)
    first.kill()
    application.refresh_from_db()
    assert application.state == OnboardingApplication.State.CHECKING
    assert application.step in {"face", "liveness", "registry", "decision"}

    workers()  # the message comes back after the visibility timeout
    wait_for(
        lambda: (
            OnboardingApplication.objects.get(pk=application.pk).state
            != OnboardingApplication.State.CHECKING
        ),
        90,
        "the pipeline to finish after the restart",
        first.log,
    )
    outcome = flow.follow(ask_code=lambda channel, address: _mailed_code(tmp_path / "mail"))
    assert outcome.state == "APPROVED", outcome.failure
    assert outcome.ticket is not None

    # Every step ran to completion exactly once; one ticket.
    for step in ("passive", "active", "face", "liveness", "registry", "decision"):
        done = AuditRecord.objects.filter(
            object_id=str(application.pk), action=f"onboarding.step.{step}"
        )
        assert done.count() == 1, step
    assert RegistrationTicket.objects.filter(identity_source="EMRTD").count() == 1

    result = app.register(outcome.ticket, PIN1, PIN2)
    account = Account.objects.get(document_number=result.document_number)
    assert account.state == Account.State.ACTIVE

    # The new account authenticates at the RP API.
    answering.start(app)
    digest = hashlib.sha256(b"onboarded login").digest()
    started = httpx.post(
        f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}",
        json={
            "relyingPartyUUID": RP_A.uuid,
            "relyingPartyName": RP_A.name,
            "hash": base64.b64encode(digest).decode(),
            "hashType": "SHA256",
            "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
        },
        timeout=30,
    )
    assert started.status_code == 200, started.text
    session = started.json()["sessionID"]
    status = httpx.get(f"{platform.url}/v2/session/{session}?timeoutMs=20000", timeout=30).json()
    assert status["state"] == "COMPLETE" and status["result"]["endResult"] == "OK"
    assert status["result"]["documentNumber"] == account.document_number
