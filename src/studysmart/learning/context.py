"""The application context: what one app, one CLI command or one worker shares (settings, the database, the
model cache, the job queue), made once by its entry point (``create_app``, a command) and handed down.

There is no module-level instance. The FastAPI app keeps its context in ``app.state.context`` (routes get it
with ``ContextDep``); every session made by ``context.sessions`` carries the context it belongs to, so a service
that receives a session serves from that app's models and settings (``context_of(session)``), never from another
app's in the same process (tests build a context per test).

The context lives in ``learning`` rather than ``core`` because it holds the model cache and the job queue, which
are learning's; ``core`` keeps the parts it is made of (settings, engine, sessions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings
from studysmart.core.db import make_engine, make_sessionmaker
from studysmart.learning.cache import ModelCache

if TYPE_CHECKING:
    from studysmart.learning.history import HistoryCache
    from studysmart.learning.jobs import Jobs

__all__ = ["SCOPE_KEY", "AppContext", "ContextDep", "context_of", "get_context", "make_context"]

#: Where the ASGI scope of every request to the app carries its context (read by the web pages).
SCOPE_KEY = "studysmart.context"
_INFO_KEY = "studysmart.context"


@dataclass(frozen=True, eq=False)
class AppContext:
    """Settings, database and the learning machinery of one running configuration."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    models: ModelCache = field(repr=False)

    def __post_init__(self) -> None:
        self.sessions.configure(info={_INFO_KEY: self})

    @cached_property
    def histories(self) -> HistoryCache:
        """The students' histories this process read last (``learning.history``)."""
        from studysmart.learning.history import HistoryCache

        return HistoryCache(self.settings.history_cache_students)

    @cached_property
    def jobs(self) -> Jobs:
        """The training queue of this configuration (made on first use: huey opens its queue then)."""
        from studysmart.learning.jobs import Jobs

        return Jobs(self.settings)

    def dispose(self) -> None:
        """Close the database connections (the context's owner calls it when it stops)."""
        self.engine.dispose()


def make_context(settings: Settings, engine: Engine | None = None, *, server: bool = False) -> AppContext:
    """A new context for ``settings`` (its own engine unless one is given, and an empty model cache). A
    ``server``'s cache loads new model versions in the background (``learning.cache``)."""
    engine = engine if engine is not None else make_engine(settings.database_url)
    return AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                      models=ModelCache(refresh_seconds=settings.model_refresh_seconds, background=server))


def context_of(session: Session) -> AppContext:
    """The context whose session factory made ``session``; RuntimeError for a session made elsewhere."""
    context = session.info.get(_INFO_KEY)
    if not isinstance(context, AppContext):
        raise RuntimeError("this session was not made by an AppContext (use context.sessions)")
    return context


async def get_context(request: Request) -> AppContext:
    """FastAPI dependency: the context of the app serving ``request``."""
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]
