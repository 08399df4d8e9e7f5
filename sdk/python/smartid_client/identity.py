"""The certified identity: subject fields, document number and date of birth
(docs/spec/rp-api.md §4; docs/rp-integration.md §6 steps 6-8)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date

from cryptography import x509
from cryptography.x509.oid import NameOID

from .errors import CertificateError, IdentityMismatchError
from .models import Identity

#: SubjectDirectoryAttributes (RFC 5280 4.2.1.8) and its dateOfBirth attribute (RFC 3739).
SUBJECT_DIRECTORY_ATTRIBUTES = x509.ObjectIdentifier("2.5.29.9")
DATE_OF_BIRTH = "1.3.6.1.5.5.7.9.1"

_CENTURIES_EE_LT = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


def identity_from_certificate(cert: x509.Certificate) -> Identity:
    """The identity of a Smart-ID certificate's subject; :class:`CertificateError` if a
    field is missing or repeated."""
    subject = cert.subject
    semantics_identifier = _one(subject, NameOID.SERIAL_NUMBER)
    prefix, separator, code = semantics_identifier.partition("-")  # the FIRST hyphen only
    if not separator or len(prefix) != 5 or not code:
        raise CertificateError(f"serialNumber {semantics_identifier!r} is no semantics identifier")
    return Identity(
        given_name=_one(subject, NameOID.GIVEN_NAME),
        surname=_one(subject, NameOID.SURNAME),
        country=_one(subject, NameOID.COUNTRY_NAME),
        semantics_identifier=semantics_identifier,
        identity_type=prefix[:3],
        identity_country=prefix[3:],
        personal_code=code,
        date_of_birth=date_of_birth(cert, prefix[3:], code),
        document_number=document_number_of(cert),
    )


def document_number_of(cert: x509.Certificate) -> str:
    """The document number: the CN of the subject alternative name's DirName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CertificateError("the certificate has no subject alternative name") from exc
    names = [
        str(attribute.value)
        for name in san.get_values_for_type(x509.DirectoryName)
        for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME)
    ]
    if len(names) != 1:
        raise CertificateError("the subject alternative name must name one document number")
    return names[0]


def date_of_birth(cert: x509.Certificate, country: str, code: str) -> date | None:
    """The certificate's dateOfBirth attribute if present, else :func:`date_of_birth_from_code`."""
    try:
        extension = cert.extensions.get_extension_for_oid(SUBJECT_DIRECTORY_ATTRIBUTES)
    except x509.ExtensionNotFound:
        return date_of_birth_from_code(country, code)
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
    try:
        found = _date_of_birth_attribute(raw)
    except (ValueError, IndexError) as exc:
        raise CertificateError("malformed subject directory attributes") from exc
    return found if found is not None else date_of_birth_from_code(country, code)


def date_of_birth_from_code(country: str, code: str) -> date | None:
    """The date of birth a national personal code carries, or ``None``.

    * EE and LT: ``GYYMMDDSSSC``, G = 1/2: 1800s, 3/4: 1900s, 5/6: 2000s (as python-stdnum's
      ``ee.ik`` and ``lt.asmens``).
    * LV old format ``DDMMYY-CSSSK``, C = 0: 1800s, 1: 1900s, 2: 2000s (python-stdnum's
      ``lv.pvn``). The codes issued since July 2017 start with ``32`` and carry no date.
    * Anything else (other countries, IDC/PAS documents, an impossible date): ``None``.
    """
    try:
        if country in ("EE", "LT") and len(code) == 11 and code.isdigit():
            century = _CENTURIES_EE_LT.get(code[0])
            if century is None:
                return None
            return date(century + int(code[1:3]), int(code[3:5]), int(code[5:7]))
        compact = code.replace("-", "")
        if country == "LV" and len(compact) == 11 and compact.isdigit():
            if compact.startswith("32"):
                return None
            if compact[6] not in "012":
                return None
            year = 1800 + 100 * int(compact[6]) + int(compact[4:6])
            return date(year, int(compact[2:4]), int(compact[0:2]))
    except ValueError:  # an impossible date
        return None
    return None


@dataclass(frozen=True)
class ExpectedIdentity:
    """Who the relying party expects (e.g. the customer whose account is being opened):
    every field given must match the certificate, or validation raises
    :class:`IdentityMismatchError`."""

    semantics_identifier: str | None = None
    document_number: str | None = None
    given_name: str | None = None
    surname: str | None = None
    country: str | None = None
    date_of_birth: date | None = None


def check_identity(identity: Identity, expected: ExpectedIdentity) -> None:
    """Raise :class:`IdentityMismatchError` unless ``identity`` is the expected person.
    Identifiers compare exactly, names case-insensitively."""
    exact = (
        ("semantics identifier", expected.semantics_identifier, identity.semantics_identifier),
        ("document number", expected.document_number, identity.document_number),
        ("country", expected.country, identity.country),
    )
    for what, wanted, got in exact:
        if wanted is not None and not hmac.compare_digest(wanted.encode(), got.encode()):
            raise IdentityMismatchError(f"{what}: expected {wanted!r}, certified {got!r}")
    for what, wanted, got in (
        ("given name", expected.given_name, identity.given_name),
        ("surname", expected.surname, identity.surname),
    ):
        if wanted is not None and wanted.casefold() != got.casefold():
            raise IdentityMismatchError(f"{what}: expected {wanted!r}, certified {got!r}")
    if expected.date_of_birth is not None and expected.date_of_birth != identity.date_of_birth:
        raise IdentityMismatchError(
            f"date of birth: expected {expected.date_of_birth}, certified {identity.date_of_birth}"
        )


def _one(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1:
        raise CertificateError(f"the subject needs exactly one {oid.dotted_string}")
    return str(values[0].value)


# --- a minimal DER reader for SubjectDirectoryAttributes --------------------------------


def _items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) pairs of a DER string, one level deep."""
    items: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            count = length & 0x7F
            if not 1 <= count <= 4:
                raise ValueError("DER length")
            length = int.from_bytes(data[i : i + count], "big")
            i += count
        if i + length > len(data):
            raise ValueError("truncated DER")
        items.append((tag, data[i : i + length]))
        i += length
    return items


def _oid_text(content: bytes) -> str:
    first, rest = content[0], content[1:]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in rest:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


def _date_of_birth_attribute(der: bytes) -> date | None:
    """SEQUENCE OF Attribute {OID, SET OF GeneralizedTime ``YYYYMMDD000000Z``}."""
    ((tag, attributes),) = _items(der)
    if tag != 0x30:
        raise ValueError("not a SEQUENCE")
    for _, attribute in _items(attributes):
        (oid_tag, oid), (_, values) = _items(attribute)
        if oid_tag == 0x06 and _oid_text(oid) == DATE_OF_BIRTH:
            time_tag, stamp = _items(values)[0]
            if time_tag != 0x18:
                raise ValueError("dateOfBirth is not a GeneralizedTime")
            text = stamp.decode("ascii")
            return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    return None
