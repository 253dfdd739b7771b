"""Migration 0004: existing accounts get distinct random account keys (their tasks and ids kept, SQLite's
AUTOINCREMENT too), and the auth epoch exists."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from studysmart.core.config import Settings
from studysmart.core.db import make_engine
from studysmart.migrations import upgrade
from studysmart.users.models import AuthState, User


def test_existing_accounts_get_distinct_keys(settings: Settings) -> None:
    upgrade(settings.database_url, "0003")
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:
        for i in range(3):
            connection.execute(text("INSERT INTO users (email, display_name, password_hash, created_at, preferences,"
                                    " token_version) VALUES (:email, 'Old', 'x', '2026-01-01 00:00:00', '{}', 0)"),
                               {"email": f"old{i}@example.com"})
    upgrade(settings.database_url)
    with engine.connect() as connection:
        keys = connection.execute(select(User.id, User.account_key).order_by(User.id)).all()
        epoch = connection.scalar(select(AuthState.epoch))
        if connection.dialect.name == "sqlite":
            ddl = connection.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'users'"))
            assert "AUTOINCREMENT" in ddl
    assert [row.id for row in keys] == [1, 2, 3]
    assert len({row.account_key for row in keys}) == 3 and all(len(row.account_key) == 43 for row in keys)
    assert epoch and len(epoch) == 43
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("users")}
    assert ("account_key",) in uniques
    engine.dispose()
