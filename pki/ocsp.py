"""The OCSP responder (RFC 6960): one delegated responder per issuing CA.

* Requests by POST (``application/ocsp-request``) and GET (base64 in the path),
  CertIDs hashed with SHA-1 or SHA-256 (SHA-384/512 too).
* Answers are signed by the CA's delegated responder certificate (EKU OCSPSigning,
  id-pkix-ocsp-nocheck), which is included in the response.
* A nonce (RFC 9654, which replaced RFC 8954) of 1–128 octets is echoed. The nonce
  extension's value must be the DER encoding of an OCTET STRING of that length; anything
  else (raw bytes, an INTEGER, an empty or longer string, BER) is ``malformedRequest``.
  Responses to nonce-less requests are
  cached until the certificate's status changes: ``status_changed`` replaces the
  certificate's cache generation, so a response built from the old status can never
  be served again — even one written to the cache by a request that raced the change.
* Malformed requests get ``malformedRequest``; a CertID of an issuer we do not run
  gets ``unauthorized`` (RFC 5019 §2.2.3). An unknown serial of our CA is ``unknown``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from asn1crypto import core
from asn1crypto import ocsp as aocsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from django.conf import settings
from django.core.cache import cache

from core import metrics
from core.clock import now_whole_seconds
from pki.models import Certificate, CertificateAuthority
from pki.signer import sign_ocsp_response

MAX_REQUEST_BYTES = 4096
# RFC 9654 §2.1: Nonce ::= OCTET STRING (SIZE(1..128)).
MIN_NONCE_BYTES = 1
MAX_NONCE_BYTES = 128
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Responder:
    ca_id: int
    key_label: str
    asn1: ax509.Certificate

    @property
    def key_hash(self) -> bytes:
        """SHA-1 of the responder's public key bits (RFC 6960 ResponderID byKey)."""
        return bytes(self.asn1.public_key.sha1)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


@lru_cache(maxsize=1)
def _issuer_index() -> dict[tuple[str, bytes, bytes], Responder]:
    """(hash name, issuer name hash, issuer key hash) → responder, for every issuing CA."""
    index: dict[tuple[str, bytes, bytes], Responder] = {}
    for ca in CertificateAuthority.objects.exclude(ocsp_key_label=""):
        cert = x509.load_der_x509_certificate(bytes(ca.certificate_der))
        assert ca.ocsp_certificate_der is not None
        responder = Responder(
            ca.pk, ca.ocsp_key_label, ax509.Certificate.load(bytes(ca.ocsp_certificate_der))
        )
        name_der = cert.subject.public_bytes()
        key_bits = cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        for name, algorithm in _HASHES.items():
            index[(name, _digest(algorithm(), name_der), _digest(algorithm(), key_bits))] = (
                responder
            )
    return index


def reset_issuer_index() -> None:
    """Forget the cached CA list (after the hierarchy changes; used by tests)."""
    _issuer_index.cache_clear()


def _find_responder(name: str, name_hash: bytes, key_hash: bytes) -> Responder | None:
    key = (name, name_hash, key_hash)
    found = _issuer_index().get(key)
    if found is None and CertificateAuthority.objects.exists():
        reset_issuer_index()  # a CA created by another process since we looked
        found = _issuer_index().get(key)
    return found


def _generation_key(ca_id: int, serial: int) -> str:
    return f"ocsp:gen:{ca_id}:{serial:x}"


def status_changed(ca_id: int, serial_hex: str) -> None:
    """Invalidate cached responses of one certificate (call after the change commits)."""
    cache.set(_generation_key(ca_id, int(serial_hex, 16)), secrets.token_hex(8), timeout=None)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(Encoding.DER)


def _malformed() -> bytes:
    metrics.OCSP_RESPONSES.labels(result="malformed").inc()
    return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)


def _parse(request_der: bytes) -> ocsp.OCSPRequest | None:
    if not 0 < len(request_der) <= MAX_REQUEST_BYTES:
        return None
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        # Touch every field we use, so a lazily parsed defect shows here.
        _ = (request.serial_number, request.hash_algorithm, request.issuer_key_hash)
        _ = list(request.extensions)
    except (ValueError, x509.UnsupportedGeneralNameType):
        return None
    except Exception:  # cryptography raises its own types for unsupported hashes
        return None
    return request


class _MalformedNonce(Exception):
    """The request's nonce extension is not a DER OCTET STRING of 1–128 octets."""


def _has_nonce(request: ocsp.OCSPRequest) -> bool:
    try:
        request.extensions.get_extension_for_class(x509.OCSPNonce)
    except x509.ExtensionNotFound:
        return False
    return True


def _nonce(request: ocsp.OCSPRequest, request_der: bytes) -> bytes | None:
    """The request's nonce, or None without one; raises :class:`_MalformedNonce`.

    cryptography's ``OCSPNonce`` cannot be trusted here: when the extension's value is not
    an OCTET STRING it falls back to the raw bytes (for RFC 2560's old wording), so raw
    bytes and an INTEGER would come back as a "nonce". The extension is read again from
    the request's own DER, and its value must be exactly the DER of one OCTET STRING.
    """
    if not _has_nonce(request):
        return None
    try:
        extensions = aocsp.OCSPRequest.load(request_der)["tbs_request"]["request_extensions"]
        values = [
            ext["extn_value"].contents for ext in extensions if ext["extn_id"].native == "nonce"
        ]
    except (ValueError, TypeError, KeyError):
        raise _MalformedNonce from None
    if len(values) != 1:
        raise _MalformedNonce  # cryptography refuses duplicates already; never two nonces
    raw = values[0]
    try:
        string = core.OctetString.load(raw, strict=True)
        # Re-encoding shows BER (constructed strings, long-form short lengths): DER only.
        canonical = core.OctetString(string.native).dump()
    except (ValueError, TypeError):
        raise _MalformedNonce from None
    nonce = string.native
    if canonical != raw or not isinstance(nonce, bytes):
        raise _MalformedNonce
    if not MIN_NONCE_BYTES <= len(nonce) <= MAX_NONCE_BYTES:
        raise _MalformedNonce
    return nonce


def _response_key(ca_id: int, serial: int, algorithm_name: str) -> str:
    generation = cache.get(_generation_key(ca_id, serial), "0")
    return f"ocsp:resp:{ca_id}:{serial:x}:{algorithm_name}:{generation}"


def cached_response(request_der: bytes) -> bytes | None:
    """The cached answer to a nonce-less request for a known issuer, without the database.

    Safe to call from the event loop: it only parses, reads the in-memory issuer index
    and the cache. ``None`` means: call :func:`respond` (in a thread).
    """
    request = _parse(request_der)
    if request is None or _has_nonce(request):
        return None
    algorithm_name = request.hash_algorithm.name
    key = (algorithm_name, request.issuer_name_hash, request.issuer_key_hash)
    # Only an index already loaded: building it would query the database.
    responder = _issuer_index().get(key) if _issuer_index.cache_info().currsize else None
    if responder is None:
        return None
    cached = cache.get(_response_key(responder.ca_id, request.serial_number, algorithm_name))
    if not isinstance(cached, bytes):
        return None
    metrics.OCSP_RESPONSES.labels(result="cached").inc()
    return cached


def respond(request_der: bytes) -> bytes:
    """Answer one DER OCSPRequest with a DER OCSPResponse. Never raises on bad input."""
    request = _parse(request_der)
    if request is None:
        return _malformed()
    try:
        nonce = _nonce(request, request_der)
    except _MalformedNonce:
        return _malformed()
    algorithm_name = request.hash_algorithm.name
    if algorithm_name not in _HASHES:
        return _malformed()
    responder = _find_responder(algorithm_name, request.issuer_name_hash, request.issuer_key_hash)
    if responder is None:
        metrics.OCSP_RESPONSES.labels(result="unauthorized").inc()
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    if nonce is not None:
        return _build(request, responder, nonce)
    cache_key = _response_key(responder.ca_id, request.serial_number, algorithm_name)
    cached = cache.get(cache_key)
    if isinstance(cached, bytes):
        metrics.OCSP_RESPONSES.labels(result="cached").inc()
        return cached
    response = _build(request, responder, None)
    # Refresh well before nextUpdate, so a cached answer is never stale for a client.
    cache.set(cache_key, response, timeout=settings.OCSP_VALIDITY_HOURS * 3600 // 2)
    return response


_REASONS = {
    "unspecified": "unspecified",
    "key_compromise": "key_compromise",
    "affiliation_changed": "affiliation_changed",
    "superseded": "superseded",
    "cessation_of_operation": "cessation_of_operation",
    "certificate_hold": "certificate_hold",
    "privilege_withdrawn": "privilege_withdrawn",
}


def _cert_status(row: Certificate | None) -> aocsp.CertStatus:
    if row is None:
        return aocsp.CertStatus(name="unknown", value=core.Null())
    if row.status == Certificate.Status.GOOD:
        return aocsp.CertStatus(name="good", value=core.Null())
    info: dict[str, object] = {"revocation_time": row.revoked_at}
    if row.revocation_reason:
        info["revocation_reason"] = _REASONS.get(row.revocation_reason, "unspecified")
    return aocsp.CertStatus(name="revoked", value=info)


def _build(request: ocsp.OCSPRequest, responder: Responder, nonce: bytes | None) -> bytes:
    now = now_whole_seconds()
    row = (
        Certificate.objects.filter(
            issuer_id=responder.ca_id, serial_number=f"{request.serial_number:x}"
        )
        .exclude(der=b"")
        .only("status", "revoked_at", "revocation_reason")
        .first()
    )
    status = _cert_status(row)
    metrics.OCSP_RESPONSES.labels(result=status.name).inc()
    single = {
        "cert_id": {
            "hash_algorithm": {"algorithm": request.hash_algorithm.name},
            "issuer_name_hash": request.issuer_name_hash,
            "issuer_key_hash": request.issuer_key_hash,
            "serial_number": request.serial_number,
        },
        "cert_status": status,
        "this_update": now,
        "next_update": now + timedelta(hours=settings.OCSP_VALIDITY_HOURS),
    }
    data: dict[str, object] = {
        "responder_id": aocsp.ResponderId(name="by_key", value=responder.key_hash),
        "produced_at": now,
        "responses": [single],
    }
    if nonce is not None:
        data["response_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
    return sign_ocsp_response(aocsp.ResponseData(data), responder.key_label, responder.asn1)
