"""Active liveness: a random challenge, answered by frames, verified from facial landmarks.

The server draws a random sequence of steps (:data:`CHALLENGE_STEPS`: blink, turn left,
turn right) and a deadline; the app records the applicant performing it and uploads the
frames with their capture times. :func:`liveness_verify` then checks, in this order (cheap
checks first, so a replay or a late answer costs no face detection):

1. every capture time lies in ``[issued_at_ms, deadline_ms]`` and the times strictly
   increase (``liveness_late``, ``liveness_order``);
2. no frame is reused: the same bytes twice in the submission, the same decoded pixels
   twice (a lossless re-encoding), or a frame already seen in another application — by
   SHA-256 of the bytes or by a 64-bit difference hash (dHash) within
   :data:`DHASH_MAX_DISTANCE` bits (``liveness_reused_frame``);
3. every frame holds exactly one sharp, large enough face (the face module's codes);
4. each frame is classified from its 68 landmarks: ``blink`` (eye aspect ratio below
   :data:`BLINK_RATIO` × the open-eye baseline of this submission), ``turn_left`` /
   ``turn_right`` (yaw beyond ±:data:`YAW_TURN`), ``neutral`` (frontal, eyes open) or
   ``transition`` (in between, ignored); consecutive equal labels form one step;
5. the sequence starts neutral and its steps equal the challenge (``liveness_static`` when
   nothing happened, ``liveness_incomplete`` when it stops early, ``liveness_order``
   otherwise);
6. the face stays the same person: the first frame and the middle frame of every step are
   encoded and each must lie within ``same_person_threshold`` of the first
   (``liveness_person_changed``).

Direction convention: ``turn_left`` means the person turns their head to *their* left; in
the non-mirrored camera image the app must send, the nose then moves to the image's right.

Limits, stated plainly: this is an active challenge-response check that a live, cooperating
face responded to a fresh random challenge in time. It is not a certified presentation
attack detector (ISO/IEC 30107-3): a good enough animated deepfake or a mask that can blink
defeats it, and capture times come from the app's clock (the server must also check its own
receipt time against the deadline). See docs/biometrics.md.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from enrolment.biometrics.errors import BiometricError
from enrolment.biometrics.face import (
    DEFAULT_THRESHOLD,
    MIN_FACE_PX,
    MIN_SHARPNESS,
    FaceAnalysis,
    face_distance,
    selfie_analyses,
)
from enrolment.biometrics.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, RGBArray

CHALLENGE_STEPS = ("blink", "turn_left", "turn_right")

#: A frame is a blink when its eye aspect ratio is below this share of the open-eye baseline.
BLINK_RATIO = 0.65
#: |yaw| at or above this is a turn; below :data:`YAW_NEUTRAL` the face counts as frontal.
YAW_TURN = 0.2
YAW_NEUTRAL = 0.12
#: Largest Hamming distance between two 64-bit dHashes that still counts as the same frame.
DHASH_MAX_DISTANCE = 4
#: Most frames one submission may carry (each costs a face detection).
MAX_FRAMES = 20

NEUTRAL, BLINK, LEFT, RIGHT, TRANSITION = (
    "neutral",
    "blink",
    "turn_left",
    "turn_right",
    "transition",
)


@dataclass(frozen=True)
class Frame:
    """One uploaded frame: the image bytes and the app's capture time in milliseconds."""

    data: bytes
    captured_at_ms: int


@dataclass(frozen=True)
class LivenessResult:
    """A passed check: the steps seen, and the hashes to remember against later replays.

    ``frame_hashes`` holds ``"sha256:<hex>"`` and ``"dhash:<16 hex>"`` for every frame; pass
    the ones stored from earlier applications as ``seen_hashes`` next time.
    """

    steps_seen: list[str]
    frame_hashes: list[str]


def liveness_challenge(rng: random.Random | None = None, length: int = 3) -> list[str]:
    """Draw a challenge: ``length`` steps, a random order of :data:`CHALLENGE_STEPS`.

    With ``length`` ≤ 3 the steps are distinct; longer challenges repeat steps but never the
    same step twice in a row (two blinks in a row would merge into one). The default source
    of randomness is :mod:`secrets`; tests pass a seeded ``random.Random``.
    """
    if not 1 <= length <= 10:
        raise ValueError("length must be between 1 and 10")
    source: random.Random = rng if rng is not None else secrets.SystemRandom()
    steps = list(CHALLENGE_STEPS)
    source.shuffle(steps)
    while len(steps) < length:
        steps.append(source.choice([s for s in CHALLENGE_STEPS if s != steps[-1]]))
    return steps[:length]


def liveness_verify(
    *,
    challenge: Sequence[str],
    frames: Sequence[Frame],
    issued_at_ms: int,
    deadline_ms: int,
    seen_hashes: Collection[str] = (),
    same_person_threshold: float = DEFAULT_THRESHOLD,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_face_px: int = MIN_FACE_PX,
    min_sharpness: float = MIN_SHARPNESS,
) -> LivenessResult:
    """Verify that ``frames`` perform ``challenge`` in order and in time; raise if not.

    Raises :class:`BiometricError` with the first failing check's code (module docstring).
    """
    if not challenge or any(step not in CHALLENGE_STEPS for step in challenge):
        raise ValueError(f"challenge steps must be among {CHALLENGE_STEPS}")
    if len(frames) < 2:
        raise BiometricError("liveness_incomplete", "At least two frames are needed.")
    if len(frames) > MAX_FRAMES:
        raise BiometricError(
            "liveness_order", f"Too many frames ({len(frames)}); at most {MAX_FRAMES}."
        )
    _check_timing(frames, issued_at_ms, deadline_ms)
    digests = _check_exact_reuse(frames, seen_hashes)
    analyses = selfie_analyses(
        [frame.data for frame in frames],
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        min_face_px=min_face_px,
        min_sharpness=min_sharpness,
    )
    dhashes = _check_perceptual_reuse(analyses, seen_hashes)
    labels = classify(analyses)
    steps, representatives = _steps(labels)
    _check_sequence(list(challenge), labels, steps)
    _check_same_person(analyses, representatives, same_person_threshold)
    hashes = [f"sha256:{d}" for d in digests] + [f"dhash:{h:016x}" for h in dhashes]
    return LivenessResult(steps_seen=steps, frame_hashes=hashes)


def classify(analyses: Sequence[FaceAnalysis]) -> list[str]:
    """Label each frame neutral, blink, turn_left, turn_right or transition."""
    frontal = [a.eye_aspect_ratio for a in analyses if abs(a.yaw) < YAW_NEUTRAL]
    # The open-eye baseline: most frontal frames of a submission have open eyes, so the
    # upper quartile of their eye aspect ratios is that person's open eye.
    baseline = float(np.percentile(frontal, 75)) if frontal else 0.3
    labels = []
    for analysis in analyses:
        yaw, ear = analysis.yaw, analysis.eye_aspect_ratio
        if yaw >= YAW_TURN:
            labels.append(LEFT)
        elif yaw <= -YAW_TURN:
            labels.append(RIGHT)
        elif abs(yaw) < YAW_NEUTRAL and ear < BLINK_RATIO * baseline:
            labels.append(BLINK)
        elif abs(yaw) < YAW_NEUTRAL:
            labels.append(NEUTRAL)
        else:
            labels.append(TRANSITION)
    return labels


def dhash(image: RGBArray) -> int:
    """64-bit difference hash: signs of horizontal gradients of a 9 × 8 grey thumbnail."""
    grey = Image.fromarray(image).convert("L").resize((9, 8), Image.Resampling.BOX)
    pixels = np.asarray(grey, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _check_timing(frames: Sequence[Frame], issued_at_ms: int, deadline_ms: int) -> None:
    previous: int | None = None
    for index, frame in enumerate(frames):
        at = frame.captured_at_ms
        if at < issued_at_ms or at > deadline_ms:
            raise BiometricError(
                "liveness_late",
                "The frame was not captured between the challenge and its deadline.",
                frame=index,
            )
        if previous is not None and at <= previous:
            raise BiometricError(
                "liveness_order", "Frame capture times must strictly increase.", frame=index
            )
        previous = at


def _check_exact_reuse(frames: Sequence[Frame], seen_hashes: Collection[str]) -> list[str]:
    digests: list[str] = []
    seen = set(seen_hashes)
    for index, frame in enumerate(frames):
        digest = hashlib.sha256(frame.data).hexdigest()
        if digest in digests or f"sha256:{digest}" in seen:
            raise BiometricError(
                "liveness_reused_frame", "A frame was submitted before.", frame=index
            )
        digests.append(digest)
    return digests


def _check_perceptual_reuse(
    analyses: Sequence[FaceAnalysis], seen_hashes: Collection[str]
) -> list[int]:
    earlier = []
    for item in seen_hashes:
        if item.startswith("dhash:"):
            try:
                earlier.append(int(item[6:], 16))
            except ValueError:
                continue
    pixel_digests: set[bytes] = set()
    hashes = []
    for index, analysis in enumerate(analyses):
        pixels = hashlib.sha256(analysis.image.tobytes()).digest()
        value = dhash(analysis.image)
        # Within one submission only identical pixels count: a still face gives the same
        # dHash in consecutive genuine frames, so a perceptual match proves nothing there.
        if pixels in pixel_digests or any(
            (value ^ old).bit_count() <= DHASH_MAX_DISTANCE for old in earlier
        ):
            raise BiometricError(
                "liveness_reused_frame", "A frame was submitted before.", frame=index
            )
        pixel_digests.add(pixels)
        hashes.append(value)
    return hashes


def _steps(labels: Sequence[str]) -> tuple[list[str], list[int]]:
    """Collapse runs of equal labels into steps; return the steps and one frame per run.

    The representatives are the first frame and the middle frame of every step's run: the
    frames whose encodings prove that the same person performed each step.
    """
    steps: list[str] = []
    representatives = [0]
    run: list[int] = []
    current = NEUTRAL
    for index, label in enumerate([*labels, NEUTRAL]):
        if label == TRANSITION:
            continue
        if label != current:
            if current != NEUTRAL and run:
                steps.append(current)
                representatives.append(run[len(run) // 2])
            current, run = label, []
        run.append(index)
    return steps, representatives


def _check_sequence(challenge: list[str], labels: Sequence[str], steps: list[str]) -> None:
    if not steps:
        raise BiometricError(
            "liveness_static", "No movement was seen: the challenge was not performed."
        )
    first = next((label for label in labels if label != TRANSITION), NEUTRAL)
    if first != NEUTRAL:
        raise BiometricError(
            "liveness_order", "The recording must start with a neutral, frontal face.", frame=0
        )
    if steps == challenge:
        return
    if steps == challenge[: len(steps)]:
        raise BiometricError(
            "liveness_incomplete",
            f"Only {len(steps)} of the {len(challenge)} challenge steps were performed.",
        )
    raise BiometricError(
        "liveness_order",
        f"The steps were performed as {', '.join(steps)}; "
        f"the challenge was {', '.join(challenge)}.",
    )


def _check_same_person(
    analyses: Sequence[FaceAnalysis], representatives: Sequence[int], threshold: float
) -> None:
    first = analyses[representatives[0]]
    for index in representatives[1:]:
        distance = face_distance(first, analyses[index])
        if distance > threshold:
            raise BiometricError(
                "liveness_person_changed",
                f"The face changed during the recording (distance {distance:.3f}).",
                frame=index,
            )
