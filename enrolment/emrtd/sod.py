"""EF.SOD (Doc 9303 part 10 §4.6.2, part 11 §5.1): CMS SignedData over the LDS security object.

The same CMS code reads ICAO master lists (:mod:`.trust`), so it is written for any
``SignedData`` with one signer and signed attributes; only the content type and the
content differ. Parsing (:func:`parse_signed_data`) and verification
(:func:`verify_signed_data`) are split so that the caller checks the cheap things (data
group hashes) before the public-key operation, and every failure has its own code.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from enrolment.emrtd import keys, limits, tlv
from enrolment.emrtd.datagroups import SOD_TAG
from enrolment.emrtd.errors import (
    EmrtdError,
    MalformedError,
    SodSignatureInvalidError,
    UnsupportedAlgorithmError,
)

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"
#: id-data (RFC 5652 §4): some states' SODs say this instead of id-icao-ldsSecurityObject.
#: The content is parsed as an LDS security object all the same, and the signed content
#: type attribute must name the same type (RFC 5652 §5.3), so nothing else changes.
OID_DATA = "1.2.840.113549.1.7.1"
SOD_CONTENT_TYPES = (OID_LDS_SECURITY_OBJECT, OID_DATA)

#: SHA-1 stays accepted: documents from before ~2015 hash and sign with it, and a forged
#: SOD would need a second preimage or the signer's help, not a mere collision.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


# asn1crypto is untyped, so its base classes are ``Any`` to mypy.
class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


def hash_name(name: str, *, what: str) -> str:
    if name not in HASHES:
        raise UnsupportedAlgorithmError(f"{what}: hash algorithm {name} is not accepted")
    return name


def digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


@dataclass(frozen=True)
class SignedContent:
    """One-signer CMS SignedData, taken apart into plain values."""

    content: bytes  # the eContent octets
    content_type: str  # the eContent type, one of those the caller allowed
    digest_algorithm: str
    signed_attrs_der: bytes  # DER with the SET tag: what the signature covers
    message_digest: bytes
    signature: bytes
    signature_algorithm: str  # rsassa_pkcs1v15 | rsassa_pss | ecdsa
    signature_hash: str
    pss_salt_length: int | None
    pss_mgf_hash: str | None
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]


#: What cryptography raises when it reads a damaged certificate, or one of its lazily parsed
#: fields (names, extensions): not all of them are ``ValueError`` (a name attribute of
#: type BIT STRING other than x500UniqueIdentifier is a ``TypeError``).
CERTIFICATE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
#: An extension that is absent or cannot be read.
EXTENSION_ERRORS: tuple[type[Exception], ...] = (x509.ExtensionNotFound, *CERTIFICATE_ERRORS)


def _load_certificate(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except CERTIFICATE_ERRORS:
        return None


def _ski(cert: x509.Certificate) -> bytes | None:
    """The subject key identifier, or None (absent, or the extensions cannot be read)."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except EXTENSION_ERRORS:
        return None
    return ext.value.digest


def _name_key(name: Any) -> tuple[tuple[str, str], ...]:
    """A name's attributes, order-free and RFC 4518-prepared (case, spaces, string type)."""
    items = []
    for rdn in name.chosen:
        for attribute in rdn:
            try:
                value = str(attribute.prepped_value)
            except (ValueError, TypeError, AttributeError):
                value = attribute["value"].dump().hex()
            items.append((attribute["type"].dotted, value))
    return tuple(sorted(items))


def _find_signer(sid: Any, certificates: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate the SignerIdentifier names (issuer and serial number, or SKI)."""
    if sid.name == "subject_key_identifier":
        wanted_ski = sid.chosen.native
        return next((cert for cert in certificates if _ski(cert) == wanted_ski), None)
    wanted = sid.chosen
    serial = wanted["serial_number"].native
    same_serial = [cert for cert in certificates if cert.serial_number == serial]
    issuer_der = wanted["issuer"].dump()
    for cert in same_serial:
        if cert.issuer.public_bytes() == issuer_der:
            return cert
    # Some states write the SignerIdentifier's issuer with its attributes in another order
    # (or another string type) than the certificate's issuer field. The one certificate
    # of this serial number whose issuer has the same attributes is the signer; the
    # signature check that follows is what proves it.
    key = _name_key(wanted["issuer"])
    loose = [
        cert
        for cert in same_serial
        if _name_key(asn1_x509.Name.load(cert.issuer.public_bytes())) == key
    ]
    return loose[0] if len(loose) == 1 else None


def parse_signed_data(
    content_info_der: bytes, *, content_types: tuple[str, ...], what: str
) -> SignedContent:
    """Read a ContentInfo{SignedData} that already passed :func:`tlv.validate`.

    ``content_types`` are the eContent types accepted. asn1crypto parses lazily and raises
    ``ValueError`` (sometimes ``TypeError`` or ``KeyError``) from any attribute access, so
    every access happens inside one ``try``.
    """
    try:
        return _parse_signed_data(content_info_der, content_types=content_types, what=what)
    except EmrtdError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
        raise MalformedError(f"{what}: not a valid CMS SignedData") from None


def _parse_signed_data(
    content_info_der: bytes, *, content_types: tuple[str, ...], what: str
) -> SignedContent:
    info = cms.ContentInfo.load(content_info_der, strict=True)
    if info["content_type"].native != "signed_data":
        raise MalformedError(f"{what}: not CMS SignedData")
    signed = info["content"]
    encap = signed["encap_content_info"]
    content_type = encap["content_type"].dotted
    if content_type not in content_types:
        raise MalformedError(f"{what}: content type {content_type}")
    if encap["content"].native is None:
        raise MalformedError(f"{what}: no encapsulated content")
    content = bytes(encap["content"].__bytes__())
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        raise MalformedError(f"{what}: {len(signer_infos)} signers, exactly one expected")
    signer_info = signer_infos[0]

    # A certificate of the set that cannot be read is left out: only the signer's matters
    # (and a master list signer's set may carry the CSCA of a state we do not parse).
    certificates: list[x509.Certificate] = []
    if signed["certificates"].native is not None:
        for choice in signed["certificates"]:
            if choice.name == "certificate":
                cert = _load_certificate(choice.chosen.dump())
                if cert is not None:
                    certificates.append(cert)
    signer = _find_signer(signer_info["sid"], certificates)
    if signer is None:
        raise MalformedError(f"{what}: the signer's certificate is not included")

    digest_algorithm = hash_name(signer_info["digest_algorithm"]["algorithm"].native, what=what)
    attrs = signer_info["signed_attrs"]
    if attrs.native is None:
        raise MalformedError(f"{what}: no signed attributes")
    found: dict[str, list[Any]] = {}
    for attr in attrs:
        found.setdefault(attr["type"].native, []).append(attr["values"])
    if len(found.get("content_type", [])) != 1 or len(found.get("message_digest", [])) != 1:
        raise MalformedError(f"{what}: content type and message digest must appear once")
    (types,) = found["content_type"]
    (digests,) = found["message_digest"]
    if len(types) != 1 or types[0].dotted != content_type:
        raise MalformedError(f"{what}: signed content type attribute is wrong")
    if len(digests) != 1:
        raise MalformedError(f"{what}: message digest attribute must have one value")
    attrs_der = attrs.dump()
    # The signature covers the attributes with their universal SET tag, not [0] IMPLICIT.
    signed_attrs_der = b"\x31" + attrs_der[1:]

    algorithm = signer_info["signature_algorithm"]
    signature_algorithm = algorithm.signature_algo
    salt: int | None = None
    mgf_hash: str | None = None
    if signature_algorithm == "rsassa_pss":
        params = algorithm["parameters"]
        signature_hash = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise UnsupportedAlgorithmError(f"{what}: PSS mask generation is not MGF1")
        mgf_hash = hash_name(mgf["parameters"]["algorithm"].native, what=what)
        salt = int(params["salt_length"].native)
        if not 0 <= salt <= limits.PSS_MAX_SALT:
            raise UnsupportedAlgorithmError(f"{what}: PSS salt length {salt}")
        if params["trailer_field"].native not in (1, "trailer_field_bc"):
            raise UnsupportedAlgorithmError(f"{what}: PSS trailer field is not 1")
    elif signature_algorithm in ("rsassa_pkcs1v15", "ecdsa"):
        try:
            signature_hash = algorithm.hash_algo
        except ValueError:  # rsaEncryption / id-ecPublicKey: the digest algorithm decides
            signature_hash = digest_algorithm
    else:
        raise UnsupportedAlgorithmError(f"{what}: signature algorithm {signature_algorithm}")
    return SignedContent(
        content=content,
        content_type=content_type,
        digest_algorithm=digest_algorithm,
        signed_attrs_der=signed_attrs_der,
        message_digest=bytes(digests[0].native),
        signature=bytes(signer_info["signature"].native),
        signature_algorithm=signature_algorithm,
        signature_hash=hash_name(signature_hash, what=what),
        pss_salt_length=salt,
        pss_mgf_hash=mgf_hash,
        signer=signer,
        certificates=tuple(certificates),
    )


def verify_signed_data(signed: SignedContent, *, what: str) -> None:
    """Check the message digest and the signer's signature, or raise ``sod_signature_invalid``."""
    actual = digest(signed.digest_algorithm, signed.content)
    if not hmac.compare_digest(actual, signed.message_digest):
        raise SodSignatureInvalidError(f"{what}: the message digest does not match the content")
    try:
        # Explicit EC domain parameters (brainpool, as many states use) are rebuilt on
        # their named curve; a curve we do not know is ``unsupported_algorithm``.
        key = keys.certificate_public_key(signed.signer, what=f"{what}: the signer's key")
    except MalformedError:
        # A damaged SubjectPublicKeyInfo (an even RSA exponent, a point off its curve):
        # the signer's key is unusable, so the SOD's signature cannot verify.
        raise SodSignatureInvalidError(f"{what}: the signer's public key is unusable") from None
    chosen = HASHES[signed.signature_hash]()
    try:
        if signed.signature_algorithm == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise SodSignatureInvalidError(f"{what}: ECDSA signature with a non-EC key")
            key.verify(_der_ecdsa(signed.signature, key), signed.signed_attrs_der, ec.ECDSA(chosen))
            return
        if not isinstance(key, rsa.RSAPublicKey):
            raise SodSignatureInvalidError(f"{what}: RSA signature with a non-RSA key")
        if signed.signature_algorithm == "rsassa_pss":
            assert signed.pss_mgf_hash is not None and signed.pss_salt_length is not None
            pad: padding.AsymmetricPadding = padding.PSS(
                mgf=padding.MGF1(HASHES[signed.pss_mgf_hash]()),
                salt_length=signed.pss_salt_length,
            )
        else:
            pad = padding.PKCS1v15()
        key.verify(signed.signature, signed.signed_attrs_der, pad, chosen)
    except InvalidSignature:
        raise SodSignatureInvalidError(f"{what}: the signature does not verify") from None


def _der_ecdsa(signature: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """CMS wants DER ECDSA-Sig-Value; some issuers put plain r‖s (BSI TR-03111). Accept both."""
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size and signature[:1] != b"\x30":
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        return encode_dss_signature(r, s)
    return signature


@dataclass(frozen=True)
class Sod:
    """EF.SOD taken apart: the signed data group hashes and the CMS envelope."""

    hash_algorithm: str
    dg_hashes: dict[int, bytes]
    lds_version: str | None
    signed: SignedContent

    @property
    def dsc(self) -> x509.Certificate:
        return self.signed.signer


def parse_sod(data: bytes) -> Sod:
    """Check the limits of EF.SOD (77 { ContentInfo }) and take it apart (no verification)."""
    tlv.validate(data, max_size=limits.SOD_MAX, what="EF.SOD", allow_indefinite=True)
    outer = tlv.read(data)
    if outer.tag != SOD_TAG or outer.end != len(data):
        raise MalformedError("EF.SOD: tag 77 expected")
    signed = parse_signed_data(outer.value(data), content_types=SOD_CONTENT_TYPES, what="EF.SOD")
    tlv.validate(signed.content, max_size=limits.SOD_MAX, what="LDS security object")
    try:
        lds = LdsSecurityObject.load(signed.content, strict=True)
        version = lds["version"].native
        algorithm = lds["hash_algorithm"]["algorithm"].native
        dg_hashes: dict[int, bytes] = {}
        for item in lds["data_group_hash_values"]:
            number = item["data_group_number"].native
            if not 1 <= number <= 16 or number in dg_hashes:
                raise MalformedError(f"LDS security object: data group number {number}")
            dg_hashes[number] = bytes(item["data_group_hash_value"].native)
        info = lds["lds_version_info"]
        lds_version = None if info.native is None else str(info["lds_version"].native)
    except EmrtdError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise MalformedError("LDS security object cannot be read") from None
    if version not in (0, 1):
        raise MalformedError(f"LDS security object version {version}")
    hash_algorithm = hash_name(algorithm, what="LDS security object")
    size = hashlib.new(hash_algorithm).digest_size
    if any(len(value) != size for value in dg_hashes.values()):
        raise MalformedError("LDS security object: a hash has the wrong length")
    return Sod(
        hash_algorithm=hash_algorithm, dg_hashes=dg_hashes, lds_version=lds_version, signed=signed
    )
