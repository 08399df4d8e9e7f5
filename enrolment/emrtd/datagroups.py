"""Data groups of the LDS (ICAO Doc 9303 part 10): DG1 (MRZ), DG2 (face), DG14, DG15.

Every input has passed :func:`enrolment.emrtd.tlv.validate` before it reaches these
parsers, so they read definite-length TLVs whose bounds are already known to be sane;
they still check every offset, because a well-formed TLV can carry a lying inner record.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from enrolment.emrtd import keys, tlv
from enrolment.emrtd.errors import MalformedError, UnsupportedAlgorithmError
from enrolment.emrtd.mrz import Mrz, parse_mrz

#: The first byte of each data group file (Doc 9303 part 10 §4.6); SOD is 0x77.
DG_TAGS: dict[int, int] = {
    1: 0x61,
    2: 0x75,
    3: 0x63,
    4: 0x76,
    5: 0x65,
    6: 0x66,
    7: 0x67,
    8: 0x68,
    9: 0x69,
    10: 0x6A,
    11: 0x6B,
    12: 0x6C,
    13: 0x6D,
    14: 0x6E,
    15: 0x6F,
    16: 0x70,
}
SOD_TAG = 0x77

OID_AA_PROTOCOL = "2.23.136.1.1.5"  # id-icao-mrtd-security-aaProtocolObject
ECDSA_HASHES = {
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}

_FACE_FORMATS = {0: "jpeg", 1: "jpeg2000"}
_MAGIC = {
    "jpeg": (b"\xff\xd8\xff",),
    "jpeg2000": (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"),
}


def decode_oid(value: bytes) -> str:
    """Dotted form of an OID's content octets (length and arcs already limited)."""
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    if not arcs:
        raise MalformedError("empty OID")
    head = arcs[0]
    first, second = (head // 40, head % 40) if head < 80 else (2, head - 80)
    return ".".join(str(a) for a in [first, second, *arcs[1:]])


def parse_dg1(data: bytes, *, today: datetime.date) -> Mrz:
    """DG1 = 61 { 5F1F MRZ }."""
    outer = tlv.expect(data, DG_TAGS[1], what="DG1")
    mrz = tlv.first(tlv.children(data, outer), 0x5F1F, what="DG1")
    try:
        text = mrz.value(data).decode("ascii")
    except UnicodeDecodeError:
        raise MalformedError("DG1: the MRZ is not ASCII") from None
    return parse_mrz(text, today=today)


@dataclass(frozen=True)
class FaceImage:
    image: bytes
    format: str  # "jpeg" | "jpeg2000"
    width: int
    height: int


def parse_dg2(data: bytes) -> FaceImage:
    """DG2 = 75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E|7F2E ISO 19794-5 record } … } }.

    Returns the first face image of the first biometric template. ISO/IEC 39794-5 (the
    ASN.1 successor of 19794-5) is not read yet: such a DG2 is ``unsupported_algorithm``.
    """
    outer = tlv.expect(data, DG_TAGS[2], what="DG2")
    group = tlv.first(tlv.children(data, outer), 0x7F61, what="DG2")
    templates = [t for t in tlv.children(data, group) if t.tag == 0x7F60]
    if not templates:
        raise MalformedError("DG2: no biometric template")
    inner = tlv.children(data, templates[0])
    blocks = [t for t in inner if t.tag in (0x5F2E, 0x7F2E)]
    if not blocks:
        raise MalformedError("DG2: no biometric data block")
    return _parse_facial_record(blocks[0].value(data))


def _u(record: bytes, offset: int, size: int) -> int:
    if offset + size > len(record):
        raise MalformedError("DG2: facial record truncated")
    return int.from_bytes(record[offset : offset + size], "big")


def _parse_facial_record(record: bytes) -> FaceImage:
    if record[:4] != b"FAC\x00":
        raise UnsupportedAlgorithmError("DG2: not an ISO/IEC 19794-5 facial record")
    if record[4:8] != b"010\x00":
        raise UnsupportedAlgorithmError("DG2: facial record version is not 010")
    record_length = _u(record, 8, 4)
    if record_length != len(record):
        raise MalformedError("DG2: facial record length does not match its block")
    if _u(record, 12, 2) < 1:
        raise MalformedError("DG2: no facial image in the record")
    block_start = 14
    block_length = _u(record, block_start, 4)
    block_end = block_start + block_length
    if block_length < 32 or block_end > len(record):
        raise MalformedError("DG2: facial information block out of bounds")
    feature_points = _u(record, block_start + 4, 2)
    info = block_start + 20 + 8 * feature_points
    image_type = _u(record, info + 1, 1)
    width, height = _u(record, info + 2, 2), _u(record, info + 4, 2)
    image_start = info + 12
    if image_start >= block_end:
        raise MalformedError("DG2: no image data")
    face_format = _FACE_FORMATS.get(image_type)
    if face_format is None:
        raise UnsupportedAlgorithmError(f"DG2: image data type {image_type} is unknown")
    image = record[image_start:block_end]
    if not image.startswith(_MAGIC[face_format]):
        raise MalformedError(f"DG2: image data is not {face_format}")
    return FaceImage(image=image, format=face_format, width=width, height=height)


def parse_dg15(data: bytes) -> Any:
    """DG15 = 6F { SubjectPublicKeyInfo }: the chip's active authentication public key.

    Returns a ``cryptography`` RSA or EC public key. An EC key with explicit domain
    parameters is rebuilt on its named curve (:mod:`.keys`); unknown ones are refused.
    """
    outer = tlv.expect(data, DG_TAGS[15], what="DG15")
    key = keys.load_public_key(outer.value(data), what="DG15")
    if isinstance(key, rsa.RSAPublicKey):
        if not 1024 <= key.key_size <= 4096:
            raise UnsupportedAlgorithmError(f"DG15: RSA key of {key.key_size} bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 224:
            raise UnsupportedAlgorithmError("DG15: EC key below 224 bits")
    else:
        raise UnsupportedAlgorithmError("DG15: neither RSA nor EC")
    return key


@dataclass(frozen=True)
class Dg14Info:
    """The SecurityInfos of DG14, kept for the record: protocol OIDs, and AA's hash."""

    protocols: tuple[str, ...]
    aa_hash_algorithm: str | None


def parse_dg14(data: bytes) -> Dg14Info:
    """DG14 = 6E { SET OF SecurityInfo { protocol OID, requiredData, optionalData? } }."""
    outer = tlv.expect(data, DG_TAGS[14], what="DG14")
    security_infos = tlv.first(tlv.children(data, outer), 0x31, what="DG14")
    protocols: list[str] = []
    aa_hash: str | None = None
    for info in tlv.children(data, security_infos):
        if info.tag != 0x30:
            raise MalformedError("DG14: a SecurityInfo is not a SEQUENCE")
        fields = tlv.children(data, info)
        if not fields or fields[0].tag != 0x06:
            raise MalformedError("DG14: a SecurityInfo has no protocol OID")
        protocol = decode_oid(fields[0].value(data))
        protocols.append(protocol)
        if protocol == OID_AA_PROTOCOL:
            # ActiveAuthenticationInfo ::= SEQUENCE { protocol, version INTEGER(1),
            #                                         signatureAlgorithm OID }
            if len(fields) < 3 or fields[2].tag != 0x06:
                raise MalformedError("DG14: ActiveAuthenticationInfo without an algorithm")
            algorithm = decode_oid(fields[2].value(data))
            if algorithm not in ECDSA_HASHES:
                raise UnsupportedAlgorithmError(f"DG14: AA signature algorithm {algorithm}")
            aa_hash = ECDSA_HASHES[algorithm]
    return Dg14Info(protocols=tuple(protocols), aa_hash_algorithm=aa_hash)
