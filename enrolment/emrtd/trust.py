"""The CSCA trust store: country signing CA certificates from a folder or an ICAO master list.

Document signer certificates (DSC) come inside each EF.SOD; only the CSCAs are configured.
A DSC is trusted when a CSCA of the store with the DSC's issuer name is a CA, verifies the
DSC's signature, and both are valid at the time of the check. Revocation (CSCA CRLs) is not
checked yet (docs/emrtd.md).

Master lists are CMS SignedData (content type id-icao-cscaMasterList). Their signature is
checked only when the caller passes the certificates that must have issued the master list
signer (``master_list_anchors``): a master list is a convenience bundle whose authenticity
comes from how the operator obtained it (ICAO PKD, a national PKD download), and a list
verified against itself proves nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from enrolment.emrtd import keys, limits, tlv
from enrolment.emrtd.errors import (
    CscaUntrustedError,
    DscExpiredError,
    EmrtdError,
    MalformedError,
    UnsupportedAlgorithmError,
)
from enrolment.emrtd.sod import (
    CERTIFICATE_ERRORS,
    EXTENSION_ERRORS,
    OID_CSCA_MASTER_LIST,
    parse_signed_data,
    verify_signed_data,
)

_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".ml"}
_NOT_ONE_CERTIFICATE: tuple[type[Exception], ...] = (*CERTIFICATE_ERRORS, EmrtdError)

#: The organisation name every synthetic test certificate carries (``demo.passports``), so
#: that live mode can refuse a trust store holding a CSCA whose private key is public.
TEST_MARKER = "openeid TEST"
_SHA256 = hashes.SHA256()


class _AnyElements(core.SetOf):  # type: ignore[misc]  # asn1crypto is untyped
    _child_spec = core.Any


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    """CscaMasterList (Doc 9303 part 12 §9). The certificates stay raw elements, each
    read on its own, so that one unreadable certificate does not spoil the list."""

    _fields = [("version", core.Integer), ("cert_list", _AnyElements)]


@dataclass(frozen=True)
class SkippedCertificate:
    """A certificate of a master list that was left out, and why."""

    source: str  # the file (or "master list")
    index: int  # its position in the list, from 0
    reason: str


@dataclass(frozen=True)
class MasterList:
    """The usable CSCA certificates of a master list and the ones left out."""

    certificates: tuple[x509.Certificate, ...]
    skipped: tuple[SkippedCertificate, ...] = ()


def country_of(cert: x509.Certificate) -> str | None:
    """The ``C=`` of a certificate's subject, upper-case, or None."""
    values = cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    if len(values) != 1:
        return None
    value = values[0].value
    return value.upper() if isinstance(value, str) else None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except EXTENSION_ERRORS:
        return False


def _valid_at(cert: x509.Certificate, at: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.key_identifier


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except EXTENSION_ERRORS:
        return None


class CscaTrustStore:
    """An immutable set of CSCA certificates, indexed by subject name."""

    def __init__(
        self,
        certificates: Iterable[x509.Certificate],
        *,
        skipped: Iterable[SkippedCertificate] = (),
    ) -> None:
        #: Certificates that could not be used: of master lists (see :func:`load_master_list`)
        #: and given ones whose subject name cannot be read (the name indexes the store).
        left_out = list(skipped)
        unique: dict[bytes, x509.Certificate] = {}
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for index, cert in enumerate(certificates):
            fingerprint = cert.fingerprint(_SHA256)
            if fingerprint in unique:
                continue
            try:
                # cryptography parses the name on first use: a malformed one raises here.
                subject = cert.subject.public_bytes()
            except ValueError:
                reason = "its subject name cannot be read"
                left_out.append(
                    SkippedCertificate(source="certificates", index=index, reason=reason)
                )
                continue
            unique[fingerprint] = cert
            self._by_subject.setdefault(subject, []).append(cert)
        self._certificates = tuple(unique.values())
        self.skipped: tuple[SkippedCertificate, ...] = tuple(left_out)

    def __len__(self) -> int:
        return len(self._certificates)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(self._certificates)

    @classmethod
    def from_certificates(cls, certs: Iterable[x509.Certificate]) -> CscaTrustStore:
        return cls(certs)

    @classmethod
    def from_path(
        cls, path: Path, *, master_list_anchors: Iterable[x509.Certificate] | None = None
    ) -> CscaTrustStore:
        """Load every certificate of a folder (PEM or DER files, master lists too) or file.

        A missing folder gives an empty store (every passport is then ``csca_untrusted``),
        so a fresh installation starts without error; a broken file is an error.
        """
        anchors = None if master_list_anchors is None else list(master_list_anchors)
        if not path.exists():
            return cls([])
        files = [path]
        if path.is_dir():
            files = [
                child
                for child in sorted(path.iterdir())
                if child.is_file() and child.suffix.lower() in _CERT_SUFFIXES
            ]
        certs: list[x509.Certificate] = []
        skipped: list[SkippedCertificate] = []
        for file in files:
            loaded = _load_file(file, anchors)
            certs.extend(loaded.certificates)
            skipped.extend(loaded.skipped)
        return cls(certs, skipped=skipped)

    def verify_dsc(self, dsc: x509.Certificate, *, at: datetime.datetime) -> x509.Certificate:
        """Return the CSCA that issued ``dsc``, after checking signature and validity."""
        try:
            # cryptography reads a certificate's fields lazily: a damaged extension or
            # name of the document signer surfaces only here, as ValueError.
            aki = _aki(dsc)
            issuer_name = dsc.issuer.public_bytes()
        except CERTIFICATE_ERRORS:
            raise MalformedError("the document signer certificate cannot be read") from None
        candidates = [
            c
            for c in self._by_subject.get(issuer_name, [])
            if _is_ca(c) and (aki is None or _ski(c) in (None, aki))
        ]
        issuer = None
        key_problem: EmrtdError | None = None
        for candidate in candidates:
            try:
                # Our own check rather than verify_directly_issued_by: a CSCA key with
                # explicit brainpool parameters is rebuilt on its named curve first.
                key = keys.certificate_public_key(candidate, what="the CSCA certificate")
                keys.verify_certificate_signature(dsc, key)
            except (MalformedError, UnsupportedAlgorithmError) as exc:
                key_problem = exc
                continue
            except (InvalidSignature, ValueError, TypeError):
                continue
            issuer = candidate
            break
        if issuer is None and isinstance(key_problem, UnsupportedAlgorithmError):
            raise UnsupportedAlgorithmError(key_problem.message)
        if issuer is None:
            raise CscaUntrustedError(
                f"no trusted CSCA issued the document signer ({dsc.issuer.rfc4514_string()})"
            )
        if not _valid_at(dsc, at):
            raise DscExpiredError("the document signer certificate is not valid at this time")
        if not _valid_at(issuer, at):
            raise DscExpiredError(
                "the CSCA certificate is not valid at this time", code="csca_expired"
            )
        return issuer


def _load_file(path: Path, anchors: list[x509.Certificate] | None) -> MasterList:
    size = path.stat().st_size
    if size > limits.MASTER_LIST_MAX:
        raise MalformedError(f"{path.name}: {size} bytes is too large for a trust store file")
    data = path.read_bytes()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return MasterList(tuple(x509.load_pem_x509_certificates(data)))
    except CERTIFICATE_ERRORS:
        raise MalformedError(f"{path.name}: PEM certificates cannot be read") from None
    if len(data) <= limits.TRUST_FILE_MAX:
        try:
            tlv.validate(data, max_size=limits.TRUST_FILE_MAX, what=path.name)
            return MasterList((x509.load_der_x509_certificate(data),))
        except _NOT_ONE_CERTIFICATE:
            pass  # not a single DER certificate: maybe a master list
    return load_master_list(data, anchors=anchors, what=path.name)


def _read_csca(der: bytes) -> tuple[x509.Certificate | None, str]:
    """The certificate, or None and the reason it cannot serve as a CSCA here.

    cryptography parses names and extensions lazily, so they are touched now: a defect
    found later would break every passport check instead of one certificate.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.subject.public_bytes()
        cert.issuer.public_bytes()
        _ = cert.extensions
    except CERTIFICATE_ERRORS as exc:
        return None, f"not a readable X.509 certificate ({exc})"
    try:
        keys.certificate_public_key(cert, what="key")
    except EmrtdError as exc:
        return None, exc.message
    return cert, ""


def load_master_list(
    data: bytes, *, anchors: list[x509.Certificate] | None = None, what: str = "master list"
) -> MasterList:
    """The CSCA certificates of an ICAO master list (signature checked if ``anchors``).

    A certificate that cannot be read (real lists carry a few: non-DER encodings, keys
    of curves we do not support) is left out and reported in ``skipped``; the others load.
    """
    tlv.validate(
        data,
        max_size=limits.MASTER_LIST_MAX,
        max_elements=limits.MASTER_LIST_MAX_ELEMENTS,
        what=what,
        allow_indefinite=True,
    )
    signed = parse_signed_data(data, content_types=(OID_CSCA_MASTER_LIST,), what=what)
    if anchors is not None:
        verify_signed_data(signed, what=what)
        # The master list signer is issued by the publishing state's CSCA.
        CscaTrustStore(anchors).verify_dsc(signed.signer, at=signed.signer.not_valid_before_utc)
    tlv.validate(
        signed.content,
        max_size=limits.MASTER_LIST_MAX,
        max_elements=limits.MASTER_LIST_MAX_ELEMENTS,
        what=what,
    )
    try:
        parsed = CscaMasterList.load(signed.content, strict=True)
        ders = [bytes(item.dump()) for item in parsed["cert_list"]]
    except (ValueError, TypeError, KeyError):
        raise MalformedError(f"{what}: the CSCA master list cannot be read") from None
    certificates: list[x509.Certificate] = []
    skipped: list[SkippedCertificate] = []
    for index, der in enumerate(ders):
        cert, reason = _read_csca(der)
        if cert is None:
            skipped.append(SkippedCertificate(source=what, index=index, reason=reason))
        else:
            certificates.append(cert)
    return MasterList(tuple(certificates), tuple(skipped))
