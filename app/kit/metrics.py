"""Prometheus metrics: requests by method, route template and status; latency histogram;
the process and the garbage collector.

One process (the default): the metrics live in ``REGISTRY``, with the standard process
and GC collectors. Several worker processes (``medsettle serve --workers N``):
``PROMETHEUS_MULTIPROC_DIR`` is set before the workers start, every counter and
histogram is kept in a file there (prometheus_client's multiprocess mode), and
``GET /metrics`` — whichever worker answers — adds up the files of all workers. The
process and GC figures cannot be added up; each worker publishes its own as gauges
labelled with its ``pid`` (refreshed every `SAMPLE_SECONDS` and on every scrape).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

#: Set by ``medsettle serve --workers N`` (N > 1) to a fresh directory.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: How often each worker refreshes its process and GC gauges in multiprocess mode.
SAMPLE_SECONDS = 10.0


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


REGISTRY = CollectorRegistry(auto_describe=True)
if not multiprocess_mode():
    ProcessCollector(registry=REGISTRY)
    GCCollector(registry=REGISTRY)

REQUESTS = Counter(
    "medsettle_http_requests_total",
    "HTTP requests handled",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "medsettle_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    # The label children are looked up once per (method, route, status): `labels()` takes
    # a lock and validates every call. Routes are templates and methods a few, so the
    # dict stays small.
    children = _children.get((method, route, status))
    if children is None:
        labels = (method, route, str(status))
        children = _children[(method, route, status)] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    children[0].inc()
    children[1].observe(seconds)


# ---------------------------------------------------------------- several workers

_worker_gauges: dict[str, Gauge] = {}


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
    gauge = _worker_gauges.get(name)
    if gauge is None:
        # "liveall": one series per live worker (pid label); a worker's series go when it
        # stops (mark_worker_stopped).
        gauge = _worker_gauges[name] = Gauge(name, documentation, labels, registry=None, multiprocess_mode="liveall")
    return gauge


def sample_worker() -> None:
    """Copy this process's process and GC figures into its pid-labelled gauges."""
    if not multiprocess_mode():
        return
    for collector in (PROCESS_COLLECTOR, GC_COLLECTOR):
        for family in collector.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                labels = tuple(sorted(sample.labels))
                gauge = _gauge(sample.name, family.documentation + " (per worker)", labels)
                (gauge.labels(**sample.labels) if labels else gauge).set(sample.value)


async def sample_worker_forever() -> None:
    """Every worker, in multiprocess mode: keep the process and GC gauges fresh."""
    while True:
        sample_worker()
        await asyncio.sleep(SAMPLE_SECONDS)


def mark_worker_stopped() -> None:
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())


def exposition() -> bytes:
    if not multiprocess_mode():
        return generate_latest(REGISTRY)
    sample_worker()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts and latency histograms by method, route template and status, process and "
    "garbage-collector figures (Prometheus text exposition format). With several worker processes the "
    "counters and histograms are the sums over all workers, whichever answers; process and GC figures are "
    "per worker (label `pid`).",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
async def metrics_endpoint() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

