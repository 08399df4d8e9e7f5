"""The verification-code choice: an answer without a pick is refused and changes nothing,
and a code shown on another screen is offered only as a choice."""

from __future__ import annotations

import hashlib
import json

import pytest

from signing.models import SplitKey, Transaction
from signing.services.errors import BadRequest
from signing.services.transactions import transaction_create
from tests.helpers.platform import Platform, auth_transaction, send_signed
from tests.helpers.v3links import get_transaction
from tests.personas import PIN1

pytestmark = pytest.mark.django_db(transaction=True)
CODE_CHOICE = [{"type": "verificationCodeChoice", "displayText60": "Log in?"}]
PIN_SCREEN = {"type": "displayTextAndPIN", "displayText60": "Log in?"}


def test_a_code_choice_without_the_code_is_400_and_changes_nothing(platform: Platform) -> None:
    app, account = platform.registered()
    tx = auth_transaction(account, interactions=CODE_CHOICE)
    key = SplitKey.objects.get(account=account, purpose=SplitKey.Purpose.AUTH)
    answer = send_signed(
        app,
        "POST",
        f"/app/v1/transactions/{tx.pk}/confirm",
        json.dumps({"interaction": "verificationCodeChoice"}).encode(),
    )
    assert answer.status_code == 400 and answer.json()["error"] == "vc_required"
    tx.refresh_from_db()
    assert tx.state == Transaction.State.PENDING and tx.result == ""
    after = SplitKey.objects.get(pk=key.pk)
    assert (after.fails, bytes(after.token_hash)) == (key.fails, bytes(key.token_hash))
    assert app.approve(str(tx.pk), PIN1).ok  # the reference app picks its computed code


def test_a_code_shown_elsewhere_is_never_sent_to_the_app(platform: Platform) -> None:
    app, account = platform.registered()
    tx = transaction_create(
        account=account,
        kind=Transaction.Kind.AUTHENTICATION,
        rp_name="Open eID registration",
        interactions=CODE_CHOICE,
        digest=hashlib.sha256(b"x").digest(),
        hash_type="SHA256",
        vc="4821",
        vc_shown_on=Transaction.VcShownOn.NEW_DEVICE,
    )
    body = get_transaction(app, str(tx.pk))
    assert body["vcShownOn"] == "NEW_DEVICE" and "vc" not in body
    assert "4821" in body["vcChoices"] and len(set(body["vcChoices"])) == 3


@pytest.mark.parametrize(
    ("interactions", "vc"),
    [
        ([PIN_SCREEN], "4821"),  # no choice at all
        ([*CODE_CHOICE, PIN_SCREEN], "4821"),  # a PIN-only fallback: approvable blind
        (CODE_CHOICE, ""),  # no code to show
        (CODE_CHOICE, "48a1"),
    ],
)
def test_a_code_shown_elsewhere_needs_the_code_and_choices_only(
    platform: Platform, interactions: list[dict[str, str]], vc: str
) -> None:
    _, account = platform.registered()
    before = Transaction.objects.count()
    with pytest.raises(BadRequest):
        transaction_create(
            account=account,
            kind=Transaction.Kind.AUTHENTICATION,
            rp_name="Open eID registration",
            interactions=interactions,
            digest=hashlib.sha256(b"x").digest(),
            hash_type="SHA256",
            vc=vc,
            vc_shown_on=Transaction.VcShownOn.NEW_DEVICE,
        )
    assert Transaction.objects.count() == before
