"""Write synthetic selfie frames for the reference app's ``--selfie-dir`` (tests and demos).

Every run makes new frames (a fresh random seed unless ``--seed`` is given) and replaces the
folder's old ones: the liveness check refuses a frame it has seen in any application, so a
walk-through repeated with the same folder needs frames no one has sent yet.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from demo.selfies import selfie_frames
from enrolment.biometrics import BiometricError

#: File name prefix of each pose in the frame directory (docs/biometrics.md).
FILE_PREFIX = {"neutral": "neutral", "blink": "blink", "turn_left": "left", "turn_right": "right"}
MAX_PHOTO_BYTES = 20 * 1024 * 1024


class Command(BaseCommand):
    help = (
        "Make neutral-NN.jpg, blink-NN.jpg, left-NN.jpg and right-NN.jpg selfie frames "
        "from one face photo (synthetic: for tests and demos, not a liveness attack)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--photo", required=True, type=Path, help="JPEG, PNG or JPEG 2000")
        parser.add_argument("--out", required=True, type=Path, help="directory to write to")
        parser.add_argument(
            "--count", type=int, default=5, help="frames per pose (1-50, default 5)"
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="the same seed makes the same frames (default: new frames every run)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        photo: Path = options["photo"]
        out: Path = options["out"]
        count: int = options["count"]
        seed: int = secrets.randbits(64) if options["seed"] is None else options["seed"]
        if not 1 <= count <= 50:
            raise CommandError("--count must be between 1 and 50.")
        try:
            if photo.stat().st_size > MAX_PHOTO_BYTES:
                raise CommandError(f"{photo} is larger than {MAX_PHOTO_BYTES} bytes.")
            data = photo.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {photo}: {exc.strerror}") from None
        try:
            frames = selfie_frames(data, per_pose=count, seed=seed)
        except BiometricError as exc:
            raise CommandError(f"{photo}: {exc.message} ({exc.code})") from None
        out.mkdir(parents=True, exist_ok=True)
        for prefix in FILE_PREFIX.values():  # an earlier run's frames, perhaps already sent
            for old in out.glob(f"{prefix}-*.jpg"):
                old.unlink()
        for pose, images in frames.items():
            for index, image in enumerate(images, start=1):
                (out / f"{FILE_PREFIX[pose]}-{index:02d}.jpg").write_bytes(image)
        self.stdout.write(f"Wrote {count} frames per pose ({4 * count} files) to {out}")
