"""The demo RP (/demo-rp/) against bad input and foreign requests, without a browser or
a platform: every refusal is a 4xx (or a redirect to the start of a flow), never a 500,
and a refused upload stores nothing.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import smartid_client as sc
import weasyprint
from django.test import Client
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer

from demo.rp import pdf, storage, views

pytestmark = pytest.mark.django_db
BASE = "/demo-rp/"
#: Every POST endpoint, and every GET endpoint, of the demo RP.
POSTS = ("login/status", "login/code", "logout", "sign", "sign/code", "sign/device-link")
POSTS_ONLY = ("login/status", "login/code", "logout", "sign/code", "sign/device-link")
GETS = (
    "login/qr",
    "login/wait",
    "callback",
    "welcome",
    "sign/signer",
    "sign/wait",
    "sign/qr",
    "sign/done",
    "sign/download",
)


@pytest.fixture(scope="module")
def a_pdf() -> bytes:
    return bytes(weasyprint.HTML(string="<p>Terms</p>").write_pdf())


@pytest.fixture
def stored() -> Iterator[set[str]]:
    """The stored files before the test (the test checks nothing was added)."""
    yield set(storage.names())


def _upload(client: Client, name: str, data: bytes) -> Any:
    return client.post(BASE + "sign", {"document": _file(name, data)})


def _file(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/pdf")


def test_a_pdf_is_accepted_and_stored(client: Client, a_pdf: bytes, stored: set[str]) -> None:
    response = _upload(client, "terms.pdf", a_pdf)
    assert response.status_code == 302 and response["Location"] == BASE + "sign/signer"
    new = set(storage.names()) - stored
    assert len(new) == 1
    assert client.get(BASE + "sign/signer").status_code == 200
    # Logging out forgets the session (the file stays until its expiry: prune).
    storage.remove(*new)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.pdf", b"just text, not a PDF", "not a PDF"),
        ("fake.pdf", b"%PDF-1.7\n garbage without objects", "cannot be read"),
        ("empty.pdf", b"", "The submitted file is empty"),
    ],
)
def test_not_a_pdf_is_a_form_error(
    client: Client, name: str, data: bytes, message: str, stored: set[str]
) -> None:
    response = _upload(client, name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert set(storage.names()) == stored
    assert "demo_rp.sign" not in client.session


def test_an_encrypted_pdf_is_a_form_error(client: Client, a_pdf: bytes, stored: set[str]) -> None:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(a_pdf)))
    writer.encrypt("owner-secret", "user-secret")  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    encrypted = out.getvalue()
    with pytest.raises(pdf.PdfRefused):
        pdf.check_pdf(encrypted)
    response = _upload(client, "secret.pdf", encrypted)
    assert response.status_code == 400
    assert "encrypted" in response.content.decode()
    assert set(storage.names()) == stored


def test_an_oversize_pdf_is_a_form_error(client: Client, a_pdf: bytes, stored: set[str]) -> None:
    big = a_pdf + b"\n%" + b"x" * (10 * 1024 * 1024)  # a comment after %%EOF: still a PDF
    response = _upload(client, "big.pdf", big)
    assert response.status_code == 400
    assert "larger than 10 MB" in response.content.decode()
    assert set(storage.names()) == stored


def test_a_huge_body_is_refused_before_it_is_parsed(client: Client, stored: set[str]) -> None:
    response = client.post(
        BASE + "sign",
        data=b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )
    assert response.status_code == 400
    assert "larger than 10 MB" in response.content.decode()
    assert set(storage.names()) == stored


def test_no_file_is_a_form_error(client: Client, stored: set[str]) -> None:
    response = client.post(BASE + "sign", {})
    assert response.status_code == 400
    assert set(storage.names()) == stored


@pytest.mark.parametrize("path", POSTS)
def test_a_post_without_csrf_is_refused(path: str) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(BASE + path, {"personal_code": "40504040001"}).status_code == 403


@pytest.mark.parametrize("path", POSTS_ONLY)
def test_get_on_a_post_endpoint_is_405(client: Client, path: str) -> None:
    assert client.get(BASE + path).status_code == 405


@pytest.mark.parametrize("path", GETS)
def test_post_on_a_get_endpoint_is_405(client: Client, path: str) -> None:
    assert client.post(BASE + path).status_code == 405


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
@pytest.mark.parametrize("path", ["", "login", "sign", "login/status", "tsa-ca.crt"])
def test_other_methods_are_405(client: Client, method: str, path: str) -> None:
    assert getattr(client, method)(BASE + path).status_code == 405


@pytest.mark.parametrize("path", GETS)
def test_without_a_flow_every_get_is_4xx_or_a_redirect(client: Client, path: str) -> None:
    """A visitor with no login or signing under way (another browser, an expired or a
    foreign session): nothing to show, never a 500."""
    response = client.get(BASE + path, {"value": "x", "sessionSecretDigest": "y"})
    assert response.status_code in (302, 400, 404)
    if response.status_code == 302:
        assert response["Location"].startswith(BASE)


@pytest.mark.parametrize("path", ["login/status", "sign/status"])
def test_without_a_flow_a_status_poll_is_404(client: Client, path: str) -> None:
    response = client.post(BASE + path)
    assert response.status_code == 404
    assert response.json()["state"] == "FAILED"


@pytest.mark.parametrize("garbage", ["text", 7, {"session": "text"}, {"session": {"x": 1}}])
def test_a_malformed_flow_state_is_4xx(client: Client, garbage: Any) -> None:
    session = client.session
    session[views.LOGIN] = garbage
    session[views.SIGN] = garbage
    session.save()
    for path in ("login/qr", "login/wait", "callback", "sign/qr", "sign/wait", "sign/download"):
        assert client.get(BASE + path).status_code in (302, 400, 404), path
    for path in ("login/status", "sign/status"):
        assert client.post(BASE + path).status_code == 404, path


def _login_session(callback_url: str) -> sc.Session:
    """A device-link login as the SDK keeps it (made up: no platform behind it)."""
    return sc.Session(
        api_version=3,
        session_id="00000000-0000-4000-8000-00000000abcd",
        session_type=sc.SessionType.AUTHENTICATION,
        relying_party_name="DEMO RP",
        scheme_name=sc.SCHEME_DEMO,
        certificate_level="QUALIFIED",
        signature_protocol="ACSP_V2",
        rp_challenge="A" * 88,
        hash_algorithm=sc.HashAlgorithm.SHA_512,
        interactions="W10=",
        initial_callback_url=callback_url,
        session_token="T" * 24,
        session_secret="c2VjcmV0c2VjcmV0c2VjcmV0",
        device_link_base="https://127.0.0.1/device-link",
        created_at=time.time(),
    )


@pytest.mark.parametrize(
    "query",
    [
        "value={value}",  # no digest, no verifier
        "value={value}&sessionSecretDigest=AAAA&userChallengeVerifier=abc",  # wrong digest
        "value=someone-else&sessionSecretDigest={digest}&userChallengeVerifier=abc",
        "value={value}&sessionSecretDigest={digest}",  # a login's callback needs a verifier
        "value={value}&sessionSecretDigest={digest}&userChallengeVerifier=a&extra=1",
        "value={value}&value={value}&sessionSecretDigest={digest}&userChallengeVerifier=a",
    ],
)
def test_a_tampered_callback_is_400_and_ends_the_attempt(client: Client, query: str) -> None:
    callback = "https://testserver/demo-rp/callback?value=OurOwnRandomValue"
    login = _login_session(callback)
    session = client.session
    session[views.LOGIN] = {"session": login.to_dict(), "flow": "device-link"}
    session.save()
    from smartid_client.protocol import session_secret_digest

    digest = session_secret_digest(str(login.session_secret))
    url = BASE + "callback?" + query.format(value="OurOwnRandomValue", digest=digest)
    response = client.get(url)
    assert response.status_code == 400
    assert "not from this browser" in response.content.decode()
    assert views.LOGIN not in client.session  # each callback URL is accepted once
    assert "demo_rp.person" not in client.session


def test_a_bad_personal_code_is_a_form_error(client: Client) -> None:
    for path in ("login/code",):
        response = client.post(BASE + path, {"country": "EE", "personal_code": "x' OR 1=1"})
        assert response.status_code == 400
        assert "digits" in response.content.decode()
        response = client.post(BASE + path, {"country": "XX", "personal_code": "40504040001"})
        assert response.status_code == 400


def test_a_bad_personal_code_for_signing_is_a_form_error(client: Client, a_pdf: bytes) -> None:
    assert _upload(client, "terms.pdf", a_pdf).status_code == 302
    name = client.session[views.SIGN]["file"]
    try:
        response = client.post(BASE + "sign/code", {"country": "EE", "personal_code": "12"})
        assert response.status_code == 400
        assert "digits" in response.content.decode()
    finally:
        storage.remove(name)


def test_storage_names_are_only_its_own(tmp_path: Path) -> None:
    for name in ("../../etc/passwd", "a" * 31, "g" * 32, ""):
        with pytest.raises(FileNotFoundError):
            storage.load(name)
    storage.remove("../../etc/passwd")  # ignored, not an error


def test_abandoned_files_expire(stored: set[str]) -> None:
    name = storage.save(b"%PDF-1.7 abandoned")
    storage.prune(now=time.time() + storage.MAX_AGE_SECONDS - 60)
    assert name in storage.names()
    assert storage.prune(now=time.time() + storage.MAX_AGE_SECONDS + 60) >= 1
    assert name not in storage.names()


def test_the_pages_are_in_estonian(client: Client) -> None:
    response = client.get(BASE, HTTP_ACCEPT_LANGUAGE="et")
    assert response.status_code == 200
    assert 'lang="et"' in response.content.decode()
    assert "Allkirjasta PDF" in response.content.decode()


def test_the_tsa_certificate_is_published(client: Client) -> None:
    response = client.get(BASE + "tsa-ca.crt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-cert"
