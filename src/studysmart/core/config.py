"""Application settings, read only here: environment variables ``STUDYSMART_*`` (and an optional ``.env``)."""

from __future__ import annotations

import os
import secrets
import tempfile
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "changethis", "secret", "placeholder", "dev", "test"}
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    """Where the app runs: development (embedded defaults), test, or production (strict)."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting of StudySmart; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="STUDYSMART_", env_file=".env", extra="ignore")
    # The generated key once read, with the var_dir it was read from (every request signs or checks a token; a
    # copy of these settings with another var_dir reads its own).
    _secret: tuple[Path, str] | None = PrivateAttr(default=None)

    env: Environment = Environment.DEVELOPMENT
    var_dir: Path = Path("./var")
    database_url: str = ""  # default: sqlite:///<var_dir>/studysmart.db
    secret_key: str = ""  # default (development only): generated once into <var_dir>/secret_key
    redis_url: str | None = None
    log_level: str = "INFO"
    retrain_threshold: Annotated[int, Field(ge=1)] = 5
    #: A training also waits for this share of all answers to be new (so trainings space out as data grows) ...
    retrain_growth_percent: Annotated[float, Field(ge=0, le=100)] = 10.0
    #: ... and for this long since the last training finished (the worker rests between trainings).
    retrain_min_interval_seconds: Annotated[float, Field(ge=0)] = 300.0
    token_ttl_minutes: Annotated[int, Field(ge=1)] = 60 * 24
    session_ttl_hours: Annotated[int, Field(ge=1)] = 24 * 7
    login_attempts_per_minute: Annotated[int, Field(ge=1)] = 10
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    max_import_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024  # a CSV file of past tasks
    model_refresh_seconds: Annotated[float, Field(ge=0)] = 5.0
    history_cache_students: Annotated[int, Field(ge=0)] = 512  # students' histories kept per process; 0: none
    serving_model: str = "auto"  # auto: the champion (LNIRT once trained), else the shrinkage fallback
    min_samples_for_lnirt: Annotated[int, Field(ge=1)] = 50
    training_models: str = "shrinkage,practice,lnirt,neural,blend,irt2pl,person-median,item-means,avg"
    training_time_limit_seconds: Annotated[float, Field(gt=0)] = 600.0
    # 0: fit on every answer. 150k: the served blend's own fit then takes ~35-40 s on one core at any size
    # (benchmarks.scale: 39.6 s at 1e6, 34.6 s at 1e7 answers); see docs/operations.md for what else a training does.
    training_max_answers: Annotated[int, Field(ge=0)] = 150_000
    training_retry_delay_seconds: Annotated[float, Field(ge=0)] = 30.0
    training_retries: Annotated[int, Field(ge=0)] = 3
    training_stale_seconds: Annotated[float, Field(gt=0)] = 30.0
    promote_tolerance: Annotated[float, Field(ge=0)] = 0.002
    model_versions_kept: Annotated[int, Field(ge=1)] = 5  # per model, besides its champion
    ab_challenger_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    torch_threads: Annotated[int, Field(ge=1)] = 1
    worker_nice: Annotated[int, Field(ge=0, le=19)] = 10
    worker_processes: Annotated[int, Field(ge=0)] = 1
    api_docs: bool | None = None  # /docs, /redoc, /openapi.json; default: on, except in production
    metrics: bool | None = None  # /metrics; default: on, except in production
    #: Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or networks,
    #: ``*`` for any); empty: none, the connecting address is the client's.
    forwarded_allow_ips: str = ""
    #: The address students open the app at (links in emails, e.g. the password reset link).
    public_url: str = "http://127.0.0.1:8000"
    #: Outgoing mail for password reset links; without a host, the link is written to the server log (and
    #: ``studysmart users reset-link EMAIL`` makes one).
    smtp_host: str = ""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "StudySmart <no-reply@localhost>"
    smtp_starttls: bool = True

    @model_validator(mode="after")
    def _defaults_and_production_rules(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'studysmart.db').as_posix()}"
        if self.env is Environment.PRODUCTION:
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"STUDYSMART_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                    "characters in production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def api_docs_enabled(self) -> bool:
        """Whether the API docs and schema are served (off in production unless STUDYSMART_API_DOCS is set)."""
        return self.api_docs if self.api_docs is not None else self.env is not Environment.PRODUCTION

    @property
    def metrics_enabled(self) -> bool:
        """Whether /metrics is served (off in production unless STUDYSMART_METRICS is set)."""
        return self.metrics if self.metrics is not None else self.env is not Environment.PRODUCTION

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (None on PostgreSQL or an in-memory database)."""
        if not self.is_sqlite:
            return None
        database = make_url(self.database_url).database
        return Path(database) if database and database != ":memory:" else None

    @property
    def enabled_models(self) -> list[str]:
        return [name.strip() for name in self.training_models.split(",") if name.strip()]

    def resolved_secret_key(self) -> str:
        """The signing key: the configured one, else (outside production) one generated once and kept in var_dir."""
        if self.secret_key:
            return self.secret_key
        if self._secret is None or self._secret[0] != self.var_dir:
            self._secret = (self.var_dir, self._generated_secret())
        return self._secret[1]

    def _generated_secret(self) -> str:
        path = self.var_dir / "secret_key"
        self.var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Written to a private temp file of its own (mkstemp: unique across processes and threads, mode 0600)
            # and linked into place: nobody sees a partial key, and the first link wins (the others read it below).
            fd, name = tempfile.mkstemp(dir=self.var_dir, prefix=".secret_key.")
            tmp = Path(name)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
