"""OCSP responder throughput from the running server (not a test).

Starts the platform in uvicorn (``--workers 2``) on a scratch database, creates the CA
hierarchy and a good and a revoked certificate, then drives it with ``wrk`` on
loopback and prints one table:

* cached answers (nonce-less GET, as browsers and RFC 5019 clients send) for a good
  and a revoked certificate;
* uncached answers (POST with a fresh nonce each time, so every answer is signed);
* the reference: ``GET /health`` (the cheapest Django view) in the same run, so the
  ratio says how close the responder is to the framework's own ceiling.

The load generator shares the two cores with the server; its CPU time is reported.
Run: ``.venv/bin/python benchmarks/ocsp.py [--seconds 10] [--connections 32]``.
Needs Debian's ``wrk``. Uses DATABASE_URL / REDIS_URL if set (a shared Redis cache),
else SQLite and a per-worker in-process cache.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._platform import free_port, start_server, wrk  # noqa: E402 -- after the path


def _prepare(env: dict[str, str], base_url: str, workdir: Path) -> dict[str, bytes]:
    """Create the hierarchy and two certificates; return OCSP request bodies."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    from pki import services
    from tests.pki import factories as f

    hierarchy = services.ca_hierarchy_create(actor="benchmark", base_url=base_url)
    issuer = services.ca_certificate(hierarchy[1])
    good = services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="AUTH",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="benchmark",
        base_url=base_url,
    )
    revoked = services.certificate_issue(
        csr_der=f.csr(f.rsa_key(1)),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="SIGN",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="benchmark",
        base_url=base_url,
    )
    services.certificate_revoke(certificate=revoked, reason="key_compromise", actor="benchmark")

    def request(row: object, nonce: bytes | None = None) -> bytes:
        cert = x509.load_der_x509_certificate(bytes(row.der))  # type: ignore[attr-defined]
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build().public_bytes(Encoding.DER)

    bodies = {"good": request(good), "revoked": request(revoked)}
    # Fresh nonces for the uncached run: wrk cycles through them.
    lua_bodies = ",\n".join(
        '"' + "".join(f"\\{b}" for b in request(good, os.urandom(16))) + '"' for _ in range(4000)
    )
    (workdir / "uncached.lua").write_text(
        "local bodies = {" + lua_bodies + "}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        '  return wrk.format("POST", "/ocsp", {["Content-Type"] = "application/ocsp-request"},'
        " bodies[(i % #bodies) + 1])\nend\n"
    )
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("benchmarks/ocsp.py needs wrk (apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="ocsp-bench-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "smartid.settings",
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(workdir),
        "SITE_URL": base_url,
        "LOG_LEVEL": "WARNING",
    }
    if "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    bodies = _prepare(env, base_url, workdir)
    server = start_server(port, options.workers, env)
    try:
        rows = []
        for name, url, script in (
            ("reference: GET /health", f"{base_url}/health", None),
            (
                "cached, good (GET)",
                f"{base_url}/ocsp/{base64.b64encode(bodies['good']).decode()}",
                None,
            ),
            (
                "cached, revoked (GET)",
                f"{base_url}/ocsp/{base64.b64encode(bodies['revoked']).decode()}",
                None,
            ),
            ("uncached, good (POST + nonce)", f"{base_url}/ocsp", workdir / "uncached.lua"),
        ):
            wrk(url, 2, options.connections, script)  # warm-up: caches, connections
            rows.append((name, *wrk(url, options.seconds, options.connections, script)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    reference = rows[0][1]
    print(
        f"\nOCSP responder, uvicorn --workers {options.workers}, wrk -c{options.connections}, "
        f"{options.seconds} s per row, {os.cpu_count()} cores shared with wrk"
    )
    print(f"{'scenario':<32}{'req/s':>10}{'p99 ms':>10}{'vs /health':>12}{'wrk CPU s':>11}")
    for name, rate, p99, cpu in rows:
        print(f"{name:<32}{rate:>10.0f}{p99:>10.1f}{rate / reference:>12.2f}{cpu:>11.1f}")


if __name__ == "__main__":
    main()
