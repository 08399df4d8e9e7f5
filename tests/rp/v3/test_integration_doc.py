"""docs/rp-integration.md §13's worked example, run as a relying party runs it, on a live server.

The one ```python block under the heading "### 13.<n> Worked example" is written to a file and
run by a separate, isolated interpreter (``python -I``: nothing of this repository is
importable), configured only through the ``EID_*`` environment variables the document lists,
with a trust store downloaded from the server's ``/ca/<slug>.crt``.

Two ways the link reaches an app, as in the document: the reference app (a registered
person's device in this process) opens the QR code or Web2App link the example prints, and for
Web2App the callback URL it would open goes to the example's standard input; or, as against
``make demo``, the demo's mock service hands the link to a demo account whose device answers
on its own. Then the example must either print the certified identity or fail with a reason:
a tampered callback, wrong credentials or a refusal are never a login.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from django.urls import Resolver404, resolve

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from api.rp.v3 import urls as v3_urls
from demo.autoresponder import AutoResponder
from demo.world import DEMO_IDENTITIES
from device.app import DeviceApp
from device.devicelinks import OpenedLink
from pki import ocsp
from signing.models import Transaction
from tests.helpers.demo_world import DemoAccounts, populated, sqlite_wait_for_locks
from tests.helpers.platform import Platform
from tests.live import LiveASGIServer
from tests.personas import ALICE, PIN1, RP_A
from tests.rp.v3.test_spec_client import (
    AUTH_CODES,
    DOC_CALLBACK,
    DOC_DIGEST,
    DOC_INTERACTIONS,
    LINK_BASE,
    LINK_SECRET,
    LINK_TOKEN,
    RP_CHALLENGE,
    USER_CHALLENGE,
    VERIFIER,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "rp-integration.md"
CHAPTER = "## 13. RP API v3"
HEADING = re.compile(r"^### 13\.\d+ Worked example.*$", re.M)
CA_SLUGS = ("root", "eid-q", "eid-nq")
RUN_TIMEOUT = 120
LINE_TIMEOUT = 30
DEMO_OK = next(i for i in DEMO_IDENTITIES if i.outcome == "OK")


def chapter() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(CHAPTER) :]


def example_source() -> str:
    text = chapter()
    heading = HEADING.search(text)
    assert heading is not None, "no worked example in §13"
    block = re.search(r"^```python\n(.*?)^```", text[heading.end() :], re.S | re.M)
    assert block is not None, "no python block under the worked example's heading"
    return block.group(1)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "eid_login_v3.py"
    path.write_text(example_source(), encoding="utf-8")
    return path


def download_trust_store(base_url: str, folder: Path) -> Path:
    """What §3 tells the RP to do once: fetch the three CA certificates (DER)."""
    folder.mkdir()
    for slug in CA_SLUGS:
        response = httpx.get(f"{base_url}/ca/{slug}.crt", timeout=10)
        assert response.status_code == 200
        (folder / f"{slug}.crt").write_bytes(response.content)
    return folder


def environment(base_url: str, trust_dir: Path, **settings: str) -> dict[str, str]:
    """Only PATH and the document's EID_* variables (``flow="QR"`` → ``EID_FLOW=QR``)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "EID_BASE_URL": f"{base_url}/v3/",
        "EID_TRUST_DIR": str(trust_dir),
    }
    return env | {f"EID_{name.upper()}": value for name, value in settings.items()}


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str

    def line(self, prefix: str) -> str | None:
        return next((x[len(prefix) :] for x in self.out.splitlines() if x.startswith(prefix)), None)

    def identity(self) -> dict[str, Any]:
        assert self.code == 0, self.err
        printed = self.line("Authenticated: ")
        assert printed is not None, self.out
        identity: dict[str, Any] = json.loads(printed)
        return identity

    def refused(self) -> str:
        """The example's reason for NOT logging in (it must not claim a login)."""
        assert self.code == 1, (self.out, self.err)
        assert "Authenticated:" not in self.out
        reason = re.search(r"^NOT authenticated: (.*)$", self.err, re.M)
        assert reason is not None, self.err
        return reason.group(1)


@dataclass
class Running:
    """The example in its own interpreter; its output read line by line as it comes."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream, sink, notify in (
            (self.process.stdout, self.out, True),
            (self.process.stderr, self.err, False),
        ):
            thread = threading.Thread(target=self._read, args=(stream, sink, notify), daemon=True)
            thread.start()
            self.readers.append(thread)

    def _read(self, stream: IO[str], sink: list[str], notify: bool) -> None:
        for line in stream:
            sink.append(line)
            if notify:
                self.lines.put(line.rstrip("\n"))
        if notify:
            self.lines.put(None)

    def line(self, prefix: str, wanted: Callable[[str], bool] = lambda _: True) -> str:
        """The rest of the first printed line after ``prefix`` that is ``wanted``."""
        deadline = time.monotonic() + LINE_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"ended before {prefix!r}: {''.join(self.out + self.err)}")
            if line.startswith(prefix) and wanted(line[len(prefix) :]):
                return line[len(prefix) :]
        raise AssertionError(f"no {prefix!r} line in time: {''.join(self.out)}")

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.close()

    def finish(self) -> Finished:
        code = self.process.wait(timeout=RUN_TIMEOUT)
        for thread in self.readers:
            thread.join(timeout=10)
        return Finished(code, "".join(self.out), "".join(self.err))


@pytest.fixture
def examples(script: Path) -> Iterator[Callable[[dict[str, str]], Running]]:
    """Start the example (stdin a pipe); whatever still runs at the end is stopped."""
    started: list[Running] = []

    def start(env: dict[str, str]) -> Running:
        process = subprocess.Popen(
            [sys.executable, "-I", str(script)],
            cwd=script.parent,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(Running(process))
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=10)
        for stream in (running.process.stdin, running.process.stdout, running.process.stderr):
            if stream is not None:
                stream.close()


def run_example(script: Path, env: dict[str, str]) -> Finished:
    """The example from start to end, without anything on standard input."""
    result = subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=script.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Finished(result.returncode, result.stdout, result.stderr)


# --- the reference app opens the links ---------------------------------------------------


@pytest.fixture
def trust_dir(platform: Platform, tmp_path: Path) -> Path:
    return download_trust_store(platform.url, tmp_path / "eid-trust")


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty) -> tuple[DeviceApp, Account]:
    return platform.registered(ALICE)


def rp_a_env(platform: Platform, trust_dir: Path, flow: str) -> dict[str, str]:
    """RP A with a real app: no mock service."""
    return environment(
        platform.url,
        trust_dir,
        rp_uuid=RP_A.uuid,
        rp_name=RP_A.name,
        flow=flow,
        mock_document="",
        callback_url="https://bank123.example/eid/callback",
    )


def alice_identity(account: Account) -> dict[str, Any]:
    return {
        "given_name": ALICE.given_name,
        "surname": ALICE.surname,
        "country": ALICE.country,
        "identity_type": "PNO",
        "identity_country": ALICE.country,
        "identity_code": ALICE.personal_code,
        "semantics_identifier": ALICE.semantics_identifier,
        "document_number": account.document_number,
        "certificate_level": account.level,
    }


def elapsed_seconds(link: str) -> int:
    return int(dict(parse_qsl(urlsplit(link).query))["elapsedSeconds"])


def web2app_opened(running: Running, app: DeviceApp) -> OpenedLink:
    """The app opens the Web2App link the example printed (a link, never a callback yet)."""
    link = running.line("Web2App link: ")
    opened = app.open_link(link)
    assert opened.link.link_type.value == "Web2App"
    return opened


def approved_callback(app: DeviceApp, opened: OpenedLink) -> str:
    """The user confirms with PIN1; the URL the phone's browser then opens."""
    result = app.approve(opened.transaction, PIN1)
    assert result.ok, result
    url = opened.callback_url(result.user_challenge_verifier)
    assert url is not None
    return url


@pytest.mark.django_db(transaction=True)
def test_qr_code_refreshed_every_second_logs_in(
    platform: Platform,
    alice: tuple[DeviceApp, Account],
    trust_dir: Path,
    examples: Callable[[dict[str, str]], Running],
) -> None:
    app, account = alice
    running = examples(rp_a_env(platform, trust_dir, "QR"))
    first = running.line("QR code: ")
    # The app scans a later code: a new elapsedSeconds, a new authCode, still accepted.
    later = running.line("QR code: ", lambda link: elapsed_seconds(link) >= 1)
    assert elapsed_seconds(first) == 0
    assert later.rsplit("&authCode=", 1)[1] != first.rsplit("&authCode=", 1)[1]

    opened = app.open_link(later)
    assert opened.callback_url() is None  # a QR code: the user is on another device
    assert app.approve(opened.transaction, PIN1).ok
    finished = running.finish()

    assert finished.identity() == alice_identity(account)
    shown = opened.transaction.interaction
    assert shown is not None
    assert finished.line("Signed through ") == f"QR on the {shown.type} screen"
    tx = Transaction.objects.get(pk=opened.transaction.id)
    assert (tx.flow_type, tx.result) == ("QR", Transaction.Result.OK)


@pytest.mark.django_db(transaction=True)
def test_web2app_link_and_its_callback_log_in(
    platform: Platform,
    alice: tuple[DeviceApp, Account],
    trust_dir: Path,
    examples: Callable[[dict[str, str]], Running],
) -> None:
    app, account = alice
    running = examples(rp_a_env(platform, trust_dir, "Web2App"))
    opened = web2app_opened(running, app)
    callback = approved_callback(app, opened)
    assert callback.startswith("https://bank123.example/eid/callback?state=")

    running.send(callback)
    finished = running.finish()

    assert finished.identity() == alice_identity(account)
    assert finished.line("Callback: ") == "sessionSecretDigest and userChallengeVerifier match"
    assert finished.line("Signed through ") is not None
    assert Transaction.objects.get(pk=opened.transaction.id).flow_type == "Web2App"


def _tampered(url: str, name: str) -> str:
    """The callback URL with another well-formed value of ``name``."""
    other = (
        secrets.token_urlsafe(16)
        if name == "state"
        else base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    )
    changed = re.sub(rf"([?&]{name}=)[^&]*", lambda m: m.group(1) + other, url)
    assert changed != url
    return changed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("state", "not the one of this login attempt"),
        ("sessionSecretDigest", "sessionSecretDigest is not this session's"),
        ("userChallengeVerifier", "userChallengeVerifier is not the signed one"),
    ],
)
def test_a_tampered_callback_is_not_a_login(
    platform: Platform,
    alice: tuple[DeviceApp, Account],
    trust_dir: Path,
    examples: Callable[[dict[str, str]], Running],
    name: str,
    reason: str,
) -> None:
    app, _ = alice
    running = examples(rp_a_env(platform, trust_dir, "Web2App"))
    opened = web2app_opened(running, app)
    callback = approved_callback(app, opened)

    running.send(_tampered(callback, name))
    finished = running.finish()

    # The person did sign: only the callback check stands between this and a login.
    assert Transaction.objects.get(pk=opened.transaction.id).result == Transaction.Result.OK
    assert reason in finished.refused()


@pytest.mark.django_db(transaction=True)
def test_a_refusal_names_the_screen(
    platform: Platform,
    alice: tuple[DeviceApp, Account],
    trust_dir: Path,
    examples: Callable[[dict[str, str]], Running],
) -> None:
    app, _ = alice
    running = examples(rp_a_env(platform, trust_dir, "Web2App"))
    opened = web2app_opened(running, app)
    app.refuse(opened.transaction)
    callback = opened.callback_url()  # a refusal returns without a verifier
    assert callback is not None and "userChallengeVerifier" not in callback

    running.send(callback)
    reason = running.finish().refused()

    shown = opened.transaction.interaction
    assert shown is not None
    assert reason.startswith(f"LoginFailed: USER_REFUSED_INTERACTION ({shown.type}):")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("wrong", ["rp_uuid", "rp_name"])
def test_wrong_relying_party_credentials_fail_with_the_problem(
    platform: Platform,
    rp_a: RelyingParty,
    trust_dir: Path,
    script: Path,
    wrong: str,
) -> None:
    env = rp_a_env(platform, trust_dir, "QR")
    env[f"EID_{wrong.upper()}"] = str(uuid.uuid4()) if wrong == "rp_uuid" else "BANK999"

    finished = run_example(script, env)

    reason = finished.refused()
    assert "HTTP 401 from /v3/authentication/device-link/anonymous" in reason
    assert "Unauthorized" in reason  # the problem's title, passed on
    assert "QR code:" not in finished.out
    assert not RpSession.objects.exists()


# --- as against make demo: the mock service -------------------------------------------------


@pytest.fixture
def demo(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DemoAccounts]:
    """The demo's first OK account, its device answering on its own (as demo_devices)."""
    sqlite_wait_for_locks(monkeypatch)
    population = populated(asgi_server, settings, tmp_path, (DEMO_OK,))
    accounts = DemoAccounts(asgi_server, tmp_path / "demo-devices", population)
    stop = threading.Event()
    responder = AutoResponder(accounts.app(DEMO_OK), DEMO_OK.outcome)
    thread = threading.Thread(target=responder.run, args=(stop, 1000), daemon=True)
    thread.start()
    yield accounts
    stop.set()
    thread.join(timeout=15)
    accounts.close()
    ocsp.reset_issuer_index()


@pytest.mark.django_db(transaction=True)
def test_the_documented_defaults_log_in_through_the_demo_mock_service(
    demo: DemoAccounts, script: Path, tmp_path: Path
) -> None:
    """Only the base URL and the trust store set: the demo's v3 relying party, the scheme
    name, a QR code and the demo account are the example's defaults."""
    trust_dir = download_trust_store(demo.url, tmp_path / "eid-trust")
    expected = {
        "given_name": DEMO_OK.given_name,
        "surname": DEMO_OK.surname,
        "country": DEMO_OK.semantics_identifier[3:5],
        "identity_type": "PNO",
        "identity_country": DEMO_OK.semantics_identifier[3:5],
        "identity_code": DEMO_OK.semantics_identifier.split("-", 1)[1],
        "semantics_identifier": DEMO_OK.semantics_identifier,
        "document_number": DEMO_OK.document_number,
        "certificate_level": "QUALIFIED",
    }

    qr = run_example(script, environment(demo.url, trust_dir))
    web2app = run_example(script, environment(demo.url, trust_dir, flow="Web2App"))

    assert qr.identity() == expected
    assert web2app.identity() == expected
    assert qr.line("Callback: ") is None
    assert web2app.line("Callback: ") == "none (the demo's mock service opens no browser)"
    flows = Transaction.objects.filter(account__document_number=DEMO_OK.document_number)
    assert sorted(flows.values_list("flow_type", flat=True)) == ["QR", "Web2App"]


# --- the code itself -----------------------------------------------------------------------


def test_the_example_imports_only_httpx_cryptography_and_the_standard_library() -> None:
    tree = ast.parse(example_source())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules - set(sys.stdlib_module_names) == {"httpx", "cryptography"}


@pytest.fixture
def example(script: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example as a module (its main runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("eid_login_v3", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "eid_login_v3", module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_the_examples_codes_meet_the_specification_vectors(example: ModuleType) -> None:
    items = json.loads(base64.b64decode(DOC_INTERACTIONS))
    assert example.encode_interactions(items) == DOC_INTERACTIONS
    for link_type, session_type, _, value, elapsed, code in AUTH_CODES:
        if session_type != "auth":  # the example logs in only
            continue
        unprotected = example.unprotected_link(LINK_BASE, link_type, LINK_TOKEN, "eng", elapsed)
        assert code == example.auth_code(
            session_secret=LINK_SECRET,
            scheme="smart-id",
            rp_challenge=value,
            rp_name="DEMO",
            brokered_rp_name="Example RP",
            interactions=DOC_INTERACTIONS,
            callback_url="" if link_type == "QR" else DOC_CALLBACK,
            unprotected=unprotected,
        )
    payload = example.acsp_v2_payload(
        scheme="smart-id",
        server_random="MTlop6EXCrQ6FOErcKjxUhbV",
        rp_challenge=RP_CHALLENGE,
        user_challenge=USER_CHALLENGE,
        rp_name="DEMO",
        brokered_rp_name="Example RP",
        interactions=DOC_INTERACTIONS,
        interaction_used="confirmationMessage",
        callback_url=DOC_CALLBACK,
        flow_type="Web2App",
    )
    assert base64.b64encode(hashlib.sha512(payload.encode()).digest()).decode() == DOC_DIGEST
    assert example.digest_b64url(VERIFIER) == USER_CHALLENGE


def test_every_v3_endpoint_is_in_the_table_and_every_row_is_one() -> None:
    """§13.2 lists each POST operation of api/rp/v3/urls.py, and nothing else."""
    text = chapter()
    table = text[text.index("### 13.2") : text.index("### 13.3")]
    paths = re.findall(r"^\| POST \| `([^`]+)` \|", table, re.M)
    samples = {"{semId}": "PNOEE-40504040001", "{docNo}": "PNOEE-40504040001-MOCK-Q"}
    hit = set()
    for path in paths:
        for placeholder, value in samples.items():
            path = path.replace(placeholder, value)
        try:
            match = resolve(f"/v3/{path}")
        except Resolver404:
            raise AssertionError(f"§13.2 lists {path}, which the service does not serve") from None
        hit.add(match.route)
    routes = {str(pattern.pattern) for pattern in v3_urls.urlpatterns}
    assert hit == routes
    assert re.search(r"^\| GET \| `session/\{sessionID\}\?timeoutMs=N` \|", table, re.M)
