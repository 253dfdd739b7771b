"""One training job: claim the tracker, fit every enabled model, evaluate each on a per-person temporal hold-out,
store versions, promote those no worse than their champion, choose the model that serves, release the tracker.

Runs in a worker process only (never in a web server). Structured log lines mark each step.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from studysmart import __version__
from studysmart.core.config import Settings
from studysmart.core.db import read_session, transaction, utcnow
from studysmart.core.logging import kv
from studysmart.learning import registry, scaling
from studysmart.learning import tracker as service
from studysmart.learning.columns import read_answers
from studysmart.learning.erasure import apply_erasures, strip_champions
from studysmart.learning.guards import TrainingTimeout, heartbeats, time_limit
from studysmart.learning.models import ModelVersion, RunStatus, TrainingRun
from studysmart.learning.pruning import prune_versions
from studysmart.learning.shadow import Histories, shadow_score
from studysmart.ml import base as ml
from studysmart.ml.data import Responses
from studysmart.ml.evaluate import Split, online_predictions, split_temporal
from studysmart.ml.metrics import all_metrics
from studysmart.ml.robust import with_robust_weights
from studysmart.ml.stack import Stack
from studysmart.ml.stack.blend import Blend

log = logging.getLogger("studysmart.training")

#: A champion is compared with its candidate only on hold-out answers newer than the champion (the older ones
#: were in its training data), and only when there are at least this many of them.
MIN_FRESH_ROWS = 10


class EveryModelFailed(RuntimeError):
    """No model of the run could be fitted, scored and stored (each failure is in the run's record)."""


#: model name -> its failure record (kept in TrainingRun.models beside the candidates' summaries).
Failures = dict[str, dict[str, Any]]


def record_failure(failures: Failures, name: str, stage: str, exc: Exception, run_id: int) -> None:
    """Note that ``name`` failed at ``stage`` (its error and traceback), and log it with the traceback."""
    error = f"{type(exc).__name__}: {exc}"
    failures[name] = {"version": None, "promoted": False, "stage": stage, "error": error[:1000],
                      "traceback": "".join(traceback.format_exception(exc))[-8000:]}
    log.error(kv("training.model.failed", run=run_id, model=name, stage=stage, error=error), exc_info=exc)


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
    holdout: ml.Prediction | None = None  # its online predictions of the hold-out (what a stack is fitted on)
    promoted: bool = False
    version: int | None = None
    notes: list[str] = field(default_factory=list)


def model_params(name: str, settings: Settings) -> dict[str, Any]:
    """Hyperparameters the app sets for a model (threads and time budget for the neural models)."""
    if registry.needs_torch(name):
        return {"num_threads": settings.torch_threads,
                "max_seconds": max(5.0, min(120.0, settings.training_time_limit_seconds / 3))}
    return {}


def models_to_train(settings: Settings, n_samples: int) -> list[str]:
    """The enabled models worth fitting on ``n_samples`` responses (the shrinkage fallback always), stacked
    ones last (they blend the others)."""
    names = registry.trainable(settings.enabled_models, n_samples=n_samples,
                               min_samples=settings.min_samples_for_lnirt)
    return sorted(names, key=lambda n: registry.spec(n).stacked)


def holdout_split(data: Responses) -> Split:
    """The last 20% of each student's answers (by completion time) are held out."""
    return split_temporal(data, fraction=0.2)


def _score(model: ml.Model, test: Responses) -> dict[str, float]:
    return all_metrics(model.predict(test.to_queries()), test.correct, test.log_time)


def fit_candidate(name: str, split: Split, full: Responses, settings: Settings,
                  progress: ml.Progress | None = None) -> Candidate:
    """Fit on the training part, score on the hold-out, then refit on all data for serving.

    Both fits see robust row weights computed from their own data only (``ml.robust``: implausible times and
    a student's many answers to one item weigh less in the item parameters); the hold-out is scored as is.
    A model with a time budget (the neural ones) is fitted on a sample of whole students that fits it
    (``scaling.budget_answers``) and still scored on the whole hold-out, the others served from their history.
    """
    params = model_params(name, settings)
    start = time.perf_counter()
    budget = scaling.budget_answers(name, params.get("max_seconds"))
    train, notes = split.train, []
    if budget is not None:
        full, train, note = scaling.within_budget(full, train, budget)
        notes = [note] if note else []
    evaluated = ml.create(name, **params).fit(with_robust_weights(train), progress=progress)
    predicted = online_predictions(evaluated, split)  # as served: each hold-out answer from the earlier ones
    metrics = all_metrics(predicted, split.test.correct, split.test.log_time)
    final = ml.create(name, **params).fit(with_robust_weights(full), progress=progress)
    return Candidate(name=name, model=final, metrics=metrics, n_train=len(train), n_test=len(split.test),
                     fit_seconds=time.perf_counter() - start, evaluated=evaluated, holdout=predicted, notes=notes)


def stack_candidate(name: str, candidates: list[Candidate], split: Split) -> Candidate:
    """The stack of the fitted candidates it may blend (``registry.stack_members``): its blend is fitted on their
    online hold-out predictions, and its metrics are the blend's cross-fitted predictions of the hold-out (each
    answer predicted by coefficients fitted without its fold of items), so it is scored on answers its
    coefficients never saw, like every other candidate.

    Raises:
        ValueError: fewer than two candidates to blend, or a hold-out too small to cross-validate.
    """
    start = time.perf_counter()
    members = [c for c in candidates if c.name in registry.stack_members([c.name for c in candidates])
               and c.holdout is not None and c.evaluated is not None]
    blend, crossed = Stack.fit_on_holdout({c.name: c.holdout for c in members if c.holdout is not None}, split)
    metrics = all_metrics(crossed, split.test.correct, split.test.log_time)
    return Candidate(
        name=name, model=Stack.assemble({c.name: c.model for c in members}, blend), metrics=metrics,
        n_train=len(split.train), n_test=len(split.test),
        fit_seconds=sum(c.fit_seconds for c in members) + time.perf_counter() - start,
        # for the comparison with its champion: the same blend over the members fitted on the training part
        evaluated=Stack.assemble({c.name: c.evaluated for c in members if c.evaluated is not None}, blend),
        holdout=crossed, notes=[_blend_note([c.name for c in members], blend)])


def _blend_note(names: list[str], blend: Blend) -> str:
    parts = [f"{names[alone]} alone" if alone >= 0 else f"penalty {penalty:g}"
             for alone, penalty in zip(blend.alone, blend.penalties, strict=True)]
    return f"blend of {', '.join(names)}: accuracy {parts[0]}, time {parts[1]}"


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
        with read_session(sessions) as session:
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
        except Exception as exc:  # the champion cannot be compared (as if unreadable); the candidate stands
            log.warning(kv("training.champion.unscored", model=cand.name, version=version,
                           error=f"{type(exc).__name__}: {exc}"), exc_info=exc)
            cand.champion_metrics = cand.compared_metrics = None
            cand.notes.append(f"champion v{version} could not be scored: {type(exc).__name__}: {exc}")


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
    servable = registry.servable()
    scored = []
    for cand in candidates:
        if cand.name not in servable:
            continue
        loss = cand.metrics.get("log_loss", float("nan"))
        if not np.isnan(loss):
            scored.append((loss, servable.index(cand.name), cand.name))
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


def shadow_score_champions(sessions: sessionmaker[Session], settings: Settings, data: Responses,
                           until: datetime) -> Loaded:
    """Score the champion of every model on the tasks served since its training data ended and before
    ``until`` (this run's start, where ``data`` ends), which it has no prediction for (see learning.shadow).

    Returns:
        the champions it loaded, for ``score_champions`` to reuse.
    """
    loaded: Loaded = {}
    histories = Histories(data)
    for name in dict.fromkeys([registry.FALLBACK, *settings.enabled_models]):
        if not registry.is_known(name):
            continue
        with read_session(sessions) as session:
            champion = _champion(session, name)
            if champion is None:
                continue
            trained_until = session.scalar(select(TrainingRun.started_at).where(TrainingRun.id == champion.run_id))
            since = trained_until or champion.promoted_at  # a version from before runs kept their start
            if since is None:
                continue
            version, blob = champion.version, champion.artifact
        try:
            model = ml.load(name, blob)
            loaded[name] = (version, model)
            count = shadow_score(sessions, name=name, model=model, version=version, since=since, until=until,
                                 data=data, histories=histories)
        except TrainingTimeout:
            raise
        except Exception as exc:  # shadow scores are a by-product: never the reason a training fails
            log.warning(kv("training.shadow_failed", model=name, version=version,
                           error=f"{type(exc).__name__}: {exc}"), exc_info=exc)
            continue
        log.info(kv("training.shadow_scored", model=name, version=version, tasks=count))
    return loaded


def fit_candidates(names: list[str], split: Split, data: Responses, settings: Settings, run_id: int,
                   failures: Failures, progress: Callable[[str], None] | None = None) -> list[Candidate]:
    """Fit and score each model; one that raises is recorded in ``failures`` and the others go on (a time-out
    ends the whole run)."""
    candidates: list[Candidate] = []
    for name in names:
        if progress:
            progress(f"fitting {name}")
        try:
            candidate = stack_candidate(name, candidates, split) if registry.spec(name).stacked else \
                fit_candidate(name, split, data, settings)
        except TrainingTimeout:
            raise
        except Exception as exc:
            record_failure(failures, name, "fit", exc, run_id)
            continue
        candidates.append(candidate)
        log.info(kv("training.model.fitted", run=run_id, model=name, seconds=round(candidate.fit_seconds, 2)))
    return candidates


def serialise(candidates: list[Candidate], run_id: int, failures: Failures) -> dict[str, bytes]:
    """Each candidate's artifact; one that cannot be written is recorded in ``failures`` instead."""
    artifacts = {}
    for cand in candidates:
        try:
            artifacts[cand.name] = cand.model.to_bytes()
        except TrainingTimeout:
            raise
        except Exception as exc:
            record_failure(failures, cand.name, "serialise", exc, run_id)
    return artifacts


def hand_back(sessions: sessionmaker[Session], run_id: int) -> RunOutcome:
    """Give an interrupted run back to the queue at once (not after the stale-run reaper's wait)."""
    now = utcnow()
    with transaction(sessions) as session:
        owned = service.fail_run(session=session, run_id=run_id, now=now, retry_at=now,
                                 error="interrupted: its worker stopped; queued again at once")
    log.warning(kv("training.interrupted", run=run_id, requeued=owned))
    return RunOutcome(run_id, RunStatus.INTERRUPTED, retry_in=0.0 if owned else None)


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
        run_id, run_started = run.id, run.started_at or utcnow()
        erasures = [(e.id, e.person) for e in service.pending_erasures(session=session)]  # before the data
    log.info(kv("training.started", run=run_id, trigger=trigger, attempt=attempt, pid=os.getpid()))
    started = time.perf_counter()
    failures: Failures = {}
    try:
        with heartbeats(sessions, run_id, settings), time_limit(settings.training_time_limit_seconds):
            # A snapshot (serving and completions go on meanwhile), read just after the run started: the shadow
            # scores treat a version's data as ending at its run's start (learning.shadow).
            with read_session(sessions) as session:
                data = read_answers(session)
            loaded = shadow_score_champions(sessions, settings, data, until=run_started)
            fitted = scaling.training_data(data, settings)
            split = holdout_split(fitted.data)
            names = models_to_train(settings, len(data))
            log.info(kv("training.data", run=run_id, samples=len(data), fitted=len(fitted.data),
                        train=len(split.train), test=len(split.test), models=",".join(names)))
            candidates = fit_candidates(names, split, fitted.data, settings, run_id, failures, progress)
            if (note := fitted.note()) is not None:
                for cand in candidates:
                    cand.notes.append(note)
            score_champions(sessions, candidates, split, loaded)
            artifacts = serialise(candidates, run_id, failures)
            candidates = [cand for cand in candidates if cand.name in artifacts]
            if not candidates:
                raise EveryModelFailed("every model failed: " + "; ".join(
                    f"{name}: {info['error']}" for name, info in failures.items()))
            stripped = strip_champions(sessions, [person for _, person in erasures]) if erasures else {}
            with transaction(sessions) as session:  # short: only writes
                store_and_promote(session, candidates, run_id, settings.promote_tolerance, artifacts)
                if erasures:
                    apply_erasures(session, run_id=run_id, erasures=[i for i, _ in erasures], stripped=stripped,
                                   now=utcnow())
                pruned = prune_versions(session, keep=settings.model_versions_kept)
                serving = choose_serving(candidates)
                remaining = service.finish_run(session=session, run_id=run_id, now=utcnow(),
                                               models={**summary(candidates), **failures}, n_samples=len(data),
                                               serving_model=serving)
    except service.RunReaped:
        log.warning(kv("training.discarded", run=run_id, reason="reaped while running"))
        return RunOutcome(run_id, RunStatus.REAPED)
    except KeyboardInterrupt:  # the worker is stopping (a deploy, the server's shutdown or death): hand it back
        return hand_back(sessions, run_id)
    except Exception as exc:
        retry_in = settings.training_retry_delay_seconds * (2 ** (attempt - 1))
        retry = attempt <= settings.training_retries
        message = f"{type(exc).__name__}: {exc}"
        with transaction(sessions) as session:
            service.fail_run(session=session, run_id=run_id, now=utcnow(), error=message,
                             retry_at=utcnow() + timedelta(seconds=retry_in) if retry else None,
                             models=failures if isinstance(exc, EveryModelFailed) else None)
        log.error(kv("training.failed", run=run_id, error=message, retry_in=retry_in if retry else None))
        return RunOutcome(run_id, RunStatus.FAILED, error=message, retry_in=retry_in if retry else None)
    log.info(kv("training.finished", run=run_id, seconds=round(time.perf_counter() - started, 2),
                serving=serving, remaining=remaining, versions_pruned=sum(pruned.values())))
    return RunOutcome(run_id, RunStatus.SUCCEEDED, remaining=remaining)
