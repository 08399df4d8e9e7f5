"""Onboarding end to end with a real Celery worker over Redis, including a worker killed
in the middle of the pipeline (docs/design.md §5: idempotent tasks, acks late).

The worker is its own process (``celery -A smartid worker``) on this test's database and a
queue of its own; the web side is the in-process ASGI server of the other tests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection

from accounts.models import Account
from audit.models import AuditRecord
from device.onboarding import Onboarding
from enrolment.models import OnboardingApplication, RegistrationTicket
from tests.helpers.answering import Answering
from tests.helpers.passports import Evidence
from tests.helpers.platform import Platform
from tests.personas import ALICE, PIN1, PIN2, RP_A

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]
VISIBILITY_TIMEOUT = 10  # seconds before a killed worker's task is delivered again


def _database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgresql://{user}@{host}:{port}/{params['NAME']}"


class Worker:
    """One ``celery worker`` process; ``kill()`` is SIGKILL."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "smartid",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(
    platform: Platform, csca_folder: Path, tmp_path: Path, settings: Any
) -> Iterator[Callable[[], Worker]]:
    """Start workers on demand; the web side enqueues to Redis instead of running eagerly."""
    if not django_settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is required for the real-worker test")
        pytest.skip("needs REDIS_URL (a real broker)")
    from smartid.celery import app as celery_app

    mail_dir = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = mail_dir
    # The worker's data folder is the test's (never the demo's var/), and it shares the
    # test process's key-encryption key.
    data_dir = tmp_path / "worker-data"
    data_dir.mkdir()
    env = {
        **os.environ,
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(data_dir),
        "SMARTID_KEK_FILE": str(django_settings.KEYSTORE_KEK_FILE),
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "SMARTID_CELERY_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "EMRTD_CSCA_PATH": str(csca_folder),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "SITE_URL": platform.url,
    }
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()  # nothing left over from an earlier run
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(env, tmp_path / "worker.log")
        worker.start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        celery_app.conf.task_always_eager = saved


def _wait(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n--- worker log ---\n{tail}")
        time.sleep(0.05)


def _mailed_code(folder: Path) -> str:
    """The code from the worker's mail file (the worker writes it as the step commits)."""

    def codes() -> list[tuple[str, str]]:
        text = "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.log")))
        return re.findall(r"\b(\d{4}) ?(\d{4})\b", text) if ALICE.email in text else []

    _wait(lambda: bool(codes()), 30, "the one-time code's e-mail", folder / "none.log")
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
    _wait(lambda: "active" in checks(), 90, "the chip checks", first.log)
    first.kill()
    application.refresh_from_db()
    assert application.state == OnboardingApplication.State.CHECKING
    assert application.step in {"face", "liveness", "registry", "decision"}

    workers()  # the message comes back after the visibility timeout
    _wait(
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
