"""Prometheus metrics at ``GET /metrics``: request latency per route, and, read from the database at scrape
time (so every process reports the same numbers), trainings total and failed, the last training's duration,
the model versions this process serves and the queue depth."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi import routing as fastapi_routing
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.predictions.service import CACHE
from studysmart.training.models import TrainingRun


class TrainingCollector(Collector):
    """Training and serving figures gathered when Prometheus scrapes."""

    def __init__(self, sessions: sessionmaker[Session], queue_depth: Callable[[], int] | None) -> None:
        self.sessions = sessions
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[Any]:
        with self.sessions() as session:
            counts = dict(session.execute(select(TrainingRun.status, func.count()).group_by(TrainingRun.status)).all())
            last = session.execute(
                select(TrainingRun.started_at, TrainingRun.finished_at).where(TrainingRun.status == "succeeded")
                .order_by(TrainingRun.id.desc()).limit(1)).first()
        total = CounterMetricFamily("studysmart_trainings", "Training runs by outcome", labels=["status"])
        for status in ("succeeded", "failed", "running"):
            total.add_metric([status], float(counts.get(status, 0)))
        yield total
        duration = GaugeMetricFamily("studysmart_training_last_duration_seconds", "Duration of the last training")
        if last and last.started_at and last.finished_at:
            duration.add_metric([], (last.finished_at - last.started_at).total_seconds())
        yield duration
        serving = GaugeMetricFamily("studysmart_model_version_serving", "Model version served by this process",
                                    labels=["model"])
        for model, version in CACHE.versions().items():
            serving.add_metric([model], float(version or 0))
        yield serving
        if self.queue_depth is not None:
            depth = GaugeMetricFamily("studysmart_queue_depth", "Jobs waiting in the training queue")
            try:
                depth.add_metric([], float(self.queue_depth()))
            except Exception:  # noqa: S110 - an unreachable queue shows as a missing sample, not a failed scrape
                pass
            yield depth


class RouteTemplates:
    """The full path template of a matched route (``/api/v1/tasks/{task_id}``), for the latency label.

    Since FastAPI 0.137 the route in the request scope is the router's own, without the prefixes it was
    included under; ``fastapi.routing.iter_route_contexts`` gives each route with its full path."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._paths: dict[int, tuple[Any, str | None]] = {}

    def _index(self) -> None:
        iterate = getattr(fastapi_routing, "iter_route_contexts", None)
        if iterate is None:  # FastAPI before 0.137 flattens included routes, prefix and all
            contexts = [(route, getattr(route, "path", None)) for route in self.app.routes]
        else:
            contexts = [(context.original_route, context.path) for context in iterate(self.app.routes)]
        self._paths = {id(route): (route, path) for route, path in contexts if path}

    def of(self, route: Any) -> str | None:
        """The template of ``route`` (None for a route the app does not list, e.g. a mounted sub-app's)."""
        if route is None:
            return None
        found = self._paths.get(id(route))
        if found is None or found[0] is not route:  # a route added since the last look: index once more
            self._index()
            found = self._paths.get(id(route))
            if found is None or found[0] is not route:
                found = (route, None)
                self._paths[id(route)] = found  # not listed: remembered, so it costs no new look
        return found[1]


def install(app: FastAPI, sessions: sessionmaker[Session], queue_depth: Callable[[], int] | None) -> None:
    """Add the latency middleware and the /metrics route (a registry per app, so tests stay independent)."""
    registry = CollectorRegistry()
    latency = Histogram("studysmart_request_seconds", "HTTP request latency", ["method", "route", "status"],
                        registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
    registry.register(TrainingCollector(sessions, queue_depth))
    templates = RouteTemplates(app)

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        start = time.perf_counter()
        response: Response = await call_next(request)
        path = templates.of(request.scope.get("route"))
        if path and path.startswith("/api/"):  # label by route template, never by raw path (cardinality)
            latency.labels(request.method, path, str(response.status_code)).observe(time.perf_counter() - start)
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
