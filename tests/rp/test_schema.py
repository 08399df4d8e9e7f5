"""The RP API's OpenAPI documents: valid, true to the serializers and the Java client's
bodies, and to the running server (schemathesis: examples, coverage and fuzzing phases).

SCHEMATHESIS_EXAMPLES (default 100, the CI budget of security-targets.md B1) sets the
fuzzing examples per operation; the release run uses 1000. SCHEMATHESIS_SEED repeats a run.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi

from api.rp import schema, views
from api.rp.models import RelyingParty
from api.rp.v3 import vocabulary
from signing.models import Transaction
from tests.helpers.answering import Answering
from tests.helpers.corpus import corpus_files
from tests.helpers.platform import Platform
from tests.personas import ALICE, RP_A

PERSON = ALICE.semantics_identifier
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "100"))
# The schemas our server's responses use; the test oracle closes them (see _strict).
RESPONSE_SCHEMAS = (
    "SessionStarted",
    "SessionStatusRunning",
    "SessionStatusOk",
    "SessionStatusFailed",
    "Certificate",
    "Signature",
    "Error",
)
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
]


def _validator(document: dict[str, Any], component: str) -> OAS30Validator:
    root = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return OAS30Validator(root, format_checker=OAS30Validator.FORMAT_CHECKER)


# --- the documents ---------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_documents_are_valid_openapi_3(version: int) -> None:
    validate_openapi(schema.openapi(version))


@pytest.mark.parametrize("version", [1, 2])
def test_served_at_stable_url(client: Client, version: int) -> None:
    response = client.get(f"/v{version}/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == schema.openapi(version)
    refused = Client(enforce_csrf_checks=True).post(f"/v{version}/openapi.json")
    assert (refused.status_code, refused["Allow"]) == (405, "GET, HEAD")
    assert refused.json()["code"] == 405
    assert client.get("/v4/openapi.json").status_code == 404  # v3: tests/rp/v3/test_schema.py


@pytest.mark.parametrize("version", [1, 2])
def test_every_operation_documents_every_status(version: int) -> None:
    document = schema.openapi(version)
    operations = [(p, m, op) for p, item in document["paths"].items() for m, op in item.items()]
    assert len(operations) == 7
    for path, method, operation in operations:
        expected = (
            {"200", "400", "401", "403", "404", "429", "471", "472", "480", "580"}
            if method == "post"
            else {"200", "400", "404"}
        )
        assert set(operation["responses"]) == expected, path


@pytest.mark.parametrize("version", [1, 2])
def test_document_examples_are_valid(version: int) -> None:
    document = schema.openapi(version)
    for item in document["paths"].values():
        for operation in item.values():
            for media in _media(operation.get("requestBody", {})):
                for example in media.get("examples", {}).values():
                    _validator(document, media["schema"]["$ref"].split("/")[-1]).validate(
                        example["value"]
                    )
            for response in operation["responses"].values():
                for media in _media(response):
                    name = media["schema"]["$ref"].split("/")[-1]
                    values = [e["value"] for e in media.get("examples", {}).values()]
                    values += [media["example"]] if "example" in media else []
                    for value in values:
                        _validator(_strict(document), name).validate(value)


def _media(container: dict[str, Any]) -> list[dict[str, Any]]:
    return list(container.get("content", {}).values())


def test_hash_patterns_match_the_digest_lengths() -> None:
    v2 = _validator(schema.openapi(2), "SignatureRequest")
    body = {"relyingPartyUUID": RP_A.uuid, "relyingPartyName": RP_A.name}
    for name, length in views.HASH_LENGTHS.items():
        for other, other_length in views.HASH_LENGTHS.items():
            digest = base64.b64encode(bytes(other_length)).decode()
            errors = list(v2.iter_errors({**body, "hashType": name, "hash": digest}))
            assert (not errors) == (length == other_length), (name, other)
    sha384 = base64.b64encode(bytes(48)).decode()
    for bad in (sha384 + "=", sha384 + "==", sha384[:-1], " " + sha384, sha384[:-1] + "-"):
        assert not v2.is_valid({**body, "hashType": "SHA384", "hash": bad})


def test_interaction_text_fields_follow_the_type() -> None:
    v2 = _validator(schema.openapi(2), "Interaction")
    assert v2.is_valid({"type": "displayTextAndPIN"})
    assert v2.is_valid({"type": "verificationCodeChoice", "displayText60": "x" * 60})
    assert not v2.is_valid({"type": "verificationCodeChoice", "displayText60": "x" * 61})
    assert not v2.is_valid({"type": "displayTextAndPIN", "displayText200": "Log in?"})
    assert not v2.is_valid({"type": "confirmationMessage"})
    assert not v2.is_valid({"type": "confirmationMessage", "displayText60": "Log in?"})
    assert v2.is_valid({"type": "confirmationMessage", "displayText200": "x" * 200})
    assert not v2.is_valid({"type": "confirmationMessage", "displayText200": "x" * 201})
    assert not v2.is_valid({"type": "unknown", "displayText60": "Log in?"})


# --- the documents agree with the serializers and services --------------------------------


def _properties(document: dict[str, Any], name: str) -> set[str]:
    return set(document["components"]["schemas"][name]["properties"])


def test_request_properties_are_the_serializer_fields() -> None:
    v1, v2 = schema.openapi(1), schema.openapi(2)
    for document in (v1, v2):
        assert _properties(document, "CertificateChoiceRequest") == set(views.BaseInput().fields)
    assert _properties(v2, "SignatureRequest") == set(views.V2HashInput().fields)
    assert _properties(v2, "AuthenticationRequest") == set(views.V2HashInput().fields)
    assert _properties(v1, "SignatureRequest") == set(views.V1HashInput().fields)
    assert _properties(v1, "AuthenticationRequest") == set(views.V1HashInput().fields)
    branches = v2["components"]["schemas"]["Interaction"]["oneOf"]
    assert set().union(*(b["properties"] for b in branches)) == set(views.InteractionInput().fields)


def test_limits_are_the_serializer_limits() -> None:
    fields: dict[str, Any] = dict(views.V2HashInput().fields)
    properties = schema.openapi(2)["components"]["schemas"]["SignatureRequest"]["properties"]
    assert list(fields["certificateLevel"].choices) == properties["certificateLevel"]["enum"]
    assert list(fields["hashType"].choices) == properties["hashType"]["enum"]
    nonce = fields["nonce"]
    assert (nonce.min_length, nonce.max_length) == (
        properties["nonce"]["minLength"],
        properties["nonce"]["maxLength"],
    )
    assert fields["relyingPartyName"].max_length == properties["relyingPartyName"]["maxLength"]
    capabilities = fields["capabilities"]
    assert capabilities.max_length == properties["capabilities"]["maxItems"]
    assert capabilities.child.max_length == properties["capabilities"]["items"]["maxLength"]
    interactions = fields["allowedInteractionsOrder"]
    order = properties["allowedInteractionsOrder"]
    assert (interactions.min_length, interactions.max_length) == (
        order["minItems"],
        order["maxItems"],
    )
    item: dict[str, Any] = dict(views.InteractionInput().fields)
    text60, text200 = schema.openapi(2)["components"]["schemas"]["Interaction"]["oneOf"]
    assert item["displayText60"].max_length == text60["properties"]["displayText60"]["maxLength"]
    assert item["displayText200"].max_length == text200["properties"]["displayText200"]["maxLength"]
    v1 = schema.openapi(1)["components"]["schemas"]["SignatureRequest"]["properties"]
    display_text: Any = views.V1HashInput().fields["displayText"]
    assert display_text.max_length == v1["displayText"]["maxLength"]


def test_end_results_are_the_services_end_results() -> None:
    """Every end result the status can report for a v1/v2 session is in the schema's enum."""
    for result in Transaction.Result:
        tx = Transaction(result=result, refused_interaction="displayTextAndPIN")
        assert vocabulary.end_result_v1(tx) in schema.V1_END_RESULTS
        assert vocabulary.end_result_v2(tx) in schema.V2_END_RESULTS
    for version, results in ((1, schema.V1_END_RESULTS), (2, schema.V2_END_RESULTS)):
        schemas = schema.openapi(version)["components"]["schemas"]
        failed = schemas["SessionStatusFailed"]["properties"]["result"]["properties"]
        assert set(failed["endResult"]["enum"]) == set(results) - {"OK"}


# --- the Java client's bodies (spec/corpus) -----------------------------------------------


def _request_schema(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("authentication"):
        return "AuthenticationRequest"
    if name.startswith("certificatechoice"):
        return "CertificateChoiceRequest"
    assert name.startswith(("signature", "signing")), name
    return "SignatureRequest"


def test_java_client_requests_are_valid() -> None:
    document = schema.openapi(2)
    paths = corpus_files("requests")
    assert len(paths) == 14
    for path in paths:
        _validator(document, _request_schema(path)).validate(json.loads(path.read_text()))


def test_java_client_responses_are_valid() -> None:
    """Every status the Java client accepts is valid, unknown fields included: the
    published document lets clients ignore additions, as Smart-ID requires of them.

    The exception is UNKNOWN_ERROR_CODE, which the client must reject (spec §1.3), and so
    must the document; the test oracle, closed to unknown fields, rejects the rest too.
    """
    document = schema.openapi(2)
    paths = corpus_files("responses")
    assert len(paths) == 21
    for path in paths:
        body = json.loads(path.read_text())
        name = "SessionStatus" if path.name.startswith("sessionStatus") else "SessionStarted"
        if path.name == "sessionStatusWhenUnknownErrorCode.json":
            assert not _validator(document, name).is_valid(body)
            continue
        _validator(document, name).validate(body)
        assert any(key.startswith("unknownField") for key in body)
        assert not _validator(_strict(document), name).is_valid(body)


def test_v1_refusals_are_not_in_the_v1_document() -> None:
    status = _validator(schema.openapi(1), "SessionStatus")
    refused = {"state": "COMPLETE", "result": {"endResult": "USER_REFUSED_VC_CHOICE"}}
    assert not status.is_valid(refused)
    assert _validator(schema.openapi(2), "SessionStatus").is_valid(refused)


# --- the running server (schemathesis) ----------------------------------------------------


def _close(node: Any) -> None:
    if isinstance(node, dict):
        if "properties" in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


def _strict(document: dict[str, Any]) -> dict[str, Any]:
    """The test oracle: our server's answers exactly, no unknown fields, cert on every OK,
    and our document numbers."""
    strict = copy.deepcopy(document)
    schemas = strict["components"]["schemas"]
    for name in RESPONSE_SCHEMAS:
        _close(schemas[name])
    ok = schemas["SessionStatusOk"]
    ok["required"].append("cert")
    ok["properties"]["result"]["properties"]["documentNumber"]["pattern"] = (
        schema.DOCUMENT_NUMBER_PATTERN
    )
    return strict


def _pinned(
    document: dict[str, Any], *, semantics_id: str, document_number: str, sessions: list[str]
) -> dict[str, Any]:
    """The oracle aimed past authentication: valid data is Bank's and names a registered
    person (so it reaches session creation); invalid data still varies every field."""
    pinned = copy.deepcopy(document)
    components = pinned["components"]
    for name in ("CertificateChoiceRequest", "AuthenticationRequest", "SignatureRequest"):
        properties = components["schemas"][name]["properties"]
        properties["relyingPartyUUID"] = {"type": "string", "enum": [RP_A.uuid]}
        properties["relyingPartyName"] = {"type": "string", "enum": [RP_A.name]}
    parameters = components["parameters"]
    parameters["semanticsIdentifier"]["schema"] = {"type": "string", "enum": [semantics_id]}
    parameters["documentNumber"]["schema"] = {"type": "string", "enum": [document_number]}
    session_id = pinned["paths"]["/session/{sessionId}"]["get"]["parameters"][0]
    session_id["schema"] = {"type": "string", "enum": sessions}
    return pinned


def _finished_sessions(base: str, version: int, document_number: str) -> list[str]:
    """An authentication, a signature and a certificate choice, each completed OK."""
    rp = {"relyingPartyUUID": RP_A.uuid, "relyingPartyName": RP_A.name}
    digest = base64.b64encode(hashlib.sha256(b"schema").digest()).decode()
    hashed = {**rp, "hash": digest, "hashType": "SHA256"}
    if version == 1:
        hashed["displayText"] = "Log in?"
    started = [
        httpx.post(f"{base}/authentication/etsi/{PERSON}", json=hashed, timeout=30),
        httpx.post(f"{base}/signature/document/{document_number}", json=hashed, timeout=30),
        httpx.post(f"{base}/certificatechoice/etsi/{PERSON}", json=rp, timeout=30),
    ]
    assert all(r.status_code == 200 for r in started), [r.text for r in started]
    sessions = [r.json()["sessionID"] for r in started]
    deadline = time.monotonic() + 60
    for session_id in sessions:
        while True:
            status = httpx.get(f"{base}/session/{session_id}", params={"timeoutMs": 5000})
            assert status.status_code == 200, status.text
            if status.json()["state"] == "COMPLETE":
                assert status.json()["result"]["endResult"] == "OK", status.text
                break
            assert time.monotonic() < deadline, "a session never completed"
    return sessions


def test_invalid_requests_get_the_documented_answers(
    platform: Platform, rp_a: RelyingParty
) -> None:
    """Requests outside the document that the fuzzer finds only by luck (or only on
    PostgreSQL) get the documented 4xx, never a 5xx or an accepted session."""
    platform.registered(PERSON)
    base = f"{platform.url}/v2"
    rp = {"relyingPartyUUID": RP_A.uuid, "relyingPartyName": RP_A.name}
    sha384 = base64.b64encode(bytes(48)).decode()
    signed = {**rp, "hashType": "SHA384", "hash": sha384}
    choice, sign = f"{base}/certificatechoice/etsi/{PERSON}", f"{base}/signature/etsi/{PERSON}"
    session = f"{base}/session/{uuid.uuid4()}"
    nul_name = {**rp, "requestProperties": {"a\x00": True}}
    numeric_text = {
        **signed,
        "allowedInteractionsOrder": [{"type": "confirmationMessage", "displayText200": 0}],
    }
    odd_property = {**rp, "requestProperties": {"vcChoice": "yes"}}
    padded = {**signed, "hash": sha384 + "=="}
    braces = {**rp, "relyingPartyUUID": "{" + RP_A.uuid + "}"}
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("timeoutMs in superscript digits", "GET", session, {"params": {"timeoutMs": "²"}}, 400),
        ("timeoutMs in Arabic digits", "GET", session, {"params": {"timeoutMs": "١٠٠٠"}}, 400),
        ("JSON nested 1000 deep", "POST", sign, {"content": b"[" * 1000 + b"]" * 1000}, 400),
        ("U+0000 in a requestProperties name", "POST", choice, {"json": nul_name}, 400),
        ("a number as nonce", "POST", choice, {"json": {**rp, "nonce": 5}}, 400),
        ("a number as displayText200", "POST", sign, {"json": numeric_text}, 400),
        ("SHA384 hash with padding", "POST", sign, {"json": padded}, 400),
        ("semantics identifier and a newline", "POST", choice + "%0A", {"json": rp}, 404),
        ("relyingPartyUUID in braces", "POST", choice, {"json": braces}, 401),
        ("an unknown v2 requestProperty of any type", "POST", choice, {"json": odd_property}, 200),
    ]
    error = _validator(_strict(schema.openapi(2)), "Error")
    wrong = []
    for label, method, url, arguments, status in cases:
        response = httpx.request(method, url, timeout=30, **arguments)
        if response.status_code != status:
            wrong.append(f"{label}: {method} {url} -> {response.status_code} {response.text}")
        elif status != 200:
            error.validate(response.json())
    response = httpx.delete(session)
    if response.status_code != 405 or response.headers.get("Allow") != "GET":
        wrong.append(f"DELETE {session} -> {response.status_code} Allow: {response.headers}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("version", [1, 2])
def test_server_matches_the_schema(
    version: int, platform: Platform, rp_a: RelyingParty, answering: Answering, tmp_path: Path
) -> None:
    """schemathesis' examples, coverage and fuzzing phases against the live server.

    It runs as its command-line tool: the pytest plugin's fixture-based loader needs a
    private pytest attribute that pytest 9.2 removed (schemathesis 4.32.5).
    """
    base = f"{platform.url}/v{version}"
    published = httpx.get(f"{base}/openapi.json").json()
    app, account = platform.registered(PERSON)
    answering.start(app)
    sessions = _finished_sessions(base, version, account.document_number)
    # The device stops answering: sessions started by the fuzzer stay RUNNING, and polls
    # of them would wait for timeoutMs, so only the finished sessions are polled.
    answering.close()
    oracle = _pinned(
        _strict(published),
        semantics_id=PERSON,
        document_number=account.document_number,
        sessions=sessions,
    )
    location = tmp_path / f"rp-v{version}.json"
    location.write_text(json.dumps(oracle))
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(location),
        f"--url={base}",
        "--phases=examples,coverage,fuzzing",
        f"--checks={','.join(CHECKS)}",
        "--mode=all",
        f"--max-examples={EXAMPLES}",
        "--request-timeout=30",
        "--no-color",
    ]
    if "SCHEMATHESIS_SEED" in os.environ:
        command.append(f"--seed={os.environ['SCHEMATHESIS_SEED']}")
    # In tmp_path: the tool keeps its failure cache and example database in the cwd.
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]
