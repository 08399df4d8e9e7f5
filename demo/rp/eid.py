"""The demo RP's connection to the platform: the SDK's client, the trust store, the
validator, and what each failure tells the visitor.

Everything goes over HTTP, as for any relying party: the RP API v3 at
``settings.SITE_URL + "/v3"`` and the CA certificates at ``/ca/<slug>.crt``
(docs/rp-integration.md §3). The trust store is fetched once per process and base URL
(a real relying party fetches it once at set-up and checks the fingerprints; here the
platform is the process itself, and every test platform makes its own CA).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import smartid_client as sc
from cryptography import x509
from django.conf import settings
from django.utils.translation import gettext as _

from demo.rp import DEMO_RP_NAME, DEMO_RP_UUID

#: The CA certificates a validator needs: the root (trust anchor) and the issuing CAs.
CA_SLUGS = ("root", "eid-q", "eid-nq")
#: How long a fetched trust store is used before it is fetched again (seconds).
TRUST_STORE_TTL = 300.0
#: One status poll of a page's status request (ms): the page asks again after it.
POLL_MS = 1000


@dataclass(frozen=True)
class TrustStore:
    root: x509.Certificate
    issuing: tuple[x509.Certificate, ...]
    fetched: float

    def chain_for(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The issuing CA of ``cert`` and the root: what a PDF signature embeds."""
        issuers = [ca for ca in self.issuing if ca.subject == cert.issuer]
        return [*issuers, self.root]


_trust: dict[str, TrustStore] = {}


def base_url() -> str:
    return settings.SITE_URL


def client() -> sc.AsyncSmartIdClient:
    """A client of the platform's RP API v3 as the demo RP (close it with ``aclose``)."""
    scheme = sc.SCHEME_LIVE if settings.IS_LIVE else sc.SCHEME_DEMO
    return sc.AsyncSmartIdClient(f"{base_url()}/v3", DEMO_RP_UUID, DEMO_RP_NAME, scheme_name=scheme)


async def trust_store() -> TrustStore:
    """The platform's CA certificates, from ``/ca/<slug>.crt``."""
    url = base_url()
    cached = _trust.get(url)
    if cached is not None and time.monotonic() - cached.fetched < TRUST_STORE_TTL:
        return cached
    # No lock: two requests that both miss fetch the same certificates twice, harmlessly.
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        blobs = []
        for slug in CA_SLUGS:
            response = await http.get(f"/ca/{slug}.crt")
            response.raise_for_status()
            blobs.append(response.content)
    root, *issuing = sc.load_certificates(*blobs)
    store = TrustStore(root, tuple(issuing), time.monotonic())
    _trust[url] = store
    return store


async def validator() -> sc.Validator:
    """A validator with the platform's trust store and OCSP.

    Its checks block (OCSP over a synchronous httpx client): call it through
    ``asyncio.to_thread``, never in the event loop and never in Django's one thread for
    synchronous code, which the platform's own OCSP view may need meanwhile.
    """
    store = await trust_store()
    return sc.Validator([store.root], store.issuing, ocsp=True)


def failure_message(exc: BaseException) -> str:
    """What the visitor reads when a login or a signature did not work."""
    if isinstance(exc, sc.UserRefusedError):
        return _("You cancelled in the Smart-ID app.")
    if isinstance(exc, sc.SessionTimeoutError | sc.WaitTimeoutError):
        return _("The Smart-ID app did not answer in time.")
    if isinstance(exc, sc.WrongVcError):
        return _("A wrong verification code was chosen in the app.")
    if isinstance(exc, sc.UserAccountNotFoundError | sc.NoSuitableAccountError):
        return _("No usable Smart-ID account was found for this personal code.")
    if isinstance(exc, sc.DocumentUnusableError | sc.AccountUnusableError):
        return _("This Smart-ID account cannot be used now.")
    if isinstance(exc, sc.PersonShouldViewPortalError):
        return _("Your Smart-ID account needs attention: open the self-service portal.")
    if isinstance(exc, sc.SessionNotFoundError):
        return _("The attempt has expired.")
    if isinstance(exc, sc.ValidationError):
        return _("The answer of the eID service did not pass validation.")
    if isinstance(exc, sc.TransportError | httpx.HTTPError):
        return _("The eID service cannot be reached.")
    return _("Something went wrong with the eID service.")


def identity_dict(identity: sc.Identity, level: str) -> dict[str, Any]:
    """The validated identity as the web session keeps it (JSON)."""
    return {
        "given_name": identity.given_name,
        "surname": identity.surname,
        "country": identity.country,
        "semantics_identifier": identity.semantics_identifier,
        "personal_code": identity.personal_code,
        "date_of_birth": identity.date_of_birth.isoformat() if identity.date_of_birth else "",
        "document_number": identity.document_number,
        "certificate_level": level,
    }
