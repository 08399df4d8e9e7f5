"""The component schemas of RP API v3's OpenAPI document: request bodies and answers.

api/rp/v3/schema.py builds the document (operations, examples) from these; the reasons for
writing it by hand and its deliberate differences from SK's document are there.
"""

from __future__ import annotations

import base64
from typing import Any

from accounts import identifiers
from api import wireinput
from api.rp.v3 import problems, serializers, status, vocabulary
from api.rp.v3.transactions import ACSP_V2, LEGACY_ALGORITHMS, PSS, RAW_DIGEST_SIGNATURE

Schema = dict[str, Any]

AUTH_LEVELS = ["ADVANCED", "QUALIFIED"]
SIGN_LEVELS = ["ADVANCED", "QUALIFIED", "QSCD"]
FLOW_TYPES = ["QR", "App2App", "Web2App", "Notification"]
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
BASE64_PATTERN = "^[A-Za-z0-9+/]+={0,2}$"
_B64 = "[A-Za-z0-9+/]"
NO_CONTROL_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"
CALLBACK_PATTERN = f"^https://{serializers.CALLBACK_CHARACTERS}+$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str, **limits: Any) -> Schema:
    return {"type": "string", "description": description, **limits}


def _digest_pattern(length: int) -> str:
    """Standard Base64 of exactly ``length`` bytes, with its padding."""
    return f"^{_B64}{{{-(-4 * length // 3)}}}{'=' * (-length % 3)}$"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- request parts ------------------------------------------------------------------------


def _common_properties(levels: list[str]) -> Schema:
    return {
        "relyingPartyUUID": string(
            "The relying party's UUID. An unknown one, or a request from an address the "
            "relying party has not registered, is answered 401.",
            format="uuid",
        ),
        "relyingPartyName": string(
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
        "requestProperties": ref("RequestProperties"),
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
                            "displayText60": wireinput.display_text_schema(60),
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
                            "displayText200": wireinput.display_text_schema(200),
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
            "rpChallenge": string(
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
            "digest": string(
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


_CALLBACK = string(
    "Where the app sends the person back after a same-device (Web2App/App2App) flow, "
    "with sessionSecretDigest (and userChallengeVerifier for an authentication) added. "
    "Absent or null for a QR code. Printable ASCII (percent-encode the rest), no '|' or '#'.",
    maxLength=serializers.MAX_CALLBACK_CHARS,
    pattern=CALLBACK_PATTERN,
)
_NONCE = {
    "oneOf": [
        string(
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


def request_schemas() -> Schema:
    auth = {
        "signatureProtocol": _protocol(ACSP_V2),
        "signatureProtocolParameters": ref("AuthSignatureProtocolParameters"),
    }
    sign = {
        "signatureProtocol": _protocol(RAW_DIGEST_SIGNATURE),
        "signatureProtocolParameters": ref("SignSignatureProtocolParameters"),
        "nonce": _NONCE,
    }
    protocol = ["signatureProtocol", "signatureProtocolParameters", "interactions"]
    callback = {"initialCallbackUrl": {"oneOf": [_CALLBACK, {"type": "null"}]}}
    device_link = ref("DeviceLinkInteractions")
    notification = ref("NotificationInteractions")
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
                "linkedSessionID": string(
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
            "value": string("Standard Base64 of the DER certificate.", pattern=BASE64_PATTERN),
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
    value = string("Standard Base64 of the RSA signature.", pattern=BASE64_PATTERN)
    flow = {"type": "string", "enum": FLOW_TYPES}
    parameters = ref("ResponseSignatureAlgorithmParameters")
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
                "serverRandom": string(
                    "Standard Base64 of the server's random part of the payload.",
                    minLength=24,
                    pattern=BASE64_PATTERN,
                ),
                "userChallenge": string(
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


def response_schemas() -> Schema:
    ignored = {
        "type": "array",
        "items": {"type": "string"},
        "description": "The request's requestProperties that the server does not know.",
    }
    interactions = list(status.INTERACTION_TYPES)
    return {
        "SessionStatus": {
            "oneOf": [
                ref("SessionStatusRunning"),
                ref("SessionStatusOk"),
                ref("SessionStatusFailed"),
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
                                "interaction": string(
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
                        "documentNumber": string(
                            "The account's document number; take it from here, never build it.",
                            pattern=identifiers.DOCUMENT_NUMBER_PATTERN,
                        ),
                    },
                },
                "signatureProtocol": {"type": "string", "enum": [ACSP_V2, RAW_DIGEST_SIGNATURE]},
                "signature": {
                    "oneOf": [
                        ref("AcspV2Signature"),
                        ref("RawDigestSignature"),
                        ref("CertificateChoiceSignature"),
                    ]
                },
                "cert": ref("Certificate"),
                "interactionTypeUsed": {"type": "string", "enum": interactions},
                "deviceIpAddress": string(
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
                "sessionID": string("Poll GET /v3/session/{sessionID}.", format="uuid"),
                "sessionToken": string(
                    "Goes into every device link, in the clear.", pattern="^[A-Za-z0-9]{24,}$"
                ),
                "sessionSecret": string(
                    "Standard Base64 key of the authCode HMAC; never leaves the relying "
                    "party's back end.",
                    minLength=24,
                    pattern=BASE64_PATTERN,
                ),
                "deviceLinkBase": string("The base URL of the device links.", format="uri"),
            },
        },
        "SessionStarted": {
            "type": "object",
            "required": ["sessionID"],
            "properties": {"sessionID": string("Poll GET /v3/session/{sessionID}.", format="uuid")},
        },
        "SignatureSessionStarted": {
            "type": "object",
            "required": ["sessionID", "vc"],
            "properties": {
                "sessionID": string("Poll GET /v3/session/{sessionID}.", format="uuid"),
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
                "cert": ref("Certificate"),
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
