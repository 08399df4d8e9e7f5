"""Active liveness: performed challenges pass; static, wrong order, late, reused and
swapped-person sequences fail with their own codes."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest
from PIL import Image

from demo.selfies import perform
from enrolment.biometrics import (
    CHALLENGE_STEPS,
    BiometricError,
    Frame,
    LivenessResult,
    decode_image,
    liveness_challenge,
    liveness_verify,
)
from enrolment.biometrics.face import analyse_face
from enrolment.biometrics.liveness import BLINK_RATIO, YAW_TURN, classify, dhash
from tests.helpers.images import jpeg, png

ISSUED = 1_700_000_000_000
DEADLINE = ISSUED + 120_000
CHALLENGE = ["blink", "turn_left", "turn_right"]


def verify(
    frames: Sequence[Frame], challenge: Sequence[str] = CHALLENGE, **kw: Any
) -> LivenessResult:
    args: dict[str, Any] = {
        "challenge": challenge,
        "frames": frames,
        "issued_at_ms": ISSUED,
        "deadline_ms": DEADLINE,
    }
    args.update(kw)
    return liveness_verify(**args)


def failure(frames: Sequence[Frame], challenge: Sequence[str] = CHALLENGE, **kw: Any) -> str:
    with pytest.raises(BiometricError) as caught:
        verify(frames, challenge, **kw)
    return caught.value.code


@pytest.fixture(scope="module")
def performed(alice_frames: dict[str, list[bytes]]) -> list[Frame]:
    return perform(alice_frames, CHALLENGE, start_ms=ISSUED + 5_000)


def test_synthetic_poses_move_the_measures(alice_frames: dict[str, list[bytes]]) -> None:
    """The synthetic frames really close the eyes and turn the head, in the documented sense."""
    neutral = [analyse_face(f) for f in alice_frames["neutral"]]
    base_ear = min(a.eye_aspect_ratio for a in neutral)
    assert all(abs(a.yaw) < 0.05 for a in neutral)
    for frame in alice_frames["blink"]:
        assert analyse_face(frame).eye_aspect_ratio < BLINK_RATIO * base_ear
    # Turning to the person's own left moves the nose to the image's right (positive yaw).
    assert all(analyse_face(f).yaw > YAW_TURN + 0.05 for f in alice_frames["turn_left"])
    assert all(analyse_face(f).yaw < -YAW_TURN - 0.05 for f in alice_frames["turn_right"])


def test_all_frames_differ(alice_frames: dict[str, list[bytes]]) -> None:
    everything = list(itertools.chain.from_iterable(alice_frames.values()))
    assert len(set(everything)) == len(everything) == 16


@pytest.mark.parametrize("challenge", list(itertools.permutations(CHALLENGE_STEPS)))
def test_performed_challenge_passes(
    challenge: tuple[str, ...], alice_frames: dict[str, list[bytes]]
) -> None:
    frames = perform(alice_frames, challenge, start_ms=ISSUED + 1)
    result = verify(frames, challenge)
    assert result.steps_seen == list(challenge)
    assert len(result.frame_hashes) == 2 * len(frames)
    assert all(h.startswith(("sha256:", "dhash:")) for h in result.frame_hashes)


def test_shorter_challenge_and_extra_frames(alice_frames: dict[str, list[bytes]]) -> None:
    frames = perform(alice_frames, ["turn_right"], start_ms=ISSUED + 1)
    # Lingering on a pose (two frames of the same step) is one step.
    extra = Frame(alice_frames["turn_right"][3], frames[1].captured_at_ms + 100)
    frames = [frames[0], frames[1], extra, Frame(frames[2].data, frames[2].captured_at_ms + 200)]
    assert verify(frames, ["turn_right"]).steps_seen == ["turn_right"]


def test_static_sequence_fails(alice_frames: dict[str, list[bytes]]) -> None:
    frames = [Frame(f, ISSUED + 1000 + i * 400) for i, f in enumerate(alice_frames["neutral"])]
    assert failure(frames) == "liveness_static"


def test_wrong_order_fails(performed: list[Frame]) -> None:
    assert failure(performed, ["turn_left", "blink", "turn_right"]) == "liveness_order"
    assert failure(performed, ["blink", "turn_right", "turn_left"]) == "liveness_order"


def test_must_start_neutral(alice_frames: dict[str, list[bytes]]) -> None:
    frames = perform(alice_frames, CHALLENGE, start_ms=ISSUED + 1)[1:]
    assert failure(frames) == "liveness_order"


def test_incomplete_fails(performed: list[Frame]) -> None:
    assert failure(performed[:5]) == "liveness_incomplete"


def test_late_or_early_frames_fail(performed: list[Frame]) -> None:
    assert failure(performed, deadline_ms=performed[3].captured_at_ms - 1) == "liveness_late"
    assert failure(performed, issued_at_ms=performed[0].captured_at_ms + 1) == "liveness_late"


def test_times_must_increase(performed: list[Frame]) -> None:
    swapped = list(performed)
    swapped[2] = Frame(swapped[2].data, swapped[1].captured_at_ms)
    assert failure(swapped) == "liveness_order"


def test_reused_frame_in_one_submission_fails(performed: list[Frame]) -> None:
    again = [*performed[:-1], Frame(performed[0].data, performed[-1].captured_at_ms)]
    assert failure(again) == "liveness_reused_frame"


def test_lossless_copy_in_one_submission_fails(performed: list[Frame]) -> None:
    copy = png(Image.open(io.BytesIO(performed[0].data)))
    again = [*performed[:-1], Frame(copy, performed[-1].captured_at_ms)]
    assert failure(again) == "liveness_reused_frame"


def test_replay_into_another_application_fails(performed: list[Frame]) -> None:
    first = verify(performed)
    later = ISSUED + 600_000
    frames = [Frame(f.data, later + i) for i, f in enumerate(performed)]
    kw: dict[str, Any] = {
        "issued_at_ms": later,
        "deadline_ms": later + 120_000,
        "seen_hashes": first.frame_hashes,
    }
    assert failure(frames, **kw) == "liveness_reused_frame"
    # Re-encoded frames have other bytes but the same perceptual hash.
    recoded = [Frame(jpeg(Image.open(io.BytesIO(f.data)), 80), f.captured_at_ms) for f in frames]
    assert failure(recoded, **kw) == "liveness_reused_frame"


def test_unrelated_seen_hashes_do_not_block(
    performed: list[Frame], bob_frames: dict[str, list[bytes]]
) -> None:
    other = [f"sha256:{hashlib.sha256(f).hexdigest()}" for f in bob_frames["neutral"]]
    other += [f"dhash:{dhash(decode_image(f)):016x}" for f in bob_frames["neutral"]]
    other += ["dhash:not-hex", "something:else"]
    assert verify(performed, seen_hashes=other).steps_seen == CHALLENGE


def test_person_changed_fails(performed: list[Frame], bob_frames: dict[str, list[bytes]]) -> None:
    swapped = list(performed)
    # The turn_left step (frame 3) is performed by Bob, whose head is turned anyway.
    swapped[3] = Frame(bob_frames["turn_left"][0], swapped[3].captured_at_ms)
    assert failure(swapped, min_sharpness=1.0) == "liveness_person_changed"


def test_frame_quality_errors_pass_through(performed: list[Frame]) -> None:
    broken = [*performed[:2], Frame(b"\xff\xd8\xff garbage", performed[2].captured_at_ms)]
    with pytest.raises(BiometricError) as caught:
        verify([*broken, *performed[3:]])
    assert (caught.value.code, caught.value.frame) == ("not_an_image", 2)


def test_too_few_or_too_many_frames(performed: list[Frame]) -> None:
    assert failure(performed[:1]) == "liveness_incomplete"
    many = [Frame(bytes([i]) + performed[0].data, ISSUED + i) for i in range(1, 30)]
    assert failure(many) == "liveness_order"


def test_classify_labels(alice_frames: dict[str, list[bytes]]) -> None:
    order = ["neutral", "blink", "neutral", "turn_left", "turn_right", "neutral"]
    used = {pose: iter(frames) for pose, frames in alice_frames.items()}
    analyses = [analyse_face(next(used[pose])) for pose in order]
    assert classify(analyses) == order


def test_challenge_is_random_and_well_formed() -> None:
    seen = {tuple(liveness_challenge(random.Random(seed))) for seed in range(200)}
    assert seen == set(itertools.permutations(CHALLENGE_STEPS))
    default = liveness_challenge()
    assert sorted(default) == sorted(CHALLENGE_STEPS)
    for seed in range(50):
        long = liveness_challenge(random.Random(seed), length=7)
        assert len(long) == 7
        assert all(a != b for a, b in itertools.pairwise(long))
    with pytest.raises(ValueError):
        liveness_challenge(length=0)
