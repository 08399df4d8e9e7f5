"""Secondary authentication: one-time codes and their delivery by e-mail and SMS."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

from enrolment import secondary
from enrolment.secondary import (
    ChannelUnavailable,
    DeliveryFailed,
    InvalidAddress,
    code_hash,
    code_matches,
    link_token_hash,
    new_code,
    new_link_token,
    send_code,
)

ALICE_EMAIL = "alice@example.org"
ALICE_PHONE = "+37255500001"


@pytest.fixture(autouse=True)
def sms_outbox(settings: Any) -> Iterator[list[secondary.SmsMessage]]:
    settings.SMS_BACKEND = "enrolment.secondary.LocmemSmsBackend"
    secondary.outbox.clear()
    yield secondary.outbox
    secondary.outbox.clear()


class FailingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("gone")


class FailingSms:
    def send(self, *, to: str, text: str) -> None:
        raise ConnectionError("gateway down")


# --- codes and tokens -----------------------------------------------------------------


def test_codes_are_eight_random_digits() -> None:
    codes = [new_code() for _ in range(2000)]
    assert all(len(c) == 8 and c.isdigit() for c in codes)
    assert len(set(codes)) > 1990  # 10^8 possibilities: collisions are rare
    assert {c[0] for c in codes} == set("0123456789")  # leading zeros are kept


def test_code_matches_its_hash_only() -> None:
    code = "01234567"
    stored = code_hash(code)
    assert len(stored) == 32
    assert code_matches(code, stored)
    assert code_matches("0123 4567", stored)  # as people type it
    assert code_matches("0123-4567", memoryview(stored))  # as the database returns it
    assert not code_matches("01234568", stored)
    assert not code_matches("1234567", stored)
    assert not code_matches("0123456x", stored)
    assert not code_matches(code, b"")


def test_stored_hash_is_keyed_by_the_secret_key() -> None:
    stored = code_hash("01234567")
    with override_settings(SECRET_KEY="another-secret-key-" + "x" * 40):
        assert code_hash("01234567") != stored
        assert not code_matches("01234567", stored)


def test_link_tokens_have_256_bits() -> None:
    tokens = {new_link_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 for t in tokens)
    token = tokens.pop()
    assert link_token_hash(token) == link_token_hash(token)
    assert link_token_hash(token) != link_token_hash(token + "x")


# --- e-mail ---------------------------------------------------------------------------


def test_email_in_english_with_link() -> None:
    send_code(
        channel="email",
        address=ALICE_EMAIL,
        code="12345678",
        link="https://eid.example.org/confirm/abc",
        language="en",
    )
    (message,) = mail.outbox
    assert message.to == [ALICE_EMAIL]
    assert message.subject == "Your Open eID registration code"
    assert "1234 5678" in message.body
    assert "https://eid.example.org/confirm/abc" in message.body
    assert message.from_email == "Open eID <noreply@localhost>"


def test_email_in_estonian() -> None:
    send_code(channel="email", address=ALICE_EMAIL, code="12345678", link=None, language="et")
    (message,) = mail.outbox
    assert message.subject == "Teie Open eID registreerimiskood"
    assert "1234 5678" in message.body
    assert "ühekordne kood" in message.body


def test_unknown_language_falls_back_to_english() -> None:
    send_code(channel="email", address=ALICE_EMAIL, code="12345678", link=None, language="xx")
    assert mail.outbox[0].subject == "Your Open eID registration code"


@pytest.mark.parametrize(
    "address", ["alice", "alice@example.org\nBcc: eve@example.org", "a" * 250 + "@x.org", ""]
)
def test_bad_email_addresses_are_refused_and_nothing_is_sent(address: str) -> None:
    with pytest.raises(InvalidAddress):
        send_code(channel="email", address=address, code="12345678", link=None, language="en")
    assert mail.outbox == []


def test_mail_server_failure_is_a_delivery_error(caplog: pytest.LogCaptureFixture) -> None:
    backend = f"{__name__}.FailingEmailBackend"
    with override_settings(EMAIL_BACKEND=backend), caplog.at_level(logging.DEBUG):
        with pytest.raises(DeliveryFailed):
            send_code(
                channel="email", address=ALICE_EMAIL, code="12345678", link=None, language="en"
            )
    assert "12345678" not in caplog.text


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "https://x.org/a b", "https://" + "x" * 600]
)
def test_bad_links_are_refused(link: str) -> None:
    with pytest.raises(InvalidAddress):
        send_code(channel="email", address=ALICE_EMAIL, code="12345678", link=link, language="en")
    assert mail.outbox == []


def test_only_new_codes_are_sent() -> None:
    with pytest.raises(ValueError):
        send_code(channel="email", address=ALICE_EMAIL, code="1234", link=None, language="en")


# --- SMS ------------------------------------------------------------------------------


def test_sms_in_both_languages(sms_outbox: list[secondary.SmsMessage]) -> None:
    send_code(channel="sms", address=ALICE_PHONE, code="87654321", link=None, language="en")
    send_code(channel="sms", address=ALICE_PHONE, code="87654321", link=None, language="et")
    english, estonian = sms_outbox
    assert english.to == ALICE_PHONE
    assert english.text == "Open eID registration code: 8765 4321. Do not share it."
    assert estonian.text == "Open eID registreerimiskood: 8765 4321. Ärge seda kellelegi andke."
    assert mail.outbox == []


@pytest.mark.parametrize("address", ["55500001", "+0372555", "+3725550000112345", "+372 5550"])
def test_bad_phone_numbers_are_refused(
    address: str, sms_outbox: list[secondary.SmsMessage]
) -> None:
    with pytest.raises(InvalidAddress):
        send_code(channel="sms", address=address, code="12345678", link=None, language="en")
    assert sms_outbox == []


def test_sms_off_is_channel_unavailable(settings: Any) -> None:
    settings.SMS_BACKEND = ""
    assert not secondary.channel_available("sms")
    assert secondary.channel_available("email")
    with pytest.raises(ChannelUnavailable):
        send_code(channel="sms", address=ALICE_PHONE, code="12345678", link=None, language="en")


def test_gateway_failure_is_a_delivery_error(settings: Any) -> None:
    settings.SMS_BACKEND = f"{__name__}.FailingSms"
    with pytest.raises(DeliveryFailed):
        send_code(channel="sms", address=ALICE_PHONE, code="12345678", link=None, language="en")


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(ChannelUnavailable):
        send_code(
            channel="fax",  # type: ignore[arg-type]
            address=ALICE_PHONE,
            code="12345678",
            link=None,
            language="en",
        )


def test_console_backend_logs_instead_of_sending(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SMS_BACKEND = "enrolment.secondary.ConsoleSmsBackend"
    with caplog.at_level(logging.WARNING, logger="enrolment.secondary"):
        send_code(channel="sms", address=ALICE_PHONE, code="12345678", link=None, language="en")
    assert "not sent" in caplog.text
    assert ALICE_PHONE in caplog.text
