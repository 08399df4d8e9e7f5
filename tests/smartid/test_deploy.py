"""deploy/ agrees with the platform: every task reaches a queue that a worker serves, the
units run what the README's production section says, and nginx accepts its configuration."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from smartid.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
QUEUES = {queue.name for queue in settings.CELERY_TASK_QUEUES}


def _project_tasks() -> list[str]:
    celery_app.loader.import_default_modules()  # autodiscovery, as a worker does at start
    return sorted(name for name in celery_app.tasks if not name.startswith("celery."))


def _unit(name: str) -> configparser.RawConfigParser:
    # systemd allows repeated keys (several ExecStart= in a oneshot): keep the last.
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DEPLOY / "systemd" / name)
    return parser


def _exec(name: str) -> str:
    return " ".join(_unit(name)["Service"]["ExecStart"].replace("\\\n", " ").split())


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_every_task_goes_to_a_declared_queue() -> None:
    tasks = _project_tasks()
    assert "signing.tasks.fill_key_pool" in tasks and "enrolment.tasks.onboarding_process" in tasks
    for name in tasks:
        queue = celery_app.amqp.router.route({}, name)["queue"].name
        assert queue in QUEUES, f"{name} goes to {queue}, which no worker is told to serve"


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("signing.tasks.fill_key_pool", "issuance"),
        ("signing.tasks.issue_certificates", "issuance"),
        ("signing.tasks.complete_renewal", "issuance"),
        ("pki.tasks.revoke_certificate", "issuance"),
        ("signing.tasks.resume_issuance", "housekeeping"),
        ("enrolment.tasks.onboarding_process", "biometrics"),
        ("signing.tasks.expire_transactions", "housekeeping"),
        ("pki.tasks.publish_crl", "housekeeping"),
        ("pki.tasks.publish_all_crls", "housekeeping"),
        ("enrolment.tasks.onboarding_housekeeping", "housekeeping"),
        ("api.rp.tasks.aggregate_rp_usage", "housekeeping"),
        ("api.rp.tasks.purge_rp_sessions", "housekeeping"),
        ("accounts.tasks.flush_devices_seen", "housekeeping"),
    ],
)
def test_work_is_kept_apart_by_kind(task: str, queue: str) -> None:
    assert celery_app.amqp.router.route({}, task)["queue"].name == queue


def test_a_worker_without_queues_serves_every_queue() -> None:
    # `celery -A smartid worker` (no -Q: the one-machine setup, the tests' real workers).
    assert set(celery_app.amqp.queues) == QUEUES


def test_the_systemd_units_run_the_documented_commands() -> None:
    web = _exec("openeid-web.service")
    assert web.startswith("/srv/openeid/venv/bin/uvicorn smartid.asgi:application ")
    assert "--no-proxy-headers" in web  # the application decides which proxies to believe
    worker = _exec("openeid-worker@.service")
    assert re.search(r"celery -A smartid worker -Q %i\b", worker)
    assert re.search(r"celery -A smartid beat\b", _exec("openeid-beat.service"))
    for unit in ("openeid-web.service", "openeid-worker@.service", "openeid-beat.service"):
        service = _unit(unit)["Service"]
        assert service["EnvironmentFile"] == "/etc/openeid/openeid.env"
        assert service["User"] == "openeid" and service["Restart"] == "always"
        assert _unit(unit)["Install"]["WantedBy"] == "openeid.target"


def test_the_node_environment_names_only_variables_the_platform_reads() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    env_file = (DEPLOY / "systemd" / "openeid.env").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", env_file, re.M)
    assert names, "openeid.env sets nothing"
    for name in names:
        base = name.removesuffix("_FILE")  # secrets may come from files (smartid/env.py)
        assert name.startswith("OPENEID_WEB_") or base in documented, name
    # Every OPENEID_WEB_* variable is used by the web unit.
    web = _exec("openeid-web.service")
    for name in names:
        if name.startswith("OPENEID_WEB_"):
            assert "${" + name + "}" in web


def test_compose_mirrors_the_units() -> None:
    services = _compose()["services"]
    served = {
        service["command"][service["command"].index("-Q") + 1]
        for service in services.values()
        if "worker" in service.get("command", [])
    }
    assert served == QUEUES
    beats = [name for name, service in services.items() if "beat" in service.get("command", [])]
    assert beats == ["beat"]  # exactly one
    webs = [name for name, service in services.items() if name.startswith("web")]
    assert len(webs) == 2


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing (.ci/system-packages installs it)")
        pytest.skip("nginx is not installed")
    # The site file as shipped, with its certificate paths pointed at a throw-away pair.
    key, cert, cas = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "cas.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=eid.example.org", "-days", "1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    shutil.copy(cert, cas)
    site = (DEPLOY / "nginx" / "portal.conf").read_text()
    site = site.replace("/etc/ssl/eid.example.org/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/eid.example.org/privkey.pem", str(key))
    site = site.replace("/etc/nginx/id-card-cas.pem", str(cas))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
