"""The application: FastAPI JSON API under /api/v1, health, and (last) the NiceGUI web UI on the same app."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from studysmart.analytics import api as analytics_api
from studysmart.core import errors, metrics
from studysmart.core.config import Environment, Settings, get_settings
from studysmart.core.db import read_session, transaction
from studysmart.core.errors import refuse_nul_characters, responses
from studysmart.core.files import secure_var_dir
from studysmart.core.logging import setup_logging
from studysmart.core.middleware import BodySizeLimit, SecurityHeaders, WithContext
from studysmart.learning import api as learning_api
from studysmart.learning import registry
from studysmart.learning import tracker as training
from studysmart.learning.context import SCOPE_KEY, AppContext, make_context
from studysmart.planning import api as planning_api  # importing it maps the planning errors
from studysmart.tasks import api as tasks_api
from studysmart.users import api as users_api
from studysmart.users import service as users

log = logging.getLogger("studysmart.app")


#: Swagger UI and ReDoc assets, served by the app from a pinned package (no CDN, no download at run time).
#: Requests that carry a CSV file of past tasks (the API's import, the tasks page's upload control) may be up to
#: ``Settings.max_import_bytes`` plus the multipart framing; every other body is held to ``max_body_bytes``.
UPLOAD_PATHS = (re.compile(r"/api/v1/tasks/import"), re.compile(r"/_nicegui/client/[^/]+/upload/[^/]+"))
MULTIPART_SLACK_BYTES = 16 * 1024
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_URL = "/docs-assets"
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def _signed_in(request: Request, session: Any) -> bool:
    """Whether the request carries a valid bearer token (the health check shows model versions only then)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        users.user_from_token(session=session, token=token, secret=request.app.state.settings.resolved_secret_key())
    except Exception:  # any refused token: the caller is anonymous
        return False
    return True


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", responses={503: {"description": "The database or the queue is unreachable"}})
    def health(request: Request) -> JSONResponse:
        """Database, serving model and queue; the served model versions only to a signed-in caller."""
        checks: dict[str, Any] = {}
        ok = True
        try:
            context: AppContext = request.app.state.context
            with read_session(context.sessions) as session:
                session.execute(text("SELECT 1"))
                entry = context.models.get(session, registry.FALLBACK)
                checks["database"] = "ok"
                checks["model"] = "ok" if entry is not None else "missing"
                if _signed_in(request, session):
                    checks["models"] = context.models.versions()
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


def _add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc with their assets served by the app (FastAPI's defaults load them
    from a CDN)."""
    # ReDoc's bundle shows a logo from its CDN in the menu (no option turns it off); it is served with the logo
    # pointed at the local favicon, so the page loads nothing from another host and keeps within the CSP.
    redoc_js = (DOCS_ASSETS / "redoc.standalone.js").read_bytes().replace(
        REDOC_CDN_LOGO, f"{DOCS_ASSETS_URL}/favicon.png".encode())

    @app.get(f"{DOCS_ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(redoc_js, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "", title=f"{app.title} - API",
                                   oauth2_redirect_url=redirect_url,
                                   swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None})  # no badge from another site

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "", title=f"{app.title} - API",
                              redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png", with_google_fonts=False)


def _start_embedded_worker(app: FastAPI, context: AppContext) -> Any:
    """On the embedded default, run the training consumer beside the server, as a child process of its own
    (exec'd: it inherits no socket, and it leaves when the server does); with Redis, workers run standalone
    (`studysmart worker`). Also installs the queue health check."""
    from studysmart.learning.consumer import ConsumerProcess

    settings, jobs = context.settings, context.jobs
    worker = None
    if not settings.redis_url and settings.worker_processes > 0:
        worker = ConsumerProcess(settings, workers=settings.worker_processes)
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
    context = make_context(settings, server=True)
    engine, sessions = context.engine, context.sessions

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with transaction(sessions) as session:
            training.ensure_tracker(session=session)
        worker = _start_embedded_worker(app, context)
        log.info("studysmart started database=%s queue=%s", engine.url.render_as_string(hide_password=True),
                 "redis" if settings.redis_url else "sqlite")
        yield
        if worker is not None:
            worker.stop()
        context.dispose()

    docs = settings.api_docs_enabled
    app = FastAPI(title="StudySmart", version="0.1.0", lifespan=lifespan,
                  description="Adaptive study planner: predicted accuracy and time per task, per student.",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json" if docs else None)
    if docs:
        _add_docs(app)
    app.state.context = context
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessions
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       upload_bytes=settings.max_import_bytes + MULTIPART_SLACK_BYTES, upload_paths=UPLOAD_PATHS)
    app.add_middleware(SecurityHeaders, hsts=settings.env is Environment.PRODUCTION)
    app.add_middleware(WithContext, key=SCOPE_KEY, context=context)

    if settings.metrics_enabled:
        from studysmart.learning.metrics import TrainingCollector

        metrics.install(app, [TrainingCollector(context, context.jobs.depth)])
    if settings.forwarded_allow_ips.strip():  # outermost, so every limit and log sees the real client
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)

    # Every API route refuses NUL characters first, and declares the error answers it can give.
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(refuse_nul_characters)],
                    responses=responses(400, 401, 413, 422))
    api.include_router(users_api.router, responses=responses(409, 429))
    api.include_router(tasks_api.router)
    api.include_router(tasks_api.topics_router)
    api.include_router(tasks_api.predictions_router)
    api.include_router(learning_api.router)
    api.include_router(learning_api.models_router)
    api.include_router(analytics_api.router)
    api.include_router(planning_api.router)
    api.include_router(_health_router())
    app.include_router(api)

    if with_ui:
        from studysmart.web import mount

        mount(app, context=context)  # must stay last: NiceGUI answers every later route with 404
    return app
