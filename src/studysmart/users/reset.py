"""Password reset: a single-use link, valid for 30 minutes, that sets a new password and ends every session.

Asking for a link answers the same whether or not the email has an account (nothing tells an attacker which
emails are registered), and is rate-limited per client and per email. The link is delivered by ``users.mail``
(email when SMTP is configured, else the server log), or made by an operator with
``studysmart users reset-link EMAIL``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from studysmart.core import security
from studysmart.core.exceptions import DomainError
from studysmart.users.models import PasswordReset, User
from studysmart.users.service import check_rate_limit, normalize_email, require_strong, revoke_tokens

__all__ = ["RESET_TTL", "InvalidResetLink", "ResetLink", "create_reset_link", "request_reset", "reset_password"]

RESET_TTL = timedelta(minutes=30)
RESET_PATH = "/reset"


class InvalidResetLink(DomainError, PermissionError):
    """The link is unknown, used, expired or superseded (deliberately not saying which): a 422 naming ``token``."""

    status = 422


@dataclass(frozen=True)
class ResetLink:
    """A reset link for ``email``, to be delivered to that address only."""

    email: str
    display_name: str
    url: str
    expires_at: datetime


def create_reset_link(*, session: Session, user: User, public_url: str, now: datetime) -> ResetLink:
    """A new single-use link for ``user`` (their earlier unused links stop working); only its digest is stored."""
    session.execute(delete(PasswordReset).where(
        (PasswordReset.expires_at < now) | (PasswordReset.user_id == user.id)))
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(digest=security.digest(token), user_id=user.id, token_version=user.token_version,
                              created_at=now, expires_at=now + RESET_TTL))
    session.flush()
    url = f"{public_url.rstrip('/')}{RESET_PATH}?token={quote(token)}"
    return ResetLink(email=user.email, display_name=user.display_name, url=url, expires_at=now + RESET_TTL)


def request_reset(*, session: Session, email: str, client: str, limit: int, public_url: str,
                  now: datetime) -> ResetLink | None:
    """A link for the account of ``email``, or None when there is none (the caller answers the same either way).

    Raises:
        TooManyAttempts: more than ``limit`` requests a minute from ``client`` or for ``email``.
    """
    address = normalize_email(email)
    check_rate_limit(session=session, keys=[f"reset:{client}", f"reset-email:{address}"], limit=limit, now=now)
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        return None
    return create_reset_link(session=session, user=user, public_url=public_url, now=now)


def reset_password(*, session: Session, token: str, new_password: str, now: datetime) -> User:
    """Set ``new_password`` for the link's account, use the link up and end every session and token.

    Raises:
        InvalidResetLink: (field ``token``) the link is unknown, used, expired or superseded.
        WeakPassword: (field ``new_password``) the password breaks the policy; the link stays usable.
    """
    if not security.is_key(token):
        raise InvalidResetLink("the link is invalid or has expired; ask for a new one", field="token")
    reset = session.scalar(select(PasswordReset).where(PasswordReset.digest == security.digest(token))
                           .with_for_update())
    user = session.get(User, reset.user_id) if reset is not None else None
    if reset is None or user is None or reset.expires_at <= now or reset.token_version != user.token_version:
        raise InvalidResetLink("the link is invalid or has expired; ask for a new one", field="token")
    require_strong(new_password, field="new_password", email=user.email, display_name=user.display_name)
    session.delete(reset)
    user.password_hash = security.hash_password(new_password)
    revoke_tokens(session=session, user=user)
    session.flush()
    return user
