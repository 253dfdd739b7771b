"""FastAPI dependencies shared by every router: the database session, settings, and the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from studysmart.core.config import Settings, get_settings
from studysmart.users import service as users
from studysmart.users.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token")


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; routes that write call ``session.commit()`` before returning."""
    with request.app.state.sessionmaker() as session:
        try:
            yield session
        except Exception:
            session.rollback()
            raise


def client_address(request: Request) -> str:
    """The client's address, for per-client rate limits."""
    return request.client.host if request.client else "unknown"


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_current_user(session: SessionDep, settings: SettingsDep,
                     token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    """The user of the bearer token (401 otherwise)."""
    return users.user_from_token(session=session, token=token, secret=settings.resolved_secret_key())


CurrentUser = Annotated[User, Depends(get_current_user)]
