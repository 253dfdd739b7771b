"""Exam preparation: readiness (expected score now and on exam day) and the optimised day-by-day plan.

Pure code: no database and no HTTP. The service feeds it an ``ExamSpec``, the student's ``StudentPredictions``
(from the serving model) and completed work; it returns ``Plan`` / ``Readiness`` whose ``to_dict()`` is the
API shape, task specs for materialising a day, and an .ics calendar.
"""

from studysmart.planning.ics import plan_to_ics
from studysmart.planning.plan import Plan, PlanDay, PlanItem, TaskSpec, materialise
from studysmart.planning.planner import PlanOptions, plan_exam, replan
from studysmart.planning.readiness import (
    GainEstimate,
    GainModel,
    Readiness,
    TopicHistory,
    estimate_gain,
    estimate_gains,
    population_gain,
    readiness,
)
from studysmart.planning.spec import (
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
    "estimate_gain",
    "estimate_gains",
    "materialise",
    "plan_exam",
    "plan_to_ics",
    "population_gain",
    "readiness",
    "replan",
]
