"""The reference app's chip: loads a passport file and answers AA challenges."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from demo import passports as synthetic
from device.errors import InputError, StateError
from device.passport import Passport
from enrolment.emrtd import (
    CscaTrustStore,
    EmrtdError,
    active_authenticate,
    passive_authenticate,
)
from tests import factories
from tests.personas import ALICE


@pytest.fixture(scope="module")
def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (200, 170, 150)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _passport(photo: bytes, aa: str | None) -> synthetic.SyntheticPassport:
    return synthetic.make_passport(
        csca=synthetic.test_csca("EE"),
        **factories.passport_fields(
            ALICE, document_number="KF7654321", expiry_date=datetime.date(2031, 1, 1)
        ),
        photo_jpeg=photo,
        aa=aa,
    )


@pytest.mark.parametrize("aa", ["rsa", "ec"])
def test_load_and_answer(tmp_path: Path, photo: bytes, aa: str) -> None:
    synthetic_passport = _passport(photo, aa)
    synthetic_passport.write(tmp_path / "p.json")
    chip = Passport.load(tmp_path / "p.json")
    assert chip.sod == synthetic_passport.sod
    assert chip.data_groups == synthetic_passport.data_groups
    result = passive_authenticate(
        sod=chip.sod,
        data_groups=chip.data_groups,
        trust_store=CscaTrustStore.from_certificates([synthetic.test_csca("EE").certificate]),
        at=datetime.datetime.now(datetime.UTC),
    )
    first, second = chip.sign_aa(b"challen1"), chip.sign_aa(b"challen1")
    assert first != second  # M1 (RSA) or k (ECDSA) is fresh every time
    for signature in (first, second):
        active_authenticate(
            aa_public_key=result.aa_public_key,
            challenge=b"challen1",
            signature=signature,
            hash_algorithm=result.aa_hash_algorithm,
        )
    with pytest.raises(EmrtdError):
        active_authenticate(
            aa_public_key=result.aa_public_key,
            challenge=b"challen2",
            signature=first,
            hash_algorithm=result.aa_hash_algorithm,
        )


def test_no_aa_key_and_bad_challenges(photo: bytes) -> None:
    chip = Passport.from_json(_passport(photo, None).to_json())
    with pytest.raises(InputError):
        chip.sign_aa(b"12345678")
    chip = Passport.from_json(_passport(photo, "ec").to_json())
    for challenge in (b"", bytes(65), "12345678"):
        with pytest.raises(InputError):
            chip.sign_aa(challenge)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"format": "x"},
        {"dg": {}},
        {"dg": {"99": "AA=="}},
        {"sod": "%%%"},
        {"sod": "AB=="},  # non-canonical: the strict decoder refuses it
        {"aa_private_key": "not pem"},
        {"aa_private_key": 5},
        {"aa_hash": "md5"},
    ],
)
def test_bad_files(tmp_path: Path, photo: bytes, change: dict[str, object]) -> None:
    document = _passport(photo, "rsa").to_json() | change
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    with pytest.raises(StateError):
        Passport.load(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(StateError):
        Passport.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe")
    with pytest.raises(StateError):
        Passport.load(tmp_path / "bad.json")
