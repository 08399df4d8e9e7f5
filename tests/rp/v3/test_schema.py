"""RP API v3's OpenAPI document (``/v3/openapi.json``): valid, true to SK's published v3
interface, to the Java client 3.1's bodies and to the running server (schemathesis: all
four phases, 100 examples per operation; SCHEMATHESIS_EXAMPLES and SCHEMATHESIS_SEED as in
tests/rp/test_schema.py)."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from django.test import Client
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_openapi

from accounts.models import Account
from api.rp.models import RelyingParty
from api.rp.v3 import schema, serializers, status, vocabulary
from tests.helpers.answering import Answering
from tests.helpers.corpus import CORPUS_V3, corpus_v3_files
from tests.helpers.platform import Platform, send_signed
from tests.helpers.rp_v3 import (
    CONFIRM,
    CONFIRM_VC,
    PIN_TEXT,
    RP,
    RP_CHALLENGE,
    auth_body,
    choice_body,
    interactions,
    poll,
    post,
    sign_body,
    start,
)
from tests.personas import ALICE, RP_A
from tests.rp.test_schema import _close
from tests.rp.v3.test_device_link_flows import link_for
from tests.rp.v3.test_flows import open_link

PERSON = ALICE.semantics_identifier
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "100"))
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
]
# The schemas of this server's answers; the oracle closes them (no unknown properties).
RESPONSE_SCHEMAS = (
    "SessionStatusRunning",
    "SessionStatusOk",
    "SessionStatusFailed",
    "Certificate",
    "ResponseSignatureAlgorithmParameters",
    "AcspV2Signature",
    "RawDigestSignature",
    "CertificateChoiceSignature",
    "DeviceLinkSessionStarted",
    "SessionStarted",
    "SignatureSessionStarted",
    "SigningCertificate",
    "Problem",
)

# SK's published v3 interface (RP-API_V3.yml of SK-EID/smart-id-documentation, gh-pages),
# reduced to facts: per operation the request's required and optional fields, the fields
# of the 200 answer, and which error statuses have a JSON body; then its enumerations.
_AUTH = ["relyingPartyName", "relyingPartyUUID", "signatureProtocol", "signatureProtocolParameters"]
_COMMON_OPTIONAL = ["capabilities", "certificateLevel", "requestProperties"]
_DEVICE_LINK_ANSWER = ["deviceLinkBase", "sessionID", "sessionSecret", "sessionToken"]
_ERRORS_BODY = ["400", "403", "404"]
SK_OPERATIONS: dict[tuple[str, str], dict[str, list[str]]] = {}
for _target in (
    "etsi/{id-etsi-qcs-SemanticsId-Natural}",
    "document/{document-number}",
    "anonymous",
):
    SK_OPERATIONS["post", f"/v3/authentication/device-link/{_target}"] = {
        "required": sorted([*_AUTH, "initialCallbackUrl", "interactions"]),
        "optional": _COMMON_OPTIONAL,
        "answer": _DEVICE_LINK_ANSWER,
        "json_errors": _ERRORS_BODY if _target != "document/{document-number}" else ["400", "403"],
    }
for _target in ("etsi/{id-etsi-qcs-SemanticsId-Natural}", "document/{document-number}"):
    SK_OPERATIONS["post", f"/v3/authentication/notification/{_target}"] = {
        "required": sorted([*_AUTH, "interactions", "vcType"]),
        "optional": _COMMON_OPTIONAL,
        "answer": ["sessionID"],
    }
    SK_OPERATIONS["post", f"/v3/signature/device-link/{_target}"] = {
        "required": sorted([*_AUTH, "interactions"]),
        "optional": sorted([*_COMMON_OPTIONAL, "initialCallbackUrl", "nonce"]),
        "answer": _DEVICE_LINK_ANSWER,
    }
    SK_OPERATIONS["post", f"/v3/signature/notification/{_target}"] = {
        "required": sorted([*_AUTH, "interactions"]),
        "optional": sorted([*_COMMON_OPTIONAL, "nonce"]),
        "answer": ["sessionID", "vc"],
    }
SK_OPERATIONS["post", "/v3/signature/notification/linked/{document-number}"] = {
    "required": sorted([*_AUTH, "interactions", "linkedSessionID"]),
    "optional": sorted([*_COMMON_OPTIONAL, "nonce"]),
    "answer": ["sessionID"],
}
SK_OPERATIONS["post", "/v3/signature/certificate/{document-number}"] = {
    "required": ["relyingPartyName", "relyingPartyUUID"],
    "optional": ["certificateLevel"],
    "answer": ["cert", "state"],
    "json_errors": ["400", "403"],
}
SK_OPERATIONS["post", "/v3/signature/certificate-choice/device-link/anonymous"] = {
    "required": ["relyingPartyName", "relyingPartyUUID"],
    "optional": sorted([*_COMMON_OPTIONAL, "initialCallbackUrl", "nonce"]),
    "answer": _DEVICE_LINK_ANSWER,
}
SK_OPERATIONS[
    "post", "/v3/signature/certificate-choice/notification/etsi/{id-etsi-qcs-SemanticsId-Natural}"
] = {
    "required": ["relyingPartyName", "relyingPartyUUID"],
    "optional": sorted([*_COMMON_OPTIONAL, "nonce"]),
    "answer": ["sessionID"],
}
SK_OPERATIONS["get", "/v3/session/{sessionID}"] = {
    "answer": [
        "cert",
        "deviceIpAddress",
        "ignoredProperties",
        "interactionTypeUsed",
        "result",
        "signature",
        "signatureProtocol",
        "state",
    ],
    "json_errors": ["400"],
}
SK_POST_STATUSES = ["200", "400", "401", "403", "404", "480", "580"]
SK_GET_STATUSES = ["200", "400", "401", "404", "480", "580"]
SK_ENUMS = {
    "hashAlgorithm": ["SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512"],
    "flowType": ["QR", "App2App", "Web2App", "Notification"],
    "signatureAlgorithm": [
        "rsassa-pss",
        "sha256WithRSAEncryption",
        "sha384WithRSAEncryption",
        "sha512WithRSAEncryption",
    ],
    "endResult": list(vocabulary.V3_END_RESULTS),
    "interactionTypeUsed": [
        "displayTextAndPIN",
        "confirmationMessage",
        "confirmationMessageAndVerificationCodeChoice",
    ],
}
# Where this document differs from SK's on purpose (docs/openapi.md, api/rp/v3/schema.py).
OPTIONAL_HERE = {"initialCallbackUrl"}  # a QR code flow has no callback
ADDED_HERE = ["429"]  # the relying party's start rate (core/ratelimit.py)


def _document() -> dict[str, Any]:
    return schema.openapi()


def _validator(document: dict[str, Any], name: str) -> OAS31Validator:
    return OAS31Validator(
        {"components": document["components"], "$ref": f"#/components/schemas/{name}"}
    )


def _request_schema(document: dict[str, Any], path: str) -> str:
    operation = document["paths"][path]["post"]
    ref: str = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def _resolved(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


# --- the document ---------------------------------------------------------------------


def test_document_is_valid_openapi_3_1() -> None:
    document = _document()
    validate_openapi(document)
    assert document["openapi"].startswith("3.1")


def test_served_at_its_stable_url(client: Client) -> None:
    response = client.get("/v3/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == _document()
    assert "max-age=3600" in response["Cache-Control"]
    refused = client.post("/v3/openapi.json", data=b"{}", content_type="application/json")
    assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD"
    assert client.get("/v4/openapi.json").status_code == 404


def test_examples_are_valid() -> None:
    document = _document()
    checked = 0
    for path_item in document["paths"].values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            for example in (content or {}).get("examples", {}).values():
                name = content["schema"]["$ref"].rsplit("/", 1)[1]
                _validator(document, name).validate(example["value"])
                checked += 1
    assert checked >= 7


# --- SK's published interface ---------------------------------------------------------


def test_every_operation_of_sks_document_is_here_with_its_statuses() -> None:
    document = _document()
    ours = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(ours) == set(SK_OPERATIONS)
    for (method, path), operation in ours.items():
        expected = SK_GET_STATUSES if method == "get" else SK_POST_STATUSES + ADDED_HERE
        assert sorted(operation["responses"]) == sorted(expected), path
        for code, response in operation["responses"].items():
            if code != "200":
                assert list(response["content"]) == ["application/json"], (path, code)


def test_request_fields_are_sks() -> None:
    document = _document()
    for (method, path), facts in SK_OPERATIONS.items():
        if method == "get":
            continue
        body = document["components"]["schemas"][_request_schema(document, path)]
        required = set(body["required"])
        assert set(body["properties"]) == set(facts["required"]) | set(facts["optional"]), path
        assert required | OPTIONAL_HERE >= set(facts["required"]), path
        assert required - set(facts["required"]) == set(), path


def test_answer_fields_are_sks() -> None:
    document = _document()
    for (method, path), facts in SK_OPERATIONS.items():
        response = document["paths"][path][method]["responses"]["200"]
        node = _resolved(document, response["content"]["application/json"]["schema"])
        names: set[str] = set()
        for branch in node.get("oneOf", [node]):
            names |= set(_resolved(document, branch)["properties"])
        assert names == set(facts["answer"]), path


def test_enumerations_are_sks() -> None:
    schemas = _document()["components"]["schemas"]
    sign_algorithms = schemas["SignSignatureProtocolParameters"]["properties"]
    auth_hashes = schemas["AuthSignatureProtocolParameters"]["properties"]
    ok = schemas["SessionStatusOk"]["properties"]
    failed = schemas["SessionStatusFailed"]["properties"]["result"]["properties"]
    assert sign_algorithms["signatureAlgorithm"]["enum"] == SK_ENUMS["signatureAlgorithm"]
    hashes = auth_hashes["signatureAlgorithmParameters"]["properties"]["hashAlgorithm"]["enum"]
    assert hashes == SK_ENUMS["hashAlgorithm"]
    assert schemas["AcspV2Signature"]["properties"]["flowType"]["enum"] == SK_ENUMS["flowType"]
    assert ["OK", *failed["endResult"]["enum"]] == SK_ENUMS["endResult"]
    assert ok["interactionTypeUsed"]["enum"] == SK_ENUMS["interactionTypeUsed"]


# --- the server's own rules -----------------------------------------------------------


def test_limits_are_the_servers() -> None:
    schemas = _document()["components"]["schemas"]
    challenge = schemas["AuthSignatureProtocolParameters"]["properties"]["rpChallenge"]
    assert (challenge["minLength"], challenge["maxLength"]) == serializers.RP_CHALLENGE_CHARS
    callback = schemas["DeviceLinkSignatureRequest"]["properties"]["initialCallbackUrl"]["oneOf"]
    assert callback[0]["maxLength"] == serializers.MAX_CALLBACK_CHARS
    assert schemas["DeviceLinkInteractions"]["maxLength"] == serializers.MAX_INTERACTIONS_CHARS
    assert schemas["SessionStatusOk"]["properties"]["interactionTypeUsed"]["enum"] == list(
        status.INTERACTION_TYPES
    )
    digest = _validator(_document(), "SignSignatureProtocolParameters")
    for name, length in serializers.DIGEST_LENGTHS.items():
        right = {
            "digest": base64.b64encode(bytes(length)).decode(),
            "signatureAlgorithm": "rsassa-pss",
            "signatureAlgorithmParameters": {"hashAlgorithm": name},
        }
        digest.validate(right)
        wrong = copy.deepcopy(right)
        wrong["digest"] = base64.b64encode(bytes(length + 3)).decode()
        assert not digest.is_valid(wrong), name


def test_rules_the_document_states() -> None:
    document = _document()
    auth = _validator(document, "NotificationAuthenticationRequest")
    body = auth_body(notification=True)
    auth.validate(body)
    assert not auth.is_valid({**body, "nonce": "1"})
    assert not auth.is_valid({**body, "initialCallbackUrl": "https://rp.example.com/"})
    device_link = _validator(document, "DeviceLinkAuthenticationRequest")
    qr = auth_body()
    del qr["initialCallbackUrl"]
    device_link.validate(qr)
    device_link.validate({**qr, "initialCallbackUrl": None})
    for url in ("http://rp.example.com/", "https://rp.example.com/#x", "https://a|b", "https://"):
        assert not device_link.is_valid({**qr, "initialCallbackUrl": url}), url
    linked = _validator(document, "LinkedSignatureRequest")
    linked.validate(sign_body(linkedSessionID=str(uuid.uuid4())))
    assert not linked.is_valid(sign_body(linkedSessionID="not-a-session"))


# --- the Java client 3.1's bodies (tests/data/corpus, MIT) ----------------------------


def _corpus_schema(name: str) -> str:
    if name.startswith("auth/device-link/"):
        return "DeviceLinkAuthenticationRequest"
    if name.startswith("auth/notification/"):
        return "NotificationAuthenticationRequest"
    if name.startswith("sign/certificate-by-document-number"):
        return "SigningCertificateRequest"
    if name.startswith("sign/device-link/"):
        return "DeviceLinkSignatureRequest"
    if name.startswith("sign/linked/cert-choice/"):
        return "DeviceLinkCertificateChoiceRequest"
    if name.startswith("sign/linked/signature/"):
        return "LinkedSignatureRequest"
    if name.startswith("sign/notification/cert-choice/"):
        return "NotificationCertificateChoiceRequest"
    assert name.startswith("sign/notification/signature/"), name
    return "NotificationSignatureRequest"


def _server_refuses(name: str, body: dict[str, Any]) -> bool:
    """Whether the server answers the request 400 (test_corpus.py checks that it does)."""
    if "invalid" in name and "invalid-credentials" not in name:
        return True  # the Java tests' own invalid requests
    if "linkedSessionID" in body:
        return True  # "10000000-0000-000-000-…" is not a UUID
    # The device-link signature requests sign a 32-byte "digest" with SHA-512.
    return name.rsplit("/", 1)[-1].startswith("device-link-signature-request")


def test_java_client_requests_validate_as_the_server_answers_them() -> None:
    """The document accepts what the server accepts of the Java client's requests and
    refuses what it refuses with 400."""
    document = _document()
    paths = corpus_v3_files("requests")
    assert len(paths) == 25
    refused = 0
    for path in paths:
        name = path.relative_to(CORPUS_V3 / "requests").as_posix()
        body = json.loads(path.read_text())
        valid = _validator(document, _corpus_schema(name)).is_valid(body)
        assert valid != _server_refuses(name, body), name
        refused += not valid
    assert refused == 9


NOT_IN_SKS_DOCUMENT = {
    "session-status-account-unusable.json",
    "session-status-successful-signature.json",
}


def test_java_client_responses_validate() -> None:
    document = _document()
    status_schema = _validator(document, "SessionStatus")
    certificate = _validator(document, "SigningCertificate")
    for path in corpus_v3_files("responses"):
        name = path.name
        body = json.loads(path.read_text())
        if name.startswith("certificate-by-document-number"):
            assert certificate.is_valid(body) == ("unknown-state" not in name), name
        elif name.startswith("session-status"):
            # Outside SK's document too: ACCOUNT_UNUSABLE, and an interactionTypeUsed of
            # verificationCodeChoice (an interaction v3 no longer has).
            outside = name in NOT_IN_SKS_DOCUMENT
            assert status_schema.is_valid(body) != outside, name
            if outside:  # and only because of that
                if "interactionTypeUsed" in body:
                    body["interactionTypeUsed"] = "displayTextAndPIN"
                else:
                    body["result"]["endResult"] = "DOCUMENT_UNUSABLE"
                status_schema.validate(body)


# --- the running server ---------------------------------------------------------------


def _strict(document: dict[str, Any]) -> dict[str, Any]:
    """The test oracle: this server's answers exactly (no unknown fields)."""
    strict = copy.deepcopy(document)
    schemas = strict["components"]["schemas"]
    for name in RESPONSE_SCHEMAS:
        _close(schemas[name])
    return strict


def _finished(platform: Platform, answering: Answering) -> tuple[Account, dict[str, Any]]:
    """One session of each kind run to its end: the answers by name, and under "ids" the
    finished sessions' IDs."""
    app, account = platform.registered(PERSON)
    base, docno = platform.url, account.document_number
    done: dict[str, Any] = {}
    qr = auth_body()
    del qr["initialCallbackUrl"]
    answer = start(base, "authentication/device-link/anonymous", qr)
    done["device-link start"] = answer
    link = json.dumps({"deviceLink": link_for(answer, qr, "auth")}).encode()
    assert send_signed(app, "POST", "/app/v1/device-links", link).status_code == 200
    answering.start(app)
    done["ACSP_V2 authentication"] = poll(base, answer["sessionID"])
    notified = start(base, f"signature/notification/etsi/{PERSON}", sign_body())
    done["notification start"] = notified
    done["RAW_DIGEST signature"] = poll(base, notified["sessionID"])
    choice = start(base, f"signature/certificate-choice/notification/etsi/{PERSON}", choice_body())
    done["certificate choice"] = poll(base, choice["sessionID"])
    anonymous = start(
        base,
        "signature/certificate-choice/device-link/anonymous",
        choice_body(initialCallbackUrl="https://rp.example.com/cb"),
    )
    open_link(anonymous["sessionID"], account, "Web2App")
    done["device-link certificate choice"] = poll(base, anonymous["sessionID"])
    linked = start(
        base,
        f"signature/notification/linked/{docno}",
        sign_body(linkedSessionID=anonymous["sessionID"]),
    )
    done["linked signature"] = poll(base, linked["sessionID"])
    running = start(
        base,
        f"signature/device-link/document/{docno}",
        sign_body(requestProperties={"shareMdClientIpAddress": False, "colour": "blue"}),
    )
    done["running with ignoredProperties"] = httpx.get(
        f"{base}/v3/session/{running['sessionID']}", params={"timeoutMs": 1000}
    ).json()
    done["signing certificate"] = start(base, f"signature/certificate/{docno}", dict(RP))
    answering.close()
    ids = [answer, notified, choice, anonymous, linked]
    return account, {"ids": [started["sessionID"] for started in ids], **done}


def test_the_servers_answers_are_exactly_the_documented(
    platform: Platform, rp_a: RelyingParty, answering: Answering
) -> None:
    document = _strict(_document())
    _account, done = _finished(platform, answering)
    shapes = {
        "device-link start": "DeviceLinkSessionStarted",
        "notification start": "SignatureSessionStarted",
        "signing certificate": "SigningCertificate",
    }
    for label, body in done.items():
        if label == "ids":
            continue
        _validator(document, shapes.get(label, "SessionStatus")).validate(body)
    assert done["ACSP_V2 authentication"]["signature"]["flowType"] == "QR"
    assert done["running with ignoredProperties"] == {
        "state": "RUNNING",
        "ignoredProperties": ["colour"],
    }
    problem = _validator(document, "Problem")
    for response in (
        post(platform.url, f"signature/notification/etsi/{PERSON}", {**sign_body(), "nonce": 5}),
        post(platform.url, f"authentication/notification/etsi/{PERSON}", {**RP}),
        post(platform.url, "signature/certificate/PNOEE-30303039914-AAAA-Q", dict(RP)),
        httpx.get(f"{platform.url}/v3/session/{uuid.uuid4()}", params={"timeoutMs": 1000}),
        httpx.get(f"{platform.url}/v3/session/{uuid.uuid4()}", params={"timeoutMs": "9e9"}),
    ):
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/json"
        problem.validate(response.json())


def test_a_refusal_is_documented(
    platform: Platform, rp_a: RelyingParty, answering: Answering
) -> None:
    app, _account = platform.registered(PERSON)
    answering.start(app, mode="refuse")
    body = sign_body(interactions=interactions(CONFIRM, PIN_TEXT))
    answer = start(platform.url, f"signature/notification/etsi/{PERSON}", body)
    done = poll(platform.url, answer["sessionID"])
    assert done["result"]["endResult"] == "USER_REFUSED_INTERACTION"
    _validator(_strict(_document()), "SessionStatus").validate(done)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _pinned(
    document: dict[str, Any], *, document_number: str, sessions: list[str]
) -> dict[str, Any]:
    """The oracle aimed past authentication: valid data is Bank's and names a registered
    person; polls ask for finished sessions, or follow a start's link and wait 1 s. Invalid
    data still varies every field."""
    pinned = copy.deepcopy(document)
    schemas = pinned["components"]["schemas"]
    for name, body in schemas.items():
        if name.endswith("Request"):
            body["properties"]["relyingPartyUUID"] = {"type": "string", "enum": [RP_A.uuid]}
            body["properties"]["relyingPartyName"] = {"type": "string", "enum": [RP_A.name]}
    for item in pinned["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == schema.SEMANTICS_ID:
                    parameter["schema"] = {"type": "string", "enum": [PERSON]}
                elif parameter["name"] == schema.DOCUMENT_NUMBER:
                    parameter["schema"] = {"type": "string", "enum": [document_number]}
                elif parameter["name"] == schema.SESSION_ID:
                    parameter["schema"] = {"type": "string", "enum": sessions}
            content = (
                operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            )
            for example in content.get("examples", {}).values():
                example["value"].update(RP)  # Bank's, not the demo's relying party
            for link in operation["responses"]["200"].get("links", {}).values():
                link["parameters"]["query.timeoutMs"] = 1000  # not the default 60.5 s
    # Valid protocol values, so that valid data reaches session creation.
    auth = schemas["AuthSignatureProtocolParameters"]["properties"]
    auth["rpChallenge"] = {"type": "string", "enum": [RP_CHALLENGE, b64(bytes(range(64)))]}
    for alternative in schemas["SignSignatureProtocolParameters"]["anyOf"]:
        parameters = alternative["properties"]["signatureAlgorithmParameters"]
        hash_name = parameters["properties"]["hashAlgorithm"]["enum"][0]
        length = serializers.DIGEST_LENGTHS[hash_name]
        alternative["properties"]["digest"] = {"enum": [b64(bytes(range(length)))]}
    for name, offered in (
        ("DeviceLinkInteractions", [interactions(PIN_TEXT), interactions(CONFIRM, PIN_TEXT)]),
        ("NotificationInteractions", [interactions(PIN_TEXT), interactions(CONFIRM_VC)]),
    ):
        schemas[name] = {"type": "string", "enum": offered}
    return pinned


def test_server_matches_the_schema(
    platform: Platform, rp_a: RelyingParty, answering: Answering, tmp_path: Path
) -> None:
    """schemathesis' examples, coverage, fuzzing and stateful phases against the live
    server (its command-line tool, as tests/rp/test_schema.py explains)."""
    published = httpx.get(f"{platform.url}/v3/openapi.json").json()
    account, done = _finished(platform, answering)
    oracle = _pinned(
        _strict(published), document_number=account.document_number, sessions=done["ids"]
    )
    oracle["x-base-url"] = platform.url
    # Examples, coverage and fuzzing: valid and invalid data, polls of finished sessions.
    _schemathesis(oracle, tmp_path, "examples,coverage,fuzzing", "all")
    # Stateful: start → link → poll. The polled sessions are new and nobody answers them,
    # so a poll waits its whole timeoutMs: valid data only, and timeoutMs always 1000 (the
    # link's value is not always used, and an absent one means 60.5 s).
    for operation in _operations(oracle):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "timeoutMs":
                parameter.update(required=True, schema={"type": "integer", "enum": [1000]})
    _schemathesis(oracle, tmp_path, "stateful", "positive")


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for item in document["paths"].values() for operation in item.values()]


def _schemathesis(oracle: dict[str, Any], directory: Path, phases: str, mode: str) -> None:
    """One run of schemathesis' command-line tool over the oracle; fails with its report."""
    location = directory / f"rp-v3-{phases.replace(',', '-')}.json"
    location.write_text(json.dumps(oracle))
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(location),
        f"--url={oracle['x-base-url']}",
        f"--phases={phases}",
        f"--checks={','.join(CHECKS)}",
        f"--mode={mode}",
        f"--max-examples={EXAMPLES}",
        "--request-timeout=30",
        "--no-color",
    ]
    if "SCHEMATHESIS_SEED" in os.environ:
        command.append(f"--seed={os.environ['SCHEMATHESIS_SEED']}")
    # In the directory: the tool keeps its failure cache and example database in the cwd.
    run = subprocess.run(
        command, cwd=directory, capture_output=True, text=True, timeout=1500, check=False
    )
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]
