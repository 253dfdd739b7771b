"""Fixtures for the training pipeline: fast models, a queue on SQLite (huey) or on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from studysmart.core.config import Settings, get_settings
from studysmart.training.jobs import Jobs, get_jobs
from tests.conftest import service_url
from tests.training.processes import Drill

FAST_MODELS = "shrinkage,item-means,avg"


@pytest.fixture
def fast_models(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", FAST_MODELS)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(params=["sqlite-queue", pytest.param("redis-queue", marks=pytest.mark.redis)])
def jobs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, fast_models: Settings,
         migrated: str) -> Iterator[Jobs]:
    """The job queue of this test: huey on SQLite (embedded default) or on Redis (scale-out)."""
    if request.param == "redis-queue":
        url = service_url("STUDYSMART_TEST_REDIS_URL", "Redis")
        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv("STUDYSMART_REDIS_URL", url)
        get_settings.cache_clear()
    queue = get_jobs()
    queue.huey.flush()
    yield queue
    queue.huey.flush()


@pytest.fixture
def drill(tmp_path: Path) -> Iterator[Drill]:
    """Real `studysmart` processes on a throwaway database (see tests.training.processes)."""
    run = Drill(tmp_path)
    try:
        yield run
    finally:
        run.cleanup()
