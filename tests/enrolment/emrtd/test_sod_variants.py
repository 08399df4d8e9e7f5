"""EF.SOD variants met in real documents: accepted when the signature verifies."""

from __future__ import annotations

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509

from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore, EmrtdError, tlv
from enrolment.emrtd.datagroups import SOD_TAG
from enrolment.emrtd.sod import OID_DATA, parse_sod
from tests.helpers.passports import MakePassport, check


def test_an_id_data_content_type_passes(
    csca: synthetic.TestCsca, make: MakePassport, store: CscaTrustStore
) -> None:
    genuine = make()
    signer = csca.signer("ec")
    sod = synthetic.build_sod(
        genuine.data_groups,
        certificate=signer.certificate,
        private_key=signer.private_key,
        algorithm="ec",
        content_type=OID_DATA,
    )
    assert parse_sod(sod).signed.content_type == OID_DATA
    result = check(synthetic.SyntheticPassport(sod, genuine.data_groups, None), store)
    assert result.data_groups_verified == sorted(genuine.data_groups)


def _signer_identifier(sod: bytes, *, reverse: bool = True, serial_delta: int = 0) -> bytes:
    """``sod`` with the SignerIdentifier's issuer name in reverse attribute order (the
    SignerIdentifier is not signed, so the signature stays valid)."""
    info = cms.ContentInfo.load(tlv.read(sod).value(sod))
    signer = info["content"]["signer_infos"][0]
    wanted = signer["sid"].chosen
    rdns = list(wanted["issuer"].chosen)
    issuer = asn1_x509.Name(name="", value=asn1_x509.RDNSequence(rdns[::-1] if reverse else rdns))
    signer["sid"] = cms.SignerIdentifier(
        name="issuer_and_serial_number",
        value={"issuer": issuer, "serial_number": wanted["serial_number"].native + serial_delta},
    )
    return tlv.encode(SOD_TAG, info.dump(force=True))


def test_a_signer_issuer_in_another_attribute_order_passes(
    make: MakePassport, store: CscaTrustStore
) -> None:
    genuine = make(dsc="rsa")
    sod = _signer_identifier(genuine.sod)
    dsc = parse_sod(sod).dsc
    info = cms.ContentInfo.load(tlv.read(sod).value(sod))
    sid_issuer = info["content"]["signer_infos"][0]["sid"].chosen["issuer"].dump()
    assert sid_issuer != dsc.issuer.public_bytes()  # the premise: not the same DER
    result = check(synthetic.SyntheticPassport(sod, genuine.data_groups, None), store)
    assert result.dsc_subject == dsc.subject.rfc4514_string()


def test_a_reordered_signer_issuer_does_not_excuse_a_bad_signature(
    make: MakePassport, store: CscaTrustStore
) -> None:
    forged = synthetic.tampered(make(), "sod_signature")
    sod = _signer_identifier(forged.sod)
    with pytest.raises(EmrtdError) as caught:
        check(synthetic.SyntheticPassport(sod, forged.data_groups, None), store)
    assert caught.value.code == "sod_signature_invalid"


def test_a_reordered_signer_issuer_with_another_serial_names_nobody(
    make: MakePassport, store: CscaTrustStore
) -> None:
    genuine = make()
    sod = _signer_identifier(genuine.sod, serial_delta=1)
    with pytest.raises(EmrtdError) as caught:
        check(synthetic.SyntheticPassport(sod, genuine.data_groups, None), store)
    assert caught.value.code == "malformed"
    assert "signer's certificate is not included" in caught.value.message
