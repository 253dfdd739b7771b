"""Accounts and login attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from studysmart.core.db import Base, UTCDateTime, utcnow

DEFAULT_PREFERENCES: dict[str, Any] = {"daily_goal_minutes": 60, "preferred_model": "auto", "theme": "auto"}


class User(Base):
    """A student. ``email`` is stored trimmed and lower-cased, so uniqueness is case-insensitive."""

    __tablename__ = "users"
    # AUTOINCREMENT: a deleted account's id is never given to a new account (tokens and web sessions name the id)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_PREFERENCES))
    token_version: Mapped[int] = mapped_column(Integer, default=0)

    def preference(self, key: str) -> Any:
        """A preference with its default."""
        return (self.preferences or {}).get(key, DEFAULT_PREFERENCES.get(key))


class LoginAttempt(Base):
    """One login attempt, kept a short while for rate limiting across processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)  # "account:<email>" or "client:<address>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
