"""`studysmart backup` / `studysmart restore`: a restore revives no revoked token and never hands an old token a
new account (on SQLite and PostgreSQL), and operator errors exit 2 with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from studysmart import backup as backups
from studysmart.cli import app
from studysmart.core.config import Settings
from tests.factories import register

runner = CliRunner()
ME = "/api/v1/auth/me"


def _cli(*arguments: str) -> None:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output


def test_a_restore_refuses_every_earlier_token_and_an_old_token_never_reaches_a_new_account(
        client: TestClient, tmp_path: Path) -> None:
    ty = register(client, "y@example.com")
    backup_file = tmp_path / "studysmart.backup"
    _cli("backup", str(backup_file))
    assert backup_file.stat().st_mode & 0o777 == 0o600  # it holds password hashes

    tx = register(client, "x@example.com")
    x_id = client.get(ME, headers=tx).json()["id"]
    assert client.post("/api/v1/auth/logout", headers=ty).status_code == 204  # Y logs out everywhere
    assert client.get(ME, headers=ty).status_code == 401

    _cli("restore", str(backup_file))
    codes = {"TX": client.get(ME, headers=tx).status_code, "TY": client.get(ME, headers=ty).status_code}
    assert codes == {"TX": 401, "TY": 401}

    tz = register(client, "z@example.com")
    z = client.get(ME, headers=tz).json()
    assert z["id"] == x_id  # the restored id counter hands X's id out again ...
    assert client.get(ME, headers=tx).status_code == 401  # ... but X's token names X's key, not the id
    assert z["email"] == "z@example.com"
    assert client.get(ME, headers=register(client, "y2@example.com")).status_code == 200  # new logins work


def test_restore_of_a_missing_or_foreign_file_exits_2_with_one_line(settings: Settings, migrated: str,
                                                                    tmp_path: Path) -> None:
    missing = runner.invoke(app, ["restore", str(tmp_path / "nope.db")])
    assert missing.exit_code == 2
    assert missing.output.strip().count("\n") == 0 and "no backup file" in missing.output
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    wrong = runner.invoke(app, ["restore", str(foreign)])
    assert wrong.exit_code == 2 and wrong.output.strip().count("\n") == 0, wrong.output
    into_missing_dir = runner.invoke(app, ["backup", str(tmp_path / "no" / "such" / "dir.db")])
    assert into_missing_dir.exit_code == 2 and "does not exist" in into_missing_dir.output


def test_missing_postgres_tools_exit_2_with_one_line(settings: Settings, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(backups, "POSTGRES_LIB", tmp_path / "no-postgresql")
    monkeypatch.setattr(settings, "database_url", "postgresql+psycopg://someone:pw@127.0.0.1:1/none")
    for command in (["backup", str(tmp_path / "b.dump")], ["restore", str(tmp_path / "b.dump")]):
        if command[0] == "restore":
            (tmp_path / "b.dump").write_bytes(b"PGDMP...")
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert result.output.strip().count("\n") == 0
        assert "not found on PATH" in result.output and "pw" not in result.output


def test_postgres_tools_are_found_in_debians_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("13", "15"):
        tool = tmp_path / version / "bin" / "pg_dump"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(backups, "POSTGRES_LIB", tmp_path)
    assert backups._pg_tool("pg_dump") == str(tmp_path / "15" / "bin" / "pg_dump")
