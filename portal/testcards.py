"""A test ID-card issuer that an outer app may plug into the portal (the demo's virtual card).

The portal never imports the demo (the import contracts forbid it). Instead the demo app
registers its virtual ID-card CA here when it is installed (``demo.apps``), and the portal
trusts that CA, asks its OCSP responder in-process and lists its cards on the login page —
only while ``PORTAL_VIRTUAL_CARD`` is on, which a system check refuses in live mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from django.conf import settings

from portal import webeid


class CardHolder(Protocol):
    """What the login page shows of a test card."""

    @property
    def identity_code(self) -> str: ...

    @property
    def given_name(self) -> str: ...

    @property
    def surname(self) -> str: ...


@dataclass(frozen=True)
class TestCardIssuer:
    """The hooks of a test ID-card CA."""

    #: The issuing CA certificate, trusted next to the configured ID-card CAs.
    certificate: Callable[[], x509.Certificate]
    #: Wraps the HTTP OCSP client so that the test CA's own cards are answered in-process.
    ocsp_client: Callable[[webeid.OcspClient], webeid.OcspClient]
    #: The cards offered on the login page.
    cards: Callable[[], Sequence[CardHolder]]
    #: The URL of the endpoint the browser shim asks for a token instead of a card reader.
    token_url: Callable[[], str]


_issuer: TestCardIssuer | None = None


def register(issuer: TestCardIssuer) -> None:
    """Plug in the test card issuer (called once by the installing app's ``ready()``)."""
    global _issuer  # noqa: PLW0603 -- one registration per process, at start-up
    _issuer = issuer


def active() -> TestCardIssuer | None:
    """The registered issuer while ``PORTAL_VIRTUAL_CARD`` is on, else ``None``."""
    return _issuer if settings.PORTAL_VIRTUAL_CARD else None
