"""The CSCA trust store: folders of PEM/DER, ICAO master lists, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore, EmrtdError
from tests.helpers.passports import MakePassport, check


def test_a_folder_of_pem_and_der(
    tmp_path: Path, csca: synthetic.TestCsca, make: MakePassport
) -> None:
    latvia = synthetic.test_csca("LV")
    (tmp_path / "ee.pem").write_bytes(csca.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "lv.der").write_bytes(latvia.certificate.public_bytes(serialization.Encoding.DER))
    (tmp_path / "README.txt").write_text("ignored: not a certificate suffix")
    store = CscaTrustStore.from_path(tmp_path)
    assert len(store) == 2
    assert check(make(), store).mrz.issuing_state == "EST"


def test_a_missing_folder_is_an_empty_store(tmp_path: Path) -> None:
    assert len(CscaTrustStore.from_path(tmp_path / "nothing")) == 0


def test_a_broken_file_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "broken.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(EmrtdError) as caught:
        CscaTrustStore.from_path(tmp_path)
    assert caught.value.code == "malformed"
    (tmp_path / "broken.pem").unlink()
    (tmp_path / "garbage.der").write_bytes(b"\x30\x03\x02\x01\x01")
    with pytest.raises(EmrtdError) as caught:
        CscaTrustStore.from_path(tmp_path)
    assert caught.value.code == "malformed"


def test_a_master_list(tmp_path: Path, csca: synthetic.TestCsca, make: MakePassport) -> None:
    latvia = synthetic.test_csca("LV")
    data = synthetic.build_master_list([csca.certificate, latvia.certificate], signer=latvia.dsc_ec)
    path = tmp_path / "icao.ml"
    path.write_bytes(data)
    store = CscaTrustStore.from_path(path)
    assert len(store) == 2
    assert check(make(), store).mrz.issuing_country == "EE"
    # The signature is checked when the operator names the list signer's CSCA …
    assert len(CscaTrustStore.from_path(path, master_list_anchors=[latvia.certificate])) == 2
    # … and a list signed by someone else is refused then.
    with pytest.raises(EmrtdError) as caught:
        CscaTrustStore.from_path(path, master_list_anchors=[csca.certificate])
    assert caught.value.code == "csca_untrusted"


def test_a_tampered_master_list_fails_its_signature(
    tmp_path: Path, csca: synthetic.TestCsca
) -> None:
    latvia = synthetic.test_csca("LV")
    data = bytearray(synthetic.build_master_list([csca.certificate], signer=latvia.dsc_ec))
    needle = csca.certificate.public_bytes(serialization.Encoding.DER)[-40:]
    at = bytes(data).index(needle)
    data[at + 5] ^= 0x01  # inside the CSCA's signature, inside the signed content
    path = tmp_path / "icao.ml"
    path.write_bytes(bytes(data))
    with pytest.raises(EmrtdError) as caught:
        CscaTrustStore.from_path(path, master_list_anchors=[latvia.certificate])
    assert caught.value.code == "sod_signature_invalid"


def test_a_non_ca_certificate_does_not_issue(csca: synthetic.TestCsca, make: MakePassport) -> None:
    # Trusting a DSC directly does not make it a CSCA.
    store = CscaTrustStore.from_certificates([csca.dsc_ec.certificate, csca.dsc_rsa.certificate])
    with pytest.raises(EmrtdError) as caught:
        check(make(), store)
    assert caught.value.code == "csca_untrusted"


def test_a_saved_test_csca_loads_back(tmp_path: Path) -> None:
    first = synthetic.test_csca("FI", directory=tmp_path)
    assert (tmp_path / "csca-key.pem").stat().st_mode & 0o077 == 0
    synthetic._cached_csca.cache_clear()
    again = synthetic.test_csca("FI", directory=tmp_path)
    assert again.certificate == first.certificate
    assert again.dsc_rsa.certificate == first.dsc_rsa.certificate


def test_a_master_list_with_unreadable_certificates_loads_the_rest(
    tmp_path: Path, csca: synthetic.TestCsca, make: MakePassport
) -> None:
    """Real master lists carry a few certificates no parser takes; they are reported and
    left out, and the list's signature still covers every byte."""
    latvia = synthetic.test_csca("LV")
    good = csca.certificate.public_bytes(serialization.Encoding.DER)
    # Version v4 (INTEGER 3 after the [0] tag): cryptography raises InvalidVersion.
    version_at = good.index(bytes.fromhex("a003020102"))
    v4 = good[: version_at + 4] + b"\x03" + good[version_at + 5 :]
    not_a_certificate = bytes.fromhex("3003020101")
    explicit = synthetic.explicit_csca("FI")
    public = explicit.dsc_ec.private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    spki = bytearray(synthetic.explicit_spki(public))
    spki[spki.index(bytes.fromhex("020101034200")) + 2] = 4  # cofactor 4: no known curve
    odd_curve = synthetic.explicit_parameters(
        explicit.dsc_ec.certificate, explicit.private_key, spki=bytes(spki)
    )
    data = synthetic.build_master_list(
        [v4, csca.certificate, not_a_certificate, latvia.certificate, odd_curve],
        signer=latvia.dsc_ec,
    )
    path = tmp_path / "icao.ml"
    path.write_bytes(data)
    store = CscaTrustStore.from_path(path, master_list_anchors=[latvia.certificate])
    assert {c.subject for c in store} == {csca.certificate.subject, latvia.certificate.subject}
    assert [(s.source, s.index) for s in store.skipped] == [
        ("icao.ml", 0),
        ("icao.ml", 2),
        ("icao.ml", 4),
    ]
    assert "not a readable X.509 certificate" in store.skipped[0].reason
    assert "explicit domain parameters" in store.skipped[2].reason
    assert check(make(), store).mrz.issuing_country == "EE"


def test_a_der_file_of_version_4_is_malformed(tmp_path: Path, csca: synthetic.TestCsca) -> None:
    """cryptography raises InvalidVersion (not a ValueError) for an X.509 "v4"."""
    der = csca.certificate.public_bytes(serialization.Encoding.DER)
    (tmp_path / "v4.der").write_bytes(
        der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020103"), 1)
    )
    with pytest.raises(EmrtdError) as caught:
        CscaTrustStore.from_path(tmp_path)
    assert caught.value.code == "malformed"


def test_a_certificate_whose_subject_cannot_be_read_is_left_out_and_reported(
    csca: synthetic.TestCsca,
) -> None:
    # Found by the fuzzer (emrtd_sod): cryptography reads a certificate's names only when
    # asked, so a damaged subject escaped the store as a ValueError.
    der = csca.certificate.public_bytes(serialization.Encoding.DER)
    name = csca.certificate.subject.public_bytes()
    at = der.index(name, der.index(name) + 1)  # issuer first, then the subject
    value = at + name.index(b"\x13\x02EE")  # C=EE, a PrintableString
    # Loads (an attribute value may be of any type there); reading the subject meets
    # [APPLICATION 21] where a string belongs.
    broken = x509.load_der_x509_certificate(der[:value] + b"\x55" + der[value + 1 :])
    latvia = synthetic.test_csca("LV").certificate
    store = CscaTrustStore([broken, latvia])
    assert list(store) == [latvia]
    assert [(s.source, s.index, s.reason) for s in store.skipped] == [
        ("certificates", 0, "its subject name cannot be read")
    ]
