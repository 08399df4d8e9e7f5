"""Passive authentication: genuine synthetic documents pass, each forgery fails its own way."""

from __future__ import annotations

import datetime
import time
from dataclasses import replace
from typing import Any

import pytest

from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore, EmrtdError, passive_authenticate, tlv
from tests.helpers.passports import ALICE_PASSPORT, NOW, MakePassport, check
from tests.personas import ALICE


@pytest.mark.parametrize("td", ["TD3", "TD1"])
@pytest.mark.parametrize("dsc", ["ec", "rsa", "rsa-pss"])
def test_a_genuine_document_passes(
    make: MakePassport, store: CscaTrustStore, photo_jpeg: bytes, td: str, dsc: str
) -> None:
    result = check(make(td=td, dsc=dsc, aa="rsa"), store)

    mrz = result.mrz
    assert mrz.document_code == ("P" if td == "TD3" else "ID")
    assert (mrz.issuing_state, mrz.issuing_country, mrz.nationality) == ("EST", "EE", "EST")
    assert (mrz.surname, mrz.given_names) == ("TAMM", "ALICE MARI")
    assert mrz.document_number == "KF1234567"
    assert mrz.personal_code == ALICE.personal_code == "49002124277"
    assert mrz.date_of_birth == ALICE.date_of_birth == datetime.date(1990, 2, 12)
    assert mrz.expiry_date == datetime.date(2031, 5, 31)
    assert mrz.sex == "F"
    assert result.face_format == "jpeg"
    assert result.face_image == photo_jpeg
    assert result.aa_public_key is not None
    assert result.hash_algorithm == "sha256"
    assert result.data_groups_verified == [1, 2, 15]
    assert "CN=openeid TEST CSCA EE" in result.csca_subject
    assert f"DS EE {'EC' if dsc == 'ec' else 'RSA'}" in result.dsc_subject


def test_ecdsa_aa_brings_dg14_with_its_hash(make: MakePassport, store: CscaTrustStore) -> None:
    result = check(make(aa="ec", aa_hash="sha384"), store)
    assert result.data_groups_verified == [1, 2, 14, 15]
    assert result.aa_hash_algorithm == "sha384"
    assert result.dg14_protocols == ("2.23.136.1.1.5",)


def test_a_document_without_aa_has_no_key(make: MakePassport, store: CscaTrustStore) -> None:
    result = check(make(aa=None), store)
    assert result.aa_public_key is None
    assert result.data_groups_verified == [1, 2]


def test_sha384_lds_hashes(
    make: MakePassport, store: CscaTrustStore, csca: synthetic.TestCsca
) -> None:
    passport = make()
    sod = synthetic.build_sod(
        passport.data_groups,
        certificate=csca.dsc_ec.certificate,
        private_key=csca.dsc_ec.private_key,
        algorithm="ec",
        hash_algorithm="sha384",
    )
    assert check(replace(passport, sod=sod), store).hash_algorithm == "sha384"


def test_jpeg2000_face(
    make: MakePassport, store: CscaTrustStore, csca: synthetic.TestCsca, photo_jpeg: bytes
) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    with Image.open(io.BytesIO(photo_jpeg)) as image:
        image.save(buffer, format="JPEG2000")
    passport = make(photo_jpeg=buffer.getvalue())
    result = check(passport, store)
    assert result.face_format == "jpeg2000"
    assert result.face_image == buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("dg1", "dg_hash_mismatch"),
        ("dg2", "dg_hash_mismatch"),
        ("sod_signature", "sod_signature_invalid"),
        ("untrusted_csca", "csca_untrusted"),
    ],
)
@pytest.mark.parametrize("dsc", ["ec", "rsa"])
def test_each_tampered_variant_fails_with_its_reason(
    make: MakePassport, store: CscaTrustStore, kind: str, code: str, dsc: str
) -> None:
    genuine = make(dsc=dsc)
    check(genuine, store)  # the same passport, untouched, passes
    with pytest.raises(EmrtdError) as caught:
        check(synthetic.tampered(genuine, kind), store)
    assert caught.value.code == code


def test_an_empty_trust_store_trusts_nobody(make: MakePassport) -> None:
    with pytest.raises(EmrtdError) as caught:
        check(make(), CscaTrustStore.from_certificates([]))
    assert caught.value.code == "csca_untrusted"


def test_a_csca_of_another_country_does_not_issue_estonian_passports(
    make: MakePassport,
) -> None:
    latvia = synthetic.test_csca("LV")
    with pytest.raises(EmrtdError) as caught:
        check(make(), CscaTrustStore.from_certificates([latvia.certificate]))
    assert caught.value.code == "csca_untrusted"


def test_issuing_state_must_be_the_cscas_country(
    make: MakePassport, store: CscaTrustStore, csca: synthetic.TestCsca
) -> None:
    # A genuine Estonian DSC signing a DG1 that claims Latvia as issuing state.
    passport = make()
    mrz = synthetic.build_mrz(td="TD3", state="LVA", optional_data="", **_mrz_fields())
    groups = dict(passport.data_groups) | {1: synthetic.build_dg1(mrz)}
    sod = synthetic.build_sod(
        groups,
        certificate=csca.dsc_ec.certificate,
        private_key=csca.dsc_ec.private_key,
        algorithm="ec",
    )
    with pytest.raises(EmrtdError) as caught:
        check(replace(passport, sod=sod, data_groups=groups), store)
    assert caught.value.code == "issuing_state_mismatch"


def _mrz_fields() -> dict[str, Any]:
    keys = ("surname", "given_names", "document_number", "nationality")
    return {k: ALICE_PASSPORT[k] for k in keys} | {
        "date_of_birth": ALICE_PASSPORT["date_of_birth"],
        "sex": "F",
        "expiry_date": ALICE_PASSPORT["expiry_date"],
    }


def test_a_signed_mrz_with_a_wrong_check_digit_fails(
    make: MakePassport, store: CscaTrustStore, csca: synthetic.TestCsca
) -> None:
    passport = make()
    mrz = synthetic.build_mrz(td="TD3", state="EST", optional_data="", **_mrz_fields())
    broken = mrz[:53] + str((int(mrz[53]) + 1) % 10) + mrz[54:]  # document number digit
    groups = dict(passport.data_groups) | {1: synthetic.build_dg1(broken)}
    sod = synthetic.build_sod(
        groups,
        certificate=csca.dsc_ec.certificate,
        private_key=csca.dsc_ec.private_key,
        algorithm="ec",
    )
    with pytest.raises(EmrtdError) as caught:
        check(replace(passport, sod=sod, data_groups=groups), store)
    assert caught.value.code == "mrz_check_digit"


def test_an_expired_dsc_fails(
    make: MakePassport, store: CscaTrustStore, csca: synthetic.TestCsca
) -> None:
    passport = make()
    after = csca.dsc_ec.certificate.not_valid_after_utc + datetime.timedelta(days=1)
    assert after < csca.certificate.not_valid_after_utc  # the CSCA itself is still valid
    with pytest.raises(EmrtdError) as caught:
        check(passport, store, at=after)
    assert caught.value.code == "dsc_expired"
    before = csca.dsc_ec.certificate.not_valid_before_utc - datetime.timedelta(seconds=1)
    with pytest.raises(EmrtdError) as caught:
        check(passport, store, at=before)
    assert caught.value.code == "dsc_expired"


def test_a_truncated_sod_fails(make: MakePassport, store: CscaTrustStore) -> None:
    passport = make()
    for cut in (1, 10, len(passport.sod) // 2, len(passport.sod) - 1):
        with pytest.raises(EmrtdError) as caught:
            check(replace(passport, sod=passport.sod[:cut]), store)
        assert caught.value.code == "malformed", cut


@pytest.mark.parametrize("missing", [1, 2, 15])
def test_a_missing_data_group_fails(
    make: MakePassport, store: CscaTrustStore, missing: int
) -> None:
    passport = make(aa="rsa")
    groups = {n: d for n, d in passport.data_groups.items() if n != missing}
    with pytest.raises(EmrtdError) as caught:
        check(replace(passport, data_groups=groups), store)
    assert caught.value.code == "missing_data_group"


def test_dg14_may_not_be_left_out_when_signed(make: MakePassport, store: CscaTrustStore) -> None:
    passport = make(aa="ec")
    groups = {n: d for n, d in passport.data_groups.items() if n != 14}
    with pytest.raises(EmrtdError) as caught:
        check(replace(passport, data_groups=groups), store)
    assert caught.value.code == "missing_data_group"


def test_a_data_group_not_in_the_sod_fails(make: MakePassport, store: CscaTrustStore) -> None:
    passport = make()
    groups = dict(passport.data_groups) | {11: b"\x6b\x03\x5f\x0e\x00"}
    with pytest.raises(EmrtdError) as caught:
        check(replace(passport, data_groups=groups), store)
    assert caught.value.code == "dg_hash_mismatch"


def test_a_data_group_under_the_wrong_number_is_malformed(
    make: MakePassport, store: CscaTrustStore
) -> None:
    passport = make()
    groups = dict(passport.data_groups) | {1: passport.data_groups[2]}
    with pytest.raises(EmrtdError) as caught:
        check(replace(passport, data_groups=groups), store)
    assert caught.value.code in {"asn1_limits", "malformed"}  # DG2 is too large for DG1


@pytest.mark.parametrize(
    "groups",
    [
        {"1": b"\x61\x00"},
        {0: b"\x61\x00"},
        {17: b"\x61\x00"},
        {1: "not bytes"},
    ],
)
def test_nonsense_data_group_maps_are_malformed(
    make: MakePassport, store: CscaTrustStore, groups: dict[object, object]
) -> None:
    with pytest.raises(EmrtdError) as caught:
        passive_authenticate(sod=make().sod, data_groups=groups, trust_store=store, at=NOW)  # type: ignore[arg-type]
    assert caught.value.code == "malformed"


def test_passive_authentication_is_fast(make: MakePassport, store: CscaTrustStore) -> None:
    """The onboarding benchmark times this; a few milliseconds is the budget."""
    passport = make(dsc="rsa", aa="rsa")
    check(passport, store)
    started = time.perf_counter()
    for _ in range(20):
        check(passport, store)
    per_call = (time.perf_counter() - started) / 20
    assert per_call < 0.05, per_call


def test_a_td2_card_passes_and_its_edited_mrz_fails(
    make: MakePassport, store: CscaTrustStore
) -> None:
    card = make(td="TD2", personal_code=None)
    mrz_text = tlv.read(card.data_groups[1], 2).value(card.data_groups[1])
    assert len(mrz_text) == 72
    result = check(card, store)
    assert (result.mrz.document_code, result.mrz.issuing_state) == ("I", "EST")
    assert result.mrz.surname == ALICE_PASSPORT["surname"].upper()
    assert result.mrz.expiry_date == ALICE_PASSPORT["expiry_date"]
    with pytest.raises(EmrtdError) as caught:
        check(synthetic.tampered(card, "dg1"), store)
    assert caught.value.code == "dg_hash_mismatch"
