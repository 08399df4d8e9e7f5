"""``manage.py make_passport``: writes a passport the server's trust store accepts."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from device.passport import Passport
from enrolment.emrtd import CscaTrustStore, PassportFile, active_authenticate, passive_authenticate
from smartid.checks import emrtd_trust_store_check
from tests.personas import BOB


@pytest.fixture
def emrtd_dirs(settings: Any, tmp_path: Path, photo_jpeg: bytes) -> Path:
    settings.EMRTD_CSCA_PATH = tmp_path / "csca"
    settings.EMRTD_TEST_CSCA_DIR = tmp_path / "test-csca"
    (tmp_path / "photo.jpg").write_bytes(photo_jpeg)
    return tmp_path


def _make(tmp_path: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "make_passport",
        "--out", str(tmp_path / "bob.json"),
        "--photo", str(tmp_path / "photo.jpg"),
        # Bob, with a surname the MRZ transliterates (ä → A) instead of his own.
        "--surname", "Männik",
        "--given-names", BOB.given_name,
        "--personal-code", BOB.personal_code,
        *extra,
        stdout=out,
    )  # fmt: skip
    return out.getvalue()


@pytest.mark.parametrize("td", ["TD3", "TD1"])
def test_the_passport_passes_with_the_published_csca(emrtd_dirs: Path, td: str) -> None:
    assert "written to" in _make(emrtd_dirs, "--td", td, "--aa", "ec")
    passport = PassportFile.load(emrtd_dirs / "bob.json")
    store = CscaTrustStore.from_path(emrtd_dirs / "csca")
    result = passive_authenticate(
        sod=passport.sod,
        data_groups=passport.data_groups,
        trust_store=store,
        at=datetime.datetime.now(datetime.UTC),
    )
    assert (result.mrz.surname, result.mrz.given_names) == ("MANNIK", "BOB")
    assert result.mrz.date_of_birth == datetime.date(1988, 12, 24)  # from the personal code
    assert result.mrz.sex == "M"
    assert result.mrz.personal_code == BOB.personal_code == "38812245713"
    assert result.mrz.document_code == ("P" if td == "TD3" else "ID")
    chip = Passport.load(emrtd_dirs / "bob.json")
    active_authenticate(
        aa_public_key=result.aa_public_key,
        challenge=b"\x00" * 8,
        signature=chip.sign_aa(b"\x00" * 8),
        hash_algorithm=result.aa_hash_algorithm,
    )


def test_the_same_csca_signs_every_passport(emrtd_dirs: Path) -> None:
    _make(emrtd_dirs)
    first = (emrtd_dirs / "csca" / "test-csca-ee.pem").read_bytes()
    _make(emrtd_dirs)
    assert (emrtd_dirs / "csca" / "test-csca-ee.pem").read_bytes() == first
    assert len(list((emrtd_dirs / "csca").iterdir())) == 1


def test_bad_arguments(emrtd_dirs: Path) -> None:
    with pytest.raises(CommandError, match="date-of-birth"):
        call_command(
            "make_passport", "--out", str(emrtd_dirs / "x.json"),
            "--photo", str(emrtd_dirs / "photo.jpg"), "--surname", "X", "--given-names", "Y",
        )  # fmt: skip
    (emrtd_dirs / "not-a-photo.jpg").write_text("hello")
    with pytest.raises(CommandError, match="not an image"):
        call_command(
            "make_passport", "--out", str(emrtd_dirs / "x.json"),
            "--photo", str(emrtd_dirs / "not-a-photo.jpg"), "--surname", "X",
            "--given-names", "Y", "--personal-code", BOB.personal_code,
        )  # fmt: skip
    with pytest.raises(CommandError, match="country"):
        _make(emrtd_dirs, "--country", "QQ")


def test_refused_in_live_and_a_live_store_may_not_trust_the_test_csca(
    emrtd_dirs: Path, settings: Any
) -> None:
    _make(emrtd_dirs)
    settings.IS_LIVE = True
    with pytest.raises(CommandError, match="live"):
        _make(emrtd_dirs)
    assert [m.id for m in emrtd_trust_store_check(None)] == ["smartid.E802"]
    (emrtd_dirs / "csca" / "test-csca-ee.pem").unlink()
    assert emrtd_trust_store_check(None) == []
    (emrtd_dirs / "csca" / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nAA\n")
    assert [m.id for m in emrtd_trust_store_check(None)] == ["smartid.E801"]


def test_a_td2_card_has_no_room_for_an_estonian_personal_code(emrtd_dirs: Path) -> None:
    with pytest.raises(CommandError, match="TD2 has 7 characters"):
        _make(emrtd_dirs, "--td", "TD2")
    out = io.StringIO()
    call_command(
        "make_passport", "--out", str(emrtd_dirs / "td2.json"),
        "--photo", str(emrtd_dirs / "photo.jpg"), "--surname", "Tamm", "--given-names", "Mari",
        "--date-of-birth", "1990-02-03", "--sex", "F", "--td", "TD2",
        stdout=out,
    )  # fmt: skip
    passport = PassportFile.load(emrtd_dirs / "td2.json")
    result = passive_authenticate(
        sod=passport.sod,
        data_groups=passport.data_groups,
        trust_store=CscaTrustStore.from_path(emrtd_dirs / "csca"),
        at=datetime.datetime.now(datetime.UTC),
    )
    assert (result.mrz.document_code, result.mrz.surname) == ("I", "TAMM")
    assert result.mrz.date_of_birth == datetime.date(1990, 2, 3)


def test_a_live_store_warns_of_master_list_certificates_left_out(
    emrtd_dirs: Path, settings: Any
) -> None:
    from demo import passports as synthetic

    latvia = synthetic.test_csca("LV")
    (emrtd_dirs / "csca").mkdir()
    (emrtd_dirs / "csca" / "icao.ml").write_bytes(
        synthetic.build_master_list(
            [latvia.certificate, bytes.fromhex("3003020101")], signer=latvia.dsc_ec
        )
    )
    settings.IS_LIVE = True
    test_csca, left_out = emrtd_trust_store_check(None)  # every synthetic CSCA is a test one
    assert (test_csca.id, left_out.id) == ("smartid.E802", "smartid.W803")
    assert "icao.ml #1: not a readable X.509 certificate" in (left_out.hint or "")
