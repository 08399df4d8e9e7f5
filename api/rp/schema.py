"""OpenAPI 3.0 descriptions of RP API v1 and v2, one document per version.

The wire format is SK's contract (docs/spec/rp-api.md), not our serializers, so the documents
are written here by hand rather than generated from the views: one DRF view serves both
versions with different bodies, the long poll is a plain async view, and rules such as
"the Base64 length follows hashType" or "confirmationMessage takes displayText200" live in
``validate()`` methods that no generator can see. The limits come from the views'
constants, and tests/rp/test_schema.py checks the rest against the serializers, the Java
client's bodies and the running server (schemathesis).

Request objects accept unknown properties, as the server ignores them. Response objects
do too: Smart-ID clients must ignore unknown fields (this server sends none).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from accounts import identifiers
from api import wireinput
from api.rp import services, views
from api.rp.schema_examples import (
    AUTHENTICATION_EXAMPLES_V2,
    BANK_UUID,
    CERTIFICATE_CHOICE_EXAMPLES,
    HASH_EXAMPLES_V1,
    SIGNATURE_EXAMPLES_V2,
    status_examples,
)
from api.rp.v3 import vocabulary

Schema = dict[str, Any]

SEMANTICS_ID_PATTERN = identifiers.SEMANTICS_ID_PATTERN
DOCUMENT_NUMBER_PATTERN = identifiers.DOCUMENT_NUMBER_PATTERN
# Standard Base64 (RFC 4648 §4) of exactly the digest length, with its padding.
_B64 = "[A-Za-z0-9+/]"
HASH_PATTERNS = {
    name: f"^{_B64}{{{-(-4 * length // 3)}}}{'=' * (-length % 3)}$"
    for name, length in views.HASH_LENGTHS.items()
}
LEVELS_REQUEST = ["ADVANCED", "QUALIFIED", "QSCD"]
LEVELS_RESPONSE = ["ADVANCED", "QUALIFIED"]
# The end results per version: one list, api.rp.v3.vocabulary's.
V1_END_RESULTS = list(vocabulary.V1_END_RESULTS)
V2_END_RESULTS = list(vocabulary.V2_END_RESULTS)
# v1 knows no interaction list: the server offers verificationCodeChoice (if
# requestProperties.vcChoice) and then displayTextAndPIN.
V1_INTERACTIONS = ["verificationCodeChoice", "displayTextAndPIN"]


# --- schemas -----------------------------------------------------------------------------


def _string(description: str, **limits: Any) -> Schema:
    return {"type": "string", "description": description, **limits}


def _request_properties(version: int) -> Schema:
    properties: Schema = {
        "shareMdClientIpAddress": {
            "type": "boolean",
            "description": "Ask for the device's IP address (deviceIpAddress in the status); "
            "sent only to relying parties allowed to see it.",
        }
    }
    if version == 1:
        properties["vcChoice"] = {
            "type": "boolean",
            "description": "Offer verification-code choice before the PIN.",
        }
    return {
        "type": "object",
        "description": "Unknown properties are accepted and echoed in the status's "
        "ignoredProperties.",
        "properties": properties,
    }


def _base_properties(levels: list[str]) -> Schema:
    return {
        "relyingPartyUUID": _string(
            "The relying party's UUID. An unknown UUID, one that is not a UUID, or a "
            "request from an address the relying party has not registered is answered 401.",
            format="uuid",
            example=BANK_UUID,
        ),
        "relyingPartyName": _string(
            "The relying party's registered name, compared case-insensitively: at most 32 "
            "bytes of UTF-8 (400 if longer); a name that does not match is answered 401.",
            minLength=1,
            maxLength=32,
            example="BANK123",
        ),
        "certificateLevel": {
            "type": "string",
            "enum": levels,
            "default": "QUALIFIED",
            "description": "The lowest level accepted (ADVANCED < QUALIFIED). QSCD means "
            "QUALIFIED on a qualified signature creation device and is not for authentication.",
        },
        "nonce": _string(
            "Makes an otherwise identical request within 15 s start a new session.",
            minLength=1,
            maxLength=30,
        ),
        "capabilities": {
            "type": "array",
            "description": "Agreed capabilities (by agreement only).",
            "maxItems": 20,
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
        },
        "requestProperties": {"$ref": "#/components/schemas/RequestProperties"},
    }


def _hash_alternatives() -> list[Schema]:
    """hash must be the Base64 of exactly as many bytes as hashType's digest has."""
    return [
        {
            "title": name,
            "required": ["hashType", "hash"],
            "properties": {
                "hashType": {"type": "string", "enum": [name]},
                "hash": {"type": "string", "pattern": HASH_PATTERNS[name]},
            },
        }
        for name in views.HASH_LENGTHS
    ]


def _hash_request(version: int, levels: list[str], title: str) -> Schema:
    properties = {
        **_base_properties(levels),
        "hash": _string(
            "Standard Base64 of the raw digest (not hashed again): 44 characters for "
            "SHA256, 64 for SHA384, 88 for SHA512.",
        ),
        "hashType": {"type": "string", "enum": list(views.HASH_LENGTHS)},
    }
    if version == 2:
        properties["allowedInteractionsOrder"] = {
            "type": "array",
            "description": "Interactions in order of preference: the app uses the first it "
            "supports (none: REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP). If absent, the app "
            "asks for the PIN with no text.",
            "minItems": 1,
            "maxItems": 10,
            "items": {"$ref": "#/components/schemas/Interaction"},
        }
    else:
        properties["displayText"] = _string(
            "Shown with the PIN prompt: at most 60 characters and 128 bytes of UTF-8, no "
            "control or bidirectional formatting characters.",
            minLength=1,
            maxLength=60,
            pattern=wireinput.SAFE_DISPLAY_PATTERN,
        )
    return {
        "type": "object",
        "title": title,
        "required": ["relyingPartyUUID", "relyingPartyName", "hash", "hashType"],
        "properties": properties,
        # anyOf, not oneOf: the alternatives exclude each other by hashType anyway, and
        # generators (schemathesis) merge anyOf branches instead of filtering for them.
        "anyOf": _hash_alternatives(),
    }


def _interaction() -> Schema:
    text60 = {
        "type": "object",
        "title": "Interaction with displayText60",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": list(views.TEXT60)},
            "displayText60": wireinput.display_text_schema(60),
        },
        "not": {"required": ["displayText200"]},
    }
    text200 = {
        "type": "object",
        "title": "Interaction with displayText200",
        "required": ["type", "displayText200"],
        "properties": {
            "type": {"type": "string", "enum": list(views.TEXT200)},
            "displayText200": wireinput.display_text_schema(200),
        },
        "not": {"required": ["displayText60"]},
    }
    return {
        "description": "displayTextAndPIN and verificationCodeChoice take an optional "
        "displayText60; confirmationMessage and confirmationMessageAndVerificationCodeChoice "
        "need displayText200. The other text field must be absent.",
        "oneOf": [text60, text200],
    }


def _status_schemas(version: int) -> Schema:
    end_results = V2_END_RESULTS if version == 2 else V1_END_RESULTS
    interactions = [*views.TEXT60, *views.TEXT200] if version == 2 else V1_INTERACTIONS
    ignored = {
        "type": "array",
        "items": {"type": "string"},
        "description": "Unknown requestProperties of the request, if any.",
    }
    return {
        "SessionStatus": {
            "description": "RUNNING, COMPLETE with an OK result, or COMPLETE with another "
            "end result.",
            "oneOf": [
                {"$ref": "#/components/schemas/SessionStatusRunning"},
                {"$ref": "#/components/schemas/SessionStatusOk"},
                {"$ref": "#/components/schemas/SessionStatusFailed"},
            ],
        },
        "SessionStatusRunning": {
            "type": "object",
            "required": ["state"],
            "properties": {
                "state": {"type": "string", "enum": ["RUNNING"]},
                "result": {
                    "type": "object",
                    "properties": {},
                    "description": "Empty if present (SK sends {}; this server omits it).",
                },
                "ignoredProperties": ignored,
            },
        },
        "SessionStatusFailed": {
            "type": "object",
            "description": "Any end result but OK: no documentNumber, cert or signature.",
            "required": ["state", "result"],
            "properties": {
                "state": {"type": "string", "enum": ["COMPLETE"]},
                "result": {
                    "type": "object",
                    "required": ["endResult"],
                    "properties": {
                        "endResult": {
                            "type": "string",
                            "enum": [r for r in end_results if r != "OK"],
                        }
                    },
                },
                "ignoredProperties": ignored,
            },
        },
        "SessionStatusOk": {
            "type": "object",
            "description": "Authentication and signature: signature, cert and "
            "interactionFlowUsed. Certificate choice: cert only.",
            "required": ["state", "result"],
            "properties": {
                "state": {"type": "string", "enum": ["COMPLETE"]},
                "result": {
                    "type": "object",
                    "required": ["endResult", "documentNumber"],
                    "properties": {
                        "endResult": {"type": "string", "enum": ["OK"]},
                        "documentNumber": _string(
                            "The account's document number, e.g. PNOEE-40504040001-MOCK-Q "
                            "(older SK accounts: PNOEE-31111111111). Take it from here; "
                            "never build it.",
                            minLength=1,
                        ),
                    },
                },
                "cert": {
                    "$ref": "#/components/schemas/Certificate",
                },
                "signature": {"$ref": "#/components/schemas/Signature"},
                "interactionFlowUsed": {"type": "string", "enum": interactions},
                "deviceIpAddress": _string(
                    "The device's IP address, if requested (shareMdClientIpAddress) and "
                    "the relying party may see it."
                ),
                "ignoredProperties": ignored,
            },
        },
        "Certificate": {
            "type": "object",
            "description": "The end-entity certificate only: the authentication "
            "certificate for an authentication, the signing certificate otherwise. This "
            "server always sends it on OK; SK's own examples omit it for signatures, so "
            "clients that also talk to SK should not depend on it there.",
            "required": ["value", "certificateLevel"],
            "properties": {
                "value": _string("Base64 of the DER certificate.", format="byte"),
                "certificateLevel": {"type": "string", "enum": LEVELS_RESPONSE},
            },
        },
        "Signature": {
            "type": "object",
            "description": "RSA PKCS#1 v1.5 over DigestInfo(hashType, the hash sent).",
            "required": ["value", "algorithm"],
            "properties": {
                "value": _string("Base64 of the signature.", format="byte"),
                "algorithm": {"type": "string", "enum": list(services.ALGORITHMS.values())},
            },
        },
    }


def _error(description: str, status: int, message: str, code: str) -> Schema:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"code": status, "message": message, "error": code},
            }
        },
    }


POST_ERRORS = {
    "400": _error(
        "Invalid request: the body is not a JSON object, a field is missing, of the wrong "
        "type or out of range, or hash does not match hashType.",
        400,
        "Invalid request: hash: The length does not match hashType.",
        "invalid_request",
    ),
    "401": _error(
        "Unknown relying party: UUID, name or source address.",
        401,
        "Unknown relying party.",
        "unauthorized",
    ),
    "403": _error(
        "The relying party may not start this kind of session, or may not ask for ADVANCED.",
        403,
        "The relying party may not use ADVANCED accounts.",
        "forbidden",
    ),
    "404": _error(
        "No such person or document (also any identifier not of the documented form).",
        404,
        "No such person or document.",
        "not_found",
    ),
    "429": _error(
        "Over the relying party's session-start rate (per second, all nodes); nothing was "
        "created. Retry after the Retry-After header's seconds.",
        429,
        "Too many session starts (over 50 per second); try again later.",
        "too_many_requests",
    )
    | {"headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}},
    "471": _error(
        "The person has no account of the requested level (but has others).",
        471,
        "No suitable account found.",
        "no_suitable_account",
    ),
    "472": _error(
        "The person should check the Smart-ID app or portal (the account is locked or suspended).",
        472,
        "The person should check the Smart-ID app or portal.",
        "person_should_view_app",
    ),
    "480": _error(
        "The client is too old. Reserved by the protocol; this server does not send it.",
        480,
        "The client is not supported.",
        "client_too_old",
    ),
    "580": _error(
        "The service is under maintenance.", 580, "The service is under maintenance.", "maintenance"
    ),
}
GET_ERRORS = {
    "400": _error(
        f"timeoutMs is not an integer in {views.MIN_POLL_MS}..{views.MAX_POLL_MS}.",
        400,
        f"timeoutMs must be {views.MIN_POLL_MS}..{views.MAX_POLL_MS}.",
        "invalid_request",
    ),
    "404": _error(
        "No such session: unknown, another relying party's, or completed more than 5 minutes ago.",
        404,
        "Session not found.",
        "not_found",
    ),
}


def _start_operation(version: int, kind: str, target: str) -> Schema:
    body, examples, summary = {
        "authentication": (
            "AuthenticationRequest",
            AUTHENTICATION_EXAMPLES_V2 if version == 2 else HASH_EXAMPLES_V1,
            "Start an authentication",
        ),
        "signature": (
            "SignatureRequest",
            SIGNATURE_EXAMPLES_V2 if version == 2 else HASH_EXAMPLES_V1,
            "Start a signature",
        ),
        "certificatechoice": (
            "CertificateChoiceRequest",
            CERTIFICATE_CHOICE_EXAMPLES,
            "Start a certificate choice",
        ),
    }[kind]
    by = {"etsi": "by semantics identifier", "document": "by document number"}[target]
    parameter = "semanticsIdentifier" if target == "etsi" else "documentNumber"
    return {
        "operationId": f"{kind}{target.capitalize()}",
        "summary": f"{summary} {by}",
        "tags": [kind],
        "parameters": [{"$ref": f"#/components/parameters/{parameter}"}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{body}"},
                    "examples": examples,
                }
            },
        },
        "responses": {
            "200": {
                "description": "The session started (or the identical one started within 15 s).",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/SessionStarted"},
                        "example": {"sessionID": "1dcc1600-29a6-4e95-a95c-d69b31febcfb"},
                    }
                },
                "links": {
                    "sessionStatus": {
                        "operationId": "sessionStatus",
                        "parameters": {"sessionId": "$response.body#/sessionID"},
                        "description": "Poll the session's status.",
                    }
                },
            },
            **POST_ERRORS,
        },
    }


def _status_operation(version: int) -> Schema:
    return {
        "operationId": "sessionStatus",
        "summary": "Session status (long poll)",
        "description": "Waits until the session completes or timeoutMs passes, then "
        "answers its state. A session stays readable for 5 minutes after it completes.",
        "tags": ["session"],
        "parameters": [
            {
                "name": "sessionId",
                "in": "path",
                "required": True,
                "description": "The sessionID a start request returned.",
                "schema": {"type": "string", "format": "uuid"},
                "example": "1dcc1600-29a6-4e95-a95c-d69b31febcfb",
            },
            {
                "name": "timeoutMs",
                "in": "query",
                "required": False,
                "description": "How long to wait for the session to complete, in "
                f"milliseconds; {views.DEFAULT_POLL_MS} if absent.",
                "schema": {
                    "type": "integer",
                    "minimum": views.MIN_POLL_MS,
                    "maximum": views.MAX_POLL_MS,
                    "default": views.DEFAULT_POLL_MS,
                },
                "example": 1000,
            },
        ],
        "responses": {
            "200": {
                "description": "The session's state.",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/SessionStatus"},
                        "examples": status_examples(version),
                    }
                },
            },
            **GET_ERRORS,
        },
    }


_DESCRIPTION = """\
Smart-ID compatible relying-party API, version {version}: existing Smart-ID clients work \
by changing only their base URL (…/v{version}/).

* UTF-8 JSON. The server reads the body as JSON whatever the Content-Type says; strings \
must not contain U+0000.
* A relying party authenticates with relyingPartyUUID, relyingPartyName and its registered \
source address.
* POST starts a session and returns its sessionID; GET session/{{sessionId}} long-polls \
its status.
* Errors: HTTP status as in the table of each operation, body {{"code", "message", \
"error"}}. Clients map the status, not the body.
* Unknown request fields are ignored. Clients must ignore unknown response fields.
"""


@functools.cache
def _document(version: int) -> Schema:
    if version not in (1, 2):
        raise ValueError(f"no RP API v{version}")
    paths: Schema = {}
    for kind in ("authentication", "signature", "certificatechoice"):
        for target, parameter in (("etsi", "semanticsIdentifier"), ("document", "documentNumber")):
            paths[f"/{kind}/{target}/{{{parameter}}}"] = {
                "post": _start_operation(version, kind, target)
            }
    paths["/session/{sessionId}"] = {"get": _status_operation(version)}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"Smart-ID compatible RP API v{version}",
            "version": f"{version}.0",
            "description": _DESCRIPTION.format(version=version),
        },
        "servers": [{"url": f"/v{version}"}],
        "tags": [
            {"name": "authentication"},
            {"name": "signature"},
            {"name": "certificatechoice"},
            {"name": "session"},
        ],
        "paths": paths,
        "components": {
            "parameters": {
                "semanticsIdentifier": {
                    "name": "semanticsIdentifier",
                    "in": "path",
                    "required": True,
                    "description": "ETSI EN 319 412-1 semantics identifier: PNO, IDC or PAS, "
                    "an ISO 3166 country code, '-', the national identifier. Anything else "
                    "is answered 404, like an unknown person.",
                    "schema": {"type": "string", "pattern": SEMANTICS_ID_PATTERN},
                    "example": "PNOEE-40504040001",
                },
                "documentNumber": {
                    "name": "documentNumber",
                    "in": "path",
                    "required": True,
                    "description": "The document number of one account (result.documentNumber "
                    "of an earlier session). Anything else is answered 404.",
                    "schema": {"type": "string", "pattern": DOCUMENT_NUMBER_PATTERN},
                    "example": "PNOEE-40504040001-MOCK-Q",
                },
            },
            "schemas": {
                "CertificateChoiceRequest": {
                    "type": "object",
                    "required": ["relyingPartyUUID", "relyingPartyName"],
                    "properties": _base_properties(LEVELS_REQUEST),
                },
                "AuthenticationRequest": _hash_request(
                    version, LEVELS_RESPONSE, "AuthenticationRequest"
                ),
                "SignatureRequest": _hash_request(version, LEVELS_REQUEST, "SignatureRequest"),
                **({"Interaction": _interaction()} if version == 2 else {}),
                "RequestProperties": _request_properties(version),
                "SessionStarted": {
                    "type": "object",
                    "required": ["sessionID"],
                    "properties": {"sessionID": {"type": "string", "format": "uuid"}},
                },
                **_status_schemas(version),
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "integer", "description": "The HTTP status."},
                        "message": {"type": "string", "description": "For people."},
                        "error": {
                            "type": "string",
                            "description": "A machine-readable code, e.g. invalid_request "
                            "(absent when the URL matched no operation).",
                        },
                    },
                },
            },
        },
    }


def openapi(version: int) -> Schema:
    """The OpenAPI document of RP API v1 or v2 (a fresh copy the caller may change)."""
    return copy.deepcopy(_document(version))
