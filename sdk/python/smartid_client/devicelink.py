"""Device-link helpers: QR images of a link, the relying party's callback URL, and the
verification of the callback the app opens (docs/spec/rp-api.md §5 "Callback").

The links themselves come from :meth:`Session.device_link` (``qr_link``, ``web2app_link``,
``app2app_link``): the QR link changes every second (``elapsedSeconds``), so render a new
image per second, e.g. from a small endpoint the login page polls.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import segno

from .errors import CallbackError
from .models import Session
from .protocol import SessionType, session_secret_digest

__all__ = [
    "CallbackParameters",
    "new_callback_url",
    "qr_png",
    "qr_png_data_uri",
    "qr_svg",
    "qr_svg_data_uri",
    "verify_callback",
]


def _qr(link: str) -> segno.QRCode:
    return segno.make_qr(link, error="l", boost_error=True)


def qr_png(link: str, *, scale: int = 4, border: int = 4) -> bytes:
    """The QR code of ``link`` as PNG bytes."""
    import io

    out = io.BytesIO()
    _qr(link).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def qr_svg(link: str, *, scale: int = 4, border: int = 4) -> str:
    """The QR code of ``link`` as an SVG document."""
    import io

    out = io.BytesIO()
    _qr(link).save(out, kind="svg", scale=scale, border=border, xmldecl=False)
    return out.getvalue().decode("utf-8")


def qr_svg_data_uri(link: str, *, scale: int = 4, border: int = 4) -> str:
    """``data:image/svg+xml,…`` for an ``<img src>``."""
    return str(_qr(link).svg_data_uri(scale=scale, border=border))


def qr_png_data_uri(link: str, *, scale: int = 4, border: int = 4) -> str:
    """``data:image/png;base64,…`` for an ``<img src>``."""
    return str(_qr(link).png_data_uri(scale=scale, border=border))


def new_callback_url(base_url: str, *, parameter: str = "value") -> str:
    """``base_url`` plus a fresh random value of the relying party's own (128 bits,
    Base64URL) under ``parameter``: the ``initial_callback_url`` of one Web2App or App2App
    session. The value ties the callback to this browser's session; keep the whole URL
    (it is in the :class:`Session`)."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.netloc or parts.fragment:
        raise ValueError("the callback URL must be https:// without a fragment")
    query = parse_qs(parts.query, keep_blank_values=True)
    if parameter in query:
        raise ValueError(f"the callback URL already has {parameter!r}")
    token = secrets.token_urlsafe(16)
    extra = urlencode({parameter: token})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


@dataclass(frozen=True)
class CallbackParameters:
    """What the app added to the callback URL, once checked."""

    session_secret_digest: str
    #: Authentications only; the validator checks it against ``signature.userChallenge``.
    user_challenge_verifier: str | None


def verify_callback(session: Session, url: str) -> CallbackParameters:
    """Check the URL the app opened (Web2App/App2App) against the session.

    The path and every parameter of the session's ``initialCallbackUrl`` (with the relying
    party's own random value) must be there unchanged, ``sessionSecretDigest`` must be
    ``B64URL(SHA-256(sessionSecret))``, an authentication must carry one
    ``userChallengeVerifier`` (others none), and nothing else may be added. Raises
    :class:`CallbackError` otherwise. Pass the returned value to
    :meth:`Validator.authentication` (``callback=``), which checks the verifier against the
    signed userChallenge.
    """
    if session.initial_callback_url is None or session.session_secret is None:
        raise CallbackError("the session has no initial callback URL")
    ours = urlsplit(session.initial_callback_url)
    theirs = urlsplit(url)
    if theirs.path != ours.path or theirs.fragment:
        raise CallbackError("the callback is not our callback URL")
    expected = parse_qs(ours.query, keep_blank_values=True)
    try:
        got = parse_qs(theirs.query, keep_blank_values=True, strict_parsing=bool(theirs.query))
    except ValueError as exc:
        raise CallbackError("malformed callback query") from exc
    for name, values in expected.items():
        received = got.pop(name, [])
        if len(received) != len(values) or not all(
            hmac.compare_digest(a.encode(), b.encode())
            for a, b in zip(values, received, strict=True)
        ):
            raise CallbackError(f"the callback's {name!r} is not ours")
    digest = _single(got, "sessionSecretDigest")
    if digest is None or not hmac.compare_digest(
        digest.encode(), session_secret_digest(session.session_secret).encode()
    ):
        raise CallbackError("sessionSecretDigest does not match the session")
    verifier = _single(got, "userChallengeVerifier")
    if session.session_type is SessionType.AUTHENTICATION:
        if verifier is None:
            raise CallbackError("an authentication callback needs a userChallengeVerifier")
        if not verifier.isascii():
            raise CallbackError("userChallengeVerifier is not ASCII")
    elif verifier is not None:
        raise CallbackError("unexpected userChallengeVerifier")
    if got:
        raise CallbackError(f"unexpected callback parameters {sorted(got)}")
    return CallbackParameters(session_secret_digest=digest, user_challenge_verifier=verifier)


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.pop(name, None)
    if values is None:
        return None
    if len(values) != 1:
        raise CallbackError(f"{name} more than once")
    return values[0]
