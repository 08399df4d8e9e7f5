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

Objects accept unknown properties in requests (the server ignores them) and responses
(clients must ignore them; the tests close the response schemas to what this server sends).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from typing import Any

from accounts import identifiers
from api.rp import views
from api.rp.schema import display_text
from api.rp.v3 import problems, serializers, status, vocabulary
from api.rp.v3.transactions import ACSP_V2, LEGACY_ALGORITHMS, PSS, RAW_DIGEST_SIGNATURE

Schema = dict[str, Any]

AUTH_LEVELS = ["ADVANCED", "QUALIFIED"]
SIGN_LEVELS = ["ADVANCED", "QUALIFIED", "QSCD"]
FLOW_TYPES = ["QR", "App2App", "Web2App", "Notification"]
SEMANTICS_ID = "id-etsi-qcs-SemanticsId-Natural"  # SK's path parameter names
DOCUMENT_NUMBER = "document-number"
SESSION_ID = "sessionID"
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
BASE64_PATTERN = "^[A-Za-z0-9+/]+={0,2}$"
_B64 = "[A-Za-z0-9+/]"
NO_CONTROL_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"
CALLBACK_PATTERN = f"^https://{serializers.CALLBACK_CHARACTERS}+$"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(description: str, **limits: Any) -> Schema:
    return {"type": "string", "description": description, **limits}


def _digest_pattern(length: int) -> str:
    """Standard Base64 of exactly ``length`` bytes, with its padding."""
    return f"^{_B64}{{{-(-4 * length // 3)}}}{'=' * (-length % 3)}$"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- request parts ------------------------------------------------------------------------


def _common_properties(levels: list[str]) -> Schema:
    return {
        "relyingPartyUUID": _string(
            "The relying party's UUID. An unknown one, or a request from an address the "
            "relying party has not registered, is answered 401.",
            format="uuid",
        ),
        "relyingPartyName": _string(
            "The relying party's registered name: at most 32 bytes of UTF-8; a name that "
            "does not match is answered 401.",
            minLength=1,
            maxLength=32,
        ),
        "certificateLevel": {
            "type": "string",
            "enum": levels,
            "default": "QUALIFIED",
            "description": "The lowest level accepted. QSCD (signatures only) means "
            "QUALIFIED on a qualified signature creation device.",
        },
        "requestProperties": _ref("RequestProperties"),
        "capabilities": {
            "type": "array",
            "description": "Capabilities agreed with the service operator; unknown ones "
            "change nothing.",
            "maxItems": 20,
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
        },
    }


def _request(
    title: str,
    levels: list[str],
    required: list[str],
    extra: Schema,
    *,
    forbidden: tuple[str, ...] = (),
    rules: list[Schema] | None = None,
) -> Schema:
    body: Schema = {
        "type": "object",
        "title": title,
        "required": ["relyingPartyUUID", "relyingPartyName", *required],
        "properties": {**_common_properties(levels), **extra},
    }
    if forbidden:
        body["not"] = {"anyOf": [{"required": [name]} for name in forbidden]}
        body["description"] = f"Must not contain {', '.join(forbidden)}."
    if rules:
        body["allOf"] = rules
    return body


def _interactions(allowed: tuple[str, ...]) -> Schema:
    return {
        "type": "string",
        "description": "Standard Base64 of a UTF-8 JSON array of 1 to "
        f"{serializers.MAX_INTERACTIONS} interactions (contentSchema), kept exactly as "
        "sent: the device link's authCode and the ACSP_V2 payload are computed over this "
        "very string. Allowed types here: " + ", ".join(allowed) + ".",
        "minLength": 4,
        "maxLength": serializers.MAX_INTERACTIONS_CHARS,
        "pattern": BASE64_PATTERN,
        "contentEncoding": "base64",
        "contentMediaType": "application/json",
        "contentSchema": {
            "type": "array",
            "minItems": 1,
            "maxItems": serializers.MAX_INTERACTIONS,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "displayTextAndPIN"},
                            "displayText60": display_text(60),
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "displayText200"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {
                                "enum": [t for t in serializers.TEXT200 if t in allowed],
                            },
                            "displayText200": display_text(200),
                        },
                    },
                ]
            },
        },
    }


def _algorithm_parameters(hashes: list[str], *, required: bool = True) -> Schema:
    return {
        "type": "object",
        "required": ["hashAlgorithm"] if required else [],
        "properties": {"hashAlgorithm": {"type": "string", "enum": hashes}},
    }


def _auth_protocol_parameters() -> Schema:
    low, high = serializers.RP_CHALLENGE_CHARS
    return {
        "type": "object",
        "description": "rsassa-pss with the hash of signatureAlgorithmParameters "
        "(SHA-2 or SHA-3); any other signatureAlgorithm is answered 400 with the "
        "pointer /signatureProtocolParameters/signatureAlgorithm.",
        "required": ["rpChallenge", "signatureAlgorithm", "signatureAlgorithmParameters"],
        "properties": {
            "rpChallenge": _string(
                "Standard Base64 of 32 to 64 random bytes, new for every session.",
                minLength=low,
                maxLength=high,
                pattern=BASE64_PATTERN,
                contentEncoding="base64",
            ),
            "signatureAlgorithm": {"type": "string", "enum": [PSS]},
            "signatureAlgorithmParameters": _algorithm_parameters(
                list(serializers.HASH_ALGORITHMS)
            ),
        },
    }


def _sign_protocol_parameters() -> Schema:
    """The digest's length follows the algorithm: one alternative per algorithm/hash."""
    alternatives = [
        {
            "title": f"{PSS} with {name}",
            "required": ["signatureAlgorithmParameters"],
            "properties": {
                "signatureAlgorithm": {"const": PSS},
                "signatureAlgorithmParameters": _algorithm_parameters([name]),
                "digest": {"pattern": _digest_pattern(length)},
            },
        }
        for name, length in serializers.DIGEST_LENGTHS.items()
    ] + [
        {
            "title": algorithm,
            "properties": {
                "signatureAlgorithm": {"const": algorithm},
                "signatureAlgorithmParameters": _algorithm_parameters([name], required=False),
                "digest": {"pattern": _digest_pattern(serializers.DIGEST_LENGTHS[name])},
            },
        }
        for algorithm, name in LEGACY_ALGORITHMS.items()
    ]
    return {
        "type": "object",
        "description": "The digest to sign (already hashed, standard Base64) and how: "
        "rsassa-pss with the hash of signatureAlgorithmParameters, or one of the PKCS#1 "
        "v1.5 algorithms, whose hash the name says. The digest's length must be that "
        "hash's.",
        "required": ["digest", "signatureAlgorithm"],
        "properties": {
            "digest": _string(
                "Standard Base64 of the digest.",
                minLength=44,
                maxLength=88,
                pattern=BASE64_PATTERN,
                contentEncoding="base64",
            ),
            "signatureAlgorithm": {"type": "string", "enum": list(serializers.ALGORITHMS)},
            # hashAlgorithm: required with rsassa-pss, optional with the others (anyOf).
            "signatureAlgorithmParameters": _algorithm_parameters(
                list(serializers.HASH_ALGORITHMS), required=False
            ),
        },
        "anyOf": alternatives,
    }


def _protocol(name: str) -> Schema:
    return {"type": "string", "enum": [name]}


_CALLBACK = _string(
    "Where the app sends the person back after a same-device (Web2App/App2App) flow, "
    "with sessionSecretDigest (and userChallengeVerifier for an authentication) added. "
    "Absent or null for a QR code. Printable ASCII (percent-encode the rest), no '|' or '#'.",
    maxLength=serializers.MAX_CALLBACK_CHARS,
    pattern=CALLBACK_PATTERN,
)
_NONCE = {
    "oneOf": [
        _string(
            "Makes an otherwise identical request start a new session; no control "
            "characters. Null is the same as absent.",
            minLength=1,
            maxLength=30,
            pattern=NO_CONTROL_PATTERN,
        ),
        {"type": "null"},
    ]
}


def _signing_certificate_request() -> Schema:
    """No interaction, so no requestProperties or capabilities (the server still checks
    their form if they are sent)."""
    body = _request("Signing certificate", SIGN_LEVELS, [], {})
    for name in ("requestProperties", "capabilities"):
        del body["properties"][name]
    return body


def _request_schemas() -> Schema:
    auth = {
        "signatureProtocol": _protocol(ACSP_V2),
        "signatureProtocolParameters": _ref("AuthSignatureProtocolParameters"),
    }
    sign = {
        "signatureProtocol": _protocol(RAW_DIGEST_SIGNATURE),
        "signatureProtocolParameters": _ref("SignSignatureProtocolParameters"),
        "nonce": _NONCE,
    }
    protocol = ["signatureProtocol", "signatureProtocolParameters", "interactions"]
    callback = {"initialCallbackUrl": {"oneOf": [_CALLBACK, {"type": "null"}]}}
    device_link = _ref("DeviceLinkInteractions")
    notification = _ref("NotificationInteractions")
    return {
        "DeviceLinkAuthenticationRequest": _request(
            "Device-link authentication",
            AUTH_LEVELS,
            protocol,
            {**auth, **callback, "interactions": device_link},
            forbidden=("nonce",),
        ),
        "NotificationAuthenticationRequest": _request(
            "Notification authentication",
            AUTH_LEVELS,
            [*protocol, "vcType"],
            {**auth, "interactions": notification, "vcType": _protocol("numeric4")},
            forbidden=("nonce", "initialCallbackUrl"),
        ),
        "DeviceLinkSignatureRequest": _request(
            "Device-link signature",
            SIGN_LEVELS,
            protocol,
            {**sign, **callback, "interactions": device_link},
        ),
        "NotificationSignatureRequest": _request(
            "Notification signature",
            SIGN_LEVELS,
            protocol,
            {**sign, "interactions": notification},
            forbidden=("initialCallbackUrl",),
        ),
        "LinkedSignatureRequest": _request(
            "Signature linked to a device-link certificate choice",
            SIGN_LEVELS,
            [*protocol, "linkedSessionID"],
            {
                **sign,
                "interactions": device_link,
                "linkedSessionID": _string(
                    "The sessionID of the device-link certificate choice that completed OK.",
                    pattern=UUID_PATTERN,
                ),
            },
            forbidden=("initialCallbackUrl",),
        ),
        "DeviceLinkCertificateChoiceRequest": _request(
            "Device-link certificate choice",
            SIGN_LEVELS,
            [],
            {**callback, "nonce": _NONCE},
        ),
        "NotificationCertificateChoiceRequest": _request(
            "Notification certificate choice",
            SIGN_LEVELS,
            [],
            {"nonce": _NONCE},
            forbidden=("initialCallbackUrl",),
        ),
        "SigningCertificateRequest": _signing_certificate_request(),
        "RequestProperties": {
            "type": "object",
            "description": "shareMdClientIpAddress asks for the device's IP address "
            "(deviceIpAddress in the status; 403 for a relying party not allowed to see "
            "it). Other names are accepted and returned in ignoredProperties.",
            "maxProperties": 20,
            "propertyNames": {"maxLength": 100, "pattern": "^[^\\x00]*$"},
            "properties": {"shareMdClientIpAddress": {"type": "boolean", "default": False}},
        },
        "AuthSignatureProtocolParameters": _auth_protocol_parameters(),
        "SignSignatureProtocolParameters": _sign_protocol_parameters(),
        "DeviceLinkInteractions": _interactions(serializers.DEVICE_LINK_INTERACTIONS),
        "NotificationInteractions": _interactions(serializers.NOTIFICATION_INTERACTIONS),
    }


# --- response parts -----------------------------------------------------------------------


def _certificate() -> Schema:
    return {
        "type": "object",
        "description": "The end-entity certificate: the authentication certificate for an "
        "authentication, the signing certificate otherwise.",
        "required": ["value", "certificateLevel"],
        "properties": {
            "value": _string("Standard Base64 of the DER certificate.", pattern=BASE64_PATTERN),
            "certificateLevel": {"type": "string", "enum": AUTH_LEVELS},
        },
    }


def _response_algorithm_parameters() -> Schema:
    hashes = list(serializers.HASH_ALGORITHMS)
    return {
        "type": "object",
        "description": "RSASSA-PSS: MGF1 with the same hash, a salt as long as the hash, "
        "trailer field 0xbc.",
        "required": ["hashAlgorithm", "maskGenAlgorithm", "saltLength", "trailerField"],
        "properties": {
            "hashAlgorithm": {"type": "string", "enum": hashes},
            "maskGenAlgorithm": {
                "type": "object",
                "required": ["algorithm", "parameters"],
                "properties": {
                    "algorithm": {"type": "string", "enum": ["id-mgf1"]},
                    "parameters": {
                        "type": "object",
                        "required": ["hashAlgorithm"],
                        "properties": {"hashAlgorithm": {"type": "string", "enum": hashes}},
                    },
                },
            },
            "saltLength": {"type": "integer", "enum": [32, 48, 64]},
            "trailerField": {"type": "string", "enum": ["0xbc"]},
        },
    }


def _signatures() -> Schema:
    value = _string("Standard Base64 of the RSA signature.", pattern=BASE64_PATTERN)
    flow = {"type": "string", "enum": FLOW_TYPES}
    parameters = _ref("ResponseSignatureAlgorithmParameters")
    return {
        "AcspV2Signature": {
            "type": "object",
            "description": "RSASSA-PSS over the ACSP_V2 payload (docs/rp-integration.md §13).",
            "required": [
                "value",
                "serverRandom",
                "userChallenge",
                "flowType",
                "signatureAlgorithm",
                "signatureAlgorithmParameters",
            ],
            "properties": {
                "value": value,
                "serverRandom": _string(
                    "Standard Base64 of the server's random part of the payload.",
                    minLength=24,
                    pattern=BASE64_PATTERN,
                ),
                "userChallenge": _string(
                    "Base64url (no padding) of the user challenge: the SHA-256 of the "
                    "verifier the callback carries.",
                    pattern="^[A-Za-z0-9_-]{43}$",
                ),
                "flowType": flow,
                "signatureAlgorithm": {"type": "string", "enum": [PSS]},
                "signatureAlgorithmParameters": parameters,
            },
        },
        "RawDigestSignature": {
            "type": "object",
            "description": "The signature of the digest sent, with the algorithm asked for.",
            "required": ["value", "flowType", "signatureAlgorithm"],
            "properties": {
                "value": value,
                "flowType": flow,
                "signatureAlgorithm": {"type": "string", "enum": list(serializers.ALGORITHMS)},
                "signatureAlgorithmParameters": parameters,
            },
            "not": {"required": ["serverRandom"]},
        },
        "CertificateChoiceSignature": {
            "type": "object",
            "description": "A device-link certificate choice: how the person was reached.",
            "required": ["flowType"],
            "properties": {"flowType": flow},
            "not": {"anyOf": [{"required": ["value"]}, {"required": ["serverRandom"]}]},
        },
    }


def _status_schemas() -> Schema:
    ignored = {
        "type": "array",
        "items": {"type": "string"},
        "description": "The request's requestProperties that the server does not know.",
    }
    interactions = list(status.INTERACTION_TYPES)
    return {
        "SessionStatus": {
            "oneOf": [
                _ref("SessionStatusRunning"),
                _ref("SessionStatusOk"),
                _ref("SessionStatusFailed"),
            ]
        },
        "SessionStatusRunning": {
            "type": "object",
            "required": ["state"],
            "properties": {
                "state": {"type": "string", "enum": ["RUNNING"]},
                "ignoredProperties": ignored,
            },
        },
        "SessionStatusFailed": {
            "type": "object",
            "description": "Any end result but OK. USER_REFUSED_INTERACTION names the "
            "refused interaction in details.interaction.",
            "required": ["state", "result"],
            "properties": {
                "state": {"type": "string", "enum": ["COMPLETE"]},
                "result": {
                    "type": "object",
                    "required": ["endResult"],
                    "properties": {
                        "endResult": {
                            "type": "string",
                            "enum": [r for r in vocabulary.V3_END_RESULTS if r != "OK"],
                        },
                        "details": {
                            "type": "object",
                            "required": ["interaction"],
                            "properties": {
                                "interaction": _string(
                                    "The refused interaction's type, one the request offered "
                                    f"(this server: one of {', '.join(interactions)})."
                                )
                            },
                        },
                    },
                },
                "ignoredProperties": ignored,
            },
        },
        "SessionStatusOk": {
            "type": "object",
            "description": "Authentication: ACSP_V2 signature, cert, interactionTypeUsed. "
            "Signature: RAW_DIGEST_SIGNATURE signature, cert, interactionTypeUsed. "
            "Certificate choice: cert (and, for a device link, the flowType in signature).",
            "required": ["state", "result", "cert"],
            "properties": {
                "state": {"type": "string", "enum": ["COMPLETE"]},
                "result": {
                    "type": "object",
                    "required": ["endResult", "documentNumber"],
                    "properties": {
                        "endResult": {"type": "string", "enum": ["OK"]},
                        "documentNumber": _string(
                            "The account's document number; take it from here, never build it.",
                            pattern=identifiers.DOCUMENT_NUMBER_PATTERN,
                        ),
                    },
                },
                "signatureProtocol": {"type": "string", "enum": [ACSP_V2, RAW_DIGEST_SIGNATURE]},
                "signature": {
                    "oneOf": [
                        _ref("AcspV2Signature"),
                        _ref("RawDigestSignature"),
                        _ref("CertificateChoiceSignature"),
                    ]
                },
                "cert": _ref("Certificate"),
                "interactionTypeUsed": {"type": "string", "enum": interactions},
                "deviceIpAddress": _string(
                    "The device's IP address, when asked for with shareMdClientIpAddress."
                ),
                "ignoredProperties": ignored,
            },
        },
        "Certificate": _certificate(),
        "ResponseSignatureAlgorithmParameters": _response_algorithm_parameters(),
        **_signatures(),
        "DeviceLinkSessionStarted": {
            "type": "object",
            "required": ["sessionID", "sessionToken", "sessionSecret", "deviceLinkBase"],
            "properties": {
                "sessionID": _string("Poll GET /v3/session/{sessionID}.", format="uuid"),
                "sessionToken": _string(
                    "Goes into every device link, in the clear.", pattern="^[A-Za-z0-9]{24,}$"
                ),
                "sessionSecret": _string(
                    "Standard Base64 key of the authCode HMAC; never leaves the relying "
                    "party's back end.",
                    minLength=24,
                    pattern=BASE64_PATTERN,
                ),
                "deviceLinkBase": _string("The base URL of the device links.", format="uri"),
            },
        },
        "SessionStarted": {
            "type": "object",
            "required": ["sessionID"],
            "properties": {
                "sessionID": _string("Poll GET /v3/session/{sessionID}.", format="uuid")
            },
        },
        "SignatureSessionStarted": {
            "type": "object",
            "required": ["sessionID", "vc"],
            "properties": {
                "sessionID": _string("Poll GET /v3/session/{sessionID}.", format="uuid"),
                "vc": {
                    "type": "object",
                    "description": "The verification code: show it to the person.",
                    "required": ["type", "value"],
                    "properties": {
                        "type": {"type": "string", "enum": ["numeric4"]},
                        "value": {"type": "string", "pattern": "^[0-9]{4}$"},
                    },
                },
            },
        },
        "SigningCertificate": {
            "type": "object",
            "required": ["state"],
            "properties": {
                "state": {"type": "string", "enum": ["OK", "DOCUMENT_UNUSABLE"]},
                "cert": _ref("Certificate"),
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details. errors[].pointer is a JSON Pointer "
            "to the offending field; errors[].code tells the 404s apart "
            f"({problems.NO_SUITABLE_ACCOUNT}, {problems.PERSON_SHOULD_VIEW_APP}).",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "pointer": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "detail": {"type": "string"},
                            "paramName": {"type": "string"},
                            "pointer": {"type": "string"},
                        },
                    },
                },
            },
        },
    }


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
    return {
        code: {
            "description": text,
            "content": {problems.CONTENT_TYPE: {"schema": _ref("Problem")}},
        }
        for code, text in descriptions.items()
    }


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
        "content": {"application/json": {"schema": _ref(response)}},
    }
    if response != "SigningCertificate":
        ok["links"] = {
            "status": {
                "operationId": "sessionStatus",
                "parameters": {SESSION_ID: "$response.body#/sessionID"},
            }
        }
    content: Schema = {"schema": _ref(request)}
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
                "content": {"application/json": {"schema": _ref("SessionStatus")}},
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
_PIN = _b64(
    json.dumps([{"type": "displayTextAndPIN", "displayText60": "Log in to the bank?"}]).encode()
)
_CONFIRM = _b64(
    json.dumps(
        [
            {"type": "confirmationMessage", "displayText200": "Sign the loan agreement no 42?"},
            {"type": "displayTextAndPIN", "displayText60": "Sign the loan agreement?"},
        ]
    ).encode()
)
_CHALLENGE = _b64(bytes(range(7, 71)))  # 64 bytes; use fresh random bytes in practice
_DIGEST = _b64(bytes(range(100, 164)))  # a SHA-512 digest's length
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
        "components": {"schemas": {**_request_schemas(), **_status_schemas()}},
    }


def openapi() -> Schema:
    """The v3 document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
