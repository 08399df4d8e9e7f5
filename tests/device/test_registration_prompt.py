"""A registration prompt (an existing account asked to approve a new device): the code is
on the new device's screen, so the app shows only the choices and sends only a pick."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from device.__main__ import _print_transaction
from device.answers import parse_transaction
from device.errors import InputError, ProtocolError
from device.transactions import _chosen_code
from signing.engine import verification_code

HASH = hashlib.sha256(b"Open eID application for a new account").digest()
CHOICES = ["4821", "0307", "9950"]
PROMPT = [
    {"type": "confirmationMessageAndVerificationCodeChoice", "displayText200": "New device?"},
    {"type": "verificationCodeChoice", "displayText60": "Pick the code"},
]


def _prompt(**changes: Any) -> dict[str, Any]:
    """The prompt as the service sends it (docs/app-api.md §3.2)."""
    body = {
        "id": "0b6f6c39-0c6c-4a5c-9f55-6b1c1f1b2f8e",
        "state": "PENDING",
        "kind": "SIGNATURE",
        "documentNumber": "PNOEE-49002124277-MOCK-Q",
        "purpose": "SIGN",
        "rpName": "Open eID registration",
        "hash": base64.b64encode(HASH).decode(),
        "hashType": "SHA256",
        "padding": "PSS",
        "salt": base64.b64encode(b"s" * 32).decode(),
        "n": base64.b64encode((2**2047 + 1).to_bytes(256, "big")).decode(),
        "interactions": PROMPT,
        "vcChoices": CHOICES,
        "vcShownOn": "NEW_DEVICE",
        "expiresAt": "2030-01-01T00:00:00Z",
    }
    return body | changes


def test_the_app_shows_the_choices_never_a_code_of_its_own() -> None:
    tx = parse_transaction(_prompt())
    assert tx.vc_shown_on == "NEW_DEVICE" and tx.needs_vc_choice
    # The hash's code is not the one to pick: the app must not offer or send it.
    assert tx.verification_code is None and verification_code(HASH) not in CHOICES
    lines: list[str] = []
    _print_transaction(tx, lines.append)
    output = "\n".join(lines)
    assert "pick the one the new device shows: 4821, 0307, 9950" in output
    assert "█" not in output and " ".join(verification_code(HASH)) not in output


def test_only_the_users_pick_is_sent() -> None:
    tx = parse_transaction(_prompt())
    with pytest.raises(InputError, match="new device"):
        _chosen_code(tx, None)
    assert _chosen_code(tx, "0307") == "0307"
    # A code that was not offered is still the user's pick: the service answers WRONG_VC.
    assert _chosen_code(tx, "1111") == "1111"
    with pytest.raises(InputError):
        _chosen_code(tx, "12a4")


@pytest.mark.parametrize(
    "changes",
    [
        {"vcShownOn": "RELYING_PARTY"},  # unknown
        {"vcShownOn": ""},
        {"vc": "4821"},  # the code itself must never come with it
        {"vcChoices": None},
        {"interactions": [{"type": "displayTextAndPIN", "displayText60": "PIN"}, *PROMPT]},
        {"flowType": "Notification", "protocol": "RAW_DIGEST_SIGNATURE"},
    ],
)
def test_a_prompt_that_could_be_approved_blind_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        parse_transaction(_prompt(**changes))
