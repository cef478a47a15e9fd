"""Prometheus metrics of this process (``prometheus-client``), in one registry of our own.

Counters and histograms count what this process did; gauges read from the database (deliveries by
state, oldest pending, route states) are added by `ozgbridge.metrics_db` where they are served.
Label values are ids only — tenant and route ids, LeiKa keys, connector kinds, outcomes, handler
path templates — never anything from an application.

Names follow https://prometheus.io/docs/practices/naming/ (base units, ``_total`` for counters).

In a group of API processes (``ozgbridge api --processes N``) every value is kept in a file shared
with the group and a scrape serves the sums (`ozgbridge.metrics_group`); ``multiprocess_mode``
says how a gauge combines there (elsewhere it is ignored).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from ozgbridge import __version__

# No *_created series: they double the series count and no dashboard or alert here uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

BUILD_INFO = Gauge(
    "ozgbridge_build_info", "ozgbridge version of this process (always 1)", ["version"],
    registry=REGISTRY, multiprocess_mode="max",
)  # fmt: skip
BUILD_INFO.labels(__version__).set(1)

APPLICATIONS_RECEIVED = Counter(
    "ozgbridge_applications_received",
    "Applications accepted and stored, by responsible tenant and LeiKa service key",
    ["tenant", "service"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "ozgbridge_delivery_attempts",
    "Delivery attempts recorded, by outcome (delivered, retriable, permanent)",
    ["tenant", "route", "connector", "outcome"],
    registry=REGISTRY,
)
ATTEMPT_DURATION = Histogram(
    "ozgbridge_delivery_attempt_duration_seconds",
    "Time a connector took for one delivery attempt",
    ["connector"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "ozgbridge_http_requests",
    "HTTP requests answered by the API, by route template, method and status",
    ["handler", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "ozgbridge_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WORKER_CLAIMS = Counter(
    "ozgbridge_worker_claimed_deliveries",
    "Deliveries this worker process claimed",
    registry=REGISTRY,
)
WORKER_LAST_CLAIM = Gauge(
    "ozgbridge_worker_last_claim_timestamp_seconds",
    "Unix time this worker last claimed (found work or not) or found all its slots busy; "
    "0 in processes that run no worker",
    registry=REGISTRY,
    multiprocess_mode="max",
)
WORKER_IN_FLIGHT = Gauge(
    "ozgbridge_worker_in_flight",
    "Delivery attempts this worker process is running right now",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
ROUTE_CHECKS = Counter(
    "ozgbridge_route_checks",
    "Route tests (pings) run by this process, by result",
    ["tenant", "route", "ok"],
    registry=REGISTRY,
)
