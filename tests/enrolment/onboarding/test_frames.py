"""Selfie frame uploads (app API §6.5): the pixel cap, read from the frame's header and
enforced before anything decodes it (issue 17; docs/onboarding.md)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import httpx
import pytest
from PIL import Image, ImageFile

import enrolment.biometrics
from api.app.onboarding import MAX_FRAME_BYTES
from device.onboarding import Onboarding
from device.state import b64
from enrolment import onboarding as service
from enrolment.biometrics import decode_image
from enrolment.models import OnboardingApplication, OnboardingEvidence
from enrolment.onboarding import collect
from tests.helpers.passports import Evidence
from tests.helpers.platform import Platform

pytestmark = pytest.mark.django_db(transaction=True)


def _frame(width: int, height: int, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    options = {"quality": 40} if fmt == "JPEG" else {}
    Image.new("RGB", (width, height), (120, 130, 140)).save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture
def frames_url(platform: Platform) -> tuple[str, dict[str, str], int]:
    """An EMRTD application with a running liveness challenge: (frames URL, auth, issued)."""
    flow = Onboarding(platform.device())
    flow.start("EMRTD", consentBiometrics=True)
    url = f"{platform.url}/app/v1/onboarding/{flow.application_id}"
    auth = {"Authorization": f"Bearer {flow.token}"}
    challenge = httpx.post(url + "/liveness", headers=auth).json()
    return url + "/frames", auth, challenge["issuedAtMs"]


def _put(frames_url: tuple[str, dict[str, str], int], index: int, data: bytes) -> httpx.Response:
    url, auth, issued = frames_url
    body = {"index": index, "capturedAtMs": issued + index, "data": b64(data)}
    return httpx.put(url, headers=auth, json=body, timeout=30)


def test_the_documented_default_cap_is_2_mpx(settings: Any) -> None:
    assert settings.SELFIE_MAX_PIXELS == 2_000_000


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_frame_just_over_the_cap_is_413_and_not_stored(
    frames_url: tuple[str, dict[str, str], int], settings: Any, fmt: str
) -> None:
    assert settings.SELFIE_MAX_PIXELS == 1600 * 1250
    assert _put(frames_url, 0, _frame(1600, 1250, fmt)).status_code == 200  # exactly the cap

    response = _put(frames_url, 1, _frame(1601, 1250, fmt))  # 1,250 pixels more

    assert response.status_code == 413
    body = response.json()
    assert (body["code"], body["error"]) == (413, "frame_too_large")
    assert "1601×1250" in body["message"]
    assert list(OnboardingEvidence.objects.values_list("number", flat=True)) == [0]


def test_the_cap_is_a_setting(frames_url: tuple[str, dict[str, str], int], settings: Any) -> None:
    settings.SELFIE_MAX_PIXELS = 640 * 480
    assert _put(frames_url, 0, _frame(640, 480)).status_code == 200
    assert _put(frames_url, 1, _frame(640, 481)).status_code == 413


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_16_mpx_frame_is_refused_before_decoding(
    frames_url: tuple[str, dict[str, str], int], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    decoded: list[tuple[int, int]] = []

    def load(image: ImageFile.ImageFile) -> Any:
        decoded.append(image.size)
        raise AssertionError("a frame was decoded")

    big = _frame(4000, 4000, fmt)
    assert len(big) <= MAX_FRAME_BYTES  # it fits the request: only its pixels are too many
    # Pillow decodes pixels in ImageFile.load (JPEG and PNG both): make it a tripwire, and
    # prove the tripwire works.
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(Exception):  # noqa: B017 -- decode_image reports it as not_an_image
        decode_image(_frame(64, 64, fmt))
    assert decoded == [(64, 64)]
    decoded.clear()

    response = _put(frames_url, 0, big)

    assert response.status_code == 413, response.text
    assert response.json()["error"] == "frame_too_large"
    assert decoded == []
    assert not OnboardingEvidence.objects.exists()


def test_a_pixel_bomb_is_413_and_garbage_is_400(
    frames_url: tuple[str, dict[str, str], int],
) -> None:
    # A valid PNG header declaring 100,000 × 100,000 pixels: Pillow's own guard trips.
    header = b"IHDR" + struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + header
    bomb += struct.pack(">I", zlib.crc32(header)) + _frame(8, 8, "PNG")[33:]
    response = _put(frames_url, 0, bomb)
    assert response.status_code == 413 and response.json()["error"] == "frame_too_large"

    for data, error in (
        (b"not an image at all", "not_an_image"),
        (b"GIF89a" + bytes(40), "unsupported_format"),
        (_frame(64, 64)[:40], "not_an_image"),  # a JPEG cut before its frame header
    ):
        response = _put(frames_url, 0, data)
        assert (response.status_code, response.json()["error"]) == (400, error), data[:10]
    assert not OnboardingEvidence.objects.exists()


def test_frames_stored_before_the_cap_was_lowered_are_rejected_undecoded(
    platform: Platform, evidence: Evidence, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "enqueue", lambda application_id: None)  # run it below
    flow = Onboarding(platform.device())
    flow.passport(evidence.passport, evidence.selfies)  # 480 × 640 frames: 307,200 px
    settings.SELFIE_MAX_PIXELS = 300_000

    def face_match(**kwargs: Any) -> Any:
        raise AssertionError("the frames were decoded")

    monkeypatch.setattr(enrolment.biometrics, "face_match", face_match)
    service.onboarding_run(application_id=flow.application_id)

    application = OnboardingApplication.objects.get(pk=flow.application_id)
    assert application.state == OnboardingApplication.State.REJECTED
    assert application.failure_code == "frame_too_large"
    assert application.checks["face"] == {"ok": False, "code": "frame_too_large"}
