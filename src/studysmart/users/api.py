"""Accounts API: register, token (OAuth2 password flow), me, password, password reset, log out, delete."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from studysmart.core.db import utcnow
from studysmart.core.deps import SessionDep, SettingsDep, client_address
from studysmart.users import reset, service
from studysmart.users.deps import CurrentUser
from studysmart.users.mail import deliver_reset
from studysmart.users.models import User
from studysmart.users.schemas import (
    ChangePassword,
    DeleteAccount,
    ProfileUpdate,
    Register,
    ResetConfirm,
    ResetRequest,
    ResetRequested,
    Token,
    UserRead,
)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def register(body: Register, request: Request, session: SessionDep, settings: SettingsDep) -> User:
    user = service.register(session=session, email=body.email, password=body.password,
                            display_name=body.display_name, now=utcnow(), client=client_address(request),
                            limit=settings.login_attempts_per_minute)
    session.commit()
    return user


@router.post("/token", response_model=Token)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: SessionDep,
          settings: SettingsDep) -> Token:
    now = utcnow()
    user = service.authenticate(session=session, email=form.username, password=form.password,
                                client=client_address(request), limit=settings.login_attempts_per_minute, now=now)
    access = service.issue_token(session=session, user=user, secret=settings.resolved_secret_key(),
                                 ttl=timedelta(minutes=settings.token_ttl_minutes), now=now)
    return Token(access_token=access)


RESET_ANSWER = "If an account has this email, a link to reset its password is on its way (valid 30 minutes)."


@router.post("/password-reset", response_model=ResetRequested, status_code=status.HTTP_202_ACCEPTED,
             responses={429: {"description": "Too many requests from this client or for this email"}})
def request_password_reset(body: ResetRequest, request: Request, session: SessionDep, settings: SettingsDep,
                           background: BackgroundTasks) -> ResetRequested:
    """Send a single-use reset link to the email's account; the answer is the same whether or not it has one."""
    link = reset.request_reset(session=session, email=body.email, client=client_address(request),
                               limit=settings.login_attempts_per_minute, public_url=settings.public_url, now=utcnow())
    session.commit()
    if link is not None:  # after the answer is sent: its timing does not tell whether the account exists
        background.add_task(deliver_reset, link, settings)
    return ResetRequested(detail=RESET_ANSWER)


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
def confirm_password_reset(body: ResetConfirm, session: SessionDep) -> None:
    """Set a new password with a reset link's token; every session and token of the account ends."""
    reset.reset_password(session=session, token=body.token, new_password=body.new_password, now=utcnow())
    session.commit()


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserRead)
def update_me(body: ProfileUpdate, user: CurrentUser, session: SessionDep) -> User:
    prefs = body.preferences.model_dump(exclude_none=True) if body.preferences else None
    service.update_profile(session=session, user=user, display_name=body.display_name, preferences=prefs)
    session.commit()
    return user


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: ChangePassword, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> None:
    service.password_attempt(session=session, user=user, limit=settings.login_attempts_per_minute, now=utcnow())
    session.commit()
    service.change_password(session=session, user=user, current_password=body.current_password,
                            new_password=body.new_password)
    session.commit()


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, session: SessionDep) -> None:
    service.revoke_tokens(session=session, user=user)
    session.commit()


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(body: DeleteAccount, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> None:
    service.password_attempt(session=session, user=user, limit=settings.login_attempts_per_minute, now=utcnow())
    session.commit()
    service.delete_account(session=session, user=user, current_password=body.current_password)
    session.commit()
