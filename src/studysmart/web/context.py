"""What the web pages share with the app they are mounted on: the session factory and the settings.

NiceGUI registers its pages on one process-wide app, so ``mount`` records the FastAPI app's database and
settings here once; pages read them through ``sessions()`` / ``settings()``. Database work that may take more
than a few milliseconds (password hashing, predictions, analytics) runs in NiceGUI's thread pool through
``in_thread`` so the event loop that serves every websocket never blocks on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from nicegui import run
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class WebContext:
    """The database and settings of the app the UI is mounted on."""

    sessions: sessionmaker[Session]
    settings: Settings


_current: WebContext | None = None


def configure(*, sessions: sessionmaker[Session], settings: Settings) -> None:
    """Record the app's session factory and settings (called by ``mount``)."""
    global _current
    _current = WebContext(sessions=sessions, settings=settings)


def current() -> WebContext:
    """The recorded context; raises RuntimeError before ``mount``."""
    if _current is None:
        raise RuntimeError("the web UI is not mounted; call studysmart.web.mount(app, settings=...)")
    return _current


def sessions() -> sessionmaker[Session]:
    """The session factory of the mounted app."""
    return current().sessions


def settings() -> Settings:
    """The settings of the mounted app."""
    return current().settings


async def in_thread(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run blocking work (database, hashing, predictions) in the thread pool and return its result.

    Args:
        function: a plain function; it must not touch ``app.storage`` (that needs the UI context).
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Returns:
        What ``function`` returned (None only while the server shuts down); exceptions propagate.
    """
    return await run.io_bound(function, *args, **kwargs)  # type: ignore[return-value]
