"""Synthetic but fully valid passports for tests and the demo — never for production.

A test CSCA (EC P-384) issues two document signers (RSA 2048 and EC P-256); a passport is
DG1 (TD3 or TD1 MRZ with correct check digits), DG2 (an ISO/IEC 19794-5 record around a
real JPEG photo), DG15 (an active authentication key, RSA 1024 or EC P-256) and, for ECDSA
AA, DG14 (ActiveAuthenticationInfo), all hashed into an EF.SOD signed by a DSC.
:func:`tampered` makes the variants a verifier must refuse.

Every certificate names ``O=openeid TEST`` (:data:`TEST_MARKER`), so a live system can
refuse a trust store that contains one (``smartid/checks.py``). Keys are generated once per
process (and per folder when saved), because RSA key generation dominates test time.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import io
import json
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from PIL import Image

from enrolment.emrtd import tlv
from enrolment.emrtd.countries import ALPHA3_TO_ALPHA2
from enrolment.emrtd.datagroups import DG_TAGS, OID_AA_PROTOCOL, SOD_TAG
from enrolment.emrtd.fileformat import FORMAT
from enrolment.emrtd.keys import KNOWN_CURVES
from enrolment.emrtd.mrz import check_digit
from enrolment.emrtd.sod import (
    OID_CSCA_MASTER_LIST,
    OID_LDS_SECURITY_OBJECT,
    LdsSecurityObject,
    parse_sod,
)
from enrolment.emrtd.trust import TEST_MARKER

TAMPER_KINDS = ("dg1", "dg2", "sod_signature", "untrusted_csca", "aa_key")
ALPHA2_TO_ALPHA3 = {a2: a3 for a3, a2 in ALPHA3_TO_ALPHA2.items() if len(a3) == 3}
ALPHA2_TO_ALPHA3["DE"] = "D"
_ECDSA_OIDS = {
    "sha1": "1.2.840.10045.4.1",
    "sha224": "1.2.840.10045.4.3.1",
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SignerKey:
    certificate: x509.Certificate
    private_key: PrivateKey


@dataclass(frozen=True)
class TestCsca:
    __test__ = False  # not a pytest test class

    country: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    dsc_rsa: SignerKey
    dsc_ec: SignerKey

    def signer(self, kind: str) -> SignerKey:
        return self.dsc_ec if kind == "ec" else self.dsc_rsa

    def save(self, directory: Path) -> None:
        """Write certificates and (unencrypted, test-only) keys, private files 0600."""
        directory.mkdir(parents=True, exist_ok=True)
        items = {
            "csca": (self.certificate, self.private_key),
            "dsc-rsa": (self.dsc_rsa.certificate, self.dsc_rsa.private_key),
            "dsc-ec": (self.dsc_ec.certificate, self.dsc_ec.private_key),
        }
        for name, (cert, key) in items.items():
            (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            _write_private(directory / f"{name}-key.pem", _key_pem(key))

    @classmethod
    def load(cls, directory: Path) -> TestCsca:
        def pair(name: str) -> tuple[x509.Certificate, Any]:
            cert = x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())
            key_pem = (directory / f"{name}-key.pem").read_bytes()
            return cert, serialization.load_pem_private_key(key_pem, password=None)

        csca_cert, csca_key = pair("csca")
        country = csca_cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
        assert isinstance(csca_key, ec.EllipticCurvePrivateKey) and isinstance(country, str)
        return cls(
            country=country,
            certificate=csca_cert,
            private_key=csca_key,
            dsc_rsa=SignerKey(*pair("dsc-rsa")),
            dsc_ec=SignerKey(*pair("dsc-ec")),
        )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_MARKER),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "synthetic passports"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _make_csca(
    country: str,
    *,
    curve: ec.EllipticCurve | None = None,
    dsc_curve: ec.EllipticCurve | None = None,
    explicit: bool = False,
) -> TestCsca:
    now = _now()
    key = ec.generate_private_key(curve or ec.SECP384R1())
    subject = _name(country, f"{TEST_MARKER} CSCA {country}")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=365))
        .not_valid_after(now + datetime.timedelta(days=20 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA384())
    )
    if explicit:
        cert = explicit_parameters(cert, key)

    def dsc(kind: str, dsc_key: PrivateKey) -> SignerKey:
        dsc_cert = (
            x509.CertificateBuilder()
            .subject_name(_name(country, f"{TEST_MARKER} DS {country} {kind.upper()}"))
            .issuer_name(subject)
            .public_key(dsc_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now + datetime.timedelta(days=11 * 365))
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(dsc_key.public_key()), critical=False
            )
            .sign(key, hashes.SHA384())
        )
        if explicit and isinstance(dsc_key, ec.EllipticCurvePrivateKey):
            dsc_cert = explicit_parameters(dsc_cert, key)
        return SignerKey(dsc_cert, dsc_key)

    return TestCsca(
        country=country,
        certificate=cert,
        private_key=key,
        dsc_rsa=dsc("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        dsc_ec=dsc("ec", ec.generate_private_key(dsc_curve or ec.SECP256R1())),
    )


def explicit_spki(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The SubjectPublicKeyInfo of ``public_key`` with its curve spelled out (p, a, b, G,
    n, h as ECParameters) instead of named, as many states' CSCAs and DSCs have it."""
    params = next(c for c in KNOWN_CURVES if c.curve.name == public_key.curve.name)
    size = (params.p.bit_length() + 7) // 8
    gx, gy = params.generator
    domain = asn1_keys.SpecifiedECDomain(
        {
            "version": "ecdpVer1",
            "field_id": {"field_type": "prime_field", "parameters": params.p},
            "curve": {"a": params.a.to_bytes(size, "big"), "b": params.b.to_bytes(size, "big")},
            "base": b"\x04" + gx.to_bytes(size, "big") + gy.to_bytes(size, "big"),
            "order": params.n,
            "cofactor": params.h,
        }
    )
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    info = asn1_keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": asn1_keys.ECDomainParameters(name="specified", value=domain),
            },
            "public_key": point,
        }
    )
    return bytes(info.dump())


def explicit_parameters(
    certificate: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    spki: bytes | None = None,
) -> x509.Certificate:
    """``certificate`` with its EC key in :func:`explicit_spki` form (or ``spki``, for
    tests of damaged parameters), signed anew by ``issuer_key`` (ECDSA with the
    certificate's hash). cryptography refuses to load such a key from a brainpool
    certificate; the verifier must rebuild it (enrolment.emrtd.keys).
    """
    chosen = certificate.signature_hash_algorithm
    assert chosen is not None
    if spki is None:
        key = certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        spki = explicit_spki(key)
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo.load(spki)
    tbs_der = tbs.dump(force=True)
    resigned = asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": parsed["signature_algorithm"],
            "signature_value": issuer_key.sign(tbs_der, ec.ECDSA(chosen)),
        }
    )
    return x509.load_der_x509_certificate(resigned.dump())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@functools.lru_cache(maxsize=8)
def _cached_csca(country: str, directory: str | None, impostor: bool) -> TestCsca:
    # ``impostor`` only keeps a second in-process CSCA of the same name apart in the cache.
    if directory is None:
        return _make_csca(country)
    path = Path(directory)
    if (path / "csca.pem").exists():
        return TestCsca.load(path)
    csca = _make_csca(country)
    csca.save(path)
    return csca


def test_csca(country: str = "EE", *, directory: Path | None = None) -> TestCsca:
    """The test CSCA of ``country``: per process, or kept in ``directory`` across runs."""
    return _cached_csca(country, None if directory is None else str(directory), False)


test_csca.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function


@functools.lru_cache(maxsize=4)
def explicit_csca(country: str = "EE") -> TestCsca:
    """A brainpoolP384r1 CSCA with a brainpoolP256r1 EC document signer, both keys with
    explicit domain parameters in their certificates (the RSA signer is an ordinary one)."""
    return _make_csca(
        country, curve=ec.BrainpoolP384R1(), dsc_curve=ec.BrainpoolP256R1(), explicit=True
    )


def impostor_csca(country: str = "EE") -> TestCsca:
    """A CSCA with the very same name as :func:`test_csca`'s, but other keys."""
    return _cached_csca(country, None, True)


@dataclass(frozen=True)
class SyntheticPassport:
    sod: bytes
    data_groups: dict[int, bytes]
    aa_private_key_pem: bytes | None
    aa_hash: str | None = None
    country: str = "EE"
    dsc: str = "ec"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "sod": base64.b64encode(self.sod).decode(),
            "dg": {
                str(n): base64.b64encode(d).decode() for n, d in sorted(self.data_groups.items())
            },
            "aa_private_key": (
                None if self.aa_private_key_pem is None else self.aa_private_key_pem.decode()
            ),
            "aa_hash": self.aa_hash,
        }

    def write(self, path: Path) -> None:
        """Write the passport file, readable by its owner only (it holds the AA key)."""
        _write_private(path, json.dumps(self.to_json(), indent=1).encode())


# --- MRZ and data groups ----------------------------------------------------------------


def mrz_text(value: str) -> str:
    """Transliterate to the MRZ alphabet (Doc 9303 part 3 §6: Ä→A, Õ→O, Š→S …)."""
    decomposed = unicodedata.normalize("NFKD", value.upper())
    out = []
    for char in decomposed:
        if "A" <= char <= "Z" or char.isdigit():
            out.append(char)
        elif char in " -'‐,.":
            out.append("<")
    return "".join(out)


def _field(value: str, width: int) -> str:
    return value[:width].ljust(width, "<")


def _name_field(surname: str, given_names: str, width: int) -> str:
    return _field(f"{mrz_text(surname)}<<{mrz_text(given_names)}", width)


def _yymmdd(value: datetime.date) -> str:
    return value.strftime("%y%m%d")


def build_mrz(
    *,
    td: str,
    state: str,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    date_of_birth: datetime.date,
    sex: str,
    expiry_date: datetime.date,
    optional_data: str,
) -> str:
    number = _field(mrz_text(document_number), 9)
    if len(mrz_text(document_number)) > 9:
        raise ValueError("document numbers longer than 9 characters are not generated")
    dob = _yymmdd(date_of_birth)
    expiry = _yymmdd(expiry_date)
    state = _field(state, 3)
    nationality = _field(nationality, 3)
    sex = sex if sex in ("M", "F") else "<"
    if td == "TD3":
        optional = _field(optional_data, 14)
        optional_cd = "<" if set(optional) == {"<"} else check_digit(optional)
        line1 = "P<" + state + _name_field(surname, given_names, 39)
        body = (
            number + check_digit(number) + nationality + dob + check_digit(dob) + sex
            + expiry + check_digit(expiry) + optional + optional_cd
        )  # fmt: skip
        composite = body[0:10] + body[13:20] + body[21:43]
        return line1 + body + check_digit(composite)
    if td == "TD2":
        if len(optional_data) > 7:
            raise ValueError("TD2 has 7 characters of optional data")
        line1 = "I<" + state + _name_field(surname, given_names, 31)
        body = (
            number + check_digit(number) + nationality + dob + check_digit(dob) + sex
            + expiry + check_digit(expiry) + _field(optional_data, 7)
        )  # fmt: skip
        composite = body[0:10] + body[13:20] + body[21:35]
        return line1 + body + check_digit(composite)
    if td == "TD1":
        line1 = "ID" + state + number + check_digit(number) + _field(optional_data, 15)
        line2 = dob + check_digit(dob) + sex + expiry + check_digit(expiry) + nationality + "<" * 11
        composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
        return line1 + line2 + check_digit(composite) + _name_field(surname, given_names, 30)
    raise ValueError(f"td must be TD3, TD2 or TD1, not {td!r}")


def build_dg1(mrz: str) -> bytes:
    return tlv.encode(DG_TAGS[1], tlv.encode(0x5F1F, mrz.encode("ascii")))


def build_dg2(photo_jpeg: bytes, *, sex: str = "<") -> bytes:
    """DG2 with one ISO/IEC 19794-5 (2005) facial record holding the image as is.

    The image is a JPEG (or a JPEG 2000, for tests of that branch).
    """
    from PIL import Image  # lazy: only the generator needs Pillow

    with Image.open(io.BytesIO(photo_jpeg)) as image:
        if image.format not in ("JPEG", "JPEG2000"):
            raise ValueError("the photo must be a JPEG (see photo_to_jpeg)")
        data_type = 0 if image.format == "JPEG" else 1
        width, height = image.size
    gender = {"M": 1, "F": 2}.get(sex, 0)
    image_info = (
        bytes([1, data_type])  # full frontal; JPEG or JPEG 2000
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 2])  # 24-bit RGB, digital still camera
        + bytes(4)  # device type, quality
    )
    facial_info_len = 20 + len(image_info) + len(photo_jpeg)
    facial_info = (
        facial_info_len.to_bytes(4, "big")
        + bytes(2)  # no feature points
        + bytes([gender, 0, 0])  # gender, eye and hair colour unspecified
        + bytes(3 + 2 + 3 + 3)  # feature mask, expression, pose, pose uncertainty
    )
    record_body = facial_info + image_info + photo_jpeg
    record = b"FAC\x00010\x00" + (14 + len(record_body)).to_bytes(4, "big") + b"\x00\x01"
    record += record_body
    header = b"".join(
        [
            tlv.encode(0x80, b"\x01\x01"),  # ICAO header version
            tlv.encode(0x81, b"\x02"),  # biometric type: facial features
            tlv.encode(0x87, b"\x01\x01"),  # format owner: ISO/IEC JTC 1/SC 37
            tlv.encode(0x88, b"\x00\x08"),  # format type: face image
        ]
    )
    template = tlv.encode(0x7F60, tlv.encode(0xA1, header) + tlv.encode(0x5F2E, record))
    group = tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + template)
    return tlv.encode(DG_TAGS[2], group)


def photo_to_jpeg(image_bytes: bytes, *, max_side: int = 480, quality: int = 85) -> bytes:
    """Re-encode any image Pillow reads as an RGB JPEG no larger than ``max_side``."""
    with Image.open(io.BytesIO(image_bytes)) as image:
        rgb = image.convert("RGB")
    rgb.thumbnail((max_side, max_side))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv.encode(0x06, bytes(body))


def build_dg14(aa_hash: str) -> bytes:
    """DG14 with one ActiveAuthenticationInfo naming the ECDSA hash."""
    info = tlv.encode(
        0x30, _oid(OID_AA_PROTOCOL) + tlv.encode(0x02, b"\x01") + _oid(_ECDSA_OIDS[aa_hash])
    )
    return tlv.encode(DG_TAGS[14], tlv.encode(0x31, info))


def build_dg15(public_key: Any) -> bytes:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return tlv.encode(DG_TAGS[15], spki)


# --- EF.SOD -------------------------------------------------------------------------------


def build_sod(
    data_groups: dict[int, bytes],
    *,
    certificate: x509.Certificate,
    private_key: PrivateKey | None,
    algorithm: str,
    hash_algorithm: str = "sha256",
    signature: bytes | None = None,
    content_type: str = OID_LDS_SECURITY_OBJECT,
) -> bytes:
    """EF.SOD over ``data_groups`` signed by a DSC (``algorithm``: ec, rsa, rsa-pss).

    ``signature`` replaces the real signature (for the ``sod_signature`` tamper);
    ``content_type`` may be id-data, as some states' SODs have it.
    """
    lds = LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_algorithm},
            "data_group_hash_values": [
                {
                    "data_group_number": n,
                    "data_group_hash_value": hashlib.new(hash_algorithm, d).digest(),
                }
                for n, d in sorted(data_groups.items())
            ],
        }
    )
    content_info = signed_data(
        lds.dump(),
        content_type=content_type,
        certificate=certificate,
        private_key=private_key,
        algorithm=algorithm,
        hash_algorithm=hash_algorithm,
        signature=signature,
    )
    return tlv.encode(SOD_TAG, content_info)


def build_master_list(
    certificates: Sequence[x509.Certificate | bytes],
    *,
    signer: SignerKey,
    algorithm: str = "ec",
) -> bytes:
    """An ICAO CSCA master list (CMS SignedData over CscaMasterList) signed by ``signer``.

    ``bytes`` items go into the list as they are (tests of lists with unreadable entries).
    """
    ders = [
        c if isinstance(c, bytes) else c.public_bytes(serialization.Encoding.DER)
        for c in certificates
    ]
    master_list = tlv.encode(0x30, tlv.encode(0x02, b"\x00") + tlv.encode(0x31, b"".join(ders)))
    return signed_data(
        master_list,
        content_type=OID_CSCA_MASTER_LIST,
        certificate=signer.certificate,
        private_key=signer.private_key,
        algorithm=algorithm,
    )


def signed_data(
    content: bytes,
    *,
    content_type: str,
    certificate: x509.Certificate,
    private_key: PrivateKey | None,
    algorithm: str,
    hash_algorithm: str = "sha256",
    signature: bytes | None = None,
) -> bytes:
    """ContentInfo{SignedData} with one signer and the two ICAO signed attributes."""
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [content_type]},
            {"type": "message_digest", "values": [hashlib.new(hash_algorithm, content).digest()]},
        ]
    )
    cert = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    chosen = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
        hash_algorithm
    ]
    if algorithm == "ec":
        sig_alg = algos.SignedDigestAlgorithm({"algorithm": f"{hash_algorithm}_ecdsa"})
    elif algorithm == "rsa":
        sig_alg = algos.SignedDigestAlgorithm({"algorithm": f"{hash_algorithm}_rsa"})
    elif algorithm == "rsa-pss":
        sig_alg = algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": {
                    "hash_algorithm": {"algorithm": hash_algorithm},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": hash_algorithm},
                    },
                    "salt_length": chosen.digest_size,
                    "trailer_field": "trailer_field_bc",
                },
            }
        )
    else:
        raise ValueError(f"unknown signature algorithm {algorithm!r}")
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": hash_algorithm},
            "signed_attrs": attrs,
            "signature_algorithm": sig_alg,
            "signature": b"",
        }
    )
    to_sign = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    if signature is None:
        key = private_key
        if algorithm == "ec":
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            signature = key.sign(to_sign, ec.ECDSA(chosen))
        else:
            assert isinstance(key, rsa.RSAPrivateKey)
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if algorithm == "rsa"
                else padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            )
            signature = key.sign(to_sign, pad, chosen)
    signer_info["signature"] = signature
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_algorithm}],
            "encap_content_info": {"content_type": content_type, "content": content},
            "certificates": [cert],
            "signer_infos": [signer_info],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return bytes(info.dump())


def sod_signature(sod: bytes) -> bytes:
    info = cms.ContentInfo.load(tlv.read(sod).value(sod))
    return bytes(info["content"]["signer_infos"][0]["signature"].native)


# --- passports ----------------------------------------------------------------------------


def make_passport(
    *,
    csca: TestCsca,
    surname: str,
    given_names: str,
    document_number: str,
    personal_code: str | None,
    nationality: str,
    date_of_birth: datetime.date,
    sex: str,
    expiry_date: datetime.date,
    photo_jpeg: bytes,
    td: str = "TD3",
    aa: str | None = "rsa",
    dsc: str = "ec",
    aa_hash: str | None = None,
) -> SyntheticPassport:
    """A passport (TD3) or ID card (TD1, TD2) of ``csca``'s country that passes every check.

    ``aa``: "rsa" (RSA 1024, ISO/IEC 9796-2; ``aa_hash`` "sha1" → trailer BC, else xx CC),
    "ec" (P-256, with DG14 naming ``aa_hash``, default SHA-256), or None (no DG15).
    ``dsc``: "ec", "rsa" (PKCS#1 v1.5) or "rsa-pss".
    """
    state = ALPHA2_TO_ALPHA3[csca.country]
    mrz = build_mrz(
        td=td,
        state=state,
        surname=surname,
        given_names=given_names,
        document_number=document_number,
        nationality=nationality,
        date_of_birth=date_of_birth,
        sex=sex,
        expiry_date=expiry_date,
        optional_data=personal_code or "",
    )
    groups = {1: build_dg1(mrz), 2: build_dg2(photo_jpeg, sex=sex)}
    aa_pem: bytes | None = None
    if aa == "rsa":
        aa_hash = aa_hash or "sha1"
        # 1024 bits is what most RSA AA chips carry; a test key, never a production one.
        aa_key: PrivateKey = rsa.generate_private_key(
            public_exponent=65537,
            key_size=1024,  # noqa: S505
        )
    elif aa == "ec":
        aa_hash = aa_hash or "sha256"
        aa_key = ec.generate_private_key(ec.SECP256R1())
        groups[14] = build_dg14(aa_hash)
    elif aa is None:
        aa_hash = None
    else:
        raise ValueError(f"aa must be 'rsa', 'ec' or None, not {aa!r}")
    if aa is not None:
        groups[15] = build_dg15(aa_key.public_key())
        aa_pem = _key_pem(aa_key)
    signer = csca.signer("ec" if dsc == "ec" else "rsa")
    sod = build_sod(
        groups, certificate=signer.certificate, private_key=signer.private_key, algorithm=dsc
    )
    return SyntheticPassport(
        sod=sod,
        data_groups=groups,
        aa_private_key_pem=aa_pem,
        aa_hash=aa_hash,
        country=csca.country,
        dsc=dsc,
    )


def _change_dg1(dg1: bytes) -> bytes:
    """Change one letter of the name: the check digits do not cover it, only the SOD does."""
    mrz = tlv.read(dg1, tlv.read(dg1).value_start)
    text = bytearray(mrz.value(dg1))
    at = 60 if len(text) == 90 else 5  # first letter of the surname (TD1 line 3, TD3 line 1)
    text[at] = ord("X") if text[at] != ord("X") else ord("Y")
    return dg1[: mrz.value_start] + bytes(text) + dg1[mrz.end :]


def tampered(passport: SyntheticPassport, kind: str) -> SyntheticPassport:
    """A copy of ``passport`` broken in one way (``kind`` in :data:`TAMPER_KINDS`)."""
    groups = dict(passport.data_groups)
    kind_of_key = "ec" if passport.dsc == "ec" else "rsa"
    if kind == "dg1":
        groups[1] = _change_dg1(groups[1])
        return replace(passport, data_groups=groups)
    if kind == "dg2":
        dg2 = bytearray(groups[2])
        dg2[len(dg2) // 2] ^= 0x01
        groups[2] = bytes(dg2)
        return replace(passport, data_groups=groups)
    if kind == "sod_signature":
        # A forger edits DG1 and fixes every hash, but cannot sign: the old signature stays.
        groups[1] = _change_dg1(groups[1])
        sod = build_sod(
            groups,
            certificate=parse_sod(passport.sod).dsc,
            private_key=None,
            algorithm=passport.dsc,
            signature=sod_signature(passport.sod),
        )
        return replace(passport, sod=sod, data_groups=groups)
    if kind == "untrusted_csca":
        signer = impostor_csca(passport.country).signer(kind_of_key)
        sod = build_sod(
            groups,
            certificate=signer.certificate,
            private_key=signer.private_key,
            algorithm=passport.dsc,
        )
        return replace(passport, sod=sod)
    if kind == "aa_key":
        if passport.aa_private_key_pem is None:
            raise ValueError("this passport has no active authentication key")
        old = serialization.load_pem_private_key(passport.aa_private_key_pem, password=None)
        other: PrivateKey
        if isinstance(old, rsa.RSAPrivateKey):
            other = rsa.generate_private_key(public_exponent=65537, key_size=old.key_size)
        else:
            other = ec.generate_private_key(ec.SECP256R1())
        return replace(passport, aa_private_key_pem=_key_pem(other))
    raise ValueError(f"unknown tamper kind {kind!r}; one of {TAMPER_KINDS}")
