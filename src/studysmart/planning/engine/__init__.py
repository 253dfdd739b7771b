"""The pure exam planner: readiness (expected score now and on exam day) and the day-by-day plan.

No database, no HTTP and no other domain: it imports only ``studysmart.ml`` (and third-party libraries). The
service feeds it an ``ExamSpec``, the student's ``StudentPredictions`` (from the serving model, with what
practice and time away do: ``TopicLearning``) and completed work; it returns a ``Plan`` and a ``Readiness``
(Pydantic models) and the task specs of one planned day (today's list: ``materialise(plan.day(today))``).
"""

from studysmart.planning.engine.plan import Plan, PlanDay, PlanItem, TaskSpec, displayed_minutes, materialise
from studysmart.planning.engine.planner import PlanOptions, plan_exam, replan
from studysmart.planning.engine.readiness import Readiness, readiness
from studysmart.planning.engine.spec import (
    DIFFICULTIES,
    CellPrediction,
    CompletedWork,
    ExamSpec,
    InvalidExamError,
    MissingPredictionError,
    PlanningError,
    StudentPredictions,
    TopicAbility,
    TopicLearning,
    TopicWeight,
)

__all__ = [
    "DIFFICULTIES",
    "CellPrediction",
    "CompletedWork",
    "ExamSpec",
    "InvalidExamError",
    "MissingPredictionError",
    "Plan",
    "PlanDay",
    "PlanItem",
    "PlanOptions",
    "PlanningError",
    "Readiness",
    "StudentPredictions",
    "TaskSpec",
    "TopicAbility",
    "TopicLearning",
    "TopicWeight",
    "displayed_minutes",
    "materialise",
    "plan_exam",
    "readiness",
    "replan",
]
