"""What the web pages share with the app they are mounted on: its context (settings, database, models).

NiceGUI registers its pages on one process-wide app, so the pages cannot be handed the context when they are
made; instead every request to the FastAPI app carries its app's context in the ASGI scope (``WithContext``), and
``current()`` reads it from the request NiceGUI is serving (a page load, or the page whose event is handled);
``mount`` also leaves it in the state of NiceGUI's app, for requests made to that app directly.
Database work that may take more than a few milliseconds (password hashing, predictions, analytics) runs in
NiceGUI's thread pool through ``in_thread``, which carries that request along.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from nicegui import run, storage
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings
from studysmart.learning.context import SCOPE_KEY, AppContext

P = ParamSpec("P")
R = TypeVar("R")


def current() -> AppContext:
    """The context of the app serving the current request; RuntimeError outside a request or before ``mount``."""
    request = storage.request_contextvar.get()
    if request is None:
        raise RuntimeError("no request is being served here")
    # The app that served the request put its context in the scope; a request made to NiceGUI's own app (the
    # test simulation) finds it in that app's state.
    context = request.scope.get(SCOPE_KEY) or getattr(request.app.state, "context", None)
    if not isinstance(context, AppContext):
        raise RuntimeError("no StudySmart app serves this request; the UI is mounted by create_app")
    return context


def sessions() -> sessionmaker[Session]:
    """The session factory of the app serving this request."""
    return current().sessions


def settings() -> Settings:
    """The settings of the app serving this request."""
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
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await run.io_bound(call)  # type: ignore[return-value]
