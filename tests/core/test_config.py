"""Settings: embedded defaults, a generated secret kept under var/, production refusing placeholder secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from studysmart.core.config import Settings


def test_defaults_use_sqlite_under_var_dir(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == f"sqlite:///{(tmp_path / 'var' / 'studysmart.db').as_posix()}"
    assert settings.retrain_threshold == 5


def test_generated_secret_is_kept(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    first = settings.resolved_secret_key()
    assert len(first) >= 32
    assert settings.resolved_secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(var_dir=tmp_path, _env_file=None).resolved_secret_key() == first  # type: ignore[call-arg]
    elsewhere = settings.model_copy(update={"var_dir": tmp_path / "other"})  # a copy reads its own var_dir's
    assert elsewhere.resolved_secret_key() != first and (tmp_path / "other" / "secret_key").exists()
    assert list(tmp_path.glob(".secret_key.*")) == []  # no temp file left behind


@pytest.mark.parametrize("secret", ["", "changeme", "short"])
def test_production_refuses_missing_or_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production", secret_key=secret, _env_file=None)  # type: ignore[call-arg]


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(env="production", secret_key="k" * 48, _env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_secret_key() == "k" * 48
