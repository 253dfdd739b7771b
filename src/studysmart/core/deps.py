"""FastAPI dependencies shared by every router: the database session and the settings (the signed-in user is
``users.deps.CurrentUser``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from studysmart.core.config import Settings
from studysmart.core.db import read_session

#: Requests that never write (design: GET never writes): their session only reads, concurrently with writers.
READ_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; routes that write call ``session.commit()`` before returning. A GET or HEAD
    gets a read-only session (``core.db.read_session``), which on SQLite never waits for a write."""
    factory = request.app.state.sessionmaker
    with (read_session(factory) if request.method in READ_METHODS else factory()) as session:
        try:
            yield session
        except Exception:
            session.rollback()
            raise


async def get_app_settings(request: Request) -> Settings:
    """The settings of the app serving ``request`` (those ``create_app`` was given)."""
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """The client's address, for per-client rate limits."""
    return request.client.host if request.client else "unknown"


# The dependencies that only read the request are coroutines: FastAPI runs a plain function in its thread pool, a
# hop (two thread switches and a wake-up of the event loop) that costs more than the function.
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
