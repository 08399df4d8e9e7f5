"""Public keys of documents: named curves, and EC keys with explicit domain parameters.

Many states issue CSCA, document signer and active authentication keys whose
SubjectPublicKeyInfo spells the curve out (``ECParameters`` with p, a, b, G, n, h, as BSI
TR-03110 allows) instead of naming it. ``cryptography`` loads such a key only when it is
one of the NIST P-curves; the brainpool curves most European documents use raise
``UnsupportedAlgorithm``. So this module reads the parameters with asn1crypto, looks
them up among the named curves we accept and rebuilds the key on that named curve. A
parameter set of no known curve is refused with a clear reason, never computed with:
custom curves are how invalid-curve attacks start.

The table holds p, a, b, n and h; the base point G comes from ``cryptography`` itself
(the public key of the private scalar 1), so it cannot be mistyped here, and
``tests/enrolment/emrtd/test_explicit_curves.py`` checks the constants against it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from enrolment.emrtd.errors import MalformedError, UnsupportedAlgorithmError

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class CurveParameters:
    """The prime field, the curve equation y² = x³ + ax + b, the order and the cofactor."""

    curve: ec.EllipticCurve
    p: int
    a: int
    b: int
    n: int
    h: int = 1

    @functools.cached_property
    def generator(self) -> tuple[int, int]:
        numbers = ec.derive_private_key(1, self.curve).public_key().public_numbers()
        return numbers.x, numbers.y


# RFC 5639 §3 (brainpool) and SEC 2 §2.4-2.6 (NIST P-256, P-384, P-521).
KNOWN_CURVES: tuple[CurveParameters, ...] = (
    CurveParameters(
        curve=ec.BrainpoolP256R1(),
        p=0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
        a=0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
        b=0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
        n=0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
    ),
    CurveParameters(
        curve=ec.BrainpoolP384R1(),
        p=int(
            "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123"
            "ACD3A729901D1A71874700133107EC53",
            16,
        ),
        a=int(
            "7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F"
            "8AA5814A503AD4EB04A8C7DD22CE2826",
            16,
        ),
        b=int(
            "04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D5"
            "7CB4390295DBC9943AB78696FA504C11",
            16,
        ),
        n=int(
            "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7"
            "CF3AB6AF6B7FC3103B883202E9046565",
            16,
        ),
    ),
    CurveParameters(
        curve=ec.BrainpoolP512R1(),
        p=int(
            "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330871"
            "7D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
            16,
        ),
        a=int(
            "7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC"
            "2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA",
            16,
        ),
        b=int(
            "3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A7"
            "2BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723",
            16,
        ),
        n=int(
            "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870"
            "553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
            16,
        ),
    ),
    CurveParameters(
        curve=ec.SECP256R1(),
        p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
        a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    CurveParameters(
        curve=ec.SECP384R1(),
        p=2**384 - 2**128 - 2**96 + 2**32 - 1,
        a=2**384 - 2**128 - 2**96 + 2**32 - 4,
        b=int(
            "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
            "C656398D8A2ED19D2A85C8EDD3EC2AEF",
            16,
        ),
        n=int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
    ),
    CurveParameters(
        curve=ec.SECP521R1(),
        p=2**521 - 1,
        a=2**521 - 4,
        b=int(
            "0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF1"
            "09E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B50"
            "3F00",
            16,
        ),
        n=int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "FFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E9138"
            "6409",
            16,
        ),
    ),
)


def load_public_key(spki_der: bytes, *, what: str) -> PublicKey:
    """An RSA or EC key from a DER SubjectPublicKeyInfo, explicit curve parameters too.

    Raises :class:`MalformedError` for a key that cannot be read and
    :class:`UnsupportedAlgorithmError` for another algorithm or an unknown curve.
    """
    try:
        key: Any = serialization.load_der_public_key(spki_der)
    except UnsupportedAlgorithm:
        key = _explicit_ec_key(spki_der, what=what)
    except ValueError:
        raise MalformedError(f"{what}: the public key cannot be read") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithmError(f"{what}: the public key is neither RSA nor EC")
    return key


def certificate_public_key(certificate: x509.Certificate, *, what: str) -> PublicKey:
    """The subject's key of ``certificate`` (:func:`load_public_key` rules)."""
    try:
        parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        spki = parsed["tbs_certificate"]["subject_public_key_info"].dump()
    except (ValueError, TypeError, KeyError):
        raise MalformedError(f"{what}: the certificate's public key cannot be read") from None
    return load_public_key(bytes(spki), what=what)


def verify_certificate_signature(certificate: x509.Certificate, issuer_key: PublicKey) -> None:
    """Check ``certificate``'s signature with ``issuer_key``; ``InvalidSignature`` if wrong.

    ``Certificate.verify_directly_issued_by`` does this too, but only with a key that
    ``cryptography`` itself loads (no explicit brainpool parameters); names are the
    caller's business.
    """
    try:
        chosen = certificate.signature_hash_algorithm
        parameters = certificate.signature_algorithm_parameters
    except (UnsupportedAlgorithm, ValueError):
        raise InvalidSignature from None
    if not isinstance(chosen, hashes.HashAlgorithm):
        raise InvalidSignature
    signature, tbs = certificate.signature, certificate.tbs_certificate_bytes
    if isinstance(issuer_key, ec.EllipticCurvePublicKey):
        if not isinstance(parameters, ec.ECDSA):
            raise InvalidSignature
        issuer_key.verify(signature, tbs, ec.ECDSA(chosen))
    elif isinstance(parameters, padding.PSS | padding.PKCS1v15):
        issuer_key.verify(signature, tbs, parameters, chosen)
    else:
        raise InvalidSignature


def _explicit_ec_key(spki_der: bytes, *, what: str) -> ec.EllipticCurvePublicKey:
    try:
        info = asn1_keys.PublicKeyInfo.load(spki_der, strict=True)
        algorithm = info["algorithm"]
        if algorithm["algorithm"].native != "ec":
            raise UnsupportedAlgorithmError(f"{what}: unsupported public key algorithm")
        parameters = algorithm["parameters"]
        if parameters.name != "specified":
            raise UnsupportedAlgorithmError(f"{what}: the EC key names no supported curve")
        curve = _named_curve(parameters.chosen)
        point = bytes(info["public_key"].native)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise MalformedError(f"{what}: the public key cannot be read") from None
    if curve is None:
        raise UnsupportedAlgorithmError(
            f"{what}: the EC key's explicit domain parameters are not those of a supported "
            "curve (brainpoolP256r1/384r1/512r1, P-256, P-384, P-521)"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve.curve, point)
    except ValueError:
        raise MalformedError(f"{what}: the EC public point is not on its curve") from None


def _field_element(value: Any) -> int:
    return int.from_bytes(bytes(value.native), "big")


def _named_curve(domain: Any) -> CurveParameters | None:
    """The named curve whose p, a, b, G, n and h are ``domain``'s (SpecifiedECDomain)."""
    if domain["field_id"]["field_type"].native != "prime_field":
        return None
    p = domain["field_id"]["parameters"].native
    a = _field_element(domain["curve"]["a"])
    b = _field_element(domain["curve"]["b"])
    n = domain["order"].native
    h = domain["cofactor"].native
    base = bytes(domain["base"].native)
    for known in KNOWN_CURVES:
        if (p, a, b, n, 1 if h is None else h) != (
            known.p,
            known.a,
            known.b,
            known.n,
            known.h,
        ):
            continue
        return known if _is_point(base, known) else None
    return None


def _is_point(encoded: bytes, curve: CurveParameters) -> bool:
    """Whether the encoded point (SEC 1 §2.3.3, compressed or not) is ``curve``'s G."""
    size = (curve.p.bit_length() + 7) // 8
    gx, gy = curve.generator
    if len(encoded) == 1 + 2 * size and encoded[0] == 0x04:
        return encoded[1:] == gx.to_bytes(size, "big") + gy.to_bytes(size, "big")
    if len(encoded) == 1 + size and encoded[0] in (0x02, 0x03):
        return encoded[1:] == gx.to_bytes(size, "big") and encoded[0] & 1 == gy & 1
    return False
