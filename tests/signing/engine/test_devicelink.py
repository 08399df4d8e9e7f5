"""RP API v3 device links: the documentation's authCodes, round trips, strict parsing,
the callback URL and every bad-input path.
"""

from __future__ import annotations

import base64
import random
import string
from typing import Any

import pytest

from signing.engine import (
    SCHEME_DEMO,
    SCHEME_LIVE,
    DeviceLink,
    DeviceLinkType,
    InvalidDeviceLink,
    SessionType,
    auth_code,
    auth_code_matches,
    authcode_payload,
    callback_url,
    device_link,
    new_user_challenge_verifier,
    parse_device_link,
    session_secret_digest,
    unprotected_link,
    user_challenge,
)
from signing.engine.errors import InvalidInput
from tests.signing.engine.test_acsp import CALLBACK, INTERACTIONS, RP_CHALLENGE, VERIFIER

# docs/spec/rp-api.md §5 (the inputs written out in full).
SECRET = base64.b64decode("B98ODiVCebRedSwdTk51zFSaGYyHtY1H2A0ocAi3/Ps=")
TOKEN = "wGIrqveE6AuGDATZKmR1mtAZ"
BASE = "https://smart-id.com/device-link"
DIGEST = "FNZFFya5wGLv9b27fZngaWrOBqle4tGwxZuDFRBdPl1RQvxJsfoqvTbjafd+8BcehMOQGvak6zlP+F8tga4bfQ=="
PROTOCOL = {
    "auth": ("ACSP_V2", RP_CHALLENGE, INTERACTIONS),
    "sign": ("RAW_DIGEST_SIGNATURE", DIGEST, INTERACTIONS),
    "cert": ("", "", ""),
}
#: The nine documented authCodes; §5 lists Web2App auth, QR auth, App2App sign, Web2App cert.
VECTORS = [
    ("Web2App", "auth", "aegUh6gCKkXBJhhvtJqSTWB5_2W8TDQt5eZ7db6krv0"),
    ("Web2App", "sign", "R0iNcUp8nK1nqrcVFWerXUfWMSjwDOMC6MAHKrckaH8"),
    ("Web2App", "cert", "PI1qYa9_l6zR-v6Pkre6ycSm7S3BGiOQSe5OQlw4UJg"),
    ("App2App", "auth", "00NRcgi4Jk7WdIwgMPlyM8wRy9KMu4C_oQvd-N6PKoo"),
    ("App2App", "sign", "8QZ16rkBW_ffkq6osT7UH1DbUlF9gEOZevgj-A0VNbM"),
    ("App2App", "cert", "AtayuRPP3N59wXF8Cijwjt3pQ16knW2L-5VLDTRD_KU"),
    ("QR", "auth", "OY1eHaD4UYedrBwtqUbSkpa0w7ttm4FllPkCD_3wlE0"),
    ("QR", "sign", "5PZVhiNDTnt1MjLz8_YCjnNtR7p0iGevaL2G1ajfMco"),
    ("QR", "cert", "T5pDDPAjoMS0byqS-FoaWVjlubODXoCCF4XDB4HeYNo"),
]
SECRET_DIGEST = "U4CKK13H1XFiyBofev9asqrzIrY5_Gszi_nL_zDKkBc"
CODE = "aegUh6gCKkXBJhhvtJqSTWB5_2W8TDQt5eZ7db6krv0"
WEB2APP = (
    f"{BASE}?deviceLinkType=Web2App&sessionToken={TOKEN}&sessionType=auth&version=1.0&lang=eng"
)
QR = (
    f"{BASE}?deviceLinkType=QR&elapsedSeconds=22&sessionToken={TOKEN}&sessionType=auth"
    "&version=1.0&lang=eng"
)


def _unprotected(link_type: str, session_type: str) -> str:
    return unprotected_link(
        base=BASE,
        link_type=link_type,
        session_token=TOKEN,
        session_type=session_type,
        lang="eng",
        elapsed_seconds=22 if link_type == "QR" else None,
    )


def _payload(link_type: str, session_type: str, **overrides: Any) -> str:
    protocol, value, interactions = PROTOCOL[session_type]
    args: dict[str, Any] = {
        "scheme": SCHEME_LIVE,
        "signature_protocol": protocol,
        "protocol_value": value,
        "rp_name": "DEMO",
        "brokered_rp_name": "Example RP",
        "interactions": interactions,
        "initial_callback_url": "" if link_type == "QR" else CALLBACK,
        "unprotected_link": _unprotected(link_type, session_type),
    }
    return authcode_payload(**{**args, **overrides})


# --- the documentation vectors --------------------------------------------------------


@pytest.mark.parametrize(("link_type", "session_type", "expected"), VECTORS)
def test_documented_auth_codes(link_type: str, session_type: str, expected: str) -> None:
    unprotected = _unprotected(link_type, session_type)
    code = auth_code(SECRET, _payload(link_type, session_type))
    assert code == expected
    link = device_link(unprotected, code)
    assert link == f"{unprotected}&authCode={expected}"
    parsed = parse_device_link(link)
    assert parsed == DeviceLink(
        base=BASE,
        link_type=DeviceLinkType(link_type),
        session_token=TOKEN,
        session_type=SessionType(session_type),
        version="1.0",
        lang="eng",
        elapsed_seconds=22 if link_type == "QR" else None,
        auth_code=expected,
        unprotected=unprotected,
    )
    assert auth_code_matches(expected, parsed.auth_code)


def test_documented_unprotected_links() -> None:
    assert _unprotected("Web2App", "auth") == WEB2APP
    assert _unprotected("QR", "auth") == QR


def test_auth_payload_layout() -> None:
    payload = _payload("Web2App", "auth")
    assert payload == "|".join(
        ["smart-id", "ACSP_V2", RP_CHALLENGE, "REVNTw==", "RXhhbXBsZSBSUA==", INTERACTIONS]
        + [CALLBACK, WEB2APP]
    )
    cert = _payload("QR", "cert", brokered_rp_name="")
    assert cert.startswith("smart-id|||REVNTw==|||")


def test_the_demo_scheme_gives_another_code() -> None:
    live = auth_code(SECRET, _payload("Web2App", "auth"))
    demo = auth_code(SECRET, _payload("Web2App", "auth", scheme=SCHEME_DEMO))
    assert SCHEME_DEMO == "smart-id-demo"
    assert live != demo
    assert not auth_code_matches(live, demo)


def test_documented_callback_urls() -> None:
    digest = session_secret_digest(SECRET)
    assert digest == SECRET_DIGEST
    assert callback_url(
        CALLBACK, session_secret_digest=digest, user_challenge_verifier=VERIFIER
    ) == (f"{CALLBACK}&sessionSecretDigest={SECRET_DIGEST}&userChallengeVerifier={VERIFIER}")
    assert callback_url(CALLBACK, session_secret_digest=digest) == (
        f"{CALLBACK}&sessionSecretDigest={SECRET_DIGEST}"
    )


# --- round trips ------------------------------------------------------------------------


def test_random_round_trips() -> None:
    rng = random.Random(3)  # noqa: S311 - test data
    alnum = string.ascii_letters + string.digits
    for _ in range(300):
        link_type = rng.choice(list(DeviceLinkType))
        session_type = rng.choice(list(SessionType))
        parts: dict[str, Any] = {
            "base": rng.choice([BASE, "http://localhost:8000/device-link", "https://e.ee"]),
            "link_type": link_type,
            "session_token": "".join(rng.choices(alnum, k=rng.randint(24, 64))),
            "session_type": session_type,
            "lang": "".join(rng.choices(string.ascii_lowercase, k=3)),
            "elapsed_seconds": rng.randint(0, 10**9 - 1) if link_type == "QR" else None,
            "version": rng.choice(["1.0", "2.13", "100.999"]),
        }
        unprotected = unprotected_link(**parts)
        secret = rng.randbytes(rng.randint(16, 64))
        protocol, value, interactions = PROTOCOL[session_type]
        payload = authcode_payload(
            scheme=SCHEME_DEMO,
            signature_protocol=protocol,
            protocol_value=value,
            rp_name="Pank | Õun",
            brokered_rp_name="",
            interactions=interactions,
            initial_callback_url="" if link_type == "QR" else CALLBACK,
            unprotected_link=unprotected,
        )
        code = auth_code(secret, payload)
        parsed = parse_device_link(device_link(unprotected, code))
        assert (
            parsed.base,
            parsed.link_type,
            parsed.session_token,
            parsed.session_type,
            parsed.lang,
            parsed.elapsed_seconds,
            parsed.version,
        ) == tuple(parts.values())
        assert parsed.unprotected == unprotected
        assert auth_code_matches(auth_code(secret, payload), parsed.auth_code)


# --- strict parsing ---------------------------------------------------------------------

LINK = f"{WEB2APP}&authCode={CODE}"
QR_LINK = f"{QR}&authCode={CODE}"
_Q = f"sessionToken={TOKEN}&sessionType=auth&version=1.0&lang=eng&authCode={CODE}"


@pytest.mark.parametrize(
    "url",
    [
        # reordered parameters
        f"{BASE}?sessionToken={TOKEN}&deviceLinkType=Web2App&sessionType=auth&version=1.0"
        f"&lang=eng&authCode={CODE}",
        f"{BASE}?deviceLinkType=Web2App&sessionToken={TOKEN}&sessionType=auth&lang=eng"
        f"&version=1.0&authCode={CODE}",
        f"{BASE}?deviceLinkType=Web2App&authCode={CODE}&sessionToken={TOKEN}&sessionType=auth"
        "&version=1.0&lang=eng",
        f"{BASE}?deviceLinkType=QR&sessionToken={TOKEN}&elapsedSeconds=22&sessionType=auth"
        f"&version=1.0&lang=eng&authCode={CODE}",
        # percent-encoding, fragment, spaces, non-ASCII
        LINK.replace("version=1.0", "version=1%2E0"),
        LINK.replace("https://smart-id.com", "https://smart%2Did.com"),
        LINK + "#top",
        LINK + "#",
        LINK.replace("lang=eng", "lang=eng "),
        LINK.replace("lang=eng", "lang=ëng"),
        " " + LINK,
        LINK + "\n",
        # missing, empty, extra or repeated parameters
        LINK.replace("&lang=eng", ""),
        LINK.replace(f"&authCode={CODE}", ""),
        LINK.replace("lang=eng", "lang="),
        LINK.replace("lang=eng", "lang"),
        LINK.replace("lang=eng", "=eng"),
        LINK.replace("&lang=eng", "&lang=eng&lang=eng"),
        LINK.replace("&lang=eng", "&&lang=eng"),
        LINK + "&",
        LINK + "&extra=1",
        LINK.replace("lang=eng", "lang=eng=x"),
        f"{BASE}?{_Q}",
        f"{BASE}?",
        BASE,
        "",
        f"{BASE}?deviceLinkType=Web2App",
        # elapsedSeconds on a same-device link, missing or malformed on a QR link
        LINK.replace("Web2App&", "Web2App&elapsedSeconds=5&"),
        LINK.replace("Web2App&", "App2App&elapsedSeconds=0&"),
        QR_LINK.replace("&elapsedSeconds=22", ""),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=-1"),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=2a"),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=022"),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=+22"),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=2.5"),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=1234567890"),
        QR_LINK.replace("elapsedSeconds=22", "elapsedSeconds=١٢"),
        # wrong values
        LINK.replace("Web2App", "web2app"),
        LINK.replace("Web2App", "Notification"),
        LINK.replace("sessionType=auth", "sessionType=AUTH"),
        LINK.replace("sessionType=auth", "sessionType=signature"),
        LINK.replace(TOKEN, TOKEN[:-1]),
        LINK.replace(TOKEN, TOKEN[:-1] + "-"),
        LINK.replace(TOKEN, TOKEN * 3),
        LINK.replace("version=1.0", "version=1"),
        LINK.replace("version=1.0", "version=1.0.0"),
        LINK.replace("version=1.0", "version=v1.0"),
        LINK.replace("version=1.0", "version=1."),
        LINK.replace("version=1.0", "version=1000.0"),
        LINK.replace("lang=eng", "lang=ENG"),
        LINK.replace("lang=eng", "lang=en"),
        LINK.replace("lang=eng", "lang=engl"),
        LINK.replace(CODE, CODE[:-1]),
        LINK.replace(CODE, CODE + "A"),
        LINK.replace(CODE, CODE[:-1] + "="),
        LINK.replace(CODE, CODE[:-1] + "B"),
        LINK.replace(CODE, CODE.replace("_", "/")),
        # wrong bases
        LINK.replace("https://", "ftp://"),
        LINK.replace("https://smart-id.com", "https://"),
        LINK.replace("https://smart-id.com", "smart-id.com"),
        LINK.replace("https://smart-id.com", "https://a|b"),
        LINK.replace("?", "??"),
        "https://" + "a" * 1100 + "?" + LINK.split("?")[1],
        # oversize
        LINK + "A" * 3000,
    ],
)
def test_strict_parsing_refuses(url: str) -> None:
    with pytest.raises(InvalidDeviceLink):
        parse_device_link(url)


@pytest.mark.parametrize("url", [None, 5, b"https://x", ["a"]])
def test_parsing_refuses_what_is_not_text(url: object) -> None:
    with pytest.raises(InvalidDeviceLink):
        parse_device_link(url)  # type: ignore[arg-type]


def test_invalid_device_link_is_an_engine_input_error() -> None:
    assert issubclass(InvalidDeviceLink, InvalidInput)


def test_parsing_accepts_a_zero_elapsed_and_the_longest() -> None:
    assert parse_device_link(QR_LINK.replace("=22", "=0")).elapsed_seconds == 0
    assert parse_device_link(QR_LINK.replace("=22", "=999999999")).elapsed_seconds == 999999999


# --- building: bad input ----------------------------------------------------------------

GOOD_PARTS: dict[str, Any] = {
    "base": BASE,
    "link_type": "QR",
    "session_token": TOKEN,
    "session_type": "auth",
    "lang": "eng",
    "elapsed_seconds": 1,
}


@pytest.mark.parametrize(
    "overrides",
    [
        {"elapsed_seconds": None},
        {"elapsed_seconds": -1},
        {"elapsed_seconds": True},
        {"elapsed_seconds": "1"},
        {"elapsed_seconds": 10**9},
        {"link_type": "Web2App"},  # elapsed_seconds=1 on a same-device link
        {"link_type": "qr"},
        {"link_type": None},
        {"session_type": "Auth"},
        {"session_type": 1},
        {"session_token": None},
        {"lang": None},
        {"version": 1.0},
        {"version": None},
        {"base": None},
        {"base": ""},
        {"base": BASE + "?x=1"},
        {"base": BASE + "&"},
        {"base": BASE + "#"},
        {"base": "https://a b"},
    ],
)
def test_unprotected_link_refuses(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidDeviceLink):
        unprotected_link(**{**GOOD_PARTS, **overrides})


@pytest.mark.parametrize(
    ("link_type", "session_type", "overrides"),
    [
        ("Web2App", "auth", {"signature_protocol": "RAW_DIGEST_SIGNATURE"}),
        ("Web2App", "auth", {"signature_protocol": ""}),
        ("Web2App", "sign", {"signature_protocol": "ACSP_V2"}),
        ("Web2App", "cert", {"signature_protocol": "ACSP_V2"}),
        ("Web2App", "auth", {"protocol_value": ""}),
        ("Web2App", "auth", {"interactions": ""}),
        ("Web2App", "cert", {"protocol_value": DIGEST}),
        ("Web2App", "cert", {"interactions": INTERACTIONS}),
        ("QR", "auth", {"initial_callback_url": CALLBACK}),
        ("Web2App", "auth", {"initial_callback_url": ""}),
        ("App2App", "sign", {"initial_callback_url": ""}),
        ("Web2App", "auth", {"initial_callback_url": CALLBACK + "|x"}),
        ("Web2App", "auth", {"scheme": ""}),
        ("Web2App", "auth", {"scheme": "smart|id"}),
        ("Web2App", "auth", {"rp_name": ""}),
        ("Web2App", "auth", {"rp_name": None}),
        ("Web2App", "auth", {"rp_name": "\ud800"}),
        ("Web2App", "auth", {"brokered_rp_name": b"x"}),
        ("Web2App", "auth", {"protocol_value": None}),
        ("Web2App", "auth", {"interactions": "\udc00"}),
        ("Web2App", "auth", {"unprotected_link": f"{WEB2APP}&authCode={CODE}"}),
        ("Web2App", "auth", {"unprotected_link": WEB2APP.replace("eng", "ENG")}),
        ("Web2App", "auth", {"unprotected_link": None}),
    ],
)
def test_authcode_payload_refuses_parts_that_do_not_fit(
    link_type: str, session_type: str, overrides: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput):
        _payload(link_type, session_type, **overrides)


def test_names_with_the_separator_are_fine_in_the_payload() -> None:
    payload = _payload("Web2App", "auth", rp_name="A|B", brokered_rp_name="C|D")
    assert payload.count("|") == 7


@pytest.mark.parametrize(
    ("secret", "payload"),
    [
        (bytes(15), "x"),
        (bytes(65), "x"),
        ("secret" * 4, "x"),
        (None, "x"),
        (SECRET, None),
        (SECRET, b"x"),
        (SECRET, "\ud800"),
    ],
)
def test_auth_code_refuses(secret: object, payload: object) -> None:
    with pytest.raises(InvalidInput):
        auth_code(secret, payload)  # type: ignore[arg-type]


def test_auth_code_accepts_unicode_payloads() -> None:
    assert len(auth_code(bytes(18), "Õun")) == 43


@pytest.mark.parametrize(
    ("unprotected", "code"),
    [
        (WEB2APP, CODE[:-1]),
        (WEB2APP, None),
        (WEB2APP, CODE + "&x=1"),
        (None, CODE),
        (WEB2APP + "&x=1", CODE),
        (WEB2APP.replace("Web2App", "QR"), CODE),
    ],
)
def test_device_link_refuses(unprotected: object, code: object) -> None:
    with pytest.raises(InvalidDeviceLink):
        device_link(unprotected, code)  # type: ignore[arg-type]


def test_auth_code_matches() -> None:
    assert auth_code_matches(CODE, CODE)
    assert not auth_code_matches(CODE, CODE[:-1] + "A")
    assert not auth_code_matches(CODE, CODE[:-1])
    assert not auth_code_matches(CODE, None)  # type: ignore[arg-type]
    assert not auth_code_matches(None, CODE)  # type: ignore[arg-type]
    assert not auth_code_matches(CODE, "ä" * 43)
    assert not auth_code_matches("ä" * 43, CODE)


@pytest.mark.parametrize("secret", [bytes(15), None, "x" * 24])
def test_session_secret_digest_refuses(secret: object) -> None:
    with pytest.raises(InvalidInput):
        session_secret_digest(secret)  # type: ignore[arg-type]


# --- callback URLs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initial", "joined"),
    [
        ("https://rp.example.com/done", "https://rp.example.com/done?"),
        ("https://rp.example.com/done?", "https://rp.example.com/done?"),
        ("https://rp.example.com/done?a=1", "https://rp.example.com/done?a=1&"),
        ("https://rp.example.com/done?a=1&", "https://rp.example.com/done?a=1&"),
    ],
)
def test_callback_url_joins_as_the_url_needs(initial: str, joined: str) -> None:
    verifier = new_user_challenge_verifier()
    url = callback_url(
        initial, session_secret_digest=SECRET_DIGEST, user_challenge_verifier=verifier
    )
    assert url == f"{joined}sessionSecretDigest={SECRET_DIGEST}&userChallengeVerifier={verifier}"
    assert user_challenge(url.rsplit("=", 1)[1]) == user_challenge(verifier)
    plain = callback_url(initial, session_secret_digest=SECRET_DIGEST)
    assert plain == f"{joined}sessionSecretDigest={SECRET_DIGEST}"


@pytest.mark.parametrize(
    ("initial", "digest", "verifier"),
    [
        ("http://rp.example.com/", SECRET_DIGEST, None),
        ("https://rp.example.com/#x", SECRET_DIGEST, None),
        ("https://rp.example.com/|x", SECRET_DIGEST, None),
        ("https://rp.example.com/ x", SECRET_DIGEST, None),
        ("https://rp.example.com/" + "a" * 1800, SECRET_DIGEST, None),
        (None, SECRET_DIGEST, None),
        (CALLBACK, SECRET_DIGEST[:-1], None),
        (CALLBACK, None, None),
        (CALLBACK, SECRET_DIGEST, "short"),
        (CALLBACK, SECRET_DIGEST, VERIFIER + "&x=1"),
    ],
)
def test_callback_url_refuses(initial: object, digest: object, verifier: object) -> None:
    with pytest.raises(InvalidInput):
        callback_url(
            initial,  # type: ignore[arg-type]
            session_secret_digest=digest,  # type: ignore[arg-type]
            user_challenge_verifier=verifier,  # type: ignore[arg-type]
        )
