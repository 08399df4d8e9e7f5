"""EC keys with explicit domain parameters (brainpool, as many states' CSCAs and DSCs have)."""

from __future__ import annotations

import pytest
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from demo import passports as synthetic
from enrolment.emrtd import (
    CscaTrustStore,
    EmrtdError,
    active_authenticate,
    passive_authenticate,
    tlv,
)
from enrolment.emrtd.datagroups import parse_dg15
from enrolment.emrtd.keys import KNOWN_CURVES, CurveParameters, load_public_key
from tests.helpers.passports import ALICE_PASSPORT, NOW

# An SPKI made by OpenSSL 3.0 (``openssl ecparam -name brainpoolP256r1 -genkey
# -param_enc explicit`` then ``openssl ec -pubout -param_enc explicit -outform DER``): an
# oracle that does not come from this code base. The point is the last 65 bytes.
OPENSSL_BRAINPOOL_P256_SPKI = bytes.fromhex(
    "308201333081ec06072a8648ce3d02013081e0020101302c06072a8648ce3d0101022100a9fb57dba1eea9bc"
    "3e660a909d838d726e3bf623d52620282013481d1f6e5377304404207d5a0975fc2c3057eef67530417affe7"
    "fb8055c126dc5c6ce94a4b44f330b5d9042026dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bcc"
    "dc18ff8c07b60441048bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262547ef8"
    "35c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997022100a9fb57dba1eea9bc3e660a90"
    "9d838d718c397aa3b561a6f7901e0e82974856a702010103420004638d3591b8a37f95f5464a70be65399f70"
    "b72306eb2b73940935e0d6643f0f8e44840ebb8d4ecb47624823ee7037e75df05b68cb05c0e02a03ec935942"
    "d288ed"
)


def _on_curve(curve: CurveParameters, x: int, y: int) -> bool:
    return (y * y - (x**3 + curve.a * x + curve.b)) % curve.p == 0


@pytest.mark.parametrize("curve", KNOWN_CURVES, ids=lambda c: c.curve.name)
def test_the_curve_table_agrees_with_cryptography(curve: CurveParameters) -> None:
    """G and 2G lie on y² = x³ + ax + b (two points fix a and b), (n − 1)·G = −G (n is the
    order), and p has the curve's size: every constant is checked against OpenSSL's curve."""
    gx, gy = curve.generator
    double = ec.derive_private_key(2, curve.curve).public_key().public_numbers()
    minus = ec.derive_private_key(curve.n - 1, curve.curve).public_key().public_numbers()
    assert _on_curve(curve, gx, gy)
    assert _on_curve(curve, double.x, double.y)
    assert (minus.x, minus.y) == (gx, curve.p - gy)
    assert curve.p.bit_length() == curve.curve.key_size


def test_an_openssl_key_with_explicit_brainpool_parameters_loads() -> None:
    with pytest.raises(UnsupportedAlgorithm):  # the premise: cryptography alone refuses it
        serialization.load_der_public_key(OPENSSL_BRAINPOOL_P256_SPKI)
    key = load_public_key(OPENSSL_BRAINPOOL_P256_SPKI, what="test")
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "brainpoolP256r1"
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert point == OPENSSL_BRAINPOOL_P256_SPKI[-65:]


@pytest.fixture(scope="module")
def explicit() -> synthetic.TestCsca:
    return synthetic.explicit_csca("EE")


@pytest.mark.parametrize("dsc", ["ec", "rsa"])
def test_a_passport_under_explicit_brainpool_keys_passes(
    explicit: synthetic.TestCsca, photo_jpeg: bytes, dsc: str
) -> None:
    """CSCA (brainpoolP384r1) and EC DSC (brainpoolP256r1) spell their curves out."""
    with pytest.raises(UnsupportedAlgorithm):
        explicit.certificate.public_key()
    passport = synthetic.make_passport(
        **ALICE_PASSPORT, csca=explicit, photo_jpeg=photo_jpeg, dsc=dsc
    )
    store = CscaTrustStore.from_certificates([explicit.certificate])
    result = passive_authenticate(
        sod=passport.sod, data_groups=passport.data_groups, trust_store=store, at=NOW
    )
    assert result.csca_subject == explicit.certificate.subject.rfc4514_string()
    assert result.mrz.surname == ALICE_PASSPORT["surname"].upper()


def _damaged(spki: bytes, **changes: int) -> bytes:
    """``spki`` (explicit parameters) with the curve's b or its order replaced."""
    info = asn1_keys.PublicKeyInfo.load(spki)
    domain = info["algorithm"]["parameters"].chosen
    if "b" in changes:
        domain["curve"] = {"a": domain["curve"]["a"].native, "b": changes["b"].to_bytes(32, "big")}
    if "order" in changes:
        domain["order"] = changes["order"]
    return bytes(
        asn1_keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "ec",
                    "parameters": asn1_keys.ECDomainParameters(
                        name="specified", value=asn1_keys.SpecifiedECDomain.load(domain.dump(True))
                    ),
                },
                "public_key": info["public_key"].native,
            }
        ).dump()
    )


def test_unknown_explicit_parameters_are_unsupported_with_a_reason() -> None:
    brainpool = KNOWN_CURVES[0]
    for changes in ({"b": brainpool.b + 1}, {"order": brainpool.n + 2}):
        with pytest.raises(EmrtdError) as caught:
            load_public_key(_damaged(OPENSSL_BRAINPOOL_P256_SPKI, **changes), what="DG15")
        assert caught.value.code == "unsupported_algorithm"
        assert "explicit domain parameters" in caught.value.message


def test_a_document_signer_of_an_unknown_curve_is_unsupported(
    explicit: synthetic.TestCsca, photo_jpeg: bytes
) -> None:
    dsc = explicit.dsc_ec
    public = dsc.private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    odd = _damaged(synthetic.explicit_spki(public), b=KNOWN_CURVES[0].b + 1)
    certificate = synthetic.explicit_parameters(dsc.certificate, explicit.private_key, spki=odd)
    odd_csca = synthetic.TestCsca(
        country="EE",
        certificate=explicit.certificate,
        private_key=explicit.private_key,
        dsc_rsa=explicit.dsc_rsa,
        dsc_ec=synthetic.SignerKey(certificate, dsc.private_key),
    )
    passport = synthetic.make_passport(
        **ALICE_PASSPORT, csca=odd_csca, photo_jpeg=photo_jpeg, dsc="ec"
    )
    store = CscaTrustStore.from_certificates([explicit.certificate])
    with pytest.raises(EmrtdError) as caught:
        passive_authenticate(
            sod=passport.sod, data_groups=passport.data_groups, trust_store=store, at=NOW
        )
    assert caught.value.code == "unsupported_algorithm"
    assert "explicit domain parameters" in caught.value.message


def test_an_aa_key_with_explicit_parameters_answers_the_challenge() -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    dg15 = tlv.encode(0x6F, synthetic.explicit_spki(key.public_key()))
    loaded = parse_dg15(dg15)
    challenge = bytes(range(8))
    r, s = decode_dss_signature(key.sign(challenge, ec.ECDSA(hashes.SHA256())))
    active_authenticate(
        aa_public_key=loaded,
        challenge=challenge,
        signature=r.to_bytes(32, "big") + s.to_bytes(32, "big"),
    )
    with pytest.raises(EmrtdError) as caught:
        active_authenticate(
            aa_public_key=loaded,
            challenge=bytes(8),
            signature=r.to_bytes(32, "big") + s.to_bytes(32, "big"),
        )
    assert caught.value.code == "aa_signature_invalid"


def test_a_point_off_the_curve_is_malformed() -> None:
    spki = bytearray(OPENSSL_BRAINPOOL_P256_SPKI)
    spki[-1] ^= 0x01  # y no longer fits x
    with pytest.raises(EmrtdError) as caught:
        parse_dg15(tlv.encode(0x6F, bytes(spki)))
    assert caught.value.code == "malformed"
