"""The web app students use every day: NiceGUI pages mounted on the same FastAPI app as the JSON API.

Pages call the domain services directly (never the app's own HTTP API). ``mount`` must run after every FastAPI
route is added, because NiceGUI answers every later route with its 404 page. Assets (Vue, Quasar, ECharts,
fonts) are served by NiceGUI from this server, and Tailwind's CSS is compiled ahead (``web.styles``) instead of in
the browser; the pages link no CDN. NiceGUI's websocket (socket.io at
``/_nicegui_ws``) accepts only pages of this site: a handshake from another ``Origin`` is refused.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from nicegui import core, ui

from studysmart.core.config import Environment
from studysmart.learning.context import AppContext
from studysmart.web import auth, pages, storage, styles
from studysmart.web.layout import BRAND

__all__ = ["mount", "same_origin"]


def same_origin(origin: str | None, environ: dict[str, Any]) -> bool:
    """Whether a websocket handshake's ``Origin`` is this site: its host (and port) is the request's ``Host``.

    NiceGUI accepts every origin, so any site a logged-in student visits could open their session's websocket and
    drive their pages (cross-site websocket hijacking). The scheme is not compared: behind a TLS proxy the app
    sees plain HTTP while the page is HTTPS. Browsers set ``Origin`` themselves, so a page cannot fake it.
    """
    if not origin:
        return True  # not a browser (no page to hijack); engine.io skips the check then anyway
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    hosts = {environ.get("HTTP_HOST", "")}
    hosts.add(environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip())
    return parts.netloc.lower() in {host.lower() for host in hosts if host}


def _link_stylesheet() -> None:
    """Serve the compiled Tailwind stylesheet and link it from every page (once per process: NiceGUI's app is)."""
    if any(getattr(route, "path", None) == styles.URL for route in core.app.routes):
        return
    core.app.add_static_file(local_file=styles.STYLESHEET, url_path=styles.URL, max_cache_age=86400)
    version = hashlib.sha256(styles.STYLESHEET.read_bytes()).hexdigest()[:12]  # a new build is a new URL
    ui.add_head_html(f'<link rel="stylesheet" href="{styles.URL}?v={version}">', shared=True)


def mount(app: FastAPI, *, context: AppContext) -> None:
    """Register the pages and mount NiceGUI on ``app`` (call it last, after every other route).

    Args:
        app: the FastAPI app.
        context: its context: the pages' database, models and settings (the session cookie is signed with
            ``settings.resolved_secret_key()``; session storage lives in ``var_dir/sessions``).
    """
    settings = context.settings
    core.app.state.context = context  # NiceGUI's app is one per process: a request that bypasses ``app`` finds it
    storage.keep_private(settings.var_dir / "sessions", max_age_hours=settings.session_ttl_hours)
    pages.register()
    auth.register_routes()
    _link_stylesheet()
    ui.run_with(
        app,
        title=BRAND,
        tailwind=False,  # its in-browser compiler: the compiled stylesheet instead
        favicon="🎓",
        dark=None,
        language="en-US",
        storage_secret=settings.resolved_secret_key(),
        session_middleware_kwargs={
            "max_age": settings.session_ttl_hours * 3600,
            "same_site": "lax",
            "https_only": settings.env is Environment.PRODUCTION,
        },
        show_welcome_message=False,
    )
    core.sio.eio.cors_allowed_origins = same_origin  # NiceGUI's default is '*': every origin
