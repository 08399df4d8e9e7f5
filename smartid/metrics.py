"""``/metrics``: the Prometheus text exposition, for allowed scrapers only.

The counters and histograms are ``core.metrics``'s (summed over the processes of
``PROMETHEUS_MULTIPROC_DIR`` when it is set). The gauges are computed when Prometheus
scrapes (:class:`StateCollector`), from the shared state every node sees: the Celery
queue's length in Redis, the server key pool's size and each CA's newest CRL.

Access (``METRICS_ALLOWED_NETWORKS``, ``METRICS_TOKEN``): the client address must be in
the allowed networks (loopback by default), and when a token is configured the request
must also carry ``Authorization: Bearer <token>``. A request that came through a proxy
we do not trust (it carries ``X-Forwarded-For``) is refused: the reverse proxy's own
loopback address must not open ``/metrics`` to the internet. Refusals are 403 JSON.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator

import redis
from django.conf import settings
from django.db.models import Count
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core import metrics
from core.net import client_address
from pki.models import CertificateAuthority, RevocationList
from signing.models import ServerKeyHalf
from smartid.views import json_error

logger = logging.getLogger(__name__)

#: The classic text format (what generate_latest writes), which every Prometheus reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StateCollector(Collector):
    """Gauges read at scrape time. Every family is always declared; a source this node
    does not use (the queue of eager tasks) or cannot read now (logged) has no sample,
    so one broken dependency never hides the other metrics."""

    def collect(self) -> Iterator[Metric]:
        yield self._queue()
        yield from self._key_pool()
        yield from self._crls()

    def _queue(self) -> Metric:
        gauge = GaugeMetricFamily(
            "smartid_celery_queue_length",
            "Messages waiting in the Celery queue (Redis LLEN; unacknowledged ones excluded).",
            labels=["queue"],
        )
        from smartid.celery import app

        broker = str(app.conf.broker_url or "")
        if app.conf.task_always_eager or not broker.startswith(("redis://", "rediss://")):
            return gauge
        queue = app.conf.task_default_queue or "celery"
        client = redis.Redis.from_url(broker, socket_timeout=1, socket_connect_timeout=1)
        try:
            gauge.add_metric([queue], float(client.llen(queue)))
        except redis.RedisError as exc:
            logger.warning("metrics: queue length unavailable: %s", exc)
        finally:
            client.close()
        return gauge

    def _key_pool(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "smartid_key_pool_size",
            "Pre-generated server key halves waiting in the pool, by modulus bits.",
            labels=["bits"],
        )
        try:
            rows = list(ServerKeyHalf.objects.values("bits").annotate(count=Count("id")))
        except DatabaseError as exc:
            logger.warning("metrics: key pool unavailable: %s", exc)
        else:
            counts = {row["bits"]: row["count"] for row in rows}
            counts.setdefault(settings.SPLITKEY_BITS, 0)
            for bits, count in sorted(counts.items()):
                size.add_metric([str(bits)], float(count))
        yield size
        yield GaugeMetricFamily(
            "smartid_key_pool_target",
            "The pool size the periodic refill aims at (SMARTID_KEY_POOL_SIZE).",
            value=float(settings.KEY_POOL_SIZE),
        )

    def _crls(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "smartid_crl_age_seconds",
            "Seconds since the thisUpdate of each CA's newest CRL.",
            labels=["ca"],
        )
        remaining = GaugeMetricFamily(
            "smartid_crl_expiry_seconds",
            "Seconds until the nextUpdate of each CA's newest CRL (negative: expired).",
            labels=["ca"],
        )
        now = timezone.now()
        try:
            for ca in CertificateAuthority.objects.only("slug"):
                crl = (
                    RevocationList.objects.filter(issuer=ca)
                    .order_by("-number")
                    .only("this_update", "next_update")
                    .first()
                )
                if crl is not None:
                    age.add_metric([ca.slug], (now - crl.this_update).total_seconds())
                    remaining.add_metric([ca.slug], (crl.next_update - now).total_seconds())
        except DatabaseError as exc:
            logger.warning("metrics: CRLs unavailable: %s", exc)
        yield age
        yield remaining


def registry() -> CollectorRegistry:
    """What ``/metrics`` exposes: every process's counters (multiprocess mode) or this
    process's, plus the scrape-time gauges."""
    if metrics.multiprocess_dir():
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    else:
        collected = CollectorRegistry()
        collected.register(_ProcessMetrics())
    collected.register(StateCollector())
    return collected


class _ProcessMetrics(Collector):
    """The default registry's metrics (ours and the process/platform collectors)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in settings.METRICS_ALLOWED_NETWORKS]


def allowed(request: HttpRequest) -> bool:
    """The access rule of the module docstring."""
    address = client_address(request)
    if address == request.META.get("REMOTE_ADDR") and "X-Forwarded-For" in request.headers:
        return False  # forwarded by a proxy we do not trust: the real client is unknown
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if not any(ip in network for network in _networks()):
        return False
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    return True


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return json_error(403, "Forbidden")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE)
