"""Checks the app makes itself on what the server asks it to sign or hands back.

* The certificate request (§2.3): ``hash`` must be SHA-256 of ``tbs``, and ``tbs`` must
  be a CertificationRequestInfo whose public key is exactly (n, 65537) — otherwise the
  app would prove PIN knowledge over a key it does not hold.
* The certificate (§2.4): its public key must be (n, 65537).

``cryptography`` parses only whole CSRs, so the CertificationRequestInfo is wrapped in a
CertificationRequest with a placeholder signature to be parsed; the parsed
``tbs_certrequest_bytes`` must equal the input byte for byte, so nothing is skipped or
re-encoded. The placeholder is never verified or used.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa

from device.errors import ProtocolError
from signing.engine import E

MAX_TBS_BYTES = 16 * 1024
MAX_CERTIFICATE_BYTES = 32 * 1024
# AlgorithmIdentifier sha256WithRSAEncryption (1.2.840.113549.1.1.11) with NULL parameters.
_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
# BIT STRING, no unused bits, one zero byte: the placeholder signature.
_PLACEHOLDER_SIGNATURE = bytes.fromhex("03020000")


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_sequence(content: bytes) -> bytes:
    return b"\x30" + _der_length(len(content)) + content


def _rsa_numbers(key: object, what: str) -> rsa.RSAPublicNumbers:
    if not isinstance(key, rsa.RSAPublicKey):
        raise ProtocolError(f"the {what} does not carry an RSA key")
    return key.public_numbers()


def check_csr(tbs: bytes, digest: bytes, *, n: int) -> None:
    """Raise :class:`ProtocolError` unless ``digest`` = SHA-256(tbs) and ``tbs`` is a
    CertificationRequestInfo for the public key (n, 65537).
    """
    if not 0 < len(tbs) <= MAX_TBS_BYTES:
        raise ProtocolError("the certificate request has an unreasonable size")
    if not hmac.compare_digest(hashlib.sha256(tbs).digest(), digest):
        raise ProtocolError("the certificate request's hash is not SHA-256 of its content")
    wrapped = _der_sequence(tbs + _SHA256_WITH_RSA + _PLACEHOLDER_SIGNATURE)
    try:
        csr = x509.load_der_x509_csr(wrapped)
        same = csr.tbs_certrequest_bytes == tbs
        numbers = _rsa_numbers(csr.public_key(), "certificate request")
    except (ValueError, UnsupportedAlgorithm):
        raise ProtocolError("the certificate request is not a valid DER structure") from None
    if not same:
        raise ProtocolError("the certificate request is not a single DER structure")
    if numbers.n != n or numbers.e != E:
        raise ProtocolError("the certificate request is not for this device's key")


def check_certificate(certificate: bytes, *, n: int) -> x509.Certificate:
    """Parse the issued certificate and require its public key to be (n, 65537)."""
    if not 0 < len(certificate) <= MAX_CERTIFICATE_BYTES:
        raise ProtocolError("the certificate has an unreasonable size")
    try:
        parsed = x509.load_der_x509_certificate(certificate)
        numbers = _rsa_numbers(parsed.public_key(), "certificate")
    except (ValueError, UnsupportedAlgorithm):
        raise ProtocolError("the certificate is not valid DER") from None
    if numbers.n != n or numbers.e != E:
        raise ProtocolError("the certificate is not for this device's key")
    return parsed
