"""The relying party's load of the multi-node test: RP API v2 and v3 authentications.

A bounded open-loop load: a new flow every ``1 / rate`` seconds until ``stop_at``, each
flow on a demo account that no other flow is using (the account's virtual device answers
one transaction at a time, as a person does); every tenth on an account whose user
refuses. An arrival that finds no free account is skipped and counted. Three kinds, in
turn:

* ``v2``: POST /v2/authentication/etsi/<person>; the device's long poll wakes;
  PKCS#1 v1.5 signature over the RP's hash.
* ``v3-notif``: POST /v3/authentication/notification/etsi/<person>; ACSP_V2 (PSS).
* ``v3-link``: POST /v3/authentication/device-link/anonymous; the RP's QR link goes to
  the demo's mock service (``POST /mock/device-link``), whose account's device opens it;
  ACSP_V2 with flowType QR.

The RP side is the project's SDK (``smartid_client``) over one httpx client whose
transport records every request: when it began and ended, its status (None: no answer)
and the web node that answered (nginx's ``X-Upstream`` header). Each flow ends as:

* ``OK`` — COMPLETE, endResult OK, and the SDK's validator accepted the signature and
  the certificate chain (to the installation's root);
* ``TOLD <reason>`` — the RP was told an error: an HTTP error on the session start, or
  COMPLETE with another end result (a refusal, a timeout);
* ``INVALID <why>`` — COMPLETE OK but the signature or certificate did not validate;
* ``LOST`` — the RP got a session id but no final answer before its deadline (or a 404
  for it).

A status poll that fails (5xx, a broken connection) is retried after 0.5 s, as an RP
does: the session exists. After a flow ends, the session is read once more (through the
balancer, so possibly from the other node): ``reread`` says whether that answer is the
same final answer (a session completed twice would differ).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python"))

import smartid_client as sc  # noqa: E402 -- the worktree's SDK, not an installed copy

V2_RP = ("00000000-0000-0000-0000-000000000000", "DEMO")
V3_RP = ("00000000-0000-4000-8000-000000000000", "DEMO")
KINDS = ("v2", "v3-notif", "v3-link")
POLL_MS = 10_000
#: How long a flow waits for its final answer: the transaction's 2-minute life and more.
FLOW_DEADLINE = 150.0
#: A flow's POST and the mock's POST: the RP's own patience (a hang shows as a timeout).
REQUEST_TIMEOUT = 30.0
#: Every REFUSAL_EVERY-th flow goes to an account whose user refuses.
REFUSAL_EVERY = 10
INTERACTIONS = [sc.Interaction.display_text_and_pin("Log in to the cluster test?")]

_flow_id: contextvars.ContextVar[int] = contextvars.ContextVar("flow", default=-1)
_rereading: contextvars.ContextVar[bool] = contextvars.ContextVar("rereading", default=False)


@dataclass
class Request:
    flow: int
    what: str  # start | status | mock | reread
    began: float
    ended: float
    status: int | None  # None: no HTTP answer (connection refused, reset, timeout)
    upstream: str  # the web node(s) nginx tried, "" when unknown
    error: str = ""
    timeout_ms: int = 0  # a status poll's timeoutMs


@dataclass
class Flow:
    id: int
    kind: str
    person: str
    document: str
    expected: str
    began: float
    session_id: str | None = None
    ended: float | None = None
    outcome: str = "LOST"
    reread: str = ""  # same | differs | failed | "" (not read: the flow did not complete)


@dataclass
class Account:
    person: str  # semantics identifier
    document: str
    expected: str  # the demo account's outcome


@dataclass
class LoadResult:
    flows: list[Flow] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    skipped: int = 0  # arrivals with no free account


def _what(request: httpx.Request) -> str:
    path = request.url.path
    if "/session/" in path:
        return "reread" if _rereading.get() else "status"
    return "mock" if path.startswith("/mock/") else "start"


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Records every request the RP sends, answered or not."""

    def __init__(self, requests: list[Request], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests = requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        began = time.time()
        timeout_ms = int(request.url.params.get("timeoutMs", "0") or 0)
        try:
            response = await super().handle_async_request(request)
        except httpx.HTTPError as exc:
            self.requests.append(
                Request(
                    _flow_id.get(), _what(request), began, time.time(), None, "",
                    f"{type(exc).__name__}: {exc}", timeout_ms,
                )
            )  # fmt: skip
            raise
        self.requests.append(
            Request(
                _flow_id.get(), _what(request), began, time.time(), response.status_code,
                response.headers.get("x-upstream", ""), "", timeout_ms,
            )
        )  # fmt: skip
        return response


class Load:
    def __init__(self, base: str, accounts: list[Account], validator: sc.Validator) -> None:
        self.base = base
        self.validator = validator
        self.result = LoadResult()
        # Accounts that answer OK, and those that refuse: a fixed share of the flows goes
        # to a refuser, so that a phase where OK accounts are busy does not turn into a
        # phase of refusals.
        self.free: dict[bool, asyncio.Queue[Account]] = {
            True: asyncio.Queue(),
            False: asyncio.Queue(),
        }
        for account in accounts:
            self.free[account.expected == "OK"].put_nowait(account)
        self.http = httpx.AsyncClient(
            transport=RecordingTransport(self.result.requests),
            timeout=httpx.Timeout(REQUEST_TIMEOUT),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self.v2 = sc.AsyncSmartIdClientV2(f"{base}/v2", *V2_RP, http=self.http)
        self.v3 = sc.AsyncSmartIdClient(
            f"{base}/v3", *V3_RP, scheme_name=sc.SCHEME_DEMO, http=self.http
        )

    async def run(self, rate: float, stop_at: float) -> LoadResult:
        """Start a flow every 1/rate s until ``stop_at`` (time.time()); wait for all."""
        tasks: list[asyncio.Task[None]] = []
        kinds = itertools.cycle(KINDS)
        ids = itertools.count()
        next_at = time.time()
        while next_at < stop_at:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            next_at += 1 / rate
            number = next(ids)
            try:
                account = self.free[number % REFUSAL_EVERY != REFUSAL_EVERY - 1].get_nowait()
            except asyncio.QueueEmpty:
                self.result.skipped += 1
                continue
            flow = Flow(number, next(kinds), account.person, account.document,
                        account.expected, time.time())  # fmt: skip
            self.result.flows.append(flow)
            tasks.append(asyncio.create_task(self._flow(flow, account)))
        await asyncio.gather(*tasks)
        await self.http.aclose()
        return self.result

    async def _flow(self, flow: Flow, account: Account) -> None:
        _flow_id.set(flow.id)
        try:
            await self._run_flow(flow)
        except Exception as exc:  # noqa: BLE001 -- a defect of this script: shown, counted
            flow.outcome = f"LOST {type(exc).__name__}: {exc}"
        finally:
            if flow.ended is None and not flow.outcome.startswith("LOST"):
                flow.ended = time.time()
            self.free[account.expected == "OK"].put_nowait(account)

    async def _run_flow(self, flow: Flow) -> None:
        client: sc.AsyncSmartIdClientV2 | sc.AsyncSmartIdClient
        try:
            if flow.kind == "v2":
                client = self.v2
                session = await self.v2.authentication(
                    INTERACTIONS, semantics_identifier=flow.person
                )
            elif flow.kind == "v3-notif":
                client = self.v3
                session = await self.v3.authentication_notification(
                    INTERACTIONS, semantics_identifier=flow.person
                )
            else:
                client = self.v3
                session = await self.v3.authentication_device_link(INTERACTIONS)
        except sc.ApiError as exc:
            flow.outcome, flow.ended = f"TOLD HTTP {exc.status_code}", time.time()
            return
        except sc.TransportError:
            flow.outcome, flow.ended = "TOLD no answer", time.time()
            return
        flow.session_id = session.session_id
        deadline = flow.began + FLOW_DEADLINE
        if flow.kind == "v3-link" and not await self._scan(session, flow.document, deadline):
            flow.outcome, flow.ended = "TOLD the link could not be opened", time.time()
            return
        status = await self._final(client, session.session_id, deadline)
        if status is None:
            return  # LOST
        flow.ended = time.time()
        if status.end_result != "OK":
            flow.outcome = f"TOLD {status.end_result}"
        else:
            try:
                self.validator.authentication(session, status, require_callback=False)
                flow.outcome = "OK"
            except sc.SmartIdError as exc:
                flow.outcome = f"INVALID {type(exc).__name__}: {exc}"
        flow.reread = await self._reread(client, session.session_id, status)

    async def _scan(self, session: sc.Session, document: str, deadline: float) -> bool:
        """What a phone's camera does with the QR code, through the demo's mock service.
        A failed POST is scanned again (a new code: the link changes every second)."""
        while time.time() < deadline:
            body = {"documentNumber": document, "deviceLink": session.qr_link(), "flowType": "QR"}
            try:
                answer = await self.http.post(f"{self.base}/mock/device-link", json=body)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if answer.status_code == 200:
                return True
            if answer.status_code == 400 and answer.json().get("code") == "already_opened":
                return True  # the first scan got through; its answer did not
            if answer.status_code < 500:
                return False
            await asyncio.sleep(0.5)
        return False

    async def _final(
        self,
        client: sc.AsyncSmartIdClientV2 | sc.AsyncSmartIdClient,
        session_id: str,
        deadline: float,
    ) -> sc.SessionStatus | None:
        """Long-poll until COMPLETE; retry failed polls; None when lost."""
        while time.time() < deadline:
            left_ms = int((deadline - time.time()) * 1000)
            try:
                status = await client.session_status(
                    session_id, timeout_ms=max(1000, min(POLL_MS, left_ms))
                )
            except sc.SessionNotFoundError:
                return None
            except (sc.ApiError, sc.TransportError):
                await asyncio.sleep(0.5)
                continue
            if status.complete:
                return status
        return None

    async def _reread(
        self,
        client: sc.AsyncSmartIdClientV2 | sc.AsyncSmartIdClient,
        session_id: str,
        first: sc.SessionStatus,
    ) -> str:
        _rereading.set(True)
        for _ in range(10):
            try:
                again = await client.session_status(session_id, timeout_ms=1000)
            except (sc.ApiError, sc.TransportError):
                await asyncio.sleep(0.5)
                continue
            same = again.complete and _final_answer(again) == _final_answer(first)
            return "same" if same else "differs"
        return "failed"


def _final_answer(status: sc.SessionStatus) -> tuple[Any, ...]:
    raw = status.raw
    return (raw.get("state"), repr(raw.get("result")), repr(raw.get("signature")))
