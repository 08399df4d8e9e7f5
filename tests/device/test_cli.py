"""The command line: help, status, bad state files, and the flows against the fake server."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from device import FileStore
from device.__main__ import big_code, main
from signing.engine import verification_code
from tests.device.fakeserver import FakeServer
from tests.helpers.device import BASE_URL
from tests.personas import PIN1, PIN2

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state.json"
    monkeypatch.setenv("SMARTID_DEVICE_STATE", str(path))
    monkeypatch.setenv("SMARTID_DEVICE_MIN_KEY_BITS", "1024")
    return path


def test_help() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("register", "wait", "approve", "refuse", "open-link", "status", "refresh"):
        assert command in result.stdout
    assert _run("approve", "--help").returncode == 0
    assert "--refuse" in _run("open-link", "--help").stdout


def test_status_on_an_empty_state(tmp_path: Path) -> None:
    result = _run("status", "--state", str(tmp_path / "none.json"))
    assert result.returncode == 0 and "No accounts" in result.stdout
    via_env = _run("status", env={"SMARTID_DEVICE_STATE": str(tmp_path / "none.json")})
    assert via_env.returncode == 0 and "none.json" in via_env.stdout


def test_a_state_file_open_to_others_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    path.chmod(0o644)
    result = _run("status", "--state", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_damaged_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    path.chmod(0o600)
    result = _run("status", "--state", str(path))
    assert result.returncode == 2 and "damaged" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors() -> None:
    assert _run().returncode == 2
    assert _run("approve").returncode == 2
    assert _run("fly").returncode == 2


def test_the_cli_imports_no_django() -> None:
    code = (
        "import sys, device, device.__main__, device.app, device.state, device.checks; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_device_imports_only_the_engine_of_ours() -> None:
    ours = {
        "smartid",
        "accounts",
        "signing",
        "pki",
        "enrolment",
        "api",
        "portal",
        "ra_office",
        "audit",
    }
    for source in sorted((ROOT / "device").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in ours:
                    assert module.startswith("signing.engine"), (source.name, module)
                assert module.split(".")[0] != "django", (source.name, module)


def test_plain_http_only_to_loopback(state: Path) -> None:
    code = main(
        [
            "register",
            "--server",
            "http://eid.example",
            "--ticket",
            "X",
            "--pin1",
            PIN1,
            "--pin2",
            PIN2,
        ]
    )
    assert code == 2


def test_big_code() -> None:
    art = big_code("4555")
    assert art.count("\n") == 5 and "(4 5 5 5)" in art and "█" in art


def test_flows(
    state: Path, server: FakeServer, client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*args: str) -> int:
        return main(list(args), client=client)

    ticket = server.add_ticket()
    assert (
        run("register", "--server", BASE_URL, "--ticket", ticket, "--pin1", PIN1, "--pin2", PIN2)
        == 0
    )
    out = capsys.readouterr().out
    assert "Registered: PNOEE-" in out and "generating the RSA key" in out
    assert FileStore(state).load().accounts and oct(state.stat().st_mode)[-3:] == "600"
    number = next(iter(FileStore(state).load().accounts))

    assert run("wait", "--timeout", "0") == 0
    assert "No pending transactions" in capsys.readouterr().out

    tx = server.create_transaction(number, "SIGN", kind="SIGNATURE")
    assert run("wait", "--timeout", "0") == 0
    out = capsys.readouterr().out
    code = verification_code(tx.digest)
    assert tx.id in out and "DEMO" in out and "SIGNATURE" in out and " ".join(code) in out

    assert run("approve", tx.id, "--pin", "54321") == 1
    assert "wrong pin (8 tries left)" in capsys.readouterr().err
    tx = server.create_transaction(number, "SIGN", kind="SIGNATURE")
    assert run("approve", tx.id, "--pin", PIN2) == 0
    assert "Approved." in capsys.readouterr().out and tx.signature is not None

    tx = server.create_transaction(number, "AUTH")
    assert run("refuse", tx.id) == 0 and tx.state == "REFUSED"
    assert run("refuse", tx.id) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "transaction_finished" in err

    assert run("status") == 0
    out = capsys.readouterr().out
    assert number in out and "SIGN (PIN2): ACTIVE, 9 tries left" in out
    assert run("refresh") == 0
    assert f"{number} AUTH: OK" in capsys.readouterr().out
    assert run("approve", "not-a-uuid", "--pin", PIN1) == 2


def test_prompts(
    state: Path,
    server: FakeServer,
    client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = iter([PIN1, PIN1, PIN2, "55555"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    args = ["register", "--server", BASE_URL, "--ticket", server.add_ticket()]
    assert main(args, client=client) == 2  # PIN2 and its repetition differ
    assert "differ" in capsys.readouterr().err

    answers = iter([PIN1, PIN1, PIN2, PIN2, PIN1])
    assert (
        main(["register", "--server", BASE_URL, "--ticket", server.add_ticket()], client=client)
        == 0
    )
    number = next(iter(FileStore(state).load().accounts))
    choice = [{"type": "verificationCodeChoice", "displayText60": "Log in"}]
    tx = server.create_transaction(number, "AUTH", interactions=choice)
    monkeypatch.setattr("builtins.input", lambda prompt="": verification_code(tx.digest))
    assert main(["approve", tx.id], client=client) == 0
    assert tx.signature is not None
    out = capsys.readouterr().out
    assert "pick the one the e-service shows" in out and "█" not in out


def test_server_errors_are_one_line(
    state: Path, server: FakeServer, client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["register", "--server", BASE_URL, "--ticket", "NOPE", "--pin1", PIN1, "--pin2", PIN2],
        client=client,
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "ticket_invalid" in err
    assert main(["status"], client=client) == 0  # the failed registration left no account
    assert main(["wait"], client=client) == 2  # not registered: a state error


def test_a_prompt_without_input_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "device", "register", "--server", "http://127.0.0.1:9"]
        + ["--ticket", "ABCD-EFGH", "--state", str(tmp_path / "state.json")],
        cwd=ROOT,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "no input for a prompt" in result.stderr
