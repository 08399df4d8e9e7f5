"""The eMRTD source's steps: the chip's files (``passive``, ``active``; docs/emrtd.md) and
the selfie against the chip's portrait (``face``, ``liveness``; docs/biometrics.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrolment.emrtd import CscaTrustStore, EmrtdError, active_authenticate, passive_authenticate
from enrolment.emrtd.datagroups import parse_dg2, parse_dg14, parse_dg15
from enrolment.models import OnboardingApplication, SeenFrame
from enrolment.onboarding.common import (
    FrameTooLarge,
    OnboardingError,
    StepFailed,
    stored_evidence,
    stored_frames,
    utc_ms,
)


def step_passive(application: OnboardingApplication) -> dict[str, Any]:
    sod, groups, _ = stored_evidence(application)
    try:
        result = passive_authenticate(
            sod=sod,
            data_groups=groups,
            trust_store=CscaTrustStore.from_path(settings.EMRTD_CSCA_PATH),
            at=timezone.now(),
        )
    except EmrtdError as exc:
        raise StepFailed(exc.code, str(exc)) from None
    mrz = result.mrz
    if mrz.expiry_date < timezone.now().date():
        raise StepFailed("document_expired", "The document has expired.")
    personal_code = mrz.personal_code
    country = mrz.issuing_country
    if country is None:
        raise StepFailed("unknown_issuing_state", "The document's issuing state is unknown.")
    if not personal_code:
        raise StepFailed(
            "no_personal_code", "The document carries no personal identification code."
        )
    application.identity |= {
        "semantics_identifier": f"PNO{country}-{personal_code}",
        "given_name": mrz.given_names,
        "surname": mrz.surname,
        "date_of_birth": mrz.date_of_birth.isoformat(),
        "document_number": mrz.document_number,
        "document_expiry": mrz.expiry_date.isoformat(),
        "issuing_state": mrz.issuing_state,
    }
    return {"dsc": result.dsc_subject, "data_groups": result.data_groups_verified}


def step_active(application: OnboardingApplication) -> dict[str, Any]:
    # The data groups passed the passive step, and uploads end when checking starts: the
    # keys are read from them again, not verified again.
    _, groups, signature = stored_evidence(application)
    if 15 not in groups:
        return {"skipped": "no DG15"}
    if signature is None or application.aa_challenge is None:
        raise StepFailed("aa_missing", "The chip's active authentication answer is missing.")
    try:
        active_authenticate(
            aa_public_key=parse_dg15(groups[15]),
            challenge=bytes(application.aa_challenge),
            signature=signature,
            hash_algorithm=parse_dg14(groups[14]).aa_hash_algorithm if 14 in groups else None,
        )
    except EmrtdError as exc:
        raise StepFailed(exc.code, str(exc)) from None
    return {"ok": True}


def face_check(application: OnboardingApplication) -> object:
    """Match the selfie frames with the chip's portrait: decoding and dlib, about a second
    of CPU, so the runner calls it outside any transaction (:func:`face_record` keeps the
    result). Returns the :class:`~enrolment.biometrics.FaceMatch`; raises StepFailed.
    """
    # Deferred: enrolment.biometrics loads face_recognition and dlib's models at import
    # (about 1 s and 130 MB); only a process that runs this step pays for it.
    from enrolment.biometrics import BiometricError, face_match

    _, groups, _ = stored_evidence(application)
    try:
        face = parse_dg2(groups[2]).image  # verified by the passive step
    except (KeyError, EmrtdError):
        raise StepFailed("missing_data_group", "The chip's portrait is missing.") from None
    frames = [bytes(f.data) for f in stored_frames(application)]
    try:
        # Uploads were refused above the cap from their headers; frames stored before
        # the cap (or before it was lowered) are refused here, still before decoding.
        for data in frames:
            frame_size_check(data)
    except OnboardingError as exc:
        raise StepFailed(exc.code, exc.message) from None
    try:
        return face_match(
            reference=face,
            frames=frames,
            threshold=settings.FACE_MATCH_THRESHOLD,
            # The same limits as liveness_check: the analyses are cached under them, so
            # the liveness step reuses the frames this step decoded.
            max_bytes=settings.IMAGE_MAX_BYTES,
            max_pixels=settings.IMAGE_MAX_PIXELS,
        )
    except BiometricError as exc:
        raise StepFailed(exc.code, str(exc)) from None


def face_record(application: OnboardingApplication, match: object) -> dict[str, Any]:
    """Keep what :func:`face_check` found (with the row locked)."""
    from enrolment.biometrics import FaceMatch

    assert isinstance(match, FaceMatch)
    application.face_distance = match.distance
    if not match.matched:
        raise StepFailed("face_mismatch", "The selfie does not match the document's photo.")
    return {"distance": round(match.distance, 4), "threshold": match.threshold}


def liveness_check(application: OnboardingApplication) -> object:
    """Verify the liveness challenge (outside any transaction, as :func:`face_check`).
    Returns the :class:`~enrolment.biometrics.LivenessResult`; raises StepFailed.
    """
    # Deferred, as in face_check: the biometrics package is heavy to import.
    from enrolment.biometrics import BiometricError, Frame, liveness_verify

    frames = stored_frames(application)
    assert application.liveness_issued_at is not None
    assert application.liveness_deadline is not None
    try:
        return liveness_verify(
            challenge=application.liveness_steps,
            frames=[Frame(bytes(f.data), int(f.captured_at_ms or 0)) for f in frames],
            issued_at_ms=utc_ms(application.liveness_issued_at),
            deadline_ms=utc_ms(application.liveness_deadline),
            max_bytes=settings.IMAGE_MAX_BYTES,
            max_pixels=settings.IMAGE_MAX_PIXELS,
        )
    except BiometricError as exc:
        raise StepFailed(exc.code, str(exc)) from None


def liveness_record(application: OnboardingApplication, result: object) -> dict[str, Any]:
    """Keep what :func:`liveness_check` found (with the row locked): the frames' hashes go
    into the cross-application replay index."""
    from enrolment.biometrics import LivenessResult

    assert isinstance(result, LivenessResult)
    _remember_frames(application, result.frame_hashes)
    return {"steps": result.steps_seen}


def frame_size_check(data: bytes) -> None:
    """Refuse a selfie frame that is not a JPEG or PNG, or that declares more pixels than
    face matching needs (:class:`FrameTooLarge`, 413), from its header alone: nothing is
    decoded, so a 16 Mpx frame costs what a small one does (docs/onboarding.md).
    """
    # Deferred, as in face_check (at upload, the liveness challenge has loaded it already).
    from enrolment.biometrics import BiometricError, image_size
    from enrolment.biometrics.face import SELFIE_FORMATS

    limit = min(settings.SELFIE_MAX_PIXELS, settings.IMAGE_MAX_PIXELS)
    try:
        width, height = image_size(data, formats=SELFIE_FORMATS)
    except BiometricError as exc:
        if exc.code == "decompression_bomb":
            raise FrameTooLarge(f"The frame declares too many pixels; at most {limit}.") from None
        raise OnboardingError(exc.message, code=exc.code) from None
    if width * height > limit:
        raise FrameTooLarge(
            f"The frame is {width}×{height} pixels; at most {limit} pixels are accepted "
            "(scale it down to 1280 px on the long side)."
        )


def _remember_frames(application: OnboardingApplication, hashes: list[str]) -> None:
    """Refuse a frame any earlier application used; remember this one's.

    Only the SHA-256 of the bytes crosses applications: the unique index decides, so two
    applications replaying the same frames at the same moment cannot both pass, and the
    check costs one insert, not a scan. (Perceptual hashes only compare the frames of one
    submission: an honest person retrying later looks alike, and would be refused.)
    """
    exact = sorted({h for h in hashes if h.startswith("sha256:")})
    try:
        with transaction.atomic():
            SeenFrame.objects.bulk_create(
                [SeenFrame(frame_hash=h, application=application) for h in exact]
            )
    except IntegrityError:
        raise StepFailed(
            "liveness_reused_frame", "A selfie frame was already used in another application."
        ) from None
