"""Training and serving figures for ``GET /metrics``, read from the database at scrape time (so every process
reports the same numbers): trainings total and failed, the last training's duration, the model versions this
process serves and the queue depth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from studysmart.learning.context import AppContext
from studysmart.learning.models import RunStatus, TrainingRun


class TrainingCollector(Collector):
    """Training and serving figures gathered when Prometheus scrapes."""

    def __init__(self, context: AppContext, queue_depth: Callable[[], int] | None) -> None:
        self.sessions = context.sessions
        self.models = context.models
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[Any]:
        with self.sessions() as session:
            counts = dict(session.execute(select(TrainingRun.status, func.count()).group_by(TrainingRun.status)).all())
            last = session.execute(
                select(TrainingRun.started_at, TrainingRun.finished_at).where(TrainingRun.status == RunStatus.SUCCEEDED)
                .order_by(TrainingRun.id.desc()).limit(1)).first()
        total = CounterMetricFamily("studysmart_trainings", "Training runs by outcome", labels=["status"])
        for status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.RUNNING):
            total.add_metric([status], float(counts.get(status, 0)))
        yield total
        duration = GaugeMetricFamily("studysmart_training_last_duration_seconds", "Duration of the last training")
        if last and last.started_at and last.finished_at:
            duration.add_metric([], (last.finished_at - last.started_at).total_seconds())
        yield duration
        serving = GaugeMetricFamily("studysmart_model_version_serving", "Model version served by this process",
                                    labels=["model"])
        for model, version in self.models.versions().items():
            serving.add_metric([model], float(version or 0))
        yield serving
        if self.queue_depth is not None:
            depth = GaugeMetricFamily("studysmart_queue_depth", "Jobs waiting in the training queue")
            try:
                depth.add_metric([], float(self.queue_depth()))
            except Exception:  # noqa: S110 - an unreachable queue shows as a missing sample, not a failed scrape
                pass
            yield depth
