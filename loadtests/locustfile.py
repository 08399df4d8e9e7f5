"""The relying parties of the load scenarios, as locust users (run by ``loadtests/run.py``).

Never imported by the tests or the platform: only the locust process loads this file. The
runner says which users run and passes the run's facts in the environment:

``LT_ANSWERING`` / ``LT_SILENT``
    comma-separated semantics identifiers of the persons whose virtual devices answer
    every transaction, and of those whose devices never answer;
``LT_APIS``
    the flows :class:`FlowUser` alternates (``v2``, ``v3-notification``);
``LT_FLOW_RATE`` / ``LT_POST_RATE``
    flows/s (or POSTs/s) per user: ``constant_throughput``, so that the whole run holds
    a constant arrival rate while each flow takes less than its user's period;
``LT_POLL_USERS`` / ``LT_POST_USERS``
    how many :class:`LongPollUser` and :class:`PostUser` run (their ``fixed_count``);
``LT_WARMUP``
    L2: seconds over which the long pollers start; the measured POSTs begin after it.

Request names (one row each in locust's statistics, the same in every run):

* ``POST auth v2`` / ``POST auth v3`` — the RP's start request;
* ``GET session (long poll)`` — ``timeoutMs=30000`` until the state is COMPLETE;
* ``GET session (complete)`` — one more GET of the completed session: returns at once
  (the API has no non-blocking GET of a running session: ``timeoutMs`` is ≥ 1000);
* ``FLOW v2`` / ``FLOW v3`` — the whole flow, POST to verified signature (a custom
  event: the RP checks the signature with the certificate's key, as a real RP does);
* ``POST auth (long poller's)`` — the start of a session a long poller holds;
* ``POST auth (new, under long polls)`` — L2's measured POST.
"""

from __future__ import annotations

import base64
import itertools
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant_throughput, task

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.rp_flow import RP_NAME, RP_UUID, RpFlows  # noqa: E402 -- after the path

POLL_MS = 30_000
INTERACTIONS = [{"type": "displayTextAndPIN", "displayText60": "Log in?"}]


def _listed(name: str) -> list[str]:
    return [x for x in os.environ.get(name, "").split(",") if x]


ANSWERING = _listed("LT_ANSWERING")
SILENT = _listed("LT_SILENT")
APIS = _listed("LT_APIS") or ["v2", "v3-notification"]
FLOW_RATE = float(os.environ.get("LT_FLOW_RATE") or 0) or 0.5  # 0: FlowUser does not run
POST_RATE = float(os.environ.get("LT_POST_RATE") or 0) or 1.0
#: L2: the long pollers start spread over this many seconds (their first POSTs would
#: otherwise arrive as one burst, and so would every later round after their sessions'
#: timeouts); the measured POSTs begin after it, once the polls are held.
WARMUP = float(os.environ.get("LT_WARMUP", "0"))
#: Each answering person is driven by one user at a time: its device answers its own
#: transactions one after the other, as a phone would.
_next_person = itertools.count()
_verifier = RpFlows(None, "", "Web2App")  # its signature checks only; no HTTP


class Failed(Exception):
    """A request of a flow did not answer what the RP expects (counted, flow abandoned)."""


def _v2_body() -> tuple[dict[str, Any], bytes]:
    digest = secrets.token_bytes(64)
    body = {
        "relyingPartyUUID": RP_UUID,
        "relyingPartyName": RP_NAME,
        "hash": base64.b64encode(digest).decode(),
        "hashType": "SHA512",
        "allowedInteractionsOrder": INTERACTIONS,
    }
    return body, digest


class _Rp(FastHttpUser):
    abstract = True

    def _post(self, path: str, body: dict[str, Any], name: str) -> dict[str, Any]:
        with self.client.post(path, json=body, name=name, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
                raise Failed(name)
            started: dict[str, Any] = answer.json()
            return started

    def _status(self, version: str, session_id: str, *, wait: bool, name: str) -> dict[str, Any]:
        query = f"?timeoutMs={POLL_MS}" if wait else ""
        path = f"/{version}/session/{session_id}{query}"
        with self.client.get(path, name=name, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
                raise Failed(name)
            status: dict[str, Any] = answer.json()
            return status

    def _until_complete(self, version: str, session_id: str) -> dict[str, Any]:
        while True:
            status = self._status(version, session_id, wait=True, name="GET session (long poll)")
            if status["state"] == "COMPLETE":
                return status


class FlowUser(_Rp):
    """L1, L6: a full RP authentication flow against an answering person, paced."""

    wait_time = constant_throughput(FLOW_RATE)

    def on_start(self) -> None:
        self.person = ANSWERING[next(_next_person) % len(ANSWERING)]
        self.apis = itertools.cycle(APIS)

    @task
    def flow(self) -> None:
        api = next(self.apis)
        began = time.perf_counter()
        error: Exception | None = None
        try:
            if api == "v2":
                self._v2()
            else:
                self._v3_notification()
        except Failed as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 -- a wrong answer fails the flow, counted
            error = exc
        label = "v2" if api == "v2" else "v3"
        self.environment.events.request.fire(
            request_type="FLOW",
            name=f"FLOW {label}",
            response_time=(time.perf_counter() - began) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def _v2(self) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        body, digest = _v2_body()
        session = self._post(f"/v2/authentication/etsi/{self.person}", body, "POST auth v2")
        status = self._until_complete("v2", session["sessionID"])
        if status["result"]["endResult"] != "OK":
            raise Failed(status["result"]["endResult"])
        _verifier._key(status).verify(
            base64.b64decode(status["signature"]["value"]),
            digest,
            padding.PKCS1v15(),
            Prehashed(hashes.SHA512()),
        )
        self._status("v2", session["sessionID"], wait=False, name="GET session (complete)")

    def _v3_notification(self) -> None:
        challenge = base64.b64encode(secrets.token_bytes(32)).decode()
        body = {**RpFlows._v3_body(challenge), "vcType": "numeric4"}
        path = f"/v3/authentication/notification/etsi/{self.person}"
        session = self._post(path, body, "POST auth v3")
        status = self._until_complete("v3", session["sessionID"])
        if status["result"]["endResult"] != "OK":
            raise Failed(status["result"]["endResult"])
        _verifier._verify_acsp(status, challenge, "Notification", "")
        self._status("v3", session["sessionID"], wait=False, name="GET session (complete)")


class LongPollUser(_Rp):
    """L2: holds one open long poll at all times on a session whose device never answers
    (the session ends in TIMEOUT after its transaction's lifetime; then a new one)."""

    fixed_count = int(os.environ.get("LT_POLL_USERS", "0"))

    def on_start(self) -> None:
        time.sleep(secrets.randbelow(max(int(WARMUP * 1000), 1)) / 1000)

    @task
    def hold(self) -> None:
        person = secrets.choice(SILENT)
        body, _ = _v2_body()
        try:
            session = self._post(
                f"/v2/authentication/etsi/{person}", body, "POST auth (long poller's)"
            )
            self._until_complete("v2", session["sessionID"])
        except Failed:
            time.sleep(1)


class PostUser(_Rp):
    """L2: new sessions arriving meanwhile, paced; their POST is what L2 measures."""

    fixed_count = int(os.environ.get("LT_POST_USERS", "0"))
    wait_time = constant_throughput(POST_RATE)

    def on_start(self) -> None:
        time.sleep(WARMUP)

    @task
    def new_session(self) -> None:
        person = secrets.choice(SILENT)
        body, _ = _v2_body()
        try:
            self._post(
                f"/v2/authentication/etsi/{person}", body, "POST auth (new, under long polls)"
            )
        except Failed:
            pass
