"""Secondary subscriber authentication: one-time codes and links, and how they are delivered.

A remote registration completes only after the person proves control of a contact the
service knew *before* the application (the population registry's or an earlier verified
e-mail address or phone number). This module holds the small pieces that proof needs;
the flow and its state live in ``enrolment.onboarding``:

* :func:`new_code` / :func:`code_hash` / :func:`code_matches`: an 8-digit code from
  ``secrets``. Only its keyed hash is stored: HMAC-SHA256 under a key derived from
  ``SECRET_KEY``, because 10^8 codes are brute-forced in seconds from a plain hash, and a
  stolen database without the secret key then reveals nothing.
* :func:`new_link_token` / :func:`link_token_hash`: a 256-bit URL-safe token for a
  one-time link; its SHA-256 is what is stored.
* :func:`send_code`: the message in the person's language (English or Estonian), by
  e-mail through Django's mail backends or by SMS through the pluggable
  :class:`SmsGateway` named by the ``SMS_BACKEND`` setting.

The code itself is never logged (except by the console SMS backend of dev/demo, whose
purpose is to show the message; live refuses it).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from typing import Literal, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, send_mail
from django.core.validators import validate_email
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.errors import DomainError
from enrolment.tickets import normalise_typed_code

logger = logging.getLogger(__name__)

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")
CODE_DIGITS = 8
#: RFC 5321 limits a forward path to 254 characters.
MAX_EMAIL_LENGTH = 254
MAX_LINK_LENGTH = 500
#: One SMS of GSM-7 text is 160 characters; ours fit in two.
MAX_SMS_LENGTH = 306
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")
_CODE_HMAC_SALT = "enrolment.secondary.code.v1"


class SecondaryAuthError(DomainError):
    code = "secondary_error"


class InvalidAddress(SecondaryAuthError):
    code = "invalid_address"


class ChannelUnavailable(SecondaryAuthError):
    code = "channel_unavailable"


class DeliveryFailed(SecondaryAuthError):
    code = "delivery_failed"


# --- codes and tokens ------------------------------------------------------------------


def new_code() -> str:
    """A fresh one-time code: 8 decimal digits, uniformly from ``secrets``."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalise_code(code: str) -> str | None:
    """The 8 digits of what a person typed ("1234 5678", "1234-5678"), or None."""
    if not isinstance(code, str) or len(code) > 32:
        return None
    digits = normalise_typed_code(code)
    return digits if _CODE.fullmatch(digits) else None


def code_hash(code: str) -> bytes:
    """The stored form of a code: HMAC-SHA256 keyed from ``SECRET_KEY`` (32 bytes)."""
    normalised = normalise_code(code)
    if normalised is None:
        raise ValueError("not an 8-digit code")
    return salted_hmac(_CODE_HMAC_SALT, normalised, algorithm="sha256").digest()


def code_matches(code: str, stored_hash: bytes | bytearray | memoryview) -> bool:
    """True when ``code`` is the one whose hash was stored (constant-time comparison)."""
    normalised = normalise_code(code)
    if normalised is None or not isinstance(stored_hash, bytes | bytearray | memoryview):
        return False
    candidate = salted_hmac(_CODE_HMAC_SALT, normalised, algorithm="sha256").digest()
    return hmac.compare_digest(candidate, bytes(stored_hash))


def new_link_token() -> str:
    """A token for a one-time link: 256 bits from ``secrets``, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def link_token_hash(token: str) -> bytes:
    """The stored form of a link token (SHA-256; 256 random bits need no key or salt)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


# --- SMS gateways ----------------------------------------------------------------------


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str


class SmsGateway(Protocol):
    """Sends one text message. Raises :class:`DeliveryFailed` when the gateway refuses it."""

    def send(self, *, to: str, text: str) -> None: ...


class ConsoleSmsBackend:
    """Dev/demo: writes the message to the log instead of sending it (refused in live)."""

    def send(self, *, to: str, text: str) -> None:
        logger.warning("SMS to %s (console backend, not sent): %s", to, text)


#: Messages "sent" by :class:`LocmemSmsBackend`, like ``django.core.mail.outbox``.
outbox: list[SmsMessage] = []


class LocmemSmsBackend:
    """Tests: appends to :data:`outbox`."""

    def send(self, *, to: str, text: str) -> None:
        outbox.append(SmsMessage(to=to, text=text))


def sms_gateway() -> SmsGateway | None:
    """The gateway of the ``SMS_BACKEND`` setting, or None when SMS is off."""
    if not settings.SMS_BACKEND:
        return None
    gateway: SmsGateway = import_string(settings.SMS_BACKEND)()
    return gateway


def channel_available(channel: Channel) -> bool:
    """Whether ``send_code`` can use ``channel`` in this deployment."""
    return channel == "email" or (channel == "sms" and bool(settings.SMS_BACKEND))


# --- the messages ----------------------------------------------------------------------


def _email_text(code: str, link: str | None) -> tuple[str, str]:
    subject = _("Your Open eID registration code")
    lines = [
        _("Someone is registering an Open eID account in your name."),
        "",
        _("Your one-time code is: %(code)s") % {"code": f"{code[:4]} {code[4:]}"},
    ]
    if link:
        lines += ["", _("Or open this link to confirm: %(link)s") % {"link": link}]
    lines += [
        "",
        _(
            "If this is not you, do not share the code: ignore this message and the "
            "registration will expire."
        ),
    ]
    return subject, "\n".join(lines)


def _sms_text(code: str, link: str | None) -> str:
    text = _("Open eID registration code: %(code)s. Do not share it.") % {
        "code": f"{code[:4]} {code[4:]}"
    }
    if link:
        text += " " + link
    return text


def send_code(
    *, channel: Channel, address: str, code: str, link: str | None, language: str
) -> None:
    """Deliver ``code`` (and ``link``, if any) to ``address`` in ``language`` ("en"/"et").

    Raises :class:`InvalidAddress`, :class:`ChannelUnavailable` or :class:`DeliveryFailed`;
    never logs the code.
    """
    if normalise_code(code) != code:
        raise ValueError("code must be what new_code() returned")
    if link is not None and (
        not isinstance(link, str)
        or len(link) > MAX_LINK_LENGTH
        or not link.startswith(("https://", "http://"))
        or any(c.isspace() for c in link)
    ):
        raise InvalidAddress("The link is not a single http(s) URL.")
    languages = {code_ for code_, _name in settings.LANGUAGES}
    language = language if language in languages else settings.LANGUAGE_CODE
    if channel == "email":
        _send_email(address, code, link, language)
    elif channel == "sms":
        _send_sms(address, code, link, language)
    else:
        raise ChannelUnavailable(f"Unknown channel {channel!r}.")


def send_notice(*, channel: Channel, address: str, language: str) -> None:
    """Tell a person at a contact the service knew that a new account was registered in
    their name (no code: they confirmed it with an eID means of their own; the message is
    for the case they did not). Raises like :func:`send_code`.
    """
    languages = {code_ for code_, _name in settings.LANGUAGES}
    language = language if language in languages else settings.LANGUAGE_CODE
    with translation.override(language):
        subject = _("A new Open eID account in your name")
        text = _(
            "A new Open eID account was registered in your name on a new device. If this "
            "was not you, log in to the self-service portal and delete it, or call us."
        )
    if channel == "email":
        _deliver_email(address, subject, text)
    elif channel == "sms":
        _deliver_sms(address, text)
    else:
        raise ChannelUnavailable(f"Unknown channel {channel!r}.")


def _send_email(address: str, code: str, link: str | None, language: str) -> None:
    with translation.override(language):
        subject, body = _email_text(code, link)
    _deliver_email(address, subject, body)


def _deliver_email(address: str, subject: str, body: str) -> None:
    if not isinstance(address, str) or len(address) > MAX_EMAIL_LENGTH:
        raise InvalidAddress("Not an e-mail address.")
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidAddress("Not an e-mail address.") from None
    try:
        send_mail(subject, body, None, [address], fail_silently=False)
    except (smtplib.SMTPException, OSError, BadHeaderError) as exc:
        logger.warning("secondary code e-mail to %s failed: %s", address, type(exc).__name__)
        raise DeliveryFailed("The e-mail could not be sent.") from exc


def _send_sms(address: str, code: str, link: str | None, language: str) -> None:
    with translation.override(language):
        text = _sms_text(code, link)
    _deliver_sms(address, text)


def _deliver_sms(address: str, text: str) -> None:
    if not isinstance(address, str) or _PHONE.fullmatch(address) is None:
        raise InvalidAddress("Not a phone number in the form +37255512345.")
    gateway = sms_gateway()
    if gateway is None:
        raise ChannelUnavailable("SMS delivery is not configured (SMS_BACKEND).")
    if len(text) > MAX_SMS_LENGTH:
        raise InvalidAddress("The message with its link is too long for an SMS.")
    try:
        gateway.send(to=address, text=text)
    except DeliveryFailed:
        raise
    except Exception as exc:  # a pluggable gateway's own errors end here, as one domain error
        logger.warning("SMS to %s failed: %s", address, type(exc).__name__)
        raise DeliveryFailed("The SMS could not be sent.") from exc
