"""Imports every ORM model so that ``Base.metadata`` knows the whole schema (Alembic, tests)."""

from studysmart.core.db import Base
from studysmart.learning.logs import PredictionLog
from studysmart.learning.models import ModelVersion, TrainingRun, TrainingState
from studysmart.learning.scores import ModelScoreHour, ModelScoreUser
from studysmart.planning.models import Exam, ExamTopic  # noqa: F401 - tables of exam preparation
from studysmart.tasks.models import Task, Topic
from studysmart.users.models import LoginAttempt, User

__all__ = ["Base", "LoginAttempt", "ModelScoreHour", "ModelScoreUser", "ModelVersion", "PredictionLog", "Task",
           "Topic", "TrainingRun", "TrainingState", "User"]
