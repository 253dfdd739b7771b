"""Analytics API: the same numbers the analytics page shows, for the logged-in student only.

Days and weeks are counted in the time zone ``tz`` (an IANA name such as ``Europe/Berlin``; default UTC).
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query

from studysmart.analytics import service
from studysmart.core.db import utcnow
from studysmart.core.deps import SessionDep
from studysmart.users.deps import CurrentUser

router = APIRouter(prefix="/analytics", tags=["analytics"])

Zone = Annotated[str, Query(max_length=64, description="IANA time zone for days and weeks")]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "tz"], "msg": "unknown time zone",
                                                      "type": "value_error"}]) from None


@router.get("/summary", response_model=service.DaySummary)
def summary(user: CurrentUser, session: SessionDep, tz: Zone = "UTC") -> service.DaySummary:
    """Today's plan with its predicted time, today's work, the streak, and the last 7 days' answers."""
    return service.today_summary(session=session, user=user, now=utcnow(), zone=_zone(tz))


@router.get("/progress", response_model=service.Progress)
def progress(user: CurrentUser, session: SessionDep, tz: Zone = "UTC") -> service.Progress:
    """Accuracy and median time per topic per day (or week)."""
    return service.progress(session=session, user=user, zone=_zone(tz))


@router.get("/calibration", response_model=list[service.CalibrationBin])
def calibration(user: CurrentUser, session: SessionDep,
                bins: Annotated[int, Query(ge=2, le=50)] = 10) -> list[service.CalibrationBin]:
    """Shown P(correct) against outcomes, in equal-width bins."""
    return service.calibration(session=session, user=user, bins=bins)


@router.get("/times", response_model=list[service.TimeCheck])
def times(user: CurrentUser, session: SessionDep,
          limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[service.TimeCheck]:
    """Predicted time ranges against the actual times of the latest completed tasks."""
    return service.time_checks(session=session, user=user, limit=limit)


@router.get("/abilities", response_model=list[service.TopicAbility])
def abilities(user: CurrentUser, session: SessionDep) -> list[service.TopicAbility]:
    """Per topic: the answered rate with its 80% interval, and the serving model's P(correct) (medium)."""
    return service.abilities(session=session, user=user, now=utcnow())


@router.get("/weekly-time", response_model=service.WeeklyTime)
def weekly_time(user: CurrentUser, session: SessionDep, tz: Zone = "UTC") -> service.WeeklyTime:
    """Minutes spent per topic per week."""
    return service.weekly_time(session=session, user=user, zone=_zone(tz))


@router.get("/leaderboard", response_model=list[service.ModelScore])
def leaderboard(user: CurrentUser, session: SessionDep) -> list[service.ModelScore]:
    """How every model scores on this student's completed tasks; ``serving`` marks the one in use."""
    return service.leaderboard(session=session, user=user)
