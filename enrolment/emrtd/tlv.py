"""A small BER-TLV reader with hard limits, run on every untrusted input before asn1crypto.

Why our own: ASN.1 libraries have a history of denial of service by crafted input
(pyasn1 CVE-2026-30922, -59884, -59885, -23490: deep nesting, huge tags, 2⁶⁴ lengths,
OIDs with 10⁵ arcs). asn1crypto parses lazily and recursively, and its limits are not
ours to set. So every byte string from a phone is first walked here, in time linear in its
size, and refused with :class:`~enrolment.emrtd.errors.Asn1LimitError` when it breaks a
limit; only a structure that passed is handed to asn1crypto (or read with :func:`read`).

Limits (ICAO LDS and CMS need far less): a tag of at most 4 bytes, a length field of at
most 4 bytes, nesting at most 32 deep, at most 10,000 elements, an OID of at most 64 arcs
and 128 bytes. The total size is the caller's limit per input (see :mod:`.limits`).
"""

from __future__ import annotations

from dataclasses import dataclass

from enrolment.emrtd.errors import Asn1LimitError, MalformedError

MAX_DEPTH = 32
MAX_ELEMENTS = 10_000
MAX_TAG_BYTES = 4
MAX_LENGTH_BYTES = 4
MAX_OID_BYTES = 128
MAX_OID_ARCS = 64

_UNIVERSAL_OID = 0x06
_UNIVERSAL_RELATIVE_OID = 0x0D


@dataclass(frozen=True, slots=True)
class Tlv:
    """One element: ``tag`` is the whole tag as an integer (``0x5F1F``), offsets into data."""

    tag: int
    constructed: bool
    start: int
    value_start: int
    end: int

    def value(self, data: bytes) -> bytes:
        return data[self.value_start : self.end]


def _header(data: bytes, pos: int, end: int) -> tuple[int, bool, int, int | None]:
    """Parse tag and length at ``pos``: (tag, constructed, value_start, length or None)."""
    if pos >= end:
        raise MalformedError("truncated ASN.1: a tag is missing")
    first = data[pos]
    constructed = bool(first & 0x20)
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:  # high tag number form: base-128 bytes follow
        count = 1
        while True:
            if pos >= end:
                raise MalformedError("truncated ASN.1 tag")
            count += 1
            if count > MAX_TAG_BYTES:
                raise Asn1LimitError(f"ASN.1 tag longer than {MAX_TAG_BYTES} bytes")
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
    if pos >= end:
        raise MalformedError("truncated ASN.1: a length is missing")
    first_len = data[pos]
    pos += 1
    if first_len < 0x80:
        return tag, constructed, pos, first_len
    if first_len == 0x80:
        return tag, constructed, pos, None
    if first_len == 0xFF:
        raise MalformedError("reserved ASN.1 length octet 0xFF")
    count = first_len & 0x7F
    if count > MAX_LENGTH_BYTES:
        raise Asn1LimitError(f"ASN.1 length field of {count} bytes (limit {MAX_LENGTH_BYTES})")
    if pos + count > end:
        raise MalformedError("truncated ASN.1 length")
    length = int.from_bytes(data[pos : pos + count], "big")
    return tag, constructed, pos + count, length


def _check_oid(value: bytes) -> None:
    if len(value) > MAX_OID_BYTES:
        raise Asn1LimitError(f"OID of {len(value)} bytes (limit {MAX_OID_BYTES})")
    if not value or value[-1] & 0x80:
        raise MalformedError("malformed OID")
    arcs = sum(1 for byte in value if not byte & 0x80) + 1
    if arcs > MAX_OID_ARCS:
        raise Asn1LimitError(f"OID of {arcs} arcs (limit {MAX_OID_ARCS})")


class _Walker:
    def __init__(self, data: bytes, *, max_depth: int, max_elements: int, indefinite: bool):
        self.data = data
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.indefinite = indefinite
        self.elements = 0

    def walk(self, pos: int, end: int, depth: int, until_eoc: bool, *, single: bool) -> int:
        """Walk the elements in data[pos:end] and return the position after the last one."""
        data = self.data
        while pos < end:
            if until_eoc and data[pos] == 0 and pos + 1 < end and data[pos + 1] == 0:
                return pos + 2
            self.elements += 1
            if self.elements > self.max_elements:
                raise Asn1LimitError(f"more than {self.max_elements} ASN.1 elements")
            tag, constructed, value_start, length = _header(data, pos, end)
            if constructed:
                if depth + 1 > self.max_depth:
                    raise Asn1LimitError(f"ASN.1 nested deeper than {self.max_depth}")
                if length is None:
                    if not self.indefinite:
                        raise MalformedError("indefinite ASN.1 length is not allowed here")
                    pos = self.walk(value_start, end, depth + 1, True, single=False)
                else:
                    value_end = value_start + length
                    if value_end > end:
                        raise MalformedError("truncated ASN.1 value")
                    self.walk(value_start, value_end, depth + 1, False, single=False)
                    pos = value_end
            else:
                if length is None:
                    raise MalformedError("indefinite length on a primitive ASN.1 value")
                value_end = value_start + length
                if value_end > end:
                    raise MalformedError("truncated ASN.1 value")
                if tag in (_UNIVERSAL_OID, _UNIVERSAL_RELATIVE_OID):
                    _check_oid(data[value_start:value_end])
                pos = value_end
            if single:
                return pos
        if until_eoc:
            raise MalformedError("truncated ASN.1: end-of-contents missing")
        return pos


def validate(
    data: bytes,
    *,
    max_size: int,
    what: str,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
    allow_indefinite: bool = False,
) -> None:
    """Check that ``data`` is exactly one well-formed TLV within every limit, or raise.

    Runs in time linear in ``len(data)`` and recursion at most ``max_depth`` deep.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedError(f"{what}: bytes expected")
    data = bytes(data)
    if len(data) > max_size:
        raise Asn1LimitError(f"{what}: {len(data)} bytes (limit {max_size})")
    if not data:
        raise MalformedError(f"{what}: empty")
    walker = _Walker(
        data, max_depth=max_depth, max_elements=max_elements, indefinite=allow_indefinite
    )
    try:
        end = walker.walk(0, len(data), 0, False, single=True)
    except Asn1LimitError as exc:
        raise Asn1LimitError(f"{what}: {exc.message}") from None
    except MalformedError as exc:
        raise MalformedError(f"{what}: {exc.message}") from None
    if end != len(data):
        raise MalformedError(f"{what}: {len(data) - end} bytes after the end of the structure")


def read(data: bytes, pos: int = 0, end: int | None = None) -> Tlv:
    """Read the definite-length TLV at ``pos`` (inputs already passed :func:`validate`)."""
    end = len(data) if end is None else end
    tag, constructed, value_start, length = _header(data, pos, end)
    if length is None:
        raise MalformedError("indefinite ASN.1 length is not allowed here")
    if value_start + length > end:
        raise MalformedError("truncated ASN.1 value")
    return Tlv(tag, constructed, pos, value_start, value_start + length)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The elements directly inside a constructed TLV."""
    if not parent.constructed:
        raise MalformedError(f"tag {parent.tag:X} is not constructed")
    result = []
    pos = parent.value_start
    while pos < parent.end:
        child = read(data, pos, parent.end)
        result.append(child)
        pos = child.end
    return result


def expect(data: bytes, tag: int, *, what: str) -> Tlv:
    """Read the single top-level TLV of ``data`` and require its tag and exact length."""
    tlv = read(data)
    if tlv.tag != tag:
        raise MalformedError(f"{what}: tag {tlv.tag:X}, expected {tag:X}")
    if tlv.end != len(data):
        raise MalformedError(f"{what}: trailing bytes")
    return tlv


def first(items: list[Tlv], tag: int, *, what: str) -> Tlv:
    """The first element with ``tag`` among ``items``, or :class:`MalformedError`."""
    for item in items:
        if item.tag == tag:
            return item
    raise MalformedError(f"{what}: tag {tag:X} missing")


def encode(tag: int, value: bytes) -> bytes:
    """DER-encode one TLV (used by the synthetic passport generator)."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    length = len(value)
    if length < 0x80:
        length_bytes = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        length_bytes = bytes([0x80 | len(raw)]) + raw
    return tag_bytes + length_bytes + value
