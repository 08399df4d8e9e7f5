"""The management command writes the reference app's --selfie-dir format."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from enrolment.biometrics.face import analyse_face
from tests.helpers.images import jpeg


def test_writes_pose_files(tmp_path: Path, alice_photo: Image.Image) -> None:
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(jpeg(alice_photo))
    out = tmp_path / "selfies"
    call_command("make_selfie_frames", "--photo", str(photo), "--out", str(out), "--count", "2")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        f"{pose}-{i:02d}.jpg" for pose in ("blink", "left", "neutral", "right") for i in (1, 2)
    ]
    assert analyse_face((out / "left-01.jpg").read_bytes()).yaw > 0.2


def test_refuses_a_photo_without_face(tmp_path: Path) -> None:
    photo = tmp_path / "wall.png"
    Image.new("RGB", (300, 300), (90, 90, 90)).save(photo)
    with pytest.raises(CommandError, match="no_face"):
        call_command("make_selfie_frames", "--photo", str(photo), "--out", str(tmp_path / "o"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("make_selfie_frames", "--photo", str(tmp_path / "x"), "--out", str(tmp_path))


def test_every_run_makes_new_frames(tmp_path: Path, alice_photo: Image.Image) -> None:
    """A repeated walk-through needs frames the service has not seen (replays are refused)."""
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(jpeg(alice_photo))
    out = tmp_path / "selfies"
    call_command("make_selfie_frames", "--photo", str(photo), "--out", str(out), "--count", "2")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    call_command("make_selfie_frames", "--photo", str(photo), "--out", str(out), "--count", "1")
    second = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(second) == [f"{pose}-01.jpg" for pose in ("blink", "left", "neutral", "right")]
    assert all(second[name] != first[name] for name in second)
    seeded = ["make_selfie_frames", "--photo", str(photo), "--out", str(out), "--seed", "7"]
    call_command(*seeded)
    again = (out / "blink-01.jpg").read_bytes()
    call_command(*seeded)
    assert (out / "blink-01.jpg").read_bytes() == again
