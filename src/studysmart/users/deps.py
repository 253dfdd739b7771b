"""The FastAPI dependency of the signed-in user (a bearer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from studysmart.core.deps import SessionDep, SettingsDep
from studysmart.users import service as users
from studysmart.users.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token")


def get_current_user(session: SessionDep, settings: SettingsDep,
                     token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    """The user of the bearer token (401 otherwise)."""
    return users.user_from_token(session=session, token=token, secret=settings.resolved_secret_key())


CurrentUser = Annotated[User, Depends(get_current_user)]


#: The bearer token alone, for a write route that reads and predicts before it writes: it authenticates in the
#: read-only session it predicts in (``users.user_from_token``), so that its writing session takes SQLite's write
#: lock only once it writes (an account deleted meanwhile then fails the write's foreign key: the route answers
#: 401), with no thread-pool hop and no read transaction of its own for the authentication.
BearerToken = Annotated[str, Depends(oauth2_scheme)]
