"""Remote onboarding through the app API, with the pipeline in-process (eager tasks).

The real-worker run (Redis, a killed worker) is in test_worker.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import Account
from audit.services import audit_chain_verify
from device.errors import ApiError
from device.onboarding import Onboarding
from enrolment import onboarding as service
from enrolment.models import OnboardingApplication, OnboardingEvidence, RegistrationTicket
from enrolment.onboarding import collect
from tests.helpers.passports import Evidence, make_passport, write_selfies
from tests.helpers.platform import Platform
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)
State = OnboardingApplication.State


def _code_from_mail(*, as_printed: bool = False) -> str:
    assert mail.outbox, "no secondary-authentication message was sent"
    message = mail.outbox[-1]
    assert message.to == [ALICE.email]
    match = re.search(r"\b(\d{4}) ?(\d{4})\b", str(message.body))
    assert match is not None, message.body
    return f"{match.group(1)} {match.group(2)}" if as_printed else match.group(1) + match.group(2)


def test_passport_and_selfie_register_an_active_account(
    platform: Platform, registry: None, evidence: Evidence
) -> None:
    app = platform.device()
    seen: list[str] = []
    flow = Onboarding(app, progress=lambda status: seen.append(str(status.get("state"))))
    flow.passport(evidence.passport, evidence.selfies)
    # Typed as the message prints it ("1247 3521"): the API takes it so.
    outcome = flow.follow(ask_code=lambda channel, address: _code_from_mail(as_printed=True))

    assert outcome.state == "APPROVED", outcome.failure
    assert outcome.ticket is not None
    application = OnboardingApplication.objects.get(pk=outcome.application_id)
    assert application.consent_at is not None
    assert all(check["ok"] for check in application.checks.values())
    assert application.face_distance is not None
    assert application.ticket is not None
    assert application.ticket.identity_source == RegistrationTicket.Source.EMRTD
    # The code went to the registry's address, shown masked to the app.
    assert "SECONDARY" in seen

    result = app.register(outcome.ticket, PIN1, PIN2)
    account = Account.objects.get(document_number=result.document_number)
    assert account.state == Account.State.ACTIVE
    assert account.person.semantics_identifier == ALICE.semantics_identifier
    assert (account.person.given_name, account.person.surname) == ("Alice", "Tamm")
    assert audit_chain_verify() is None


def test_a_tampered_passport_is_rejected_with_its_reason(
    platform: Platform, registry: None, evidence: Evidence, csca: Any, alice_jpeg: bytes
) -> None:
    from demo.passports import tampered

    tampered(make_passport(csca, alice_jpeg), "dg1").write(evidence.passport)
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None and outcome.failure["error"] == "dg_hash_mismatch"
    assert not RegistrationTicket.objects.exists()


def test_another_persons_face_is_rejected(
    platform: Platform,
    registry: None,
    evidence: Evidence,
    csca: Any,
    bob_jpeg: bytes,
) -> None:
    # The chip carries someone else's photo; the selfies are the astronaut's.
    make_passport(csca, bob_jpeg).write(evidence.passport)
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None and outcome.failure["error"] == "face_mismatch"
    assert not RegistrationTicket.objects.exists()


def test_replayed_frames_from_another_application_are_refused(
    platform: Platform, registry: None, evidence: Evidence
) -> None:
    first = Onboarding(platform.device())
    first.passport(evidence.passport, evidence.selfies)
    assert first.follow(ask_code=lambda c, a: _code_from_mail()).state == "APPROVED"
    second = Onboarding(platform.device())
    second.passport(evidence.passport, evidence.selfies)
    outcome = second.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "liveness_reused_frame"


def test_no_ticket_without_the_secondary_code(
    platform: Platform, registry: None, evidence: Evidence
) -> None:
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    assert flow.follow().state == "SECONDARY"
    right = _code_from_mail()
    wrong = "00000000" if right != "00000000" else "11111111"
    for left in range(service.SECONDARY_MAX_TRIES - 1, -1, -1):
        with pytest.raises(ApiError) as refused:
            flow.app.call(
                "POST",
                f"/app/v1/onboarding/{flow.application_id}/secondary",
                {"code": wrong},
                bearer=flow.token,
            )
        assert refused.value.error == "secondary_wrong_code"
        assert f"{left} tries left" in refused.value.message
    with pytest.raises(ApiError) as locked:
        flow.app.call(
            "POST",
            f"/app/v1/onboarding/{flow.application_id}/secondary",
            {"code": right},
            bearer=flow.token,
        )
    assert locked.value.error == "secondary_locked"
    assert not RegistrationTicket.objects.exists()


def test_without_a_known_contact_the_application_is_rejected(
    platform: Platform, registry: None, evidence: Evidence
) -> None:
    from enrolment.models import RegistryPerson

    RegistryPerson.objects.filter(semantics_identifier=ALICE.semantics_identifier).update(email="")
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None and outcome.failure["error"] == "no_verified_contact"


def test_borderline_face_goes_to_manual_review(
    platform: Platform, registry: None, evidence: Evidence, settings: Any
) -> None:
    settings.FACE_REVIEW_MARGIN = settings.FACE_MATCH_THRESHOLD  # every match is borderline
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    assert flow.follow().state == "REVIEW"
    service.onboarding_review_decide(
        application_id=flow.application_id,
        approve=True,
        reviewer="officer:sam",
        note="photo checked",
        source_ip="127.0.0.1",
    )
    assert flow.follow(ask_code=lambda c, a: _code_from_mail()).state == "APPROVED"


def test_biometric_evidence_is_deleted_after_the_retention_period(
    platform: Platform, registry: None, evidence: Evidence, settings: Any
) -> None:
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    assert flow.follow(ask_code=lambda c, a: _code_from_mail()).state == "APPROVED"
    rows = OnboardingEvidence.objects.filter(application__pk=flow.application_id)
    assert rows.filter(kind=OnboardingEvidence.Kind.FRAME).exists()
    assert service.onboarding_housekeeping()["purged"] == 0  # not yet due
    later = timezone.now() + timedelta(days=settings.BIOMETRIC_RETENTION_DAYS, hours=1)
    with time_machine.travel(later, tick=False):
        assert service.onboarding_housekeeping()["purged"] == 1
    assert not rows.exists()
    application = OnboardingApplication.objects.get(pk=flow.application_id)
    assert application.biometrics_deleted_at is not None
    assert application.state == State.APPROVED  # the decision itself stays


def test_consent_is_required_for_biometric_onboarding(platform: Platform) -> None:
    app = platform.device()
    with pytest.raises(ApiError) as refused:
        app.call(
            "POST",
            "/app/v1/onboarding",
            {"source": "EMRTD", "appKey": _b64(app.device_public_key())},
            bearer="-",
        )
    assert refused.value.status == 400 and refused.value.error == "consent_required"
    assert not OnboardingApplication.objects.exists()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"source": "EMRTD"},
        {"source": "PASSPORT", "appKey": "AAAA", "consentBiometrics": True},
        {"source": "EMRTD", "appKey": "not base64!", "consentBiometrics": True},
        {"source": "EMRTD", "appKey": "AAAA", "consentBiometrics": True},
        {"source": "MOBILE_ID", "appKey": "AAAA", "phoneNumber": "12"},
        [1, 2],
    ],
)
def test_malformed_starts_are_400(platform: Platform, body: Any) -> None:
    response = httpx.post(f"{platform.url}/app/v1/onboarding", json=body)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "onboarding_invalid"}
    assert not OnboardingApplication.objects.exists()


def test_wrong_and_foreign_secrets_are_404(platform: Platform, evidence: Evidence) -> None:
    alice = Onboarding(platform.device())
    alice.start("EMRTD", consentBiometrics=True)
    bob = Onboarding(platform.device())
    bob.start("EMRTD", consentBiometrics=True)
    url = f"{platform.url}/app/v1/onboarding/{alice.application_id}"
    for headers in (
        {},
        {"Authorization": "Bearer " + "x" * 43},
        {"Authorization": f"Bearer {bob.token}"},
        {"Authorization": alice.token},
    ):
        for method, suffix in (
            ("GET", ""),
            ("POST", "/liveness"),
            ("POST", "/submit"),
            ("PUT", "/passport"),
            ("POST", "/secondary"),
        ):
            response = httpx.request(method, url + suffix, headers=headers, json={})
            assert response.status_code == 404, (method, suffix, headers)
            assert response.json()["error"] == "not_found"
    unknown = httpx.get(
        f"{platform.url}/app/v1/onboarding/8c1f0c0e-0000-4000-8000-000000000000",
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert unknown.status_code == 404


def test_malformed_evidence_is_400_and_changes_nothing(
    platform: Platform, evidence: Evidence
) -> None:
    flow = Onboarding(platform.device())
    flow.start("EMRTD", consentBiometrics=True)
    url = f"{platform.url}/app/v1/onboarding/{flow.application_id}"
    auth = {"Authorization": f"Bearer {flow.token}"}
    bad_passports: list[Any] = [
        {"sod": "AAAA", "dataGroups": {"1": "AAAA"}},  # DG2 missing
        {"sod": "AAAA", "dataGroups": {"x": "AAAA", "2": "AAAA"}},
        {"sod": "AAAA", "dataGroups": {"1": "A" * 400, "2": "AAAA"}},  # DG1 too long
        {"sod": "!!", "dataGroups": {"1": "AAAA", "2": "AAAA"}},
        {"sod": "AAAA", "dataGroups": {"1": "AAAA", "2": "AAAA", "3": "AAAA"}},  # no DG3
    ]
    for body in bad_passports:
        response = httpx.put(url + "/passport", headers=auth, json=body)
        assert response.status_code == 400, body
    # Frames before a challenge, out of range, not Base64.
    assert (
        httpx.put(
            url + "/frames", headers=auth, json={"index": 0, "capturedAtMs": 1, "data": "AAAA"}
        ).status_code
        == 409
    )
    httpx.post(url + "/liveness", headers=auth)
    for body in (
        {"index": 20, "capturedAtMs": 1, "data": "AAAA"},
        {"index": 0, "capturedAtMs": -1, "data": "AAAA"},
        {"index": 0, "capturedAtMs": 1, "data": "%%%"},
    ):
        assert httpx.put(url + "/frames", headers=auth, json=body).status_code == 400, body
    # Nothing to submit yet.
    assert httpx.post(url + "/submit", headers=auth).status_code == 400
    assert not OnboardingEvidence.objects.exists()
    assert OnboardingApplication.objects.get().state == State.COLLECTING


def test_frames_after_the_deadline_are_refused(platform: Platform, settings: Any) -> None:
    flow = Onboarding(platform.device())
    flow.start("EMRTD", consentBiometrics=True)
    url = f"{platform.url}/app/v1/onboarding/{flow.application_id}"
    auth = {"Authorization": f"Bearer {flow.token}"}
    httpx.post(url + "/liveness", headers=auth)
    later = timezone.now() + timedelta(seconds=settings.LIVENESS_DEADLINE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        response = httpx.put(
            url + "/frames", headers=auth, json={"index": 0, "capturedAtMs": 1, "data": "AAAA"}
        )
    assert response.status_code == 400 and response.json()["error"] == "liveness_late"


def test_stale_applications_expire(platform: Platform) -> None:
    flow = Onboarding(platform.device())
    flow.start("EMRTD", consentBiometrics=True)
    with time_machine.travel(timezone.now() + service.COLLECT_TTL + timedelta(minutes=1)):
        assert service.onboarding_housekeeping()["expired"] == 1
    assert OnboardingApplication.objects.get().state == State.EXPIRED


def test_selfie_folder_format(tmp_path: Path, selfie_frames: dict[str, list[bytes]]) -> None:
    from device.onboarding import _load_poses, perform_challenge

    poses = _load_poses(write_selfies(tmp_path, selfie_frames))
    frames = perform_challenge(poses, ["blink", "turn_left", "turn_right"], start_ms=1000)
    assert len(frames) == 7
    assert len({data for data, _ in frames}) == 7  # no frame twice
    assert [t for _, t in frames] == [1000 + 400 * i for i in range(7)]


def test_a_pipeline_whose_message_was_lost_is_restarted(
    platform: Platform, registry: None, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process dies between the commit and the publish: no message reaches a worker.
    monkeypatch.setattr(collect, "enqueue", lambda application_id: None)
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)
    assert flow.status()["state"] == "CHECKING"
    monkeypatch.undo()
    assert service.onboarding_housekeeping()["restarted"] == 0  # not stalled yet
    with time_machine.travel(timezone.now() + service.STALL_AFTER + timedelta(seconds=1)):
        assert service.onboarding_housekeeping()["restarted"] == 1
    assert flow.status()["state"] == "SECONDARY"


def test_consent_must_be_json_true(platform: Platform) -> None:
    app = platform.device()
    for consent in ("yes", 1, "true", None):
        response = httpx.post(
            f"{platform.url}/app/v1/onboarding",
            json={
                "source": "EMRTD",
                "appKey": _b64(app.device_public_key()),
                "consentBiometrics": consent,
            },
        )
        assert response.status_code == 400, consent
        assert response.json()["error"] == "consent_required"
    assert not OnboardingApplication.objects.exists()


@pytest.mark.parametrize("key", ["²", "١", "01x", "17", "-1", " 1"])
def test_odd_data_group_keys_are_400(platform: Platform, key: str) -> None:
    flow = Onboarding(platform.device())
    flow.start("EMRTD", consentBiometrics=True)
    response = httpx.put(
        f"{platform.url}/app/v1/onboarding/{flow.application_id}/passport",
        headers={"Authorization": f"Bearer {flow.token}"},
        json={"sod": "AAAA", "dataGroups": {"1": "AAAA", "2": "AAAA", key: "AAAA"}},
    )
    assert response.status_code == 400
    assert not OnboardingEvidence.objects.exists()
