"""OpenAPI 3.1 description of RP API v3 (``GET /v3/openapi.json``).

Written by hand, like the v1/v2 documents (api/rp/schema.py), and for the same reasons:
the wire format is SK's contract, not our serializers. The v3 request rules live in plain
functions (api.rp.v3.serializers) that no generator can read, ``interactions`` is a Base64
string whose content only a ``contentSchema`` can describe, and the digest's length follows
the algorithm. The paths, operations, status codes, content types and property names are
those of SK's published v3 document (tests/rp/v3/test_schema.py holds them to it); the
limits are this server's, which are stricter where SK's document leaves a field open.

Where this document differs from SK's on purpose (docs/openapi.md lists it):

* ``initialCallbackUrl`` is optional in a device-link authentication: a QR code flow has
  no callback, and SK's clients send none for it.
* ``signatureAlgorithmParameters`` is required with ``rsassa-pss`` (the hash is not
  guessable), and ACSP_V2 takes ``rsassa-pss`` only.
* An error body is always a problem document, also for 401, 480 and 580 (SK: no body).
* 429 (with Retry-After) on the operations that start something: the relying party's
  session-start rate (SK's document has no 429).

Objects accept unknown properties in requests (the server ignores them) and responses
(clients must ignore them; the tests close the response schemas to what this server sends).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from accounts import identifiers
from api.rp import views
from api.rp.v3 import problems
from api.rp.v3.schema_bodies import (
    Schema,
    b64,
    ref,
    request_schemas,
    response_schemas,
)
from api.rp.v3.transactions import ACSP_V2, PSS, RAW_DIGEST_SIGNATURE

SEMANTICS_ID = "id-etsi-qcs-SemanticsId-Natural"  # SK's path parameter names
DOCUMENT_NUMBER = "document-number"
SESSION_ID = "sessionID"


# --- operations ---------------------------------------------------------------------------

ERRORS = {
    "400": "Invalid request: a field is missing, of the wrong type or out of range; "
    "errors[].pointer names it.",
    "401": "Unknown relying party (UUID, name or source address).",
    "403": "The relying party may not start this kind of session, ask for this level, or "
    "see the device's IP address.",
    "404": "No such person or document, or (errors[0].code) no account of the level asked "
    f"for ({problems.NO_SUITABLE_ACCOUNT}) or one the person must look at in the app "
    f"({problems.PERSON_SHOULD_VIEW_APP}).",
    "429": "Over the relying party's session-start rate (per second, across all nodes); "
    "nothing was created. Retry after the Retry-After header's seconds. Not in SK's document.",
    "480": "The client is too old. Reserved; this server does not send it.",
    "580": "The service is under maintenance.",
}
STATUS_ERRORS = {
    "400": f"timeoutMs is not an integer in {views.MIN_POLL_MS}..{views.MAX_POLL_MS}.",
    "401": "Reserved by SK's document; this server does not send it for a poll.",
    "404": "No such session: unknown, another version's, or completed more than 5 minutes ago.",
    "480": ERRORS["480"],
    "580": ERRORS["580"],
}


def _errors(descriptions: dict[str, str]) -> Schema:
    responses: Schema = {
        code: {
            "description": text,
            "content": {problems.CONTENT_TYPE: {"schema": ref("Problem")}},
        }
        for code, text in descriptions.items()
    }
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
    return responses


def _parameter(name: str, description: str, pattern: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


_PARAMETERS = {
    "etsi": _parameter(
        SEMANTICS_ID,
        "ETSI semantics identifier of a natural person, e.g. PNOEE-40504040001.",
        identifiers.SEMANTICS_ID_PATTERN,
    ),
    "document": _parameter(
        DOCUMENT_NUMBER,
        "The account's document number, as a previous session returned it.",
        identifiers.DOCUMENT_NUMBER_PATTERN,
    ),
}


def _start(
    operation_id: str,
    summary: str,
    tag: str,
    request: str,
    response: str,
    target: str = "",
    *,
    linked: bool = False,
) -> Schema:
    parameters = []
    if target:
        parameters.append(_PARAMETERS[target])
    ok: Schema = {
        "description": "The session started.",
        "content": {"application/json": {"schema": ref(response)}},
    }
    if response != "SigningCertificate":
        ok["links"] = {
            "status": {
                "operationId": "sessionStatus",
                "parameters": {SESSION_ID: "$response.body#/sessionID"},
            }
        }
    content: Schema = {"schema": ref(request)}
    example = EXAMPLES.get(request)
    if example is not None:
        content["examples"] = {"example": {"value": example}}
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "requestBody": {"required": True, "content": {"application/json": content}},
        "responses": {"200": ok, **_errors(ERRORS)},
    }
    if parameters:
        operation["parameters"] = parameters
    if linked:
        operation["description"] = (
            "Only after a device-link certificate choice (linkedSessionID) that completed OK "
            "within 30 s, for the document it returned."
        )
    return operation


def _status_operation() -> Schema:
    return {
        "operationId": "sessionStatus",
        "summary": "Session status (long poll)",
        "description": "Waits until the session completes or timeoutMs passes. A session "
        "stays readable for 5 minutes after it completes.",
        "tags": ["Session"],
        "parameters": [
            {
                "name": SESSION_ID,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            },
            {
                "name": "timeoutMs",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": views.MIN_POLL_MS,
                    "maximum": views.MAX_POLL_MS,
                    "default": views.DEFAULT_POLL_MS,
                },
            },
        ],
        "responses": {
            "200": {
                "description": "The session's state.",
                "content": {"application/json": {"schema": ref("SessionStatus")}},
            },
            **_errors(STATUS_ERRORS),
        },
    }


_A, _S, _C = "Authentication", "Signature", "Certificate choice"
# (path, operationId, summary, tag, request, response, target)
OPERATIONS: list[tuple[str, str, str, str, str, str, str]] = [
    (
        "/v3/authentication/device-link/anonymous",
        "authenticationDeviceLinkAnonymous",
        "Device-link authentication of whoever opens the link",
        _A,
        "DeviceLinkAuthenticationRequest",
        "DeviceLinkSessionStarted",
        "",
    ),
    *(
        (
            f"/v3/authentication/device-link/{target}/{{{name}}}",
            f"authenticationDeviceLink{target.capitalize()}",
            f"Device-link authentication by {what}",
            _A,
            "DeviceLinkAuthenticationRequest",
            "DeviceLinkSessionStarted",
            target,
        )
        for target, name, what in (
            ("etsi", SEMANTICS_ID, "semantics identifier"),
            ("document", DOCUMENT_NUMBER, "document number"),
        )
    ),
    *(
        (
            f"/v3/authentication/notification/{target}/{{{name}}}",
            f"authenticationNotification{target.capitalize()}",
            f"Notification authentication by {what}",
            _A,
            "NotificationAuthenticationRequest",
            "SessionStarted",
            target,
        )
        for target, name, what in (
            ("etsi", SEMANTICS_ID, "semantics identifier"),
            ("document", DOCUMENT_NUMBER, "document number"),
        )
    ),
    *(
        (
            f"/v3/signature/device-link/{target}/{{{name}}}",
            f"signatureDeviceLink{target.capitalize()}",
            f"Device-link signature by {what}",
            _S,
            "DeviceLinkSignatureRequest",
            "DeviceLinkSessionStarted",
            target,
        )
        for target, name, what in (
            ("etsi", SEMANTICS_ID, "semantics identifier"),
            ("document", DOCUMENT_NUMBER, "document number"),
        )
    ),
    *(
        (
            f"/v3/signature/notification/{target}/{{{name}}}",
            f"signatureNotification{target.capitalize()}",
            f"Notification signature by {what}",
            _S,
            "NotificationSignatureRequest",
            "SignatureSessionStarted",
            target,
        )
        for target, name, what in (
            ("etsi", SEMANTICS_ID, "semantics identifier"),
            ("document", DOCUMENT_NUMBER, "document number"),
        )
    ),
    (
        f"/v3/signature/notification/linked/{{{DOCUMENT_NUMBER}}}",
        "signatureLinked",
        "Signature linked to a device-link certificate choice",
        _S,
        "LinkedSignatureRequest",
        "SessionStarted",
        "document",
    ),
    (
        f"/v3/signature/certificate/{{{DOCUMENT_NUMBER}}}",
        "signingCertificate",
        "The signing certificate of a document, without asking the person",
        _S,
        "SigningCertificateRequest",
        "SigningCertificate",
        "document",
    ),
    (
        "/v3/signature/certificate-choice/device-link/anonymous",
        "certificateChoiceDeviceLinkAnonymous",
        "Device-link certificate choice by whoever opens the link",
        _C,
        "DeviceLinkCertificateChoiceRequest",
        "DeviceLinkSessionStarted",
        "",
    ),
    (
        f"/v3/signature/certificate-choice/notification/etsi/{{{SEMANTICS_ID}}}",
        "certificateChoiceNotificationEtsi",
        "Notification certificate choice by semantics identifier",
        _C,
        "NotificationCertificateChoiceRequest",
        "SessionStarted",
        "etsi",
    ),
]


# --- examples (our own values; the tests check each against its schema) ------------------

_RP = {"relyingPartyUUID": "00000000-0000-4000-8000-000000000000", "relyingPartyName": "DEMO"}
_PIN = b64(
    json.dumps([{"type": "displayTextAndPIN", "displayText60": "Log in to the bank?"}]).encode()
)
_CONFIRM = b64(
    json.dumps(
        [
            {"type": "confirmationMessage", "displayText200": "Sign the loan agreement no 42?"},
            {"type": "displayTextAndPIN", "displayText60": "Sign the loan agreement?"},
        ]
    ).encode()
)
_CHALLENGE = b64(bytes(range(7, 71)))  # 64 bytes; use fresh random bytes in practice
_DIGEST = b64(bytes(range(100, 164)))  # a SHA-512 digest's length
_AUTH_PARAMS = {
    "rpChallenge": _CHALLENGE,
    "signatureAlgorithm": PSS,
    "signatureAlgorithmParameters": {"hashAlgorithm": "SHA-512"},
}
_SIGN_PARAMS = {
    "digest": _DIGEST,
    "signatureAlgorithm": PSS,
    "signatureAlgorithmParameters": {"hashAlgorithm": "SHA-512"},
}
EXAMPLES: dict[str, Any] = {
    "DeviceLinkAuthenticationRequest": {
        **_RP,
        "signatureProtocol": ACSP_V2,
        "signatureProtocolParameters": _AUTH_PARAMS,
        "interactions": _PIN,
        "initialCallbackUrl": "https://rp.example.com/smart-id/callback?state=abc",
    },
    "NotificationAuthenticationRequest": {
        **_RP,
        "certificateLevel": "QUALIFIED",
        "signatureProtocol": ACSP_V2,
        "signatureProtocolParameters": _AUTH_PARAMS,
        "interactions": _PIN,
        "vcType": "numeric4",
    },
    "DeviceLinkSignatureRequest": {
        **_RP,
        "signatureProtocol": RAW_DIGEST_SIGNATURE,
        "signatureProtocolParameters": _SIGN_PARAMS,
        "interactions": _CONFIRM,
    },
    "NotificationSignatureRequest": {
        **_RP,
        "signatureProtocol": RAW_DIGEST_SIGNATURE,
        "signatureProtocolParameters": _SIGN_PARAMS,
        "interactions": _CONFIRM,
        "requestProperties": {"shareMdClientIpAddress": True},
    },
    "DeviceLinkCertificateChoiceRequest": {**_RP, "certificateLevel": "QUALIFIED"},
    "NotificationCertificateChoiceRequest": {**_RP},
    "SigningCertificateRequest": {**_RP},
}

_DESCRIPTION = """\
Smart-ID compatible relying-party API, version 3: SK's v3 clients work by changing only \
their base URL. Device-link flows (QR code, Web2App, App2App) start on the screen the \
person is looking at; notification flows reach the person's app by identifier.

* UTF-8 JSON requests; errors are RFC 9457 problem documents.
* A relying party authenticates with relyingPartyUUID, relyingPartyName and its \
registered source address.
* A POST starts a session; GET /v3/session/{sessionID} long-polls its status.
* The guide, with device links, callbacks, ACSP_V2 validation and a worked example: \
docs/rp-integration.md §13.
"""


@functools.cache
def _document() -> Schema:
    paths: Schema = {}
    for path, operation_id, summary, tag, request, response, target in OPERATIONS:
        paths[path] = {
            "post": _start(
                operation_id,
                summary,
                tag,
                request,
                response,
                target,
                linked=request == "LinkedSignatureRequest",
            )
        }
    paths[f"/v3/session/{{{SESSION_ID}}}"] = {"get": _status_operation()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Smart-ID compatible RP API",
            "version": "3",
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": _A}, {"name": _S}, {"name": _C}, {"name": "Session"}],
        "paths": paths,
        "components": {"schemas": {**request_schemas(), **response_schemas()}},
    }


def openapi() -> Schema:
    """The v3 document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
