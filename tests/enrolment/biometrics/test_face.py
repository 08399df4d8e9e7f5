"""Face match: the same person under changes matches, other people do not; quality gates."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from enrolment.biometrics import DEFAULT_THRESHOLD, BiometricError, face_match
from enrolment.biometrics.face import analyse_face, face_distance
from tests.helpers.images import jpeg, noise_image, png

THRESHOLD = DEFAULT_THRESHOLD


def _neutral(frames: dict[str, list[bytes]]) -> Image.Image:
    return Image.open(io.BytesIO(frames["neutral"][0]))


TRANSFORMS = {
    "as_is": lambda im: jpeg(im),
    "mirror": lambda im: jpeg(ImageOps.mirror(im)),
    "scale_0.6": lambda im: jpeg(im.resize((288, 384), Image.Resampling.LANCZOS)),
    "scale_1.33": lambda im: jpeg(im.resize((640, 853), Image.Resampling.LANCZOS)),
    "darker": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(0.5)),
    "brighter": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(1.5)),
    "low_contrast": lambda im: jpeg(ImageEnhance.Contrast(im).enhance(0.6)),
    "jpeg_q20": lambda im: jpeg(im, 20),
    "jpeg_q10": lambda im: jpeg(im, 10),
    "greyscale": lambda im: jpeg(ImageOps.grayscale(im)),
    "png": lambda im: png(im),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_same_person_matches_under_changes(
    name: str, alice_dg2: bytes, alice_frames: dict[str, list[bytes]]
) -> None:
    frame = TRANSFORMS[name](_neutral(alice_frames))
    match = face_match(reference=alice_dg2, frames=[frame], threshold=THRESHOLD)
    assert match.matched, match
    assert match.distance < THRESHOLD - 0.15  # a clear margin, not a near miss
    match.ensure_matched()


def test_whole_sequence_matches_on_frontal_frames(
    alice_dg2: bytes, alice_frames: dict[str, list[bytes]]
) -> None:
    frames = [alice_frames[pose][1] for pose in ("neutral", "blink", "turn_left", "turn_right")]
    frames += alice_frames["neutral"][2:]
    match = face_match(reference=alice_dg2, frames=frames, threshold=THRESHOLD)
    assert match.matched
    # The decision ignores the distorted pose frames: it uses the most frontal ones.
    assert match.distance < 0.35


def test_reference_may_be_jpeg_or_png(
    alice_photo: Image.Image, alice_frames: dict[str, list[bytes]]
) -> None:
    for reference in (jpeg(alice_photo, 75), png(alice_photo)):
        assert face_match(
            reference=reference, frames=alice_frames["neutral"][:1], threshold=THRESHOLD
        ).matched


@pytest.mark.parametrize("other", ["bob_photo", "messi_photo"])
def test_other_people_do_not_match(
    other: str, request: pytest.FixtureRequest, alice_dg2: bytes
) -> None:
    photo: Image.Image = request.getfixturevalue(other)
    match = face_match(
        reference=alice_dg2, frames=[jpeg(photo)], threshold=THRESHOLD, min_sharpness=1.0
    )
    assert not match.matched
    assert match.distance > THRESHOLD + 0.1
    with pytest.raises(BiometricError) as caught:
        match.ensure_matched()
    assert caught.value.code == "face_mismatch"


def test_other_people_the_other_way_round(
    bob_photo: Image.Image, alice_frames: dict[str, list[bytes]]
) -> None:
    match = face_match(
        reference=jpeg(bob_photo), frames=alice_frames["neutral"][:1], threshold=THRESHOLD
    )
    assert not match.matched


def test_distances_are_symmetric_and_zero_for_identity(
    alice_frames: dict[str, list[bytes]],
) -> None:
    a = analyse_face(alice_frames["neutral"][0])
    b = analyse_face(alice_frames["neutral"][1])
    assert face_distance(a, a) == 0.0
    assert face_distance(a, b) == pytest.approx(face_distance(b, a))


def _code(frame: bytes, reference: bytes) -> str:
    with pytest.raises(BiometricError) as caught:
        face_match(reference=reference, frames=[frame], threshold=THRESHOLD)
    return caught.value.code


def test_no_face(alice_dg2: bytes) -> None:
    from skimage import data

    coffee = Image.fromarray(data.coffee())  # type: ignore[no-untyped-call]
    assert _code(jpeg(coffee), alice_dg2) == "no_face"
    assert _code(jpeg(Image.new("RGB", (480, 640), (200, 150, 90))), alice_dg2) == "no_face"
    assert _code(jpeg(noise_image()), alice_dg2) == "no_face"


def test_two_faces(
    alice_dg2: bytes, alice_frames: dict[str, list[bytes]], bob_photo: Image.Image
) -> None:
    alice = _neutral(alice_frames).resize((300, 400))
    pair = Image.new("RGB", (600, 400))
    pair.paste(alice, (0, 0))
    pair.paste(bob_photo.resize((300, 300)), (300, 50))
    assert _code(jpeg(pair), alice_dg2) == "several_faces"
    twins = Image.new("RGB", (600, 400))
    twins.paste(alice, (0, 0))
    twins.paste(ImageOps.mirror(alice), (300, 0))
    assert _code(jpeg(twins), alice_dg2) == "several_faces"


def test_face_too_small(alice_dg2: bytes, alice_frames: dict[str, list[bytes]]) -> None:
    small = _neutral(alice_frames).resize((160, 213))  # face about 70 px high
    canvas = Image.new("RGB", (480, 640), (128, 128, 128))
    canvas.paste(small, (160, 200))
    assert _code(jpeg(canvas), alice_dg2) == "face_too_small"


def test_blurry(alice_dg2: bytes, alice_frames: dict[str, list[bytes]]) -> None:
    neutral = _neutral(alice_frames)
    assert face_match(
        reference=alice_dg2,
        frames=[jpeg(neutral.filter(ImageFilter.GaussianBlur(1)))],
        threshold=THRESHOLD,
    ).matched
    assert _code(jpeg(neutral.filter(ImageFilter.GaussianBlur(3))), alice_dg2) == "face_blurry"


def test_bad_reference_and_bad_frames_have_codes(
    alice_dg2: bytes, alice_frames: dict[str, list[bytes]]
) -> None:
    assert _code(b"not an image", alice_dg2) == "not_an_image"
    assert _code(alice_frames["neutral"][0], b"GIF89a...") == "unsupported_format"
    with pytest.raises(BiometricError) as caught:
        face_match(reference=alice_dg2, frames=[], threshold=THRESHOLD)
    assert caught.value.code == "no_face"


def test_error_names_the_frame(alice_dg2: bytes, alice_frames: dict[str, list[bytes]]) -> None:
    with pytest.raises(BiometricError) as caught:
        face_match(
            reference=alice_dg2,
            frames=[alice_frames["neutral"][0], b"garbage"],
            threshold=THRESHOLD,
        )
    assert (caught.value.code, caught.value.frame) == ("not_an_image", 1)


def test_no_django_import() -> None:
    import subprocess
    import sys

    code = "import sys, demo.selfies; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
