"""Accounts, login attempts, the auth epoch and single-use login tickets."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from studysmart.core.db import Base, UTCDateTime, utcnow

DEFAULT_PREFERENCES: dict[str, Any] = {"daily_goal_minutes": 60, "preferred_model": "auto", "theme": "auto"}
KEY_LENGTH = 43  # secrets.token_urlsafe(32)


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe): account keys, auth epochs."""
    return secrets.token_urlsafe(32)


class User(Base):
    """A student. ``email`` is stored trimmed and lower-cased, so uniqueness is case-insensitive.

    Tokens and web sessions name the account by ``account_key``, a random key that no other account ever gets
    (not even after a database restore hands the row id out again), never by the row id alone.
    """

    __tablename__ = "users"
    # AUTOINCREMENT: a deleted account's id is never given to a new account
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True, default=new_key)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_PREFERENCES))
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    #: Renewed by the database with every change to this student's answers (migration 0010's triggers).
    history_token: Mapped[str] = mapped_column(String(16), default="0", server_default="0")

    def preference(self, key: str) -> Any:
        """A preference with its default."""
        return (self.preferences or {}).get(key, DEFAULT_PREFERENCES.get(key))


class LoginAttempt(Base):
    """One login attempt or failure, kept a short while for rate limiting across processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "client:<address>", "failed-client:<address>", "failed-account:<sha256 of the email>"
    key: Mapped[str] = mapped_column(String(400), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AuthState(Base):
    """One row: the auth epoch. Every token and web session carries the epoch it was issued in; a database
    restore writes a new one, so nothing issued before the restore is accepted after it."""

    __tablename__ = "auth_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[str] = mapped_column(String(KEY_LENGTH))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginTicket(Base):
    """A short-lived, single-use ticket that turns a login (checked over the page's websocket) into a fresh web
    session (an HTTP request that can set a new session cookie). Only the SHA-256 of the ticket is stored, and
    the ticket is bound to the browser session it was issued to."""

    __tablename__ = "login_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    browser: Mapped[str] = mapped_column(String(64))  # SHA-256 of the session id the login came from
    token_version: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[str] = mapped_column(String(KEY_LENGTH))
    tz: Mapped[str] = mapped_column(String(64))
    next_path: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PasswordReset(Base):
    """A single-use password reset link of one account, valid until ``expires_at``. Only the SHA-256 of the link's
    token is stored; the link works only while the account's ``token_version`` is the one it was issued at, so a
    password change, a log-out everywhere or another reset ends it."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
