"""Signing X.509 structures with a key that never leaves the key store.

`cryptography`'s builders sign only with an in-memory key. We let a builder sign
with a throwaway P-384 key, which fixes the exact to-be-signed bytes and the
``ecdsa-with-SHA384`` algorithm identifier, then have the key store sign those
bytes and put its signature in place of the throwaway one (asn1crypto
re-assembles the outer SEQUENCE; the TBS bytes are carried over unchanged).
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import crl as acrl
from asn1crypto import ocsp as aocsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from pki.keystore import get_keystore


@lru_cache(maxsize=1)
def _placeholder_key() -> ec.EllipticCurvePrivateKey:
    # Only its algorithm identifier survives; its signature is always replaced.
    return ec.generate_private_key(ec.SECP384R1())


def sign_certificate(builder: x509.CertificateBuilder, key_label: str) -> x509.Certificate:
    draft = ax509.Certificate.load(
        builder.sign(_placeholder_key(), hashes.SHA384()).public_bytes(Encoding.DER)
    )
    tbs = draft["tbs_certificate"]
    signature = get_keystore().sign(key_label, tbs.dump())
    final = ax509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": draft["signature_algorithm"],
            "signature_value": signature,
        }
    )
    return x509.load_der_x509_certificate(final.dump())


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, key_label: str
) -> x509.CertificateRevocationList:
    draft = acrl.CertificateList.load(
        builder.sign(_placeholder_key(), hashes.SHA384()).public_bytes(Encoding.DER)
    )
    tbs = draft["tbs_cert_list"]
    signature = get_keystore().sign(key_label, tbs.dump())
    final = acrl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": draft["signature_algorithm"],
            "signature": signature,
        }
    )
    return x509.load_der_x509_crl(final.dump())


def sign_ocsp_response(
    tbs: aocsp.ResponseData, key_label: str, responder: ax509.Certificate
) -> bytes:
    """Return the DER of a successful OCSPResponse: ``tbs`` signed by the store's key.

    Built with asn1crypto throughout: `cryptography`'s OCSP builder insists on holding
    the responder's private key, which never leaves the key store.
    """
    signature = get_keystore().sign(key_label, tbs.dump())
    basic = aocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": {"algorithm": "sha384_ecdsa"},
            "signature": signature,
            "certs": [responder],
        }
    )
    response = aocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )
    return bytes(response.dump())
