"""Revocation, hold, OCSP and CRLs, through the running ASGI server and OpenSSL."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import OCSPExtensionOID

from audit.models import AuditRecord
from pki import services
from pki.models import Certificate, CertificateAuthority, RevocationList
from tests.live import LiveASGIServer
from tests.pki import factories as f


def _issue(server: LiveASGIServer, purpose: str) -> Certificate:
    return services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose=purpose,
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
        base_url=server.url,
    )


class Files:
    def __init__(self, tmp: Path, hierarchy: list[CertificateAuthority]) -> None:
        self.tmp = tmp
        root, q, _ = hierarchy
        self.root = tmp / "root.pem"
        self.root.write_bytes(services.ca_certificate(root).public_bytes(Encoding.PEM))
        self.issuer = tmp / "q.pem"
        self.issuer.write_bytes(services.ca_certificate(q).public_bytes(Encoding.PEM))

    def cert(self, row: Certificate) -> Path:
        path = self.tmp / f"{row.serial_number}.pem"
        path.write_bytes(x509.load_der_x509_certificate(bytes(row.der)).public_bytes(Encoding.PEM))
        return path


def openssl_ocsp(files: Files, cert: Path, url: str, *extra: str) -> str:
    result = subprocess.run(
        [
            "openssl",
            "ocsp",
            *extra,  # a CertID digest option must come before -cert
            "-issuer",
            str(files.issuer),
            "-cert",
            str(cert),
            "-url",
            url,
            "-CAfile",
            str(files.root),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "Response verify OK" in result.stderr + result.stdout
    return result.stdout


@pytest.fixture
def live_ca(asgi_server: LiveASGIServer) -> list[CertificateAuthority]:
    return services.ca_hierarchy_create(actor="test", base_url=asgi_server.url)


def test_openssl_ocsp_good_revoked_hold_released(
    asgi_server: LiveASGIServer, live_ca: list[CertificateAuthority], tmp_path: Path
) -> None:
    files = Files(tmp_path, live_ca)
    auth, sign = _issue(asgi_server, "AUTH"), _issue(asgi_server, "SIGN")
    url = f"{asgi_server.url}/ocsp"
    auth_pem, sign_pem = files.cert(auth), files.cert(sign)

    assert f"{auth_pem}: good" in openssl_ocsp(files, auth_pem, url)
    services.certificate_revoke(certificate=auth, reason="key_compromise", actor="test")
    out = openssl_ocsp(files, auth_pem, url)
    assert f"{auth_pem}: revoked" in out
    assert "Reason: keyCompromise" in out

    assert f"{sign_pem}: good" in openssl_ocsp(files, sign_pem, url, "-sha256")
    services.certificate_hold(certificate=sign, actor="test")
    out = openssl_ocsp(files, sign_pem, url, "-sha256")
    assert f"{sign_pem}: revoked" in out and "certificateHold" in out
    services.certificate_release(certificate=sign, actor="test")
    assert f"{sign_pem}: good" in openssl_ocsp(files, sign_pem, url, "-sha256")
    # Without a nonce too (the cached path), in both CertID hashes.
    assert f"{sign_pem}: good" in openssl_ocsp(files, sign_pem, url, "-no_nonce")
    assert f"{auth_pem}: revoked" in openssl_ocsp(files, auth_pem, url, "-no_nonce", "-sha256")


def _request(
    issuer: x509.Certificate,
    cert: x509.Certificate,
    algorithm: hashes.HashAlgorithm,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _post(server: LiveASGIServer, body: bytes) -> ocsp.OCSPResponse:
    response = httpx.post(
        f"{server.url}/ocsp", content=body, headers={"Content-Type": "application/ocsp-request"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content)


def test_nonce_echo_get_form_and_cache_invalidation(
    asgi_server: LiveASGIServer, live_ca: list[CertificateAuthority]
) -> None:
    row = _issue(asgi_server, "AUTH")
    cert = x509.load_der_x509_certificate(bytes(row.der))
    issuer = services.ca_certificate(live_ca[1])

    with_nonce = _post(asgi_server, _request(issuer, cert, hashes.SHA1(), nonce=b"n" * 16))
    assert with_nonce.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert with_nonce.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    assert with_nonce.certificate_status == ocsp.OCSPCertStatus.GOOD
    responder = with_nonce.certificates[0]
    assert (
        responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value[0].dotted_string
        == "1.3.6.1.5.5.7.3.9"
    )

    body = _request(issuer, cert, hashes.SHA256())
    first = httpx.post(f"{asgi_server.url}/ocsp", content=body).content
    assert httpx.post(f"{asgi_server.url}/ocsp", content=body).content == first  # cached
    encoded = base64.b64encode(body).decode()
    via_get = httpx.get(f"{asgi_server.url}/ocsp/{encoded}")
    assert via_get.status_code == 200
    assert (
        ocsp.load_der_ocsp_response(via_get.content).certificate_status == ocsp.OCSPCertStatus.GOOD
    )

    services.certificate_revoke(certificate=row, reason="unspecified", actor="test")
    after = ocsp.load_der_ocsp_response(httpx.post(f"{asgi_server.url}/ocsp", content=body).content)
    assert after.certificate_status == ocsp.OCSPCertStatus.REVOKED


def test_bad_ocsp_requests(
    asgi_server: LiveASGIServer, live_ca: list[CertificateAuthority]
) -> None:
    row = _issue(asgi_server, "AUTH")
    cert = x509.load_der_x509_certificate(bytes(row.der))
    root = services.ca_certificate(live_ca[0])
    issuer = services.ca_certificate(live_ca[1])

    for body in (b"garbage", b"\x30\x00", b"\x30" * 5000):
        assert _post(asgi_server, body).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # RFC 9654: a nonce is 1–128 octets; longer is malformed, 128 is echoed.
    long_nonce = _request(issuer, cert, hashes.SHA1(), nonce=b"x" * 129)
    assert (
        _post(asgi_server, long_nonce).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    longest = _post(asgi_server, _request(issuer, cert, hashes.SHA1(), nonce=b"y" * 128))
    assert longest.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"y" * 128
    # A nonce extension whose value is not an OCTET STRING (raw bytes, an INTEGER).
    for value in (b"0123456789abcdef", b"\x02\x01\x05"):
        raw = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, issuer, hashes.SHA1())
            .add_extension(x509.UnrecognizedExtension(OCSPExtensionOID.NONCE, value), False)
            .build()
            .public_bytes(Encoding.DER)
        )
        assert _post(asgi_server, raw).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    bad_get = httpx.get(f"{asgi_server.url}/ocsp/!!!notbase64")
    assert (
        ocsp.load_der_ocsp_response(bad_get.content).response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )

    # Our certificate asked about under the wrong issuer (the root): not ours to answer.
    foreign = _request(root, cert, hashes.SHA1())
    assert _post(asgi_server, foreign).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED

    # An unknown serial of our CA: "unknown".
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        _name_hash(issuer), _key_hash(issuer), 12345, hashes.SHA1()
    )
    unknown = _post(asgi_server, builder.build().public_bytes(Encoding.DER))
    assert unknown.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN

    assert httpx.put(f"{asgi_server.url}/ocsp", content=b"x").status_code == 405


def _name_hash(issuer: x509.Certificate) -> bytes:
    digest = hashes.Hash(hashes.SHA1())
    digest.update(issuer.subject.public_bytes())
    return digest.finalize()


def _key_hash(issuer: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    digest = hashes.Hash(hashes.SHA1())
    digest.update(issuer.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    return digest.finalize()


def test_crl_lists_revoked_and_numbers_increase(
    asgi_server: LiveASGIServer, live_ca: list[CertificateAuthority], tmp_path: Path
) -> None:
    files = Files(tmp_path, live_ca)
    auth, sign = _issue(asgi_server, "AUTH"), _issue(asgi_server, "SIGN")
    first = httpx.get(f"{asgi_server.url}/crl/eid-q.crl")
    assert first.status_code == 200 and first.headers["content-type"] == "application/pkix-crl"
    number_before = (
        x509.load_der_x509_crl(first.content)
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
    )

    services.certificate_revoke(certificate=auth, reason="key_compromise", actor="test")
    services.certificate_hold(certificate=sign, actor="test")
    crl_der = httpx.get(f"{asgi_server.url}/crl/eid-q.crl").content
    crl = x509.load_der_x509_crl(crl_der)
    number_after = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number_after > number_before
    assert {r.serial_number for r in crl} == {auth.serial_int, sign.serial_int}
    assert crl.is_signature_valid(services.ca_certificate(live_ca[1]).public_key())  # type: ignore[arg-type]

    (tmp_path / "q.crl").write_bytes(crl_der)
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", "q.crl", "-noout", "-text"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert auth.serial_number.upper().lstrip("0") in text.upper()
    assert "Key Compromise" in text and "Certificate Hold" in text

    services.certificate_release(certificate=sign, actor="test")
    released = x509.load_der_x509_crl(httpx.get(f"{asgi_server.url}/crl/eid-q.crl").content)
    assert {r.serial_number for r in released} == {auth.serial_int}
    numbers = list(
        RevocationList.objects.filter(issuer=live_ca[1])
        .order_by("id")
        .values_list("number", flat=True)
    )
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)

    # openssl verify with CRL checking refuses the revoked certificate.
    (tmp_path / "crl.pem").write_bytes(released.public_bytes(Encoding.PEM))
    root_crl = x509.load_der_x509_crl(httpx.get(f"{asgi_server.url}/crl/root.crl").content)
    (tmp_path / "root-crl.pem").write_bytes(root_crl.public_bytes(Encoding.PEM))
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-crl_check_all",
            "-CAfile",
            str(files.root),
            "-untrusted",
            str(files.issuer),
            "-CRLfile",
            "crl.pem",
            "-CRLfile",
            "root-crl.pem",
            str(files.cert(auth)),
            str(files.cert(sign)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "certificate revoked" in verify.stdout + verify.stderr
    assert f"{files.cert(sign)}: OK" in verify.stdout


def test_ca_certificates_and_unknown_cas(
    asgi_server: LiveASGIServer, live_ca: list[CertificateAuthority]
) -> None:
    for ca in live_ca:
        response = httpx.get(f"{asgi_server.url}/ca/{ca.slug}.crt")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pkix-cert"
        assert x509.load_der_x509_certificate(response.content) == services.ca_certificate(ca)
    assert httpx.get(f"{asgi_server.url}/ca/nope.crt").status_code == 404
    assert httpx.get(f"{asgi_server.url}/crl/nope.crl").status_code == 404
    assert httpx.get(f"{asgi_server.url}/ca/..%2Froot.crt").status_code == 404
    assert httpx.post(f"{asgi_server.url}/crl/eid-q.crl").status_code == 405


def test_status_transitions_are_checked_and_audited(
    asgi_server: LiveASGIServer, live_ca: list[CertificateAuthority]
) -> None:
    row = _issue(asgi_server, "AUTH")
    with pytest.raises(services.InvalidTransition):
        services.certificate_release(certificate=row, actor="test")
    with pytest.raises(services.InvalidTransition):
        services.certificate_revoke(certificate=row, reason="certificate_hold", actor="test")
    with pytest.raises(services.InvalidTransition):
        services.certificate_revoke(certificate=row, reason="bogus", actor="test")
    services.certificate_hold(certificate=row, actor="test")
    with pytest.raises(services.InvalidTransition):
        services.certificate_hold(certificate=row, actor="test")
    services.certificate_revoke(certificate=row, reason="superseded", actor="test")
    with pytest.raises(services.InvalidTransition):
        services.certificate_revoke(certificate=row, reason="superseded", actor="test")
    actions = list(
        AuditRecord.objects.filter(object_type="pki.Certificate").values_list("action", flat=True)
    )
    assert actions == ["certificate.issued", "certificate.held", "certificate.revoked"]
