"""Prediction preview: what the serving model expects, without creating a task."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from studysmart.core.db import utcnow
from studysmart.core.deps import SessionDep
from studysmart.predictions import service
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Topic, topic_key
from studysmart.tasks.schemas import PredictionRead
from studysmart.users.deps import CurrentUser

router = APIRouter(prefix="/predictions", tags=["predictions"])


@router.get("/preview", response_model=PredictionRead)
def preview(user: CurrentUser, session: SessionDep,
            topic: Annotated[str, Query(min_length=1, max_length=100)],
            difficulty: Difficulty) -> PredictionRead:
    known = tasks.find_topic(session=session, name=topic)
    # A topic not in the catalog yet is priced from the population prior; nothing is written.
    subject = known or Topic(name=" ".join(topic.split()), key=topic_key(topic))
    served = service.predict_task(session=session, user=user, topic=subject, difficulty=difficulty, now=utcnow())
    return PredictionRead(
        p_correct=served.p_correct, expected_seconds=served.expected_seconds, seconds_low=served.seconds_low,
        seconds_high=served.seconds_high, model=served.model, model_version=served.model_version,
        source=served.source, explanation=served.explanation,
    )
