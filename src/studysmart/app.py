"""The application: FastAPI JSON API under /api/v1, health, and (last) the NiceGUI web UI on the same app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from studysmart.analytics import api as analytics_api
from studysmart.core import errors, metrics
from studysmart.core.config import Settings, get_settings
from studysmart.core.db import make_engine, make_sessionmaker, transaction
from studysmart.core.files import secure_var_dir
from studysmart.core.logging import setup_logging
from studysmart.core.middleware import BodySizeLimit, SecurityHeaders
from studysmart.planning import api as planning_api  # importing it maps the planning errors
from studysmart.predictions import api as predictions_api
from studysmart.predictions.service import CACHE
from studysmart.tasks import api as tasks_api
from studysmart.training import api as training_api
from studysmart.training import service as training
from studysmart.users import api as users_api

log = logging.getLogger("studysmart.app")


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    def health(request: Request) -> JSONResponse:
        checks: dict[str, Any] = {}
        ok = True
        try:
            with request.app.state.sessionmaker() as session:
                session.execute(text("SELECT 1"))
                entry = CACHE.get(session, "shrinkage")
                checks["database"] = "ok"
                checks["model"] = "ok" if entry is not None else "missing"
                checks["models"] = CACHE.versions()
        except Exception as exc:  # report, never crash the health check
            ok = False
            checks["database"] = f"error: {type(exc).__name__}"
        queue_check = getattr(request.app.state, "queue_health", None)
        if queue_check is not None:
            queue_ok, queue_detail = queue_check()
            checks["queue"] = queue_detail
            ok = ok and queue_ok
        return JSONResponse({"status": "ok" if ok else "error", **checks}, status_code=200 if ok else 503)

    return router


def _start_embedded_worker(app: FastAPI, settings: Settings) -> Any:
    """On the embedded default, run the training consumer beside the server (process workers, supervised);
    with Redis, workers run standalone (`studysmart worker`). Also installs the queue health check."""
    from studysmart.training.jobs import EmbeddedWorker, get_jobs  # noqa: PLC0415

    jobs = get_jobs(settings)
    worker = None
    if not settings.redis_url and settings.worker_processes > 0:
        worker = EmbeddedWorker(jobs, workers=settings.worker_processes)
        worker.start()
        app.state.worker = worker

    def queue_health() -> tuple[bool, str]:
        try:
            depth = jobs.depth()
        except Exception as exc:  # unreachable Redis, unreadable queue file
            return False, f"error: {type(exc).__name__}"
        if worker is not None and not worker.alive():
            return True, f"ok (depth {depth}; worker restarting)"
        return True, f"ok (depth {depth})"

    app.state.queue_health = queue_health
    return worker


def create_app(settings: Settings | None = None, *, with_ui: bool = True) -> FastAPI:
    """Build the app: database, routers, error mapping, then the web UI mounted last."""
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    secure_var_dir(settings.var_dir, sqlite_path=settings.sqlite_path, with_queue=not settings.redis_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with transaction(sessions) as session:
            training.ensure_tracker(session=session)
        worker = _start_embedded_worker(app, settings)
        log.info("studysmart started database=%s queue=%s", engine.url.render_as_string(hide_password=True),
                 "redis" if settings.redis_url else "sqlite")
        yield
        if worker is not None:
            worker.stop()
        engine.dispose()

    app = FastAPI(title="StudySmart", version="0.1.0", lifespan=lifespan,
                  description="Adaptive study planner: predicted accuracy and time per task, per student.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessions
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)

    from studysmart.training.jobs import get_jobs  # noqa: PLC0415

    metrics.install(app, sessions, get_jobs(settings).depth)

    api = APIRouter(prefix="/api/v1")
    api.include_router(users_api.router)
    api.include_router(tasks_api.router)
    api.include_router(tasks_api.topics_router)
    api.include_router(predictions_api.router)
    api.include_router(training_api.router)
    api.include_router(training_api.models_router)
    api.include_router(analytics_api.router)
    api.include_router(planning_api.router)
    api.include_router(_health_router())
    app.include_router(api)

    if with_ui:
        from studysmart.web import mount  # noqa: PLC0415 - API-only tests skip the UI

        mount(app, settings=settings)  # must stay last: NiceGUI answers every later route with 404
    return app
