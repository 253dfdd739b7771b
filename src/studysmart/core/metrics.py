"""Prometheus metrics at ``GET /metrics``: request latency per route, plus whatever collectors the app adds
(the learning package's training and serving figures)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Response
from fastapi import routing as fastapi_routing
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class _Latency:
    """The latency middleware (plain ASGI: no per-request task group and body streams): an API request is observed
    once its response body is out (a background task run after it is not its latency), or as a 500 when it ends
    without a complete response."""

    def __init__(self, app: ASGIApp, *, histogram: Histogram, templates: RouteTemplates) -> None:
        self.app, self.histogram, self.templates = app, histogram, templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status, observed = time.perf_counter(), 500, False

        def observe() -> None:
            nonlocal observed
            observed = True
            path = self.templates.of(scope.get("route"))  # the router sets it in this scope
            if path and path.startswith("/api/"):  # label by route template, never by raw path (cardinality)
                self.histogram.labels(scope["method"], path, str(status)).observe(time.perf_counter() - start)

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                observe()

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            if not observed:
                observe()


def install(app: FastAPI, collectors: Iterable[Collector] = ()) -> None:
    """Add the latency middleware and the /metrics route with ``collectors`` (a registry per app, so tests stay
    independent)."""
    registry = CollectorRegistry()
    latency = Histogram("studysmart_request_seconds", "HTTP request latency", ["method", "route", "status"],
                        registry=registry,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
    for collector in collectors:
        registry.register(collector)
    templates = RouteTemplates(app)

    app.add_middleware(_Latency, histogram=latency, templates=templates)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
