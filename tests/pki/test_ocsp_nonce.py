"""OCSP nonces as RFC 9654 has them: a DER OCTET STRING of 1–128 octets, echoed.

Requests are real DER built with cryptography's OCSP builder; a malformed nonce is put in
as an ``UnrecognizedExtension`` with exactly the extension value under test.
"""

from __future__ import annotations

from typing import Any

import pytest
from asn1crypto import core
from asn1crypto import ocsp as aocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import OCSPExtensionOID

from pki import ocsp as responder
from pki import services
from tests.pki import factories as f


@pytest.fixture
def subject(ca_hierarchy: list[Any]) -> tuple[x509.Certificate, x509.Certificate]:
    """A certificate of the qualified CA and its issuer."""
    row = services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="AUTH",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
        base_url="http://127.0.0.1:8000",
    )
    cert = x509.load_der_x509_certificate(bytes(row.der))
    return cert, services.ca_certificate(ca_hierarchy[1])


def _request(subject: tuple[x509.Certificate, x509.Certificate], extension: Any) -> bytes:
    cert, issuer = subject
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
    builder = builder.add_extension(extension, critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _raw_nonce(value: bytes) -> x509.UnrecognizedExtension:
    """A nonce extension whose extnValue is ``value``, byte for byte."""
    return x509.UnrecognizedExtension(OCSPExtensionOID.NONCE, value)


def _octets(nonce: bytes) -> bytes:
    return bytes(core.OctetString(nonce).dump())


@pytest.mark.parametrize("length", [1, 15, 16, 32, 33, 64, 127, 128])
def test_nonces_of_1_to_128_octets_are_echoed(
    subject: tuple[x509.Certificate, x509.Certificate], length: int
) -> None:
    nonce = bytes(range(256))[:length]
    for extension in (x509.OCSPNonce(nonce), _raw_nonce(_octets(nonce))):
        answer = responder.respond(_request(subject, extension))
        parsed = ocsp.load_der_ocsp_response(answer)
        assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
        # The echo is itself RFC 9654 shaped: extnValue = DER OCTET STRING of the nonce.
        (echo,) = aocsp.OCSPResponse.load(answer).basic_ocsp_response["tbs_response_data"][
            "response_extensions"
        ]
        assert echo["extn_id"].native == "nonce"
        assert echo["extn_value"].contents == _octets(nonce)
        assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


MALFORMED = {
    "empty extnValue": b"",
    "empty OCTET STRING": _octets(b""),
    "129 octets": _octets(b"n" * 129),
    "1000 octets": _octets(b"n" * 1000),
    "raw bytes": b"0123456789abcdef",
    "raw bytes that start like an OCTET STRING": b"\x04\x10" + b"x" * 20,
    "INTEGER": b"\x02\x01\x05",
    "INTEGER of 16 octets": b"\x02\x10" + b"\x01" * 16,
    "UTF8String": b"\x0c\x05nonce",
    "OCTET STRING with trailing bytes": _octets(b"n" * 16) + b"\x00",
    "long-form length (BER)": b"\x04\x81\x10" + b"n" * 16,
    "constructed OCTET STRING (BER)": b"\x24\x80" + _octets(b"n" * 16) + b"\x00\x00",
    "truncated OCTET STRING": b"\x04\x20" + b"n" * 16,
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_nonce_that_is_not_a_der_octet_string_of_1_to_128_is_malformed(
    subject: tuple[x509.Certificate, x509.Certificate], value: bytes
) -> None:
    request = _request(subject, _raw_nonce(value))
    # The request itself parses: only the nonce is wrong.
    assert ocsp.load_der_ocsp_request(request).serial_number == subject[0].serial_number
    answer = ocsp.load_der_ocsp_response(responder.respond(request))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # Never served from the nonce-less cache either.
    assert responder.cached_response(request) is None


def test_a_request_without_a_nonce_still_gets_the_cached_answer(
    subject: tuple[x509.Certificate, x509.Certificate],
) -> None:
    cert, issuer = subject
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA256())
        .build()
        .public_bytes(Encoding.DER)
    )
    first = responder.respond(request)
    assert ocsp.load_der_ocsp_response(first).response_status == (
        ocsp.OCSPResponseStatus.SUCCESSFUL
    )
    assert responder.cached_response(request) == first
