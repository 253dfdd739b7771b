"""The models the app knows, in one place: what each may do (serve students, be chosen by one, need more data or
torch) and what a student reads for it. The only place in the app where model names are written down; ``ml``
registers the classes (``ml.MODELS``), everything else asks here.

Optional abilities of a fitted model are runtime-checkable protocols (``Explains``, ``HasAbility``), so callers
test ``isinstance(model, Explains)`` instead of looking attributes up by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from studysmart.ml import base as ml
from studysmart.ml.data import Responses


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes:
        name: its registry name (``ml.MODELS``'s key; stored in model versions and prediction logs).
        label: its technical label (operators: ``studysmart models``, the API).
        plain: its plain name, for a student ("Your practice curve").
        meaning: what it does, in one line a student understands.
        servable: it may serve students (the others are scored as baselines only).
        data_hungry: it is fitted only once there are ``Settings.min_samples_for_lnirt`` answers.
        student_choice: a student may ask for it in the settings (``preferred_model``).
        sampler: an MCMC sampler whose chain length is its ``iterations`` hyperparameter (``--iterations``).
        stacked: built by the training pipeline from the other candidates' hold-out predictions (a blend of
            the servable ones that need no torch), never fitted on its own there.
    """

    name: str
    label: str
    plain: str = ""
    meaning: str = ""
    servable: bool = False
    data_hungry: bool = False
    student_choice: bool = False
    sampler: bool = False
    stacked: bool = False

    @property
    def needs_torch(self) -> bool:
        """Its module imports torch (the web process loads it only when it serves)."""
        return self.name in ml.NEEDS_TORCH

    @property
    def model_class(self) -> type[ml.Model]:
        """The class (its module is imported on first use)."""
        return ml.model_class(self.name)


#: Servable models first, in the order that breaks ties between them and picks the A/B challenger.
SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("practice", "Model of learning", "Your practice curve",
              "learns from each answer and forgets over time", servable=True, student_choice=True),
    ModelSpec("blend", "Blend of models", "A mix of the models",
              "weighs the other models by how well each predicted answers it had not seen",
              servable=True, data_hungry=True, stacked=True),
    ModelSpec("lnirt", "LNIRT", "Speed and skill together",
              "links how fast you work with how often you are right", servable=True, data_hungry=True,
              student_choice=True),
    ModelSpec("neural", "Neural", "Pattern finder",
              "a neural network that reads patterns in the order of your answers", servable=True,
              data_hungry=True, student_choice=True),
    ModelSpec("neural-attn", "Neural (attention)", "Pattern finder, focused",
              "a neural network that weighs your answers most like this task", servable=True, data_hungry=True),
    ModelSpec("shrinkage", "Shrinkage (fallback)", "Your averages, steadied",
              "your own rates per topic, pulled toward everyone's until you have enough answers", servable=True),
    ModelSpec("lnirt-gibbs", "LNIRT (Gibbs sampler)", "Speed and skill, slow fit",
              "the speed-and-skill idea, fitted more slowly and carefully", data_hungry=True, sampler=True),
    ModelSpec("irt2pl", "2PL IRT", "Skill against difficulty",
              "compares your skill with how hard each task is for everyone; right or wrong only",
              data_hungry=True),
    ModelSpec("avg", "Global average", "Everyone's average",
              "the same guess for every student and task: how all students do"),
    ModelSpec("item-means", "Item means", "Task averages",
              "how all students do on this topic and difficulty, the same for everyone"),
    ModelSpec("person-median", "Person median", "Your usual pace",
              "your usual time, when right and when wrong, whatever the task"),
)
BY_NAME: Mapping[str, ModelSpec] = {spec.name: spec for spec in SPECS}

#: The model that always trains and serves when nothing better has a version (it fits in the web process).
FALLBACK = "shrinkage"
#: The preference (and ``Settings.serving_model``) meaning "whatever the last training chose".
AUTO = "auto"
AUTO_LABEL = "Automatic (best available)"
AUTO_PLAIN = "The best model right now"
AUTO_MEANING = "whichever predicted students' answers best at the last update"
UNNAMED_PLAIN = "A comparison model"
UNNAMED_MEANING = "a model we compare the others with"


def spec(name: str) -> ModelSpec:
    """The spec of a model; a class registered in ``ml.MODELS`` without a spec here (a test's or a plug-in's
    model) is a plain baseline: scored, never served. ml.UnknownModel for any other name."""
    found = BY_NAME.get(name)
    if found is not None:
        return found
    if name in ml.MODELS:
        return ModelSpec(name, name)
    raise ml.UnknownModel(f"unknown model {name!r}; known: {', '.join(ml.MODELS)}")


def is_known(name: str | None) -> bool:
    """``name`` is a model the app can create (its class is registered in ``ml.MODELS``)."""
    return name is not None and name in ml.MODELS


def servable() -> tuple[str, ...]:
    """The names of the models that may serve, in preference order."""
    return tuple(s.name for s in SPECS if s.servable)


def stack_members(names: Sequence[str]) -> list[str]:
    """Of ``names`` (fitted candidates), those a stack blends: servable, not stacked, needing no torch."""
    return [n for n in names if is_known(n) and spec(n).servable and not spec(n).stacked and not needs_torch(n)]


def needs_torch(name: str) -> bool:
    """The model's module imports torch."""
    return name in ml.NEEDS_TORCH


def preference_labels() -> dict[str, str]:
    """What a student may choose in the settings, and its label (``auto`` first)."""
    return {AUTO: AUTO_LABEL, **{s.name: s.label for s in SPECS if s.student_choice}}


def label(name: str | None) -> str:
    """The technical label of a model name, for operators (the name itself when it is not registered)."""
    if name is None or name == AUTO:
        return AUTO_LABEL
    found = BY_NAME.get(name)
    return found.label if found else name


def plain_name(name: str | None) -> str:
    """What a student reads for a model: its plain name (a generic one for a model without a spec)."""
    if name is None or name == AUTO:
        return AUTO_PLAIN
    found = BY_NAME.get(name)
    return found.plain if found and found.plain else UNNAMED_PLAIN


def meaning(name: str | None) -> str:
    """What a model does, in one line a student understands."""
    if name is None or name == AUTO:
        return AUTO_MEANING
    found = BY_NAME.get(name)
    return found.meaning if found and found.meaning else UNNAMED_MEANING


def student_choices() -> dict[str, str]:
    """The preferences a student may choose, as the settings page shows them: plain name and meaning."""
    return {choice: f"{plain_name(choice)}: {meaning(choice)}" for choice in preference_labels()}


def trainable(names: Sequence[str], *, n_samples: int, min_samples: int) -> list[str]:
    """Of ``names`` (the enabled models), the fallback first and then those worth fitting on ``n_samples``
    answers: registered, and not data hungry below ``min_samples``."""
    ordered = dict.fromkeys([FALLBACK, *names])
    return [n for n in ordered if is_known(n) and (n_samples >= min_samples or not spec(n).data_hungry)]


@runtime_checkable
class Explains(Protocol):
    """A model that can say why one prediction is what it is (an object with a ``sentence`` for the UI)."""

    def explain(self, person: str, item: str, *, topic: str | None = None, difficulty: str | None = None,
                order: float | None = None, history: Responses | None = None, label: str | None = None) -> Any: ...


@runtime_checkable
class HasAbility(Protocol):
    """A single-ability model: the student's (theta, sd) given their answers (used by the exam planner)."""

    def ability(self, person: str, history: Responses | None = None) -> tuple[float, float]: ...
