"""One training job: claim the tracker, fit every enabled model, evaluate each on a per-person temporal hold-out,
store versions, promote those no worse than their champion, choose the model that serves, release the tracker.

Runs in a worker process only (never in a web server). Structured log lines mark each step.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from studysmart import __version__
from studysmart.core.config import Settings
from studysmart.core.db import transaction, utcnow
from studysmart.core.logging import kv
from studysmart.ml import base as ml
from studysmart.ml.data import Responses
from studysmart.ml.evaluate import Split, online_metrics, split_temporal
from studysmart.ml.metrics import all_metrics
from studysmart.predictions.service import all_responses
from studysmart.training import service
from studysmart.training.models import ModelVersion
from studysmart.training.shadow import shadow_score

log = logging.getLogger("studysmart.training")

#: Models that may serve students (the others are scored as baselines only).
SERVABLE = ("practice", "lnirt", "neural", "neural-attn", "shrinkage")
#: Models that need more data than a handful of answers before they are worth fitting.
DATA_HUNGRY = frozenset({"lnirt", "lnirt-gibbs", "neural", "neural-attn", "irt2pl"})
HEARTBEAT_SECONDS = 2.0
#: A champion is compared with its candidate only on hold-out answers newer than the champion (the older ones
#: were in its training data), and only when there are at least this many of them.
MIN_FRESH_ROWS = 10


class TrainingTimeout(Exception):
    """The job ran past its time limit."""


@dataclass
class Candidate:
    """One freshly trained model with its held-out metrics."""

    name: str
    model: ml.Model
    metrics: dict[str, float]
    n_train: int
    n_test: int
    fit_seconds: float
    champion_metrics: dict[str, float] | None = None  # the champion on the hold-out answers it never saw
    compared_metrics: dict[str, float] | None = None  # the candidate on those same answers
    evaluated: ml.Model | None = None  # the model fitted on the training part only (``metrics`` are its scores)
    promoted: bool = False
    version: int | None = None
    notes: list[str] = field(default_factory=list)


def model_params(name: str, settings: Settings) -> dict[str, Any]:
    """Hyperparameters the app sets for a model (threads and time budget for the neural models)."""
    if name in ml.NEEDS_TORCH:
        return {"num_threads": settings.torch_threads,
                "max_seconds": max(5.0, min(120.0, settings.training_time_limit_seconds / 3))}
    return {}


def models_to_train(settings: Settings, n_samples: int) -> list[str]:
    """The enabled models worth fitting on ``n_samples`` responses (the shrinkage fallback always)."""
    names = [n for n in dict.fromkeys(["shrinkage", *settings.enabled_models]) if n in ml.MODELS]
    if n_samples < settings.min_samples_for_lnirt:
        names = [n for n in names if n not in DATA_HUNGRY]
    return names


def holdout_split(data: Responses) -> Split:
    """The last 20% of each student's answers (by completion time) are held out."""
    return split_temporal(data, fraction=0.2)


def _score(model: ml.Model, test: Responses) -> dict[str, float]:
    return all_metrics(model.predict(test.to_queries()), test.correct, test.log_time)


def fit_candidate(name: str, split: Split, full: Responses, settings: Settings,
                  progress: ml.Progress | None = None) -> Candidate:
    """Fit on the training part, score on the hold-out, then refit on all data for serving."""
    params = model_params(name, settings)
    start = time.perf_counter()
    evaluated = ml.create(name, **params).fit(split.train, progress=progress)
    metrics = online_metrics(evaluated, split)  # as served: each hold-out answer from the student's earlier ones
    final = ml.create(name, **params).fit(full, progress=progress)
    return Candidate(name=name, model=final, metrics=metrics, n_train=len(split.train), n_test=len(split.test),
                     fit_seconds=time.perf_counter() - start, evaluated=evaluated)


def no_worse(candidate: dict[str, float], champion: dict[str, float], tolerance: float) -> bool:
    """Whether held-out log loss and log-time RMSE are each within ``tolerance`` of the champion's (or better)."""
    for metric in ("log_loss", "rmse_log_time"):
        new, old = candidate.get(metric, float("nan")), champion.get(metric, float("nan"))
        if np.isnan(old):
            continue
        if np.isnan(new) or new > old + tolerance:
            return False
    return True


def _champion(session: Session, name: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.model == name, ModelVersion.is_champion.is_(True)))


#: Champions already loaded in this run: model name -> (version, model).
Loaded = dict[str, tuple[int, ml.Model]]


def score_champions(sessions: sessionmaker[Session], candidates: list[Candidate], split: Split,
                    loaded: Loaded | None = None) -> None:
    """Score each candidate and its current champion on the hold-out answers completed after the champion was
    trained: the champion was fitted on every answer before it, so scoring it on older hold-out answers would
    score it on its own training data. With fewer than MIN_FRESH_ROWS such answers they are not compared (the
    candidate, the same model fitted on more data, is then promoted; a note says so).

    Runs outside any write transaction (loading and predicting can take seconds, and SQLite would hold its write
    lock meanwhile); ``loaded`` champions of the same version are reused instead of being deserialised again."""
    for cand in candidates:
        with sessions() as session:
            champion = _champion(session, cand.name)
            if champion is None:
                continue
            version, blob, trained = champion.version, champion.artifact, champion.created_at
        order = split.test.order  # completion times; NaN compares False (never fresh)
        fresh = np.zeros(len(split.test), dtype=bool) if order is None else order > trained.timestamp()
        if int(fresh.sum()) < MIN_FRESH_ROWS:
            cand.notes.append(f"not compared with champion v{version}: {int(fresh.sum())} hold-out answers are "
                              f"newer than it (needs {MIN_FRESH_ROWS})")
            continue
        unseen = split.test.subset(fresh)
        try:
            reuse = (loaded or {}).get(cand.name)
            model = reuse[1] if reuse is not None and reuse[0] == version else ml.load(cand.name, blob)
            cand.champion_metrics = _score(model, unseen)
            cand.compared_metrics = _score(cand.evaluated or cand.model, unseen)
        except ml.CorruptModel as exc:
            cand.notes.append(f"champion unreadable: {exc}")


def store_and_promote(session: Session, candidates: list[Candidate], run_id: int, tolerance: float,
                      artifacts: dict[str, bytes] | None = None) -> None:
    """Store each candidate as a new version; promote it when it is no worse than its champion on the hold-out
    (``score_champions`` first). Only quick writes: serialise the artifacts beforehand (``artifacts``)."""
    now = utcnow()
    for cand in candidates:
        latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.model == cand.name)) or 0
        cand.version = latest + 1
        cand.promoted = cand.champion_metrics is None or cand.compared_metrics is None or \
            no_worse(cand.compared_metrics, cand.champion_metrics, tolerance)
        if cand.promoted:  # demote the previous champion (no rows when there is none)
            session.execute(update(ModelVersion).where(ModelVersion.model == cand.name)
                            .values(is_champion=False))
        blob = (artifacts or {}).get(cand.name) or cand.model.to_bytes()
        session.add(ModelVersion(
            model=cand.name, version=cand.version, artifact=blob, metrics=_finite(cand.metrics),
            n_train=cand.n_train, n_test=cand.n_test, fit_seconds=cand.fit_seconds, code_version=__version__,
            is_champion=cand.promoted, promoted_at=now if cand.promoted else None, created_at=now, run_id=run_id,
        ))
        log.info(kv("training.model.stored", model=cand.name, version=cand.version, promoted=cand.promoted,
                    log_loss=round(cand.metrics.get("log_loss", float("nan")), 4),
                    rmse_log_time=round(cand.metrics.get("rmse_log_time", float("nan")), 4)))
    session.flush()


def choose_serving(candidates: list[Candidate]) -> str | None:
    """The servable model whose configuration has the best held-out log loss in this run (each candidate was fitted
    on the same training part and scored on the same hold-out, so the families compare fairly)."""
    scored = []
    for cand in candidates:
        if cand.name not in SERVABLE:
            continue
        loss = cand.metrics.get("log_loss", float("nan"))
        if not np.isnan(loss):
            scored.append((loss, SERVABLE.index(cand.name), cand.name))
    return min(scored)[2] if scored else None


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in metrics.items()}


def summary(candidates: list[Candidate]) -> dict[str, Any]:
    """The per-model record kept in TrainingRun.models."""
    return {c.name: {"version": c.version, "promoted": c.promoted, "fit_seconds": round(c.fit_seconds, 3),
                     "metrics": _finite(c.metrics),
                     "champion_metrics": _finite(c.champion_metrics) if c.champion_metrics else None,
                     "compared_metrics": _finite(c.compared_metrics) if c.compared_metrics else None,
                     "notes": c.notes} for c in candidates}


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TrainingTimeout after ``seconds`` (in a process's main thread; elsewhere only the models' budgets)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(_signum: int, _frame: Any) -> None:
        raise TrainingTimeout(f"training exceeded its time limit of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def heartbeats(sessions: sessionmaker[Session], run_id: int, settings: Settings) -> Iterator[None]:
    """Beat every few seconds while the run works, so a killed worker's run can be recognised and retried."""
    stop = threading.Event()
    interval = min(HEARTBEAT_SECONDS, settings.training_stale_seconds / 4)

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with transaction(sessions) as session:
                    service.heartbeat(session=session, run_id=run_id, now=utcnow())
            except Exception:  # a missed beat is not fatal; a long silence is handled by the reaper
                log.warning(kv("training.heartbeat.failed", run=run_id))

    thread = threading.Thread(target=beat, name="training-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def shadow_score_champions(sessions: sessionmaker[Session], settings: Settings, data: Responses) -> Loaded:
    """Score the torch champions on the tasks created since their promotion (see training.shadow).

    Returns:
        the champions it loaded, for ``score_champions`` to reuse.
    """
    loaded: Loaded = {}
    for name in settings.enabled_models:
        if name not in ml.NEEDS_TORCH:
            continue
        with sessions() as session:
            champion = _champion(session, name)
            if champion is None or champion.promoted_at is None:
                continue
            version, since, blob = champion.version, champion.promoted_at, champion.artifact
        model = ml.load(name, blob)
        loaded[name] = (version, model)
        count = shadow_score(sessions, name=name, model=model, version=version, since=since, data=data)
        log.info(kv("training.shadow_scored", model=name, version=version, tasks=count))
    return loaded


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    status: str
    remaining: int = 0
    error: str | None = None
    retry_in: float | None = None


def run_training(sessions: sessionmaker[Session], settings: Settings, *, trigger: str = "threshold",
                 attempt: int = 1, progress: Callable[[str], None] | None = None) -> RunOutcome | None:
    """Claim and run one training. None when nothing is queued (another worker took it)."""
    with transaction(sessions) as session:
        run = service.claim_run(session=session, now=utcnow(), trigger=trigger, attempt=attempt, pid=os.getpid())
        if run is None:
            return None
        run_id = run.id
    log.info(kv("training.started", run=run_id, trigger=trigger, attempt=attempt, pid=os.getpid()))
    started = time.perf_counter()
    try:
        with heartbeats(sessions, run_id, settings), time_limit(settings.training_time_limit_seconds):
            with sessions() as session:
                data = all_responses(session)
            loaded = shadow_score_champions(sessions, settings, data)
            split = holdout_split(data)
            names = models_to_train(settings, len(data))
            log.info(kv("training.data", run=run_id, samples=len(data), train=len(split.train),
                        test=len(split.test), models=",".join(names)))
            candidates = []
            for name in names:
                if progress:
                    progress(f"fitting {name}")
                candidates.append(fit_candidate(name, split, data, settings))
                log.info(kv("training.model.fitted", run=run_id, model=name,
                            seconds=round(candidates[-1].fit_seconds, 2)))
            score_champions(sessions, candidates, split, loaded)
            artifacts = {cand.name: cand.model.to_bytes() for cand in candidates}
            with transaction(sessions) as session:  # short: only writes
                store_and_promote(session, candidates, run_id, settings.promote_tolerance, artifacts)
                serving = choose_serving(candidates)
                remaining = service.finish_run(session=session, run_id=run_id, now=utcnow(),
                                               models=summary(candidates), n_samples=len(data),
                                               serving_model=serving)
    except service.RunReaped:
        log.warning(kv("training.discarded", run=run_id, reason="reaped while running"))
        return RunOutcome(run_id, "reaped")
    except Exception as exc:
        retry_in = settings.training_retry_delay_seconds * (2 ** (attempt - 1))
        retry = attempt <= settings.training_retries
        message = f"{type(exc).__name__}: {exc}"
        with transaction(sessions) as session:
            service.fail_run(session=session, run_id=run_id, now=utcnow(), error=message,
                             retry_at=utcnow() + timedelta(seconds=retry_in) if retry else None)
        log.error(kv("training.failed", run=run_id, error=message, retry_in=retry_in if retry else None))
        return RunOutcome(run_id, "failed", error=message, retry_in=retry_in if retry else None)
    log.info(kv("training.finished", run=run_id, seconds=round(time.perf_counter() - started, 2),
                serving=serving, remaining=remaining))
    return RunOutcome(run_id, "succeeded", remaining=remaining)
