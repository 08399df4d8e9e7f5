"""The reference app's command line: ``python -m device COMMAND``.

Commands: register, onboard, wait, approve, refuse, open-link, status, refresh, renew,
rotate-device-key.

Exit codes: 0 done, 1 the operation failed or the service refused it (wrong PIN, locked,
network, protocol), 2 usage or local-state error. Errors are one line on stderr, never a
traceback. See docs/device.md.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from device.answers import ConfirmResult, Transaction
from device.app import DeviceApp
from device.devicelinks import OpenedLink
from device.display import printable, printable_lines
from device.errors import (
    ApiError,
    DeviceError,
    InputError,
    NetworkError,
    ProtocolError,
    RenewalPending,
    StateError,
)
from device.onboarding import Onboarding, progress_bar
from device.state import FileStore
from signing.engine import EngineError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
STATE_ENV = "SMARTID_DEVICE_STATE"
MIN_KEY_BITS_ENV = "SMARTID_DEVICE_MIN_KEY_BITS"
DEFAULT_STATE = "~/.smartid-device.json"

# 5-line block digits for the verification code: it must be easy to compare at a glance.
_BIG_DIGITS = {
    "0": ["███", "█ █", "█ █", "█ █", "███"],
    "1": [" █ ", "██ ", " █ ", " █ ", "███"],
    "2": ["███", "  █", "███", "█  ", "███"],
    "3": ["███", "  █", "███", "  █", "███"],
    "4": ["█ █", "█ █", "███", "  █", "  █"],
    "5": ["███", "█  ", "███", "  █", "███"],
    "6": ["███", "█  ", "███", "█ █", "███"],
    "7": ["███", "  █", "  █", "  █", "  █"],
    "8": ["███", "█ █", "███", "█ █", "███"],
    "9": ["███", "█ █", "███", "  █", "███"],
}


class _Usage(Exception):
    """A usage error found after parsing (exit 2)."""


def big_code(code: str) -> str:
    """The code in block digits, plus the plain digits for screen readers and copying."""
    rows = ["   ".join(_BIG_DIGITS[c][row] for c in code) for row in range(5)]
    return "\n".join("    " + row for row in rows) + f"\n    ({' '.join(code)})"


def _state_path(value: str | None) -> Path:
    return Path(value or os.environ.get(STATE_ENV) or DEFAULT_STATE).expanduser()


def _min_key_bits() -> int:
    raw = os.environ.get(MIN_KEY_BITS_ENV)
    if raw is None:
        return 3072
    if not raw.isdigit():
        raise _Usage(f"{MIN_KEY_BITS_ENV} must be a number of bits")
    return int(raw)


def _check_server_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _Usage("--server must be an http(s) URL")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise _Usage("refusing plain http to a non-loopback server: use https")
    return url.rstrip("/")


def _ask_pin(label: str, *, confirm: bool) -> str:
    pin = getpass.getpass(f"{label}: ")
    if confirm and getpass.getpass(f"Repeat {label}: ") != pin:
        raise InputError(f"the two {label} entries differ")
    return pin


def _print_transaction(tx: Transaction, out: Callable[[str], None], *, hint: bool = True) -> None:
    purpose = {"AUTH": "PIN1", "SIGN": "PIN2"}.get(tx.purpose or "", "no PIN")
    shown = printable  # every field below comes from the service (device/display.py)
    out(f"Transaction {shown(tx.id)}")
    out(f"  from:     {shown(tx.rp_name)}")
    out(f"  kind:     {shown(tx.kind)} ({purpose})")
    out(f"  account:  {shown(tx.document_number)}")
    if tx.is_v3:
        out(
            f"  flow:     {shown(tx.flow_type)}"
            + (f", {shown(tx.protocol)}" if tx.protocol else "")
        )
    interaction = tx.interaction
    if interaction is not None:
        out(f"  screen:   {shown(interaction.type)}")
        if interaction.text:
            out(f"  text:     {shown(interaction.text)}")
    if tx.expires_at:
        out(f"  expires:  {shown(tx.expires_at)}")
    code = tx.verification_code
    if tx.needs_vc_choice:
        # The point of a code choice is that the user reads the code on the other screen
        # (the e-service's, or the new device's), so the right one is not shown here.
        choices = ", ".join(shown(choice) for choice in tx.vc_choices or ())
        if tx.vc_shown_on is not None:
            out("  a new device asks to register an account in your name")
            out(f"  verification code: pick the one the new device shows: {choices}")
            out("  (if you did not start this on a device of yours, refuse)")
        else:
            out(f"  verification code: pick the one the e-service shows: {choices}")
    elif code is not None:
        out("  verification code - check that the e-service shows the same:")
        out(big_code(code))
    if hint:
        approve, refuse = (f"python -m device {verb} {tx.id}" for verb in ("approve", "refuse"))
        out(f"  approve: {approve}    refuse: {refuse}")


def _eprint(text: str) -> None:
    """An error line on stderr, printable (it may quote the service's messages)."""
    print(printable_lines(text), file=sys.stderr)


def _print_failure(result: ConfirmResult) -> int:
    detail = []
    if result.tries_left is not None:
        detail.append(f"{result.tries_left} tries left")
    if result.locked_until:
        detail.append(f"locked until {result.locked_until}")
    suffix = f" ({', '.join(detail)})" if detail else ""
    _eprint(f"error: {result.status.replace('_', ' ').lower()}{suffix}")
    return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        metavar="FILE",
        help=f"state file (default ${STATE_ENV} or {DEFAULT_STATE})",
    )
    parser = argparse.ArgumentParser(
        prog="python -m device",
        description="Reference Smart-ID-style device app: holds the client key shares, "
        "shows verification codes, asks for PINs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register = commands.add_parser(
        "register", parents=[common], help="register this device with a one-time ticket"
    )
    register.add_argument("--server", required=True, metavar="URL", help="the service's URL")
    register.add_argument("--ticket", required=True, metavar="CODE", help="the one-time ticket")
    register.add_argument("--pin1", metavar="P", help="PIN1, 4-12 digits (prompted if absent)")
    register.add_argument("--pin2", metavar="P", help="PIN2, 5-12 digits (prompted if absent)")
    register.add_argument("--name", default="reference device", help="a name for this device")
    onboard = commands.add_parser(
        "onboard",
        parents=[common],
        help="register remotely: passport + selfie, Mobile-ID, or an existing account",
    )
    onboard.add_argument("--server", required=True, metavar="URL", help="the service's URL")
    source = onboard.add_mutually_exclusive_group(required=True)
    source.add_argument("--passport", metavar="FILE", help="passport file (make_passport)")
    source.add_argument("--mobile-id", metavar="PHONE", help="Mobile-ID phone number, +372...")
    source.add_argument(
        "--existing-account", metavar="DN", help="sign the application with this account's PIN2"
    )
    onboard.add_argument("--selfie-dir", metavar="DIR", help="pose frames (make_selfie_frames)")
    onboard.add_argument("--id-code", metavar="CODE", help="identity code for Mobile-ID")
    onboard.add_argument("--level", choices=("QUALIFIED", "ADVANCED"), default="QUALIFIED")
    onboard.add_argument("--code", metavar="DIGITS", help="the secondary code (asked if absent)")
    onboard.add_argument("--pin1", metavar="P", help="PIN1, 4-12 digits (prompted if absent)")
    onboard.add_argument("--pin2", metavar="P", help="PIN2, 5-12 digits (prompted if absent)")
    onboard.add_argument("--name", default="reference device", help="a name for this device")
    wait = commands.add_parser("wait", parents=[common], help="wait for transactions and show them")
    wait.add_argument("--timeout", type=int, default=60, metavar="SECONDS", help="default 60")
    approve = commands.add_parser("approve", parents=[common], help="approve a transaction")
    approve.add_argument("id", help="the transaction id")
    approve.add_argument("--pin", metavar="P", help="the PIN (prompted if absent)")
    approve.add_argument("--vc", metavar="CODE", help="the verification code you pick")
    refuse = commands.add_parser("refuse", parents=[common], help="refuse a transaction")
    refuse.add_argument("id", help="the transaction id")
    link = commands.add_parser(
        "open-link",
        parents=[common],
        help="open a device link (a scanned QR code, a Web2App or App2App link)",
    )
    link.add_argument("url", metavar="URL", help="the device link")
    link.add_argument("--pin", metavar="P", help="the PIN (prompted if absent)")
    link.add_argument("--vc", metavar="CODE", help="the verification code you pick")
    link.add_argument("--refuse", action="store_true", help="refuse it on the screen shown")
    status = commands.add_parser(
        "status", parents=[common], help="accounts, key states and PIN tries left"
    )
    status.add_argument("--offline", action="store_true", help="show the local state only")
    refresh = commands.add_parser(
        "refresh", parents=[common], help="rotate the clone-detection tokens of every key"
    )
    refresh.add_argument("--document-number", metavar="DN", help="only this account")
    refresh.add_argument("--purpose", choices=("AUTH", "SIGN"), help="only this key")
    renew = commands.add_parser(
        "renew",
        parents=[common],
        help="re-key an account: new keys, new PINs, new certificates (current PIN2 confirms)",
    )
    renew.add_argument("--document-number", metavar="DN", help="the account (if several)")
    renew.add_argument("--pin2", metavar="P", help="the current PIN2 (prompted if absent)")
    renew.add_argument("--new-pin1", metavar="P", help="the new PIN1 (prompted if absent)")
    renew.add_argument("--new-pin2", metavar="P", help="the new PIN2 (prompted if absent)")
    commands.add_parser(
        "rotate-device-key",
        parents=[common],
        help="replace the key that signs this device's requests (finishes an interrupted run)",
    )
    return parser


class _Cli:
    def __init__(self, args: argparse.Namespace, client: httpx.Client | None) -> None:
        self.args = args
        self.store = FileStore(_state_path(args.state))
        self._client = client

    def out(self, line: str = "") -> None:
        print(printable_lines(line), flush=True)

    def app(self, base_url: str | None = None) -> DeviceApp:
        state = self.store.load()
        url = base_url or state.base_url
        if url is None:
            raise StateError(f"{self.store.path} holds no registration: run 'register' first")
        client = self._client or httpx.Client(
            base_url=url, timeout=httpx.Timeout(30.0), follow_redirects=False
        )
        return DeviceApp(
            client,
            self.store,
            min_key_bits=_min_key_bits(),
            platform="reference-cli",
            name=getattr(self.args, "name", "reference device"),
        )

    def register(self) -> int:
        url = _check_server_url(self.args.server)
        pin1 = self.args.pin1 or _ask_pin("PIN1 (4-12 digits, for authentication)", confirm=True)
        pin2 = self.args.pin2 or _ask_pin("PIN2 (5-12 digits, for signatures)", confirm=True)
        started = time.monotonic()

        def progress(message: str) -> None:
            self.out(f"  [{time.monotonic() - started:5.1f} s] {message}")

        self.out(f"Registering with {url} ...")
        with self.store.locked():
            result = self.app(url).register(self.args.ticket, pin1, pin2, progress=progress)
        self.out(f"Registered: {result.document_number} ({result.state}, {result.level})")
        person = " ".join(
            result.person.get(k, "") for k in ("givenName", "surname", "semanticsIdentifier")
        )
        if person.strip():
            self.out(f"  holder: {person.strip()}")
        return EXIT_OK

    def onboard(self) -> int:
        args = self.args
        url = _check_server_url(args.server)
        if args.passport and not args.selfie_dir:
            raise _Usage("--passport needs --selfie-dir")
        if args.mobile_id and not args.id_code:
            raise _Usage("--mobile-id needs --id-code")
        pin1 = args.pin1 or _ask_pin("PIN1 (4-12 digits, for authentication)", confirm=True)
        pin2 = args.pin2 or _ask_pin("PIN2 (5-12 digits, for signatures)", confirm=True)
        shown: set[str] = set()

        def progress(status: Mapping[str, object]) -> None:
            code = status.get("verificationCode")
            if isinstance(code, str) and code not in shown:
                shown.add(code)
                if args.existing_account:
                    self.out("  verification code - pick this one on your other device:")
                else:
                    self.out("  verification code - check that your phone shows the same:")
                self.out(big_code(code))
            self.out("  " + progress_bar(status))

        def ask_code(channel: str, address: str) -> str:
            if args.code:
                return str(args.code)
            return input(f"Code sent by {channel} to {address}: ").strip()

        with self.store.locked():
            app = self.app(url)
            flow = Onboarding(app, progress=progress)
            self.out(f"Onboarding with {url} ...")
            if args.passport:
                flow.passport(Path(args.passport), Path(args.selfie_dir), level=args.level)
            elif args.mobile_id:
                flow.mobile_id(args.mobile_id, args.id_code)
            else:
                flow.existing_account(args.existing_account)
                self.out(
                    "  on your other device, pick the code shown here and enter PIN2"
                    " ('python -m device wait', then 'approve')"
                )
            outcome = flow.follow(ask_code=ask_code)
            if outcome.state != "APPROVED" or outcome.ticket is None:
                failure = outcome.failure or {}
                reason = failure.get("message") or failure.get("error") or ""
                self.out(f"Application {outcome.application_id}: {outcome.state} {reason}".rstrip())
                return EXIT_FAILED
            self.out("Approved: registering this device ...")
            result = app.register(outcome.ticket, pin1, pin2)
        self.out(f"Registered: {result.document_number} ({result.state}, {result.level})")
        return EXIT_OK

    def wait(self) -> int:
        if not 0 <= self.args.timeout <= 3600:
            raise _Usage("--timeout must be 0-3600 seconds")
        app = self.app()
        deadline = time.monotonic() + self.args.timeout
        while True:
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            transactions = app.pending(min(left_ms, 120_000))
            if transactions:
                for tx in transactions:
                    _print_transaction(tx, self.out)
                    self.out()
                return EXIT_OK
            if left_ms == 0 or time.monotonic() >= deadline:
                self.out("No pending transactions.")
                return EXIT_OK

    def approve(self) -> int:
        with self.store.locked():
            app = self.app()
            tx = app.transaction(self.args.id)
            _print_transaction(tx, self.out)
            result = self._confirm(app, tx)
        if result.ok:
            self.out("Approved.")
            return EXIT_OK
        return _print_failure(result)

    def _confirm(self, app: DeviceApp, tx: Transaction) -> ConfirmResult:
        """Ask for the code (a code choice) and the PIN the transaction needs; approve."""
        vc = self.args.vc
        if tx.needs_vc_choice and vc is None and tx.vc_choices:
            where = "your new device" if tx.vc_shown_on is not None else "the service"
            vc = input(f"Which code does {where} show? ({'/'.join(tx.vc_choices)}): ")
            vc = vc.strip()
        pin = self.args.pin
        if pin is None and tx.purpose is not None:
            pin = _ask_pin("PIN1" if tx.purpose == "AUTH" else "PIN2", confirm=False)
        return app.approve(tx, pin, vc=vc)

    def refuse(self) -> int:
        status = self.app().refuse(self.args.id)
        self.out(f"Refused ({status}).")
        return EXIT_OK

    def open_link(self) -> int:
        """What a QR scan or a same-device link does: the service checks the link and
        names its transaction; the app shows it, asks for the PIN and answers it (or
        refuses it), then prints the callback URL a phone would open.
        """
        with self.store.locked():
            app = self.app()
            try:
                opened = app.open_link(self.args.url)
            except ApiError as exc:
                _eprint(
                    f"error: the service refused this link ({exc.status} {exc.error}): "
                    f"{exc.message}; nothing was signed"
                )
                return EXIT_FAILED
            tx = opened.transaction
            link = opened.link
            self.out(f"Opened a {link.link_type.value} link ({link.session_type.value}).")
            _print_transaction(tx, self.out, hint=False)
            if self.args.refuse:
                status = app.refuse(tx)
                screen = tx.interaction.type if tx.interaction else "certificateChoice"
                self.out(f"Refused ({status}) on the {screen} screen.")
                self._print_callback(opened)
                return EXIT_OK
            result = self._confirm(app, tx)
        if not result.ok:
            return _print_failure(result)
        self.out("Approved.")
        verifier = result.user_challenge_verifier if tx.kind == "AUTHENTICATION" else None
        self._print_callback(opened, verifier)
        return EXIT_OK

    def _print_callback(self, opened: OpenedLink, verifier: str | None = None) -> None:
        url = opened.callback_url(verifier)
        if url is not None:
            self.out(f"Callback: {url}")

    def _resume_renewals(self) -> None:
        """A re-key that waited for the service when the app last stopped: one look at
        §8.4 each (no waiting); a swapped one is finished, an ended one dropped."""
        with self.store.locked():
            app = self.app()
            for number in app.pending_renewals():
                try:
                    if app.resume_renewal(number, wait=0) is not None:
                        self.out(f"Renewal of {number} finished: the new keys are in use.")
                except RenewalPending:
                    pass  # shown below
                except ProtocolError as exc:
                    _eprint(f"warning: renewal of {number}: {exc}")

    def status(self) -> int:
        state = self.store.load()
        if not state.accounts:
            self.out(f"No accounts in {self.store.path}.")
            return EXIT_OK
        if not self.args.offline and any(a.renewal for a in state.accounts.values()):
            try:
                self._resume_renewals()
            except (NetworkError, ApiError) as exc:
                _eprint(f"warning: a pending renewal was not checked: {exc}")
            state = self.store.load()
        self.out(f"Device {state.device_id} at {state.base_url}")
        remote = {}
        code = EXIT_OK
        if not self.args.offline:
            try:
                remote = {a.document_number: a for a in self.app().accounts()}
            except (NetworkError, ApiError, ProtocolError) as exc:
                _eprint(f"warning: showing the local state only: {exc}")
                code = EXIT_FAILED
        for number, account in state.accounts.items():
            server = remote.get(number)
            shown = server.state if server else account.state
            line = f"{number}  {shown}  {account.level}"
            if server and server.valid_until:
                line += f"  valid until {server.valid_until}"
                if server.expired:
                    line += "  EXPIRED: register again"
                elif server.renewal_due and account.renewal is None:
                    line += "  renewal due: run 'renew'"
            if account.renewal is not None:
                line += "  renewal waiting for the service: run 'renew' to finish it"
            self.out(line)
            for purpose, key in account.keys.items():
                line = f"  {purpose} ({'PIN1' if purpose == 'AUTH' else 'PIN2'}): {key.state}"
                if server and purpose in server.keys:
                    remote_key = server.keys[purpose]
                    line = f"  {purpose} ({'PIN1' if purpose == 'AUTH' else 'PIN2'}): "
                    line += remote_key.state
                    if remote_key.tries_left is not None:
                        line += f", {remote_key.tries_left} tries left"
                    if remote_key.locked_until:
                        line += f", locked until {remote_key.locked_until}"
                if key.pending is not None:
                    line += " (an answer is outstanding; it is fetched on the next use)"
                self.out(line)
        return code

    def renew(self) -> int:
        active = [a for a in self.store.load().accounts.values() if a.state == "ACTIVE"]
        chosen = [a for a in active if self.args.document_number in (None, a.document_number)]
        if len(chosen) > 1 and len([a for a in chosen if a.renewal]) == 1:
            chosen = [a for a in chosen if a.renewal]  # finish that one first
        if len(chosen) != 1:
            raise _Usage(
                "name the account with --document-number"
                if chosen
                else "no such active account in this state"
            )
        number = chosen[0].document_number
        if chosen[0].renewal is not None:
            return self._resume(number)
        pin2 = self.args.pin2 or _ask_pin("current PIN2", confirm=False)
        new_pin1 = self.args.new_pin1 or _ask_pin("new PIN1 (4-12 digits)", confirm=True)
        new_pin2 = self.args.new_pin2 or _ask_pin("new PIN2 (5-12 digits)", confirm=True)
        started = time.monotonic()

        def progress(message: str) -> None:
            self.out(f"  [{time.monotonic() - started:5.1f} s] {message}")

        self.out(f"Renewing {number} ...")
        with self.store.locked():
            result = self.app().renew(number, pin2, new_pin1, new_pin2, progress=progress)
        if not result.proof.ok:
            return _print_failure(result.proof)
        self.out(f"Renewed: {number}, new certificates valid until {result.valid_until}")
        return EXIT_OK

    def _resume(self, number: str) -> int:
        """``renew`` of an account whose last re-key waits for the service: finish it
        (no PINs asked: the new keys were made then)."""
        started = time.monotonic()

        def progress(message: str) -> None:
            self.out(f"  [{time.monotonic() - started:5.1f} s] {message}")

        self.out(f"Finishing the renewal of {number} started earlier ...")
        with self.store.locked():
            result = self.app().resume_renewal(number, progress=progress)
        if result is None:  # another process finished it meanwhile
            self.out(f"Renewed: {number}")
            return EXIT_OK
        self.out(f"Renewed: {number}, new certificates valid until {result.valid_until}")
        return EXIT_OK

    def refresh(self) -> int:
        failed = False
        with self.store.locked():
            app = self.app()
            for account in app.local_accounts():
                if self.args.document_number not in (None, account.document_number):
                    continue
                for purpose, key in account.keys.items():
                    if self.args.purpose not in (None, purpose) or key.token is None:
                        continue
                    try:
                        status = app.refresh(account.document_number, purpose)
                    except StateError as exc:  # a renewal waits for the service
                        status = "SKIPPED"
                        _eprint(f"warning: {exc}")
                    self.out(f"{account.document_number} {purpose}: {status}")
                    failed = failed or status != "OK"
        return EXIT_FAILED if failed else EXIT_OK

    def rotate_device_key(self) -> int:
        with self.store.locked():
            app = self.app()
            statuses = app.rotate_device_key()
        self.out(f"New device key in use ({len(statuses)} device id(s): {', '.join(statuses)})")
        return EXIT_OK


def main(argv: Sequence[str] | None = None, *, client: httpx.Client | None = None) -> int:
    """Run the CLI; ``client`` replaces the HTTP client (tests). Returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    cli = _Cli(args, client)
    command: Callable[[], int] = getattr(cli, args.command.replace("-", "_"))
    try:
        return command()
    except (_Usage, StateError, InputError) as exc:
        _eprint(f"error: {exc}")
        return EXIT_USAGE
    except DeviceError as exc:
        _eprint(f"error: {exc}")
        return EXIT_FAILED
    except EngineError as exc:
        _eprint(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _eprint("interrupted")
        return EXIT_FAILED
    except EOFError:  # a prompt (PIN, code) with no input left, e.g. stdin not a terminal
        _eprint("error: no input for a prompt; give it as an option (see --help)")
        return EXIT_USAGE
    except OSError as exc:
        _eprint(f"error: {exc.strerror or exc}")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
