"""Serving the Prometheus text exposition: on the API (``GET /metrics``, bearer key with role
operator or metrics) and on worker processes at ``OZGBRIDGE_METRICS_PORT`` (no key: bind it to
an address only Prometheus reaches)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from ozgbridge import metrics
from ozgbridge.metrics_group import GroupProcesses, multiprocess_dir

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Forward(Collector):
    """Everything in the process registry, re-collected into a per-app registry."""

    def collect(self) -> Iterator[Metric]:
        yield from metrics.REGISTRY.collect()


def exposition_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    shared = multiprocess_dir()
    if shared is None:
        registry.register(_Forward())
    else:  # one of a group of processes: the figures of all (metrics_group.py)
        MultiProcessCollector(registry, path=shared)  # type: ignore[no-untyped-call]
        registry.register(GroupProcesses(Path(shared)))
    for collector in extra:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> web.Response:
    response = web.Response(body=generate_latest(registry))
    # Set verbatim (aiohttp would drop the version parameter); every name we use is a classic
    # one, so the text is the 0.0.4 format every Prometheus reads.
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response


def worker_metrics_app() -> web.Application:
    """The worker's metrics listener: process metrics only (database figures are the API's)."""
    registry = exposition_registry()

    async def serve(_request: web.Request) -> web.StreamResponse:
        return exposition(registry)

    app = web.Application()
    app.router.add_get("/metrics", serve)
    return app
