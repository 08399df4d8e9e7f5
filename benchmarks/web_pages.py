"""Portal and RA office page throughput (security-targets L5: 30 req/s, p99 ≤ 500 ms).

Starts the platform in uvicorn (``--workers 2``) on a scratch database with a citizen
(three accounts and their transaction history) and a branch (an officer, 30
applications), logs both in through the real login flows (the portal with a virtual
ID-card's Web eID token, the RA office with password and TOTP), then drives the pages with
``wrk`` on loopback carrying their session cookies, and prints one table: req/s, p99 and
the ratio to the reference ``GET /health`` measured in the same run. The load generator
shares the cores with the server. Not part of the test suite.

Run: ``.venv/bin/python benchmarks/web_pages.py [--seconds 10] [--connections 16]``
(needs Debian's ``wrk``; uses DATABASE_URL / REDIS_URL if set, else SQLite).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._platform import free_port, start_server, wrk  # noqa: E402 -- after the path

CITIZEN = "PNOEE-38001085718"  # a demo virtual ID-card (demo/virtualcard.py)
PASSWORD = "benchmark password 1"  # noqa: S105 -- a scratch database's officer


def _prepare(env: dict[str, str]) -> Any:
    """Migrate, then a citizen with accounts and history, and a branch with an officer."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from datetime import date, timedelta

    from django.utils import timezone

    from accounts.models import Account, Device
    from accounts.services import account_create, person_get_or_create
    from demo.registry import demo_registry_load
    from enrolment import applications
    from enrolment.models import Branch, Officer, RegistrationAuthority
    from signing.models import Transaction

    person = person_get_or_create(
        semantics_identifier=CITIZEN, given_name="Mari-Liis", surname="Männik", actor="bench"
    )
    for n in range(3):
        device = Device.objects.create(
            person=person, platform="android", name=f"Phone {n}", public_key=b"k", interactions=[]
        )
        account = account_create(person=person, device=device, level="QUALIFIED", actor="bench")
        Account.objects.filter(pk=account.pk).update(state=Account.State.ACTIVE)
        Transaction.objects.bulk_create(
            Transaction(
                account=account,
                kind=Transaction.Kind.AUTHENTICATION,
                rp_name="BANK",
                state=Transaction.State.COMPLETE,
                result=Transaction.Result.OK,
                expires_at=timezone.now(),
            )
            for _ in range(20)
        )
    demo_registry_load(actor="bench")
    authority = RegistrationAuthority.objects.create(code="bank", name="Bank")
    branch = Branch.objects.create(authority=authority, code="hq", name="Head office")
    officer, device = applications.officer_create(
        username="olga",
        password=PASSWORD,
        branch=branch,
        role=Officer.Role.OFFICER,
        actor="bench",
        given_name="Olga",
        surname="Ohvitser",
    )
    for n in range(30):
        applications.application_create(
            officer=officer,
            data=applications.ApplicationInput(
                semantics_identifier="PNOEE-38001085718",
                given_name="Mari-Liis",
                surname="Männik",
                date_of_birth=date(1980, 1, 8),
                document_type="ID_CARD",
                document_number=f"AB{n:07d}",
                document_country="EE",
                document_expiry=timezone.localdate() + timedelta(days=1000),
                document_checked=True,
                level="QUALIFIED",
                email="",
                phone="",
            ),
            source_ip="127.0.0.1",
        )
    return device


def _portal_cookie(base_url: str) -> str:
    import httpx

    from demo import virtualcard

    with httpx.Client(base_url=base_url) as client:
        client.get("/portal/login")
        csrf = {"X-CSRFToken": client.cookies["csrftoken"]}
        nonce = client.post("/portal/login/challenge", headers=csrf).json()["challengeNonce"]
        token = virtualcard.card_for(CITIZEN.split("-", 1)[1]).token_for(base_url, nonce)
        body = {"authToken": token, "origin": base_url, "challengeNonce": nonce}
        answer = client.post("/portal/login/web-eid", json=body, headers=csrf)
        answer.raise_for_status()
        return f"sessionid={client.cookies['sessionid']}"


def _ra_cookie(base_url: str, device: Any) -> str:
    import re

    import httpx
    from django_otp.oath import TOTP

    with httpx.Client(base_url=base_url) as client:
        page = client.get("/ra/login/").text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert csrf is not None
        client.post(
            "/ra/login/",
            data={
                "username": "olga",
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf.group(1),
            },
        )
        page = client.get("/ra/login/totp/").text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert csrf is not None
        device.refresh_from_db()
        code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"
        done = client.post(
            "/ra/login/totp/", data={"token": code, "csrfmiddlewaretoken": csrf.group(1)}
        )
        assert done.headers.get("location") == "/ra/", done.text[:300]
        return f"sessionid={client.cookies['sessionid']}"


def _check_logged_in(base_url: str, path: str, cookie: str) -> None:
    """The cookie must really open the page (a redirect to the login would look fast)."""
    import httpx

    answer = httpx.get(base_url + path, headers={"Cookie": cookie})
    if answer.status_code != 200:
        sys.exit(f"{path} with the session cookie answered {answer.status_code}")


def _cookie_script(workdir: Path, name: str, cookie: str) -> Path:
    script = workdir / f"{name}.lua"
    script.write_text(f'wrk.headers["Cookie"] = "{cookie}"\n')
    return script


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("benchmarks/web_pages.py needs wrk (apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "smartid.settings",
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(workdir),
        "SITE_URL": base_url,
        "LOG_LEVEL": "WARNING",
        "RA_IDLE_TIMEOUT_SECONDS": "3600",
        # httpx (unlike browsers) keeps Secure cookies off plain-HTTP loopback.
        "SMARTID_SECURE_COOKIES": "false",
    }
    if "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    device = _prepare(env)
    server = start_server(port, options.workers, env)
    try:
        portal_cookie = _portal_cookie(base_url)
        ra_cookie = _ra_cookie(base_url, device)
        _check_logged_in(base_url, "/portal/accounts", portal_cookie)
        _check_logged_in(base_url, "/ra/", ra_cookie)
        portal = _cookie_script(workdir, "portal", portal_cookie)
        ra = _cookie_script(workdir, "ra", ra_cookie)
        rows = []
        for name, path, script in (
            ("reference: GET /health", "/health", None),
            ("portal login page", "/portal/login", None),
            ("portal accounts (3 accounts)", "/portal/accounts", portal),
            ("RA office login page", "/ra/login/", None),
            ("RA office home (30 applications)", "/ra/", ra),
        ):
            wrk(base_url + path, 2, options.connections, script)  # warm-up
            rows.append((name, *wrk(base_url + path, options.seconds, options.connections, script)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    reference = rows[0][1]
    print(
        f"\nPortal and RA office pages, uvicorn --workers {options.workers}, "
        f"wrk -c{options.connections}, {options.seconds} s per row, {os.cpu_count()} cores "
        "shared with wrk (target L5: 30 req/s, p99 ≤ 500 ms)"
    )
    print(f"{'page':<36}{'req/s':>10}{'p99 ms':>10}{'vs /health':>12}{'wrk CPU s':>11}")
    for name, rate, p99, cpu in rows:
        print(f"{name:<36}{rate:>10.0f}{p99:>10.1f}{rate / reference:>12.2f}{cpu:>11.1f}")


if __name__ == "__main__":
    main()
