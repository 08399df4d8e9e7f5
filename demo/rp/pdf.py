"""PAdES signing of an uploaded PDF with a signature made elsewhere (interrupted signing).

pyHanko prepares the document for a known signing certificate and tells us the digest of
the CMS signed attributes; Smart-ID signs that digest (RAW_DIGEST_SIGNATURE,
``sha256WithRSAEncryption``); pyHanko embeds the signature value, a signature time-stamp
from the demo's local TSA (:mod:`demo.rp.tsa`) and then, in an incremental update, the
validation data (the certificates and our OCSP responses) in the document security store.

That is PAdES B-B (signed attributes with the signing certificate), B-T (the signature
time-stamp) and B-LT (the DSS). The two halves run in different requests: what the
second needs from the first is :class:`Prepared`, plain values the web session keeps, and
the prepared PDF, which stays in the data folder (:mod:`demo.rp.storage`).

PKCS#1 v1.5, not PSS: pyHanko embeds PSS only with the parameters it chooses itself, and
poppler's pdfsig (NSS) checks PKCS#1 v1.5 signatures everywhere.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

#: The hash of the signed attributes and of the document (PAdES with SHA-256).
MD_ALGORITHM = "sha256"
#: Room for the CMS object in the PDF: the signature (up to 8192 bits), four certificates
#: and the time-stamp token fit with room to spare.
BYTES_RESERVED = 32 * 1024
FIELD_NAME = "Signature1"


class PdfRefused(Exception):
    """The upload is not a PDF we can sign: its ``reason`` is shown to the visitor."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_pdf(data: bytes) -> int:
    """Raise :class:`PdfRefused` unless ``data`` is an unencrypted PDF without a signature
    field called ``Signature1``; returns its page count."""
    if not data.startswith(b"%PDF-"):
        raise PdfRefused("not_pdf")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise PdfRefused("encrypted")
        pages = int(reader.root["/Pages"]["/Count"])
        names = {name for name, _, _ in fields.enumerate_sig_fields(reader)}
    except PdfRefused:
        raise
    except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise PdfRefused("malformed") from exc
    if FIELD_NAME in names:
        raise PdfRefused("signed")
    return pages


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class Prepared:
    """What finishing needs, as plain values (kept in the web session)."""

    #: The prepared PDF (with the empty signature container) is stored apart; these are
    #: its byte-range digest and the position of the container.
    document_digest: bytes
    reserved_region_start: int
    reserved_region_end: int
    #: DER of the CMS signed attributes (a SET OF Attribute).
    signed_attributes: bytes

    @property
    def digest_to_sign(self) -> bytes:
        """SHA-256 of the DER signed attributes: what Smart-ID signs."""
        return hashlib.sha256(self.signed_attributes).digest()

    def to_dict(self) -> dict[str, str | int]:
        return {
            "document_digest": self.document_digest.hex(),
            "start": self.reserved_region_start,
            "end": self.reserved_region_end,
            "signed_attributes": self.signed_attributes.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | int]) -> Prepared:
        return cls(
            document_digest=bytes.fromhex(str(data["document_digest"])),
            reserved_region_start=int(data["start"]),
            reserved_region_end=int(data["end"]),
            signed_attributes=bytes.fromhex(str(data["signed_attributes"])),
        )


def _store(certs: Sequence[x509.Certificate]) -> SimpleCertificateStore:
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    store.register_multiple([_asn1(c) for c in certs])
    return store


def _signer(
    cert: x509.Certificate, chain: Sequence[x509.Certificate], value: bytes
) -> signers.ExternalSigner:
    return signers.ExternalSigner(
        signing_cert=_asn1(cert),
        cert_registry=_store(chain),
        signature_value=value,
        signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
    )


async def prepare(
    data: bytes,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    *,
    reason: str,
    name: str,
) -> tuple[bytes, Prepared]:
    """The PDF with an empty signature container for ``cert``, and what to sign.

    ``chain``: the certificates to embed besides the signer's (issuing CA, root).
    """
    key_bytes = (cert.public_key().key_size + 7) // 8  # type: ignore[union-attr]
    signer = _signer(cert, chain, bytes(key_bytes))
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm=MD_ALGORITHM,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=name,
    )
    pdf_signer = signers.PdfSigner(meta, signer=signer)
    prepared_digest, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
        writer, bytes_reserved=BYTES_RESERVED
    )
    attributes = await signer.signed_attrs(
        prepared_digest.document_digest, MD_ALGORITHM, use_pades=True
    )
    output.seek(0)
    prepared = Prepared(
        document_digest=prepared_digest.document_digest,
        reserved_region_start=prepared_digest.reserved_region_start,
        reserved_region_end=prepared_digest.reserved_region_end,
        signed_attributes=attributes.dump(),
    )
    return output.read(), prepared


async def finish(
    prepared_pdf: bytes,
    prepared: Prepared,
    *,
    signature: bytes,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    timestamper: TimeStamper | None,
    validation_context: ValidationContext | None,
) -> bytes:
    """Embed ``signature`` (PKCS#1 v1.5 over :attr:`Prepared.digest_to_sign`) into the
    prepared PDF: B-B, plus B-T with a ``timestamper``, plus B-LT (DSS, fetched OCSP)
    with a ``validation_context``."""
    signer = _signer(cert, chain, signature)
    attributes = cms.CMSAttributes.load(prepared.signed_attributes)
    signed_data = await signer.async_sign_prescribed_attributes(
        MD_ALGORITHM, signed_attrs=attributes, timestamper=timestamper
    )
    output = io.BytesIO(prepared_pdf)
    digest = PreparedByteRangeDigest(
        document_digest=prepared.document_digest,
        reserved_region_start=prepared.reserved_region_start,
        reserved_region_end=prepared.reserved_region_end,
    )
    await PdfTBSDocument.async_finish_signing(output, digest, signed_data)
    if validation_context is None:
        return output.getvalue()
    reader = PdfFileReader(io.BytesIO(output.getvalue()), strict=False)
    embedded = reader.embedded_signatures[-1]  # ours: the last one
    with_dss = await async_add_validation_info(embedded, validation_context, output=io.BytesIO())
    with_dss.seek(0)
    return bytes(with_dss.read())
