"""The pure exam planner: readiness (expected score now and on exam day) and the day-by-day plan.

No database, no HTTP and no other domain: it imports only ``studysmart.ml`` (and third-party libraries). The
service feeds it an ``ExamSpec``, the student's ``StudentPredictions`` (from the serving model) and completed
work; it returns a ``Plan`` and a ``Readiness`` (Pydantic models) and the task specs of one planned day.
"""

from studysmart.planning.engine.plan import Plan, PlanDay, PlanItem, TaskSpec, displayed_minutes, materialise
from studysmart.planning.engine.planner import PlanOptions, plan_exam, replan
from studysmart.planning.engine.readiness import (
    GainEstimate,
    GainModel,
    Readiness,
    TopicHistory,
    estimate_gain,
    estimate_gains,
    population_gain,
    readiness,
)
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
    TopicWeight,
)

__all__ = [
    "DIFFICULTIES",
    "CellPrediction",
    "CompletedWork",
    "ExamSpec",
    "GainEstimate",
    "GainModel",
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
    "TopicHistory",
    "TopicWeight",
    "displayed_minutes",
    "estimate_gain",
    "estimate_gains",
    "materialise",
    "plan_exam",
    "population_gain",
    "readiness",
    "replan",
]
