"""The web app students use every day: NiceGUI pages mounted on the same FastAPI app as the JSON API.

Pages call the domain services directly (never the app's own HTTP API). ``mount`` must run after every FastAPI
route is added, because NiceGUI answers every later route with its 404 page. Assets (Vue, Quasar, ECharts,
fonts) are served by NiceGUI from this server; the pages link no CDN.
"""

from __future__ import annotations

from fastapi import FastAPI
from nicegui import ui

from studysmart.core.config import Environment, Settings
from studysmart.web import auth, context, pages, storage
from studysmart.web.layout import BRAND

__all__ = ["mount"]


def mount(app: FastAPI, *, settings: Settings) -> None:
    """Register the pages and mount NiceGUI on ``app`` (call it last, after every other route).

    Args:
        app: the FastAPI app; its ``state.sessionmaker`` is the database the pages use.
        settings: the app's settings (the session cookie is signed with ``resolved_secret_key()``; session
            storage lives in ``var_dir/sessions``).
    """
    context.configure(sessions=app.state.sessionmaker, settings=settings)
    storage.keep_private(settings.var_dir / "sessions", max_age_hours=settings.session_ttl_hours)
    pages.register()
    auth.register_routes()
    ui.run_with(
        app,
        title=BRAND,
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
