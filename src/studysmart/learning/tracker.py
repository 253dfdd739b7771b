"""The retraining tracker: count completions atomically and report the training status."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studysmart.core.config import Settings
from studysmart.learning.context import context_of
from studysmart.learning.models import TRACKER_ID, Erasure, RunStatus, TrackerStatus, TrainingRun, TrainingState
from studysmart.tasks.models import Task, TaskStatus
from studysmart.users.models import User


class RunReaped(RuntimeError):
    """The run lost the tracker to the reaper (its worker looked dead); its results are discarded."""


@dataclass(frozen=True)
class CompletionCount:
    completed_since_training: int
    samples: int
    training_due: bool


@dataclass(frozen=True)
class TrainingStatus:
    completed_since_training: int
    threshold: int
    last_trained_at: datetime | None
    samples: int
    running: bool
    status: str
    queued: bool = False
    serving_model: str | None = None
    queued_at: datetime | None = None
    #: The end of the time floor after the last training: no training is queued before it (None: never trained).
    not_before: datetime | None = None


def answers_needed(settings: Settings, samples: int) -> int:
    """New answers that make a training due: the threshold, or the growth share of all answers if larger."""
    return max(settings.retrain_threshold, math.ceil(samples * settings.retrain_growth_percent / 100))


def floor_end(settings: Settings, last_trained_at: datetime | None) -> datetime | None:
    """When the time floor after the last training ends (None: never trained, or a floor of 0: no floor)."""
    if last_trained_at is None or settings.retrain_min_interval_seconds <= 0:
        return None
    return last_trained_at + timedelta(seconds=settings.retrain_min_interval_seconds)


def is_due(settings: Settings, *, completed: int, samples: int, last_trained_at: datetime | None,
           now: datetime) -> bool:
    """The retraining rule: enough new answers (``answers_needed``) and the time floor passed."""
    if completed < answers_needed(settings, samples):
        return False
    end = floor_end(settings, last_trained_at)
    return end is None or now >= end


def ensure_tracker(*, session: Session) -> None:
    """Create the tracker row if missing (migrations create it; tests on bare schemas rely on this)."""
    if session.get(TrainingState, TRACKER_ID) is None:
        try:
            with session.begin_nested():
                session.execute(insert(TrainingState).values(id=TRACKER_ID, completed_since_training=0, samples=0,
                                                             status=TrackerStatus.IDLE))
        except IntegrityError:
            pass


def count_completion(*, session: Session, now: datetime) -> CompletionCount:
    """Add one completion to the tracker with one atomic statement (no lost updates under concurrency)."""
    return count_completions(session=session, n=1, now=now)


def count_completions(*, session: Session, n: int, now: datetime) -> CompletionCount:
    """Add ``n`` answers (a completion, or the done rows of an import) to the samples and to the count toward
    the next training, with one atomic statement: an import of many answers is one step, so it requests at most
    one training, never one per row. ``training_due``: the retraining rule (``is_due``) holds at ``now``; a
    completion that is not due still counts, and the worker's supervisor queues the training once the time
    floor has passed (``Jobs.request_if_due``)."""
    ensure_tracker(session=session)
    row = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID)
        .values(completed_since_training=TrainingState.completed_since_training + n,
                samples=TrainingState.samples + n)
        .returning(TrainingState.completed_since_training, TrainingState.samples, TrainingState.last_trained_at)
    ).one()
    completed, samples = int(row[0]), int(row[1])
    due = is_due(context_of(session).settings, completed=completed, samples=samples, last_trained_at=row[2], now=now)
    return CompletionCount(completed_since_training=completed, samples=samples, training_due=due)


def due_now(*, session: Session, now: datetime, lock: bool = False) -> bool:
    """Whether the tracker is idle and the retraining rule holds at ``now`` (``lock``: lock the row first, so the
    answer holds until the caller's transaction ends; PostgreSQL)."""
    state = session.get(TrainingState, TRACKER_ID, with_for_update=lock or None)
    if state is None or state.status != TrackerStatus.IDLE:
        return False
    return is_due(context_of(session).settings, completed=state.completed_since_training, samples=state.samples,
                  last_trained_at=state.last_trained_at, now=now)


def uncount_completion(*, session: Session) -> None:
    """Take one undone completion back out of the tracker: the count toward the next training and the samples
    (one atomic statement, in the undoing transaction). The count never drops below zero, nor below what a
    running training claimed, so the run's own subtraction at its end cannot go negative."""
    ensure_tracker(session=session)
    completed, claimed = TrainingState.completed_since_training, TrainingState.claimed_completions
    fewer = case((completed > 0, completed - 1), else_=0)
    session.execute(update(TrainingState).where(TrainingState.id == TRACKER_ID).values(
        completed_since_training=fewer, samples=TrainingState.samples - 1,
        claimed_completions=case((claimed >= completed, fewer), else_=claimed)))


def uncount_completions(*, session: Session, n: int) -> None:
    """Take ``n`` deleted answers out of the sample count (one atomic statement, in the deleting transaction)."""
    if n > 0:
        ensure_tracker(session=session)
        session.execute(update(TrainingState).where(TrainingState.id == TRACKER_ID)
                        .values(samples=TrainingState.samples - n))


def forget_student(*, session: Session, user_id: int, person: str, now: datetime) -> Erasure:
    """Before an account is deleted (same transaction): take its answers out of the sample count and record the
    erasure of its fitted parameters (``person``: its label in the models).

    The student's tasks are locked first, so a completion racing with the deletion is either counted here or
    refused (the task is gone); on SQLite the write transaction already excludes it."""
    session.execute(select(Task.id).where(Task.owner_id == user_id).with_for_update()).all()
    done = session.scalar(select(func.count()).select_from(Task)
                          .where(Task.owner_id == user_id, Task.status == TaskStatus.DONE)) or 0
    uncount_completions(session=session, n=int(done))
    erasure = Erasure(person=person, requested_at=now)
    session.add(erasure)
    session.flush()
    return erasure


def own_answers(*, session: Session, user: User) -> int:
    """How many answers (done tasks) of this student their predictions learn from: the student's view of
    training, which no other account's answers move (the global counter is for operators)."""
    return int(session.scalar(select(func.count()).select_from(Task)
                              .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE)) or 0)


def pending_erasures(*, session: Session) -> list[Erasure]:
    """Erasures the stored model versions do not honour yet (the next training applies them)."""
    return list(session.scalars(select(Erasure).where(Erasure.applied_at.is_(None)).order_by(Erasure.id)))


def get_status(*, session: Session) -> TrainingStatus:
    """The tracker as the prototype showed it: n/N since the last training (N: the answers the retraining rule
    needs now), when, on how many samples, and the end of the time floor."""
    state = session.scalar(select(TrainingState).where(TrainingState.id == TRACKER_ID))
    settings = context_of(session).settings
    if state is None:
        return TrainingStatus(0, answers_needed(settings, 0), None, 0, False, TrackerStatus.IDLE)
    return TrainingStatus(
        completed_since_training=state.completed_since_training,
        threshold=answers_needed(settings, state.samples),
        last_trained_at=state.last_trained_at,
        samples=state.samples,
        running=state.status == TrackerStatus.RUNNING,
        status=state.status,
        queued=state.status == TrackerStatus.QUEUED,
        serving_model=state.serving_model,
        queued_at=state.queued_at,
        not_before=floor_end(settings, state.last_trained_at),
    )


# -- the training state machine: idle -> queued -> running -> idle (or queued again for a retry) -------------
# Every transition is one conditional UPDATE, so any number of web processes and workers agree on it: the
# claim is the lock (never two trainings at once), and completions during a run are kept by subtracting only
# the completions counted when it started.


def mark_queued(*, session: Session, now: datetime) -> bool:
    """idle -> queued. True when the caller should enqueue a job; False when one is queued or running."""
    ensure_tracker(session=session)
    row = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID, TrainingState.status == TrackerStatus.IDLE)
        .values(status=TrackerStatus.QUEUED, queued_at=now)
        .returning(TrainingState.id)
    ).first()
    return row is not None


def unmark_queued(*, session: Session) -> None:
    """queued -> idle, when the job could not be enqueued."""
    session.execute(update(TrainingState)
                    .where(TrainingState.id == TRACKER_ID, TrainingState.status == TrackerStatus.QUEUED)
                    .values(status=TrackerStatus.IDLE, queued_at=None))


def claim_run(*, session: Session, now: datetime, trigger: str, attempt: int, pid: int) -> TrainingRun | None:
    """queued -> running: start a TrainingRun, or None when there is nothing queued (another worker has it)."""
    row = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID, TrainingState.status == TrackerStatus.QUEUED)
        .values(status=TrackerStatus.RUNNING, heartbeat_at=now,
                claimed_completions=TrainingState.completed_since_training)
        .returning(TrainingState.queued_at)
    ).first()
    if row is None:
        return None
    run = TrainingRun(status=RunStatus.RUNNING, trigger=trigger, attempt=attempt, queued_at=row[0] or now,
                      started_at=now, worker_pid=pid, models={})
    session.add(run)
    session.flush()
    session.execute(update(TrainingState).where(TrainingState.id == TRACKER_ID).values(run_id=run.id))
    return run


def heartbeat(*, session: Session, run_id: int, now: datetime) -> bool:
    """Record that the run is alive; False when the run no longer owns the tracker (it was reaped)."""
    row = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID, TrainingState.run_id == run_id,
               TrainingState.status == TrackerStatus.RUNNING)
        .values(heartbeat_at=now)
        .returning(TrainingState.id)
    ).first()
    return row is not None


def finish_run(*, session: Session, run_id: int, now: datetime, models: dict[str, Any], n_samples: int,
               serving_model: str | None) -> int:
    """running -> idle after success; returns the completions that arrived during the run."""
    row = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID, TrainingState.run_id == run_id)
        .values(completed_since_training=TrainingState.completed_since_training - TrainingState.claimed_completions,
                claimed_completions=0, status=TrackerStatus.IDLE, last_trained_at=now, run_id=None, heartbeat_at=None,
                serving_model=serving_model)
        .returning(TrainingState.completed_since_training)
    ).first()
    if row is None:  # the run was reaped meanwhile (its worker looked dead): its retry owns the tracker now
        raise RunReaped(run_id)
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.RUNNING).values(
        status=RunStatus.SUCCEEDED, finished_at=now, models=models, n_samples=n_samples))
    return int(row[0])


def fail_run(*, session: Session, run_id: int, now: datetime, error: str, retry_at: datetime | None,
             models: dict[str, Any] | None = None) -> bool:
    """running -> queued (a retry is scheduled) or idle (given up); the champion keeps serving either way.
    ``models``: what is known of each model (e.g. every model's failure), kept in the run's record.

    Returns False when the run no longer owned the tracker (it was reaped already): nothing is changed then.
    """
    owned = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID, TrainingState.run_id == run_id)
        .values(status=TrackerStatus.QUEUED if retry_at else TrackerStatus.IDLE, claimed_completions=0, run_id=None,
                heartbeat_at=None,
                queued_at=now if retry_at else None)
        .returning(TrainingState.id)
    ).first()
    if owned is None:
        return False
    values: dict[str, Any] = {"status": RunStatus.FAILED, "finished_at": now, "error": error[:4000],
                              "next_retry_at": retry_at}
    if models is not None:
        values["models"] = models
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.RUNNING)
                    .values(**values))
    return True


def reap_stale_run(*, session: Session, now: datetime, stale_after: timedelta) -> TrainingRun | None:
    """A running job whose worker stopped heart-beating (killed, machine lost) is failed and queued again.

    Returns the reaped run (the caller enqueues its retry), or None.
    """
    state = session.get(TrainingState, TRACKER_ID)
    if state is None or state.status != TrackerStatus.RUNNING or state.heartbeat_at is None:
        return None
    if now - state.heartbeat_at < stale_after or state.run_id is None:
        return None
    run = session.get(TrainingRun, state.run_id)
    if not fail_run(session=session, run_id=state.run_id, now=now, error="worker stopped responding (killed or lost)",
                    retry_at=now):
        return None  # another supervisor reaped it first
    return run


def recent_runs(*, session: Session, limit: int = 5) -> list[TrainingRun]:
    """The latest training runs, newest first."""
    return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)))
