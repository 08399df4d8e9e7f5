"""A running platform and reference-app devices for the end-to-end tests.

``Platform`` wraps the live ASGI server with its CA hierarchy: it issues registration
tickets for a citizen (Alice unless told otherwise) and makes reference-app devices that
talk to it over real HTTP. The ``platform`` fixture (tests/conftest.py) builds one.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import Account
from device.app import DeviceApp
from device.state import MemoryStore, dumps, loads
from enrolment.models import RegistrationTicket
from enrolment.services import ticket_create
from signing.engine import KdfParams, appauth
from signing.models import Transaction
from signing.services.transactions import transaction_create
from tests import factories
from tests.live import LiveASGIServer
from tests.personas import ALICE, PIN1, PIN2, RP_A, Citizen, citizen

KEY_BITS = 1024  # |n| = 2048: fast; one test runs the production 3072+3072
CHEAP_KDF = KdfParams(n=2**10, r=8, p=1)


@dataclass
class Recorder:
    """Remembers the requests a device sent, to replay them byte for byte."""

    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)

    def hook(self, request: httpx.Request) -> None:
        request.read()
        self.requests.append(request)

    def hook_response(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response)

    def last(self, suffix: str) -> tuple[httpx.Request, httpx.Response]:
        return [(r.request, r) for r in self.responses if r.request.url.path.endswith(suffix)][-1]


def _who(person: Citizen | str) -> Citizen:
    return person if isinstance(person, Citizen) else citizen(person)


@dataclass
class Platform:
    server: LiveASGIServer
    hierarchy: list[Any]
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def device(
        self, store: MemoryStore | None = None, bits: int = KEY_BITS, **options: Any
    ) -> DeviceApp:
        """A reference app on this platform; ``options`` go to ``DeviceApp`` (for example
        ``certificate_wait``: how long it waits for certificates a worker issues)."""
        recorder = Recorder()
        client = httpx.Client(
            base_url=self.url,
            timeout=60,
            event_hooks={"request": [recorder.hook], "response": [recorder.hook_response]},
        )
        self.clients.append(client)
        app = DeviceApp(client, store=store, min_key_bits=bits, kdf=CHEAP_KDF, **options)
        app.recorder = recorder  # type: ignore[attr-defined]
        return app

    def clone(self, app: DeviceApp) -> DeviceApp:
        """A second copy of the app's state, as a restored backup or a thief would have."""
        store = MemoryStore()
        store.save(loads(dumps(app._state)))
        return self.device(store)

    def ticket(self, person: Citizen | str = ALICE, level: str = "QUALIFIED") -> str:
        """A registration code for this citizen (a persona, or a variant by identifier)."""
        _, code = ticket_create(
            person=factories.person(_who(person)),
            identity_source=RegistrationTicket.Source.ADMIN,
            level=level,
            created_by="test",
        )
        return code

    def registered(
        self, person: Citizen | str = ALICE, **options: Any
    ) -> tuple[DeviceApp, Account]:
        app = self.device(**options)
        result = app.register(self.ticket(person), PIN1, PIN2)
        account = Account.objects.get(document_number=result.document_number)
        return app, account


def credentials(app: DeviceApp) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """The device key and id of a registered app."""
    state = app._state
    assert state.device_key is not None and state.device_id is not None
    return state.device_key, state.device_id


def signed_headers(
    app: DeviceApp, method: str, path: str, body: bytes = b"", *, age: int = 0
) -> dict[str, str]:
    key, device_id = credentials(app)
    return appauth.sign_request(
        key, method, path, body, device_id=device_id, timestamp=int(time.time()) - age
    )


def send_signed(app: DeviceApp, method: str, path: str, body: bytes = b"") -> httpx.Response:
    """One request signed with the app's device key (a fresh request nonce each time)."""
    headers = signed_headers(app, method, path, body)
    return httpx.request(
        method,
        f"{app._client.base_url}{path}",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )


def auth_transaction(
    account: Account, data: bytes = b"login challenge", **kwargs: Any
) -> Transaction:
    """An authentication transaction of RP A for this account."""
    return transaction_create(
        account=account,
        kind=Transaction.Kind.AUTHENTICATION,
        rp_name=RP_A.name,
        interactions=kwargs.pop(
            "interactions", [{"type": "displayTextAndPIN", "displayText60": "Log in?"}]
        ),
        digest=hashlib.sha256(data).digest(),
        hash_type="SHA256",
        **kwargs,
    )
