"""Logging in to the portal with a virtual ID-card, as the browser's Web eID does.

The card is made from the persona (not looked up among the demo's cards), so the tests do
not depend on whom the demo hands cards to.
"""

from __future__ import annotations

from typing import Any

from django.test import Client

from demo import virtualcard
from portal import services
from tests.personas import Citizen


def card(who: Citizen) -> virtualcard.VirtualCard:
    """The citizen's virtual ID-card (the same card on every call in a process)."""
    spec = virtualcard.CardSpec(
        identity_code=who.personal_code,
        given_name=who.given_name,
        surname=who.surname,
        country=who.country,
    )
    return virtualcard.authority().card(spec)


def token_login(client: Client, who: Citizen, **overrides: Any) -> Any:
    """Run the Web eID login with the citizen's card; returns the token response."""
    nonce = client.post("/portal/login/challenge").json()["challengeNonce"]
    origin = overrides.pop("sign_origin", services.site_origin())
    token = card(who).token_for(origin, nonce)
    body = {"authToken": token, "origin": origin, "challengeNonce": nonce, **overrides}
    return client.post("/portal/login/web-eid", body, content_type="application/json")
