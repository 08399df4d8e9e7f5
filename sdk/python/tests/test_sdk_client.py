"""The clients over an ``httpx.MockTransport``: request bodies and paths, polling, one
exception per end result and per HTTP error, the async twins; device-link helpers (QR
images, callback URL, tampered callbacks); and the package imports nothing of the
platform."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import smartid_client as sc
from smartid_client.protocol import session_secret_digest

UUID = "00000000-0000-4000-8000-000000000000"
SID = "de305d54-75b4-431b-adb2-eb6b9e546014"
LINK_ANSWER = {
    "sessionID": SID,
    "sessionToken": "wGIrqveE6AuGDATZKmR1mtAZ",
    "sessionSecret": "B98ODiVCebRedSwdTk51zFSaGYyHtY1H2A0ocAi3/Ps=",
    "deviceLinkBase": "https://smart-id.com/device-link",
}
PIN = [sc.Interaction.display_text_and_pin("Log in?")]
Handler = Callable[[httpx.Request], httpx.Response]


def _v3(handler: Handler) -> sc.SmartIdClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return sc.SmartIdClient(
        "https://rp.test/v3/", UUID, "DEMO", scheme_name=sc.SCHEME_DEMO, http=http
    )


class Recorder:
    """Answers from a queue and keeps the requests."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def body(self, i: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.requests[i].content)
        return data


def test_device_link_authentication_request_and_links() -> None:
    rec = Recorder(httpx.Response(200, json=LINK_ANSWER))
    callback = sc.new_callback_url("https://rp.example/cb")
    session = _v3(rec).authentication_device_link(
        PIN, initial_callback_url=callback, hash_algorithm=sc.HashAlgorithm.SHA3_256
    )
    assert rec.requests[0].url.path == "/v3/authentication/device-link/anonymous"
    body = rec.body()
    assert body["relyingPartyName"] == "DEMO" and body["certificateLevel"] == "QUALIFIED"
    params = body["signatureProtocolParameters"]
    assert len(base64.b64decode(params["rpChallenge"])) == 64
    assert params["signatureAlgorithmParameters"] == {"hashAlgorithm": "SHA3-256"}
    assert body["initialCallbackUrl"] == callback and "vcType" not in body
    assert session.interactions == body["interactions"]  # kept exactly as sent
    assert session.rp_challenge == params["rpChallenge"]
    link = session.qr_link(elapsed_seconds=3)
    assert "deviceLinkType=QR&elapsedSeconds=3&" in link and "sessionType=auth" in link
    assert "authCode=" in session.web2app_link() and "App2App" in session.app2app_link()
    restored = sc.Session.from_dict(json.loads(json.dumps(session.to_dict())))
    assert restored == session and restored.qr_link(elapsed_seconds=3) == link


def test_every_v3_start_path() -> None:
    answers = {
        "device": LINK_ANSWER,
        "plain": {"sessionID": SID},
        "vc": {"sessionID": SID, "vc": {"type": "numeric4", "value": "0042"}},
    }
    rec = Recorder(
        *[
            httpx.Response(200, json=answers[k])
            for k in ("device", "device", "plain", "plain", "device", "vc", "vc", "plain",
                      "device", "plain")
        ]
    )  # fmt: skip
    client = _v3(rec)
    digest = sc.HashAlgorithm.SHA_256.digest(b"doc")
    client.authentication_device_link(PIN, semantics_identifier="PNOEE-40504040001")
    client.authentication_device_link(PIN, document_number="PNOEE-40504040001-MOCK-Q")
    notified = client.authentication_notification(PIN, semantics_identifier="PNOEE-40504040001")
    client.authentication_notification(PIN, document_number="PNOEE-40504040001-MOCK-Q")
    client.signature_device_link(
        digest, PIN, document_number="D-1", hash_algorithm=sc.HashAlgorithm.SHA_256
    )
    signed = client.signature_notification(
        digest, PIN, semantics_identifier="PNOLV-050405-10009",
        signature_algorithm=sc.SignatureAlgorithm.SHA256_WITH_RSA,
    )  # fmt: skip
    client.signature_notification(
        digest, PIN, document_number="D-1", hash_algorithm=sc.HashAlgorithm.SHA_256
    )
    client.signature_linked(
        "D-1", "11111111-1111-4111-8111-111111111111", digest, PIN,
        hash_algorithm=sc.HashAlgorithm.SHA_256,
    )  # fmt: skip
    client.certificate_choice_device_link()
    client.certificate_choice_notification("PNOEE-40504040001")
    assert [r.url.path.removeprefix("/v3/") for r in rec.requests] == [
        "authentication/device-link/etsi/PNOEE-40504040001",
        "authentication/device-link/document/PNOEE-40504040001-MOCK-Q",
        "authentication/notification/etsi/PNOEE-40504040001",
        "authentication/notification/document/PNOEE-40504040001-MOCK-Q",
        "signature/device-link/document/D-1",
        "signature/notification/etsi/PNOLV-050405-10009",
        "signature/notification/document/D-1",
        "signature/notification/linked/D-1",
        "signature/certificate-choice/device-link/anonymous",
        "signature/certificate-choice/notification/etsi/PNOEE-40504040001",
    ]
    assert rec.body(2)["vcType"] == "numeric4"
    rp_challenge = base64.b64decode(rec.body(2)["signatureProtocolParameters"]["rpChallenge"])
    assert notified.verification_code == sc.verification_code(rp_challenge)
    assert signed.verification_code == "0042"
    legacy = rec.body(5)["signatureProtocolParameters"]
    assert legacy["signatureAlgorithm"] == "sha256WithRSAEncryption"
    assert "signatureAlgorithmParameters" not in legacy
    assert rec.body(7)["linkedSessionID"] == "11111111-1111-4111-8111-111111111111"
    assert set(rec.body(8)) == {"relyingPartyUUID", "relyingPartyName", "certificateLevel"}
    with pytest.raises(ValueError):  # a digest of the wrong length
        client.signature_notification(b"x" * 31, PIN, document_number="D-1")
    with pytest.raises(ValueError):  # SHA-512 is not what sha256WithRSAEncryption uses
        client.signature_notification(
            digest, PIN, document_number="D-1", hash_algorithm=sc.HashAlgorithm.SHA_512,
            signature_algorithm=sc.SignatureAlgorithm.SHA256_WITH_RSA,
        )  # fmt: skip


def test_signing_certificate() -> None:
    cert = {"value": base64.b64encode(b"\x30\x00").decode(), "certificateLevel": "QUALIFIED"}
    client = _v3(
        Recorder(
            httpx.Response(200, json={"state": "OK", "cert": cert}),
            httpx.Response(200, json={"state": "DOCUMENT_UNUSABLE"}),
        )
    )
    answer = client.signing_certificate("D-1")
    assert answer.cert.der == b"\x30\x00" and answer.document_number == "D-1"
    with pytest.raises(sc.DocumentUnusableError):
        client.signing_certificate("D-1")


def test_wait_polls_until_complete() -> None:
    rec = Recorder(
        httpx.Response(200, json={"state": "RUNNING"}),
        httpx.Response(200, json={"state": "RUNNING", "result": {}}),
        httpx.Response(200, json={"state": "COMPLETE", "result": {"endResult": "OK"}}),
    )
    status = _v3(rec).wait(SID, timeout_ms=5000)
    assert status.end_result == "OK" and len(rec.requests) == 3
    assert all(r.url.params["timeoutMs"] == "5000" for r in rec.requests)
    assert rec.requests[0].url.path == f"/v3/session/{SID}"


@pytest.mark.parametrize(
    ("end_result", "error"),
    [
        ("USER_REFUSED", sc.UserRefusedError),
        ("TIMEOUT", sc.SessionTimeoutError),
        ("DOCUMENT_UNUSABLE", sc.DocumentUnusableError),
        ("WRONG_VC", sc.WrongVcError),
        ("REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP", sc.RequiredInteractionNotSupportedError),
        ("USER_REFUSED_CERT_CHOICE", sc.UserRefusedCertChoiceError),
        ("USER_REFUSED_INTERACTION", sc.UserRefusedInteractionError),
        ("PROTOCOL_FAILURE", sc.ProtocolFailureError),
        ("EXPECTED_LINKED_SESSION", sc.ExpectedLinkedSessionError),
        ("SERVER_ERROR", sc.ServerErrorResult),
        ("USER_REFUSED_DISPLAYTEXTANDPIN", sc.UserRefusedDisplayTextAndPinError),
        ("USER_REFUSED_VC_CHOICE", sc.UserRefusedVcChoiceError),
        ("USER_REFUSED_CONFIRMATIONMESSAGE", sc.UserRefusedConfirmationMessageError),
        (
            "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE",
            sc.UserRefusedConfirmationMessageWithVcChoiceError,
        ),
        ("SOMETHING_NEW", sc.UnknownEndResultError),
    ],
)
def test_one_exception_per_end_result(end_result: str, error: type[sc.EndResultError]) -> None:
    result: dict[str, Any] = {"endResult": end_result}
    if end_result == "USER_REFUSED_INTERACTION":
        result["details"] = {"interaction": "confirmationMessage"}
    rec = Recorder(httpx.Response(200, json={"state": "COMPLETE", "result": result}))
    with pytest.raises(error) as caught:
        _v3(rec).wait(SID)
    assert type(caught.value) is error and caught.value.end_result == end_result
    assert isinstance(caught.value, sc.SmartIdError)
    if end_result.startswith("USER_REFUSED"):
        assert isinstance(caught.value, sc.UserRefusedError)
    if error is sc.UserRefusedInteractionError:
        assert caught.value.interaction == "confirmationMessage"  # type: ignore[attr-defined]


def _problem(status: int, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "x", "status": status, "detail": "d"} | extra
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (_problem(401), sc.UnauthorizedError),
        (_problem(403), sc.ForbiddenError),
        (_problem(404, errors=[{"detail": "no such person"}]), sc.UserAccountNotFoundError),
        (
            _problem(404, errors=[{"code": "NO_SUITABLE_ACCOUNT_FOUND", "detail": "x"}]),
            sc.NoSuitableAccountError,
        ),
        (
            _problem(404, errors=[{"code": "PERSON_SHOULD_VIEW_SMART_ID_PORTAL", "detail": "x"}]),
            sc.PersonShouldViewPortalError,
        ),
        (_problem(480), sc.ClientTooOldError),
        (_problem(580), sc.MaintenanceError),
        (httpx.Response(503, text="busy"), sc.UnexpectedResponseError),
        (httpx.Response(200, text="not json"), sc.UnexpectedResponseError),
        (httpx.Response(200, json={"sessionID": SID}), sc.UnexpectedResponseError),  # no token
    ],
)
def test_one_exception_per_http_error(response: httpx.Response, error: type[sc.ApiError]) -> None:
    with pytest.raises(error) as caught:
        _v3(Recorder(response)).authentication_device_link(PIN)
    assert isinstance(caught.value, sc.ApiError)


def test_a_400_names_the_offending_field() -> None:
    rec = Recorder(
        _problem(
            400,
            errors=[
                {
                    "detail": "Base64 of 32 to 64 bytes",
                    "paramName": "rpChallenge",
                    "pointer": "/signatureProtocolParameters/rpChallenge",
                }
            ],
        ),
        httpx.Response(
            400,
            json={
                "detail": "Invalid signature algorithm parameter",
                "pointer": "/signatureProtocolParameters/signatureAlgorithm",
            },
        ),
    )
    client = _v3(rec)
    with pytest.raises(sc.BadRequestError) as caught:
        client.authentication_device_link(PIN)
    assert caught.value.pointers == ["/signatureProtocolParameters/rpChallenge"]
    assert caught.value.errors[0].param_name == "rpChallenge"
    with pytest.raises(sc.BadRequestError) as caught:
        client.authentication_device_link(PIN)
    assert caught.value.pointers == ["/signatureProtocolParameters/signatureAlgorithm"]


def test_session_not_found_and_transport_errors() -> None:
    with pytest.raises(sc.SessionNotFoundError):
        _v3(Recorder(_problem(404))).session_status(SID)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(sc.TransportError):
        _v3(down).session_status(SID)
    with pytest.raises(ValueError):
        _v3(down).session_status(SID, timeout_ms=500)


def test_v2_client_and_its_errors() -> None:
    rec = Recorder(
        httpx.Response(200, json={"sessionID": SID}),
        httpx.Response(200, json={"sessionID": SID}),
        httpx.Response(200, json={"sessionID": SID}),
        httpx.Response(471, json={"code": 471, "message": "No suitable account"}),
        httpx.Response(472, json={"code": 472, "message": "View the portal"}),
    )
    http = httpx.Client(transport=httpx.MockTransport(rec))
    client = sc.SmartIdClientV2("https://rp.test/v2", UUID, "DEMO", http=http)
    session = client.authentication(PIN, semantics_identifier="PNOEE-40504040001")
    body = rec.body()
    assert rec.requests[0].url.path == "/v2/authentication/etsi/PNOEE-40504040001"
    assert body["hashType"] == "SHA512" and len(base64.b64decode(body["hash"])) == 64
    assert body["allowedInteractionsOrder"] == [
        {"type": "displayTextAndPIN", "displayText60": "Log in?"}
    ]
    assert session.verification_code == sc.verification_code(base64.b64decode(body["hash"]))
    digest = sc.HashAlgorithm.SHA_256.digest(b"doc")
    client.signature(digest, PIN, document_number="D-1", hash_algorithm=sc.HashAlgorithm.SHA_256)
    assert rec.body(1)["hashType"] == "SHA256"
    client.certificate_choice(document_number="D-1")
    assert rec.requests[2].url.path == "/v2/certificatechoice/document/D-1"
    with pytest.raises(sc.NoSuitableAccountError):
        client.certificate_choice(semantics_identifier="PNOEE-1")
    with pytest.raises(sc.PersonShouldViewPortalError):
        client.certificate_choice(semantics_identifier="PNOEE-1")
    with pytest.raises(ValueError):
        client.certificate_choice()


def test_the_async_clients() -> None:
    async def run() -> None:
        rec = Recorder(
            httpx.Response(200, json=LINK_ANSWER),
            httpx.Response(200, json={"state": "RUNNING"}),
            httpx.Response(200, json={"state": "COMPLETE", "result": {"endResult": "OK"}}),
            httpx.Response(200, json={"sessionID": SID}),
            httpx.Response(
                200, json={"state": "COMPLETE", "result": {"endResult": "USER_REFUSED"}}
            ),
        )
        http = httpx.AsyncClient(transport=httpx.MockTransport(rec))
        async with sc.AsyncSmartIdClient(
            "https://rp.test/v3", UUID, "DEMO", scheme_name=sc.SCHEME_DEMO, http=http
        ) as client:
            session = await client.certificate_choice_device_link()
            assert "sessionType=cert" in session.qr_link()
            assert (await client.wait(session)).end_result == "OK"
        v2 = sc.AsyncSmartIdClientV2("https://rp.test/v2", UUID, "DEMO", http=http)
        started = await v2.authentication(PIN, document_number="D-1")
        with pytest.raises(sc.UserRefusedError):
            await v2.wait(started)
        await http.aclose()

    asyncio.run(run())


# --- device-link helpers -------------------------------------------------------------------


def _link_session(session_type: sc.SessionType = sc.SessionType.AUTHENTICATION) -> sc.Session:
    rec = Recorder(httpx.Response(200, json=LINK_ANSWER))
    callback = sc.new_callback_url("https://rp.example/eid/callback?lang=et")
    client = _v3(rec)
    if session_type is sc.SessionType.AUTHENTICATION:
        return client.authentication_device_link(PIN, initial_callback_url=callback)
    return client.certificate_choice_device_link(initial_callback_url=callback)


def _opened(session: sc.Session, **extra: str) -> str:
    assert session.initial_callback_url and session.session_secret
    digest = session_secret_digest(session.session_secret)
    tail = "".join(f"&{k}={v}" for k, v in extra.items())
    return f"{session.initial_callback_url}&sessionSecretDigest={digest}{tail}"


def test_new_callback_url() -> None:
    url = sc.new_callback_url("https://rp.example/cb?lang=et")
    query = parse_qs(urlsplit(url).query)
    assert query["lang"] == ["et"] and len(query["value"][0]) >= 22
    assert sc.new_callback_url("https://rp.example/cb") != sc.new_callback_url(
        "https://rp.example/cb"
    )
    with pytest.raises(ValueError):
        sc.new_callback_url("http://rp.example/cb")


def test_a_genuine_callback_passes() -> None:
    session = _link_session()
    verified = sc.verify_callback(session, _opened(session, userChallengeVerifier="abc"))
    assert verified.user_challenge_verifier == "abc"
    choice = _link_session(sc.SessionType.CERTIFICATE_CHOICE)
    assert sc.verify_callback(choice, _opened(choice)).user_challenge_verifier is None


def test_a_tampered_callback_is_refused() -> None:
    session = _link_session()
    good = _opened(session, userChallengeVerifier="abc")
    assert session.initial_callback_url is not None
    value = parse_qs(urlsplit(session.initial_callback_url).query)["value"][0]
    tampered = [
        good.replace(value, "A" * len(value)),  # not our random value
        good.replace("sessionSecretDigest=", "sessionSecretDigest=x"),
        good.replace("/eid/callback", "/other"),
        good.replace("&userChallengeVerifier=abc", ""),  # an authentication needs it
        good + "&userChallengeVerifier=def",  # twice
        good + "&extra=1",
        good.replace("lang=et", "lang=en"),
        good.replace(f"value={value}", ""),  # our value missing
    ]
    for url in tampered:
        with pytest.raises(sc.CallbackError):
            sc.verify_callback(session, url)
    choice = _link_session(sc.SessionType.CERTIFICATE_CHOICE)
    with pytest.raises(sc.CallbackError):  # no verifier in a certificate choice
        sc.verify_callback(choice, _opened(choice, userChallengeVerifier="abc"))


def test_qr_images() -> None:
    link = _link_session().qr_link(elapsed_seconds=0)
    png = sc.qr_png(link)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    svg = sc.qr_svg(link)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert sc.qr_svg_data_uri(link).startswith("data:image/svg+xml")
    assert sc.qr_png_data_uri(link).startswith("data:image/png;base64,")


# --- no platform inside -------------------------------------------------------------------


def test_the_package_imports_nothing_of_the_platform() -> None:
    """Only the standard library, httpx, cryptography and segno (and itself)."""
    package = Path(sc.__file__).parent
    roots: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    allowed = {"httpx", "cryptography", "segno"} | set(sys.stdlib_module_names)
    assert roots <= allowed, roots - allowed
