"""Fixtures for the training pipeline: fast models, a queue on SQLite (huey) or on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from studysmart.core.config import Settings, get_settings
from studysmart.learning.context import AppContext, make_context
from studysmart.learning.jobs import Jobs
from tests.conftest import service_url
from tests.learning.processes import Drill

FAST_MODELS = "shrinkage,item-means,avg"


@pytest.fixture
def fast_models(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", FAST_MODELS)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(params=["sqlite-queue", pytest.param("redis-queue", marks=pytest.mark.redis)])
def queue_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, fast_models: Settings) -> Settings:
    """The settings of a test with a job queue: huey on SQLite (embedded default) or on Redis (scale-out)."""
    if request.param == "redis-queue":
        url = service_url("STUDYSMART_TEST_REDIS_URL", "Redis")
        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv("STUDYSMART_REDIS_URL", url)
        get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def context(request: pytest.FixtureRequest, settings: Settings, migrated: str) -> Iterator[AppContext]:
    """The test's context, made after the fixtures that change its settings (fast models, the queue)."""
    for configuring in ("queue_settings", "fast_models"):
        if configuring in request.fixturenames:
            request.getfixturevalue(configuring)
    made = make_context(get_settings())
    yield made
    made.dispose()


@pytest.fixture
def jobs(queue_settings: Settings, context: AppContext) -> Iterator[Jobs]:
    """The job queue of the test's context (emptied before and after)."""
    queue = context.jobs
    queue.huey.flush()
    yield queue
    queue.huey.flush()


@pytest.fixture
def drill(tmp_path: Path) -> Iterator[Drill]:
    """Real `studysmart` processes on a throwaway database (see tests.learning.processes)."""
    run = Drill(tmp_path)
    try:
        yield run
    finally:
        run.cleanup()
