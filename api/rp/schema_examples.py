"""The examples of the RP API v1/v2 OpenAPI documents (api.rp.schema): the official Java
client's test bodies (smart-id-java-client 2.3.1 src/test/resources, MIT; the shared
spec corpus) and the status answers this server gives."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

BANK_UUID = "de305d54-75b4-431b-adb2-eb6b9e546014"  # the Java client's test relying party


_SHA512_HASH = (
    "K74MSLkafRuKZ1Ooucvh2xa4Q3nz+R/hFWIShN96SPHNcem+uQ6mFMe9kkJQqp5EaoZnJeaFpl310TmlzRgNyQ=="
)
_SHA256_HASH = "0nbgC2fVdLVQFZJdBbmG7oPoElpCYsQMtrY0c0wKYRg="
_CERT = (
    "MIIHhjCCBW6gAwIBAgIQDNYLtVwrKURYStrYApYViTANBgkqhkiG9w0BAQsFADBoMQswCQYDVQQGEwJFRTEiMCAG"
    "A1UECgwZQVMgU2VydGlmaXRzZWVyaW1pc2tlc2t1czEXMBUGA1UEYQwOTlRSRUUtMTA3NDcwMTMxHDAaBgNVBAMM"
    "E1RFU1Qgb2YgRUlELVNLIDIwMTYwHhcNMTYxMjA5MTYyNDU2WhcNMTkxMjA5MTYyNDU2WjCBvzELMAkGA1UEBhMC"
    "RUUxIjAgBgNVBAoMGUFTIFNlcnRpZml0c2VlcmltaXNrZXNrdXMxGjAYBgNVBAsMEWRpZ2l0YWwgc2lnbmF0dXJl"
    "MS0wKwYDVQQDDCRFTEZSSUlEQSxNQU5JVkFMREUsUE5PRUUtMzExMTExMTExMTExETAPBgNVBAQMCEVMRlJJSURB"
    "MRIwEAYDVQQqDAlNQU5JVkFMREUxGjAYBgNVBAUTEVBOT0VFLTMxMTExMTExMTExMIICIjANBgkqhkiG9w0BAQEF"
    "AAOCAg8AMIICCgKCAgEAgcfk+eY6dvVyDDPpJPkoKpQ08pQx5Jpfjgq+G31lRSsx03y4WYWQhILu5R4isI6DGzQ1"
    "MK2dEsW9Dl+S39y7mDDqGlviVpxCtgz14H7NG84ew8vd+sBeaYCvEhKS4+FxRWCmg5VCozr3s2Evi/ao3Wj51Tht"
    "ecVmAY7PoE27Zckr0GJ/0I+JqEQx19POBr/lNkZN1AxBy8O9gvDzdpCa2Vn9qahY9eZnDGScrP2KsR34UlXa5PjE"
    "MVPtSB4btPi9VOQuRoZImGchfUyf1A2uyIPhV5aC+Zgl60B65WxZ+/nEsVN4NoSgBUv+HlwuRxJPelQKeA9tPwKr"
    "oqO9PGc5/ee2C1HLH7loD+SwahSPMOY2e8CQd6pLmRF1a/H+ZPWZBW+U7Ekm3YeNNJToUkuonAQB/JbwBvHkZXws"
    "H4/kMHyMPiws5G3nr/jyqF2595KKghIgjGHR1WhGljQzdgO5LT4uuOhesGDRYeMUanvClWSb/mt0SdS8njziY7Wo"
    "YPYFFFgjRvIIK5FgOd8d2W88I5pj2/SjcXb6GMqEqI3HkCBGPDSo57nSJZzJD8KjJs/4jvzZnGwCFZ8+jeyh562B"
    "01mkFfwFaoFOYfqRG3g5sGdZUdY9Nk3FZ8dgEwylUMSxmaL0R2/mzNVasFWp482eHwlK2rae3v+QtCHGfOKn+vsC"
    "AwEAAaOCAdIwggHOMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQDAgZAMFYGA1UdIARPME0wQAYKKwYBBAHOHwMRAjAy"
    "MDAGCCsGAQUFBwIBFiRodHRwczovL3d3dy5zay5lZS9lbi9yZXBvc2l0b3J5L0NQUy8wCQYHBACL7EABATAdBgNV"
    "HQ4EFgQUNxW1gjoB4+Qh46Rj3SuULubhtUMwgZkGCCsGAQUFBwEDBIGMMIGJMAgGBgQAjkYBATAVBggrBgEFBQcL"
    "AjAJBgcEAIvsSQEBMBMGBgQAjkYBBjAJBgcEAI5GAQYBMFEGBgQAjkYBBTBHMEUWP2h0dHBzOi8vc2suZWUvZW4v"
    "cmVwb3NpdG9yeS9jb25kaXRpb25zLWZvci11c2Utb2YtY2VydGlmaWNhdGVzLxMCRU4wHwYDVR0jBBgwFoAUrrDq"
    "4Tb4JqulzAtmVf46HQK/ErQwfQYIKwYBBQUHAQEEcTBvMCkGCCsGAQUFBzABhh1odHRwOi8vYWlhLmRlbW8uc2su"
    "ZWUvZWlkMjAxNjBCBggrBgEFBQcwAoY2aHR0cHM6Ly9zay5lZS91cGxvYWQvZmlsZXMvVEVTVF9vZl9FSUQtU0tf"
    "MjAxNi5kZXIuY3J0MA0GCSqGSIb3DQEBCwUAA4ICAQCH+SY8KKgw5UDlVL99ToRWPpcloyfOM64UTnNgEDXDDI5r"
    "1CNNA0OlggzoEZfakNQJamHjIT287LV7nXFsB4Q9VzyI3H1J5mzVIZrMUiE68wf25BDuA3Zwpri+f8Me78f3nowO"
    "2cJ2AiMJ83vQFKKy1LFOixWguuxioKlda2Jq7B57ty5cN+jZwLO7Vrv4Tryg9QeOaxnFvHvuZaxMnE55of7cLpfy"
    "AH/5DKvlXx4cdmh7kNO4F/o2LT7om4Cf+Sq6tFS3cUn4zcQbFKT5lw+7vfewzG6X0qYnHbe7Ts/zhh7IJpHnPF1p"
    "23ND0+jHgbcDVTFjV4pN1PhVthYHOMeDW461okw2OA/jfuQetUlDwqT5yCdjrOTMDkjZCjTMhcVPzw+7hSUUnewK"
    "iR0smuyZbKpE/ZGZWUA6K0sieGCpHGKJo99zD3zmEWmOmq++D0TmVvEiXVJs8fuNWl+VmXSStkMeNR4noHAL1PFU"
    "ebXVS0lPpQZzBKgqhMGAgbwvYajZnOlvXVll6QashxFZmOVNy88O67s+a2p1SmQTtqNrlodszqkKsc28nDbbvBUd"
    "4PUD5tmVgPe29Zwnm1TxFuhl0gqvVc+qZme8zq6yd3nCKNrY6qron4Xcc1rxCWS7NcyO5JiF+qXgAuDOkSFJaaEn"
    "Qh83ZJsNneXD/nyBH8kSiQ=="
)
_SIGNATURE = (
    "luvjsi1+1iLN9yfDFEh/BE8hXtAKhAIxilv0SEk8Qk0yoM9ms/Qsq6OtFoTFZfmpZNQtmEDg6ADeVNUfZrAoozSb"
    "qGggNP9pZLv0pQ6fvkoUjV0XI3FP5PuICuRp0vfC2w024cG/Rw2XGfZTcDWZ3IWVaS/C9tqbvA7l0Ssa8W9wUit2"
    "H5msNMyyviHJFW7m9yfjdMZe9ebPw9HGSHjnRGbzl7myUIZyWtlD5mqnk/tcU13+lD6DBYkGSW5eu125W1BMojH3"
    "sIRrKhEdZxkgwtg6KEuWQ85OQBMF3X5zFB62caKqKo42HfV74EcbaBChhJ32226VZju+JKN9D+WUeQ=="
)
_RP = {"relyingPartyUUID": BANK_UUID, "relyingPartyName": "BANK123"}


def _example(summary: str, value: Any) -> Schema:
    return {"summary": summary, "value": value}


AUTHENTICATION_EXAMPLES_V2 = {
    "authenticationSessionRequest": _example(
        "Java client 2.3.1: confirmation with VC choice, falling back to PIN",
        {
            **_RP,
            "certificateLevel": "ADVANCED",
            "hash": _SHA512_HASH,
            "hashType": "SHA512",
            "allowedInteractionsOrder": [
                {
                    "type": "confirmationMessageAndVerificationCodeChoice",
                    "displayText200": "Log in to self-service?",
                },
                {"type": "displayTextAndPIN", "displayText60": "Log in?"},
            ],
        },
    ),
    "authenticationSessionRequestWithNonce": _example(
        "Java client 2.3.1: with a nonce (starts a new session within 15 s)",
        {
            **_RP,
            "certificateLevel": "ADVANCED",
            "hash": _SHA512_HASH,
            "hashType": "SHA512",
            "nonce": "g9rp4kjca3",
            "allowedInteractionsOrder": [
                {
                    "type": "confirmationMessageAndVerificationCodeChoice",
                    "displayText200": "Log in to self-service?",
                },
                {"type": "displayTextAndPIN", "displayText60": "Log in?"},
            ],
        },
    ),
}
SIGNATURE_EXAMPLES_V2 = {
    "signatureSessionRequest": _example(
        "Java client 2.3.1: confirmation message, falling back to PIN",
        {
            **_RP,
            "certificateLevel": "ADVANCED",
            "hash": _SHA256_HASH,
            "hashType": "SHA256",
            "allowedInteractionsOrder": [
                {
                    "type": "confirmationMessage",
                    "displayText200": "Authorize transfer of 1 unit from account 113245344343 "
                    "to account 7677323232?",
                },
                {
                    "type": "displayTextAndPIN",
                    "displayText60": "Transfer 1 unit to account 7677323232?",
                },
            ],
        },
    ),
    "signingRequest_verificationCodeChoice_fallbackTo_displayTextAndPIN": _example(
        "Java client 2.3.1: VC choice, falling back to PIN",
        {
            **_RP,
            "certificateLevel": "ADVANCED",
            "hash": _SHA256_HASH,
            "hashType": "SHA256",
            "allowedInteractionsOrder": [
                {
                    "type": "verificationCodeChoice",
                    "displayText60": "Transfer 444 BSD to Oceanic Airlines?",
                },
                {
                    "type": "displayTextAndPIN",
                    "displayText60": "Transfer 444 BSD to Oceanic Airlines?",
                },
            ],
        },
    ),
    "signatureSessionRequestWithRequestProperties": _example(
        "Java client 2.3.1: no interactions (the app asks for the PIN only), requestProperties",
        {
            **_RP,
            "certificateLevel": "ADVANCED",
            "hash": _SHA256_HASH,
            "hashType": "SHA256",
            "requestProperties": {},
        },
    ),
}
CERTIFICATE_CHOICE_EXAMPLES = {
    "certificateChoiceRequest": _example(
        "Java client 2.3.1", {**_RP, "certificateLevel": "ADVANCED"}
    ),
    "certificateChoiceRequestWithNonce": _example(
        "Java client 2.3.1: with a nonce",
        {**_RP, "certificateLevel": "ADVANCED", "nonce": "zstOt2umlc"},
    ),
}
HASH_EXAMPLES_V1 = {
    "djangoEsteid": _example(
        "django-esteid 4.2 (v1): displayText, no interaction list",
        {
            "certificateLevel": "QUALIFIED",
            "hashType": "SHA256",
            "hash": _SHA256_HASH,
            "displayText": "Log in to Bank 123?",
            **_RP,
        },
    ),
    "vcChoice": _example(
        "v1 with requestProperties.vcChoice (VC choice first, then PIN)",
        {
            **_RP,
            "hashType": "SHA512",
            "hash": _SHA512_HASH,
            "displayText": "Sign the contract?",
            "requestProperties": {"vcChoice": True, "shareMdClientIpAddress": True},
        },
    ),
}


def status_examples(version: int) -> Schema:
    ok = {"endResult": "OK", "documentNumber": "PNOEE-40504040001-MOCK-Q"}
    cert = {"value": _CERT, "certificateLevel": "QUALIFIED"}
    signature = {"value": _SIGNATURE, "algorithm": "sha256WithRSAEncryption"}
    examples = {
        "running": _example("Running (java sessionStatusRunning.json)", {"state": "RUNNING"}),
        "authenticationOk": _example(
            "Authentication OK",
            {
                "state": "COMPLETE",
                "result": ok,
                "signature": signature,
                "cert": cert,
                "interactionFlowUsed": "displayTextAndPIN",
            },
        ),
        "signatureOkWithDeviceIp": _example(
            "Signature OK, device IP address shared",
            {
                "state": "COMPLETE",
                "result": ok,
                "signature": signature,
                "cert": cert,
                "interactionFlowUsed": "displayTextAndPIN",
                "deviceIpAddress": "62.65.42.46",
            },
        ),
        "certificateChoiceOk": _example(
            "Certificate choice OK", {"state": "COMPLETE", "result": ok, "cert": cert}
        ),
        "timeout": _example(
            "The user did not answer in time",
            {"state": "COMPLETE", "result": {"endResult": "TIMEOUT"}},
        ),
    }
    if version == 2:
        examples["refusedConfirmation"] = _example(
            "Refused on the confirmation screen",
            {"state": "COMPLETE", "result": {"endResult": "USER_REFUSED_CONFIRMATIONMESSAGE"}},
        )
        examples["runningWithIgnoredProperties"] = _example(
            "Running, unknown requestProperties echoed",
            {"state": "RUNNING", "ignoredProperties": ["testingIgnored", "testingIgnoredTwo"]},
        )
    return examples
