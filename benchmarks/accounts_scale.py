"""SQL statements and latency of an RP authentication flow with 10³ and 10⁶ accounts (not a test).

Issue 17: ≤ 15 statements per flow, and the same number whatever the size of the account
tables. For each size (default 1000 and 1000000), in a subprocess of its own:

1. a scratch PostgreSQL database ``lt_scale_<size>_<random>`` next to ``DATABASE_URL``
   (required; created, migrated, dropped at the end), the CA hierarchy, one relying party;
2. ``--devices`` real accounts (default 8): reference apps (``device.app.DeviceApp``,
   1024-bit halves, cheap scrypt: the count does not depend on the key size) registered
   through the real app API;
3. the other accounts seeded in bulk, server-side (``INSERT … SELECT … generate_series``):
   per account a person, a device, the account (ACTIVE, QUALIFIED), its AUTH and SIGN
   split keys (ACTIVE) and their certificates (GOOD, valid): every row the RP lookup by
   semantics identifier reads, with the tables' real indexes; then ``ANALYZE``;
4. ``--flows`` full authentication flows (default 40, v2 notification, SHA-256), each
   against one of the real accounts picked at random: the RP's POST, the app's pending
   request, its confirmation, the RP's status GET; and as many POSTs against seeded
   accounts picked at random among all of them (the lookup across the whole table; their
   sessions stay pending);
5. ``EXPLAIN`` of every distinct statement the flows sent, flagging a sequential scan of a
   table that grows with the accounts (persons, devices, accounts, keys, certificates)
   from 10⁵ accounts on (below, the planner rightly scans small tables).

A device's "last seen" time costs no statement with Redis (``REDIS_URL``; accounts/seen.py:
recorded in Redis, flushed by a beat task). Without Redis (embedded) a device's first app
request after more than a minute without one writes it: one more statement in that flow's
pending (or confirm) phase, whatever the size. The apps make one request after the seeding,
so that both sizes measure devices seen within the minute (as a polling phone is) in
either mode.

The server runs in this process (uvicorn in a thread, as the tests' live server), so the
count is exact: every statement any thread sends is counted by wrapping Django's
``CursorWrapper.execute``/``executemany``, as ``tests/rp/test_query_budget.py`` does, with
the same rule (``BEGIN`` is not counted: psycopg sends it on its own). Latency is the wall
time of one flow, client and server in one process (one GIL): it compares the two sizes,
it is not the platform's latency under load (``loadtests/`` measures that).

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python
benchmarks/accounts_scale.py [--sizes 1000,1000000] [--flows 40] [--devices 8]``.
Only 127.0.0.1 is used. Seeding 10⁶ accounts (7·10⁶ rows and their indexes) takes
minutes on a 2-core machine: the time is printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.rp_flow import (  # noqa: E402 -- after the path is set
    PIN1,
    PIN2,
    RP_NAME,
    RP_UUID,
    django_setup,
    free_port,
    people,
    platform_env,
    relying_party_create,
    tickets_create,
)

BITS = 1024
#: Tables that grow with the accounts: a sequential scan of one of them is a finding.
GROWING = ("accounts_person", "accounts_device", "accounts_account", "signing_splitkey",
           "pki_certificate")  # fmt: skip
#: From this many accounts on, a sequential scan of a growing table fails the run.
PLANS_FROM = 100_000
PHASES = ("POST", "pending", "confirm", "poll")
INTERACTIONS = [{"type": "displayTextAndPIN", "displayText60": "Log in?"}]


class Statements:
    """Every SQL statement any thread of this process sends (but BEGIN), with its params."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, Any]] = []

    def add(self, sql: str, params: Any) -> None:
        if not sql.lstrip().upper().startswith("BEGIN"):
            with self.lock:
                self.seen.append((sql, params))

    def take(self) -> list[tuple[str, Any]]:
        with self.lock:
            taken, self.seen = self.seen, []
        return taken

    def install(self) -> None:
        from django.db.backends.utils import CursorWrapper

        execute, executemany = CursorWrapper.execute, CursorWrapper.executemany
        counted = self

        def counting_execute(self: CursorWrapper, sql: str, params: Any = None) -> Any:
            counted.add(sql, params)
            return execute(self, sql, params)

        def counting_executemany(self: CursorWrapper, sql: str, param_list: Any) -> Any:
            counted.add(sql, None)
            return executemany(self, sql, param_list)

        CursorWrapper.execute = counting_execute  # type: ignore[method-assign,assignment]
        CursorWrapper.executemany = counting_executemany  # type: ignore[method-assign,assignment]


@contextmanager
def scratch_database(given: str, size: int) -> Iterator[str]:
    import psycopg

    parts = urllib.parse.urlsplit(given)
    name = f"lt_scale_{size}_{secrets.token_hex(4)}"
    with psycopg.connect(given, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(given, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def live_server(port: int) -> Iterator[None]:
    """The ASGI application in uvicorn in a thread of this process (tests/live.py's way)."""
    import uvicorn

    config = uvicorn.Config(
        "smartid.asgi:application",
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def seed(count: int) -> tuple[float, list[str]]:
    """``count`` persons with an ACTIVE account, device, AUTH and SIGN keys and GOOD
    certificates, in bulk on the server; returns (seconds, a sample of their identifiers)."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account, Device, Person
    from pki.models import Certificate, CertificateAuthority
    from signing.models import SplitKey

    began = time.monotonic()
    issuer = CertificateAuthority.objects.get(kind=CertificateAuthority.Kind.QUALIFIED).pk
    interactions = json.dumps(list(Device.objects.values_list("interactions", flat=True)[:1])[0])
    base = 10_000_000  # ids above the real accounts'
    now = timezone.now()
    tables = {
        "person": Person._meta.db_table,
        "device": Device._meta.db_table,
        "account": Account._meta.db_table,
        "key": SplitKey._meta.db_table,
        "cert": Certificate._meta.db_table,
    }
    with connection.cursor() as cursor:
        # PNOEE-4xxxxxxxxxx: the pattern's shape (the lookup parses, it does not re-check
        # the check digit); the real persons are 3800101xxxx.
        cursor.execute(
            f"""INSERT INTO {tables["person"]} (id, semantics_identifier, given_name, surname,
                country, date_of_birth, email, phone, created_at)
            SELECT {base} + g, 'PNOEE-' || (40000000000 + g)::text, 'SEED', 'PERSON' || g,
                'EE', NULL, '', '', %s
            FROM generate_series(1, %s) g""",
            [now, count],
        )
        cursor.execute(
            f"""INSERT INTO {tables["device"]} (id, person_id, platform, name, public_key,
                interactions, state, registered_at, last_seen_at, last_ip)
            SELECT md5('device' || p.id)::uuid, p.id, 'seed', 'seeded device',
                decode(md5(p.id::text), 'hex'), %s::jsonb, 'ACTIVE', %s, NULL, NULL
            FROM {tables["person"]} p WHERE p.id > {base}""",
            [interactions, now],
        )
        cursor.execute(
            f"""INSERT INTO {tables["account"]} (id, uuid, person_id, device_id,
                document_number, level, state, created_at, activated_at, state_changed_at)
            SELECT p.id, md5('account' || p.id)::uuid, p.id, md5('device' || p.id)::uuid,
                p.semantics_identifier || '-SEED-Q', 'QUALIFIED', 'ACTIVE', %s, %s, %s
            FROM {tables["person"]} p WHERE p.id > {base}""",
            [now, now, now],
        )
        cursor.execute(
            f"""INSERT INTO {tables["cert"]} (id, issuer_id, serial_number, document_number,
                purpose, level, subject, der, not_before, not_after, status,
                revocation_reason, revoked_at, created_at)
            SELECT 2 * a.id + k.n, %s, md5('serial' || a.id || k.purpose),
                a.document_number, k.purpose, 'QUALIFIED', 'CN=SEED', '\\x30'::bytea,
                %s - interval '1 day', %s + interval '3 years', 'GOOD', '', NULL, %s
            FROM {tables["account"]} a
            CROSS JOIN (VALUES (0, 'AUTH'), (1, 'SIGN')) AS k (n, purpose)
            WHERE a.id > {base}""",
            [issuer, now, now, now],
        )
        cursor.execute(
            f"""INSERT INTO {tables["key"]} (id, account_id, renewal_id, purpose, state, bits,
                n1, n2, certificate_id, token_hash, fails, revoked, revoke_reason, suspect,
                created_at)
            SELECT 2 * a.id + k.n, a.id, NULL, k.purpose, 'ACTIVE', {BITS},
                md5('n1' || a.id || k.purpose), 'seed', 2 * a.id + k.n,
                decode(md5(a.id::text), 'hex'), 0, false, '', false, %s
            FROM {tables["account"]} a
            CROSS JOIN (VALUES (0, 'AUTH'), (1, 'SIGN')) AS k (n, purpose)
            WHERE a.id > {base}""",
            [now],
        )
        for name, table in tables.items():  # the next ids after the seeded ones
            if name != "device":  # a UUID key: no sequence
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        cursor.execute("ANALYZE")
        sample = random.sample(range(1, count + 1), min(count, 200))
    return time.monotonic() - began, [f"PNOEE-{40000000000 + n}" for n in sample]


def explain(statements: list[tuple[str, Any]]) -> list[str]:
    """The sequential scans of growing tables in the plans of these statements."""
    from django.db import connection

    findings: list[str] = []
    seen: set[str] = set()
    with connection.cursor() as cursor:
        for sql, params in statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if sql in seen or head not in ("SELECT", "UPDATE", "DELETE", "WITH"):
                continue
            seen.add(sql)
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            for line in plan.splitlines():
                if "Seq Scan on " in line:
                    table = line.split("Seq Scan on ", 1)[1].split()[0]
                    if table in GROWING:
                        findings.append(f"{table}: {sql[:120]}")
    return findings


def size_main(size: int, flows: int, devices: int) -> None:
    """One size, in this (sub)process; prints one JSON line."""
    import httpx

    given = os.environ["DATABASE_URL"]
    workdir = Path(tempfile.mkdtemp(prefix="accounts-scale-"))
    with scratch_database(given, size) as database_url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = platform_env(workdir, database_url, url, bits=BITS)
        django_setup(env)
        from device.app import DeviceApp
        from pki import services as pki
        from signing import keys
        from signing.engine import KdfParams

        pki.ca_hierarchy_create(actor="benchmark", base_url=url)
        relying_party_create()
        persons = people(devices)
        tickets = tickets_create(persons)
        keys.pool_fill(bits=BITS, target=2 * devices + 2)
        statements = Statements()
        statements.install()
        with live_server(port), httpx.Client(timeout=60) as rp:
            apps = {}
            for person, ticket in zip(persons, tickets, strict=True):
                app = DeviceApp(
                    httpx.Client(base_url=url, timeout=60),
                    min_key_bits=BITS,
                    kdf=KdfParams(n=2**10, r=8, p=1),
                )
                app.register(ticket, PIN1, PIN2)
                app.accounts()
                apps[person] = app
            seconds, seeded = seed(size - devices)
            # Seeding 10^6 takes minutes. With Redis a device's "last seen" costs no
            # statement whatever its idle time (accounts/seen.py); embedded, the first request
            # after a minute idle writes it (a 16th statement that depends on the idle time,
            # not on the size). One request per app now, so that both sizes measure flows of
            # devices seen within the minute in either mode.
            for app in apps.values():
                app.accounts()
            statements.take()
            counts: dict[str, list[int]] = {phase: [] for phase in PHASES}
            latencies: list[float] = []
            sent: list[tuple[str, Any]] = []
            for _ in range(flows):
                person = random.choice(persons)
                began = time.perf_counter()
                used = _flow(rp, url, person, apps[person], statements)
                latencies.append(time.perf_counter() - began)
                for phase in PHASES:
                    counts[phase].append(len(used[phase]))
                    sent += used[phase]
            post_counts, post_latencies = [], []
            for person in random.sample(seeded, min(flows, len(seeded))):
                began = time.perf_counter()
                answer = rp.post(f"{url}/v2/authentication/etsi/{person}", json=_body())
                post_latencies.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    raise RuntimeError(f"seeded {person}: {answer.status_code} {answer.text}")
                used_post = statements.take()
                post_counts.append(len(used_post))
                sent += used_post
            findings = explain(sent)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_account")
            accounts = cursor.fetchone()[0]
        connection.close()
    print(
        json.dumps(
            {
                "size": size,
                "accounts": accounts,
                "seed_seconds": seconds,
                "counts": counts,
                "latencies": latencies,
                "post_counts": post_counts,
                "post_latencies": post_latencies,
                "findings": sorted(set(findings)),
            }
        ),
        flush=True,
    )


def _body() -> dict[str, Any]:
    return {
        "relyingPartyUUID": RP_UUID,
        "relyingPartyName": RP_NAME,
        "hash": base64.b64encode(hashlib.sha256(secrets.token_bytes(16)).digest()).decode(),
        "hashType": "SHA256",
        "allowedInteractionsOrder": INTERACTIONS,
    }


def _flow(
    rp: Any, url: str, person: str, app: Any, statements: Statements
) -> dict[str, list[tuple[str, Any]]]:
    statements.take()
    answer = rp.post(f"{url}/v2/authentication/etsi/{person}", json=_body())
    if answer.status_code != 200:
        raise RuntimeError(f"POST {answer.status_code} {answer.text}")
    session = answer.json()["sessionID"]
    used = {"POST": statements.take()}
    (tx,) = app.pending(timeout_ms=5000)
    used["pending"] = statements.take()
    if not app.approve(tx, PIN1).ok:
        raise RuntimeError("the app's confirmation failed")
    used["confirm"] = statements.take()
    status = rp.get(f"{url}/v2/session/{session}").json()
    used["poll"] = statements.take()
    if status["state"] != "COMPLETE" or status["result"]["endResult"] != "OK":
        raise RuntimeError(f"status {status}")
    return used


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 1_000_000]
    )
    parser.add_argument("--flows", type=int, default=40)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--role", choices=("main", "size"), default="main")
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("DATABASE_URL=postgresql://… is required (scratch databases are made next to it)")
    if not 1 <= options.devices < min(options.sizes) or not 1 <= options.flows <= 1000:
        parser.error("1 ≤ --devices < every size; 1 ≤ --flows ≤ 1000")
    if options.role == "size":
        size_main(options.sizes[0], options.flows, options.devices)
        return
    results = []
    for size in options.sizes:
        began = time.monotonic()
        out = subprocess.run(
            [sys.executable, __file__, "--role", "size", "--sizes", str(size),
             "--flows", str(options.flows), "--devices", str(options.devices)],
            capture_output=True, text=True, timeout=3600, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            sys.exit(f"size {size} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["wall"] = time.monotonic() - began
        results.append(result)
    report(results, options.flows)


def report(results: list[dict[str, Any]], flows: int) -> None:
    print(
        f"RP authentication flow (v2, notification) on PostgreSQL, {flows} flows per size "
        "against real accounts picked at random, as many POSTs against seeded ones"
    )
    print(
        f"{'accounts':>9} {'seed s':>7} {'POST':>5} {'pending':>7} {'confirm':>7} {'poll':>5} "
        f"{'flow':>5} {'flow p50 ms':>11} {'seeded POST':>11} {'POST p50 ms':>11}"
    )
    for r in results:
        per_phase = {p: sorted(set(r["counts"][p])) for p in PHASES}
        flow_totals = {sum(r["counts"][p][i] for p in PHASES) for i in range(flows)}
        cells = ["/".join(str(c) for c in per_phase[p]) for p in PHASES]
        print(
            f"{r['accounts']:>9} {r['seed_seconds']:>7.1f} {cells[0]:>5} {cells[1]:>7} "
            f"{cells[2]:>7} {cells[3]:>5} {'/'.join(str(t) for t in sorted(flow_totals)):>5} "
            f"{statistics.median(r['latencies']) * 1000:>11.1f} "
            f"{'/'.join(str(c) for c in sorted(set(r['post_counts']))):>11} "
            f"{statistics.median(r['post_latencies']) * 1000:>11.1f}"
        )
    same = all(
        {p: sorted(set(r["counts"][p])) for p in PHASES}
        == {p: sorted(set(results[0]["counts"][p])) for p in PHASES}
        and sorted(set(r["post_counts"])) == sorted(set(results[0]["post_counts"]))
        for r in results
    )
    budget = max(sum(r["counts"][p][i] for p in PHASES) for r in results for i in range(flows))
    print(f"{'PASS' if budget <= 15 else 'FAIL'}  ≤ 15 statements per flow (max {budget})")
    print(f"{'PASS' if same else 'FAIL'}  the same counts at every size")
    for r in results:
        if r["accounts"] < PLANS_FROM:
            print(
                f"(at {r['accounts']} accounts {len(r['findings'])} plan(s) scan a growing "
                "table sequentially: the planner's right choice for small tables; not checked)"
            )
            continue
        for finding in r["findings"]:
            print(f"FAIL  sequential scan at {r['accounts']} accounts: {finding}")
        if not r["findings"]:
            print(f"PASS  no sequential scan of a growing table at {r['accounts']} accounts")


if __name__ == "__main__":
    main()
