"""``Stack``: several fitted models served as one, their predictions combined by a ``blend.Blend`` fitted on a
temporal hold-out of the training data.

Standalone (``fit``), a stack does what the training pipeline does for it: it holds out the last 20% of each
person's answers (random cells without an order), fits every member on the rest, predicts the hold-out online
(each answer from the person's earlier ones, as served), fits the blend to those predictions, and refits the
members on all the data. The pipeline builds it from its own candidates instead (``assemble``), without fitting
anything twice. A prediction calls every member with the same history and combines the results row by row, so
the served call and the evaluation harness's online predictions agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from studysmart.ml import base
from studysmart.ml.base import CorruptModel, Prediction, Progress, pack, unpack
from studysmart.ml.data import Queries, Responses
from studysmart.ml.evaluate import (
    SequentialPredictor,
    Split,
    online_predictions,
    served_predictions,
    split_random,
    split_temporal,
)
from studysmart.ml.robust import with_robust_weights
from studysmart.ml.stack.blend import Blend, combine, fit_blend

__all__ = ["DEFAULT_MEMBERS", "Stack"]

#: The members a standalone stack fits (the pipeline uses its servable candidates that need no torch).
DEFAULT_MEMBERS = ("practice", "lnirt", "shrinkage")


@runtime_checkable
class _Explains(Protocol):
    def explain(self, person: str, item: str, *, topic: str | None = None, difficulty: str | None = None,
                order: float | None = None, history: Responses | None = None, label: str | None = None) -> Any: ...


@dataclass(frozen=True)
class _Sentence:
    sentence: str
    generic: bool = False  # says only that this is a blend: a server has a better sentence of its own


def holdout(data: Responses, fraction: float = 0.2) -> Split:
    """The hold-out a stack is fitted on: each person's last ``fraction`` of answers, or random cells when the
    data have no order."""
    if data.order is not None and np.isfinite(data.order).any():
        return split_temporal(data, fraction=fraction)
    return split_random(data, fraction=fraction)


class Stack:
    """Members combined by a blend fitted on a hold-out (see the module docstring).

    Args:
        members: registered model names a standalone ``fit`` fits (at least two).
        member_params: hyperparameters per member name.
    """

    name: ClassVar[str] = "blend"

    def __init__(self, members: Sequence[str] = DEFAULT_MEMBERS,
                 member_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.members = tuple(members)
        self.member_params = {k: dict(v) for k, v in (member_params or {}).items()}
        self.members_: dict[str, base.Model] | None = None
        self.blend_: Blend | None = None

    # -- fitting ---------------------------------------------------------------------------------------------
    @classmethod
    def assemble(cls, members: Mapping[str, base.Model], blend: Blend) -> Stack:
        """A fitted stack of already fitted ``members`` (in the blend's order) and a fitted ``blend``."""
        if len(members) != blend.n_members:
            raise ValueError(f"{len(members)} members for a blend of {blend.n_members}")
        stack = cls(members=tuple(members))
        stack.members_ = dict(members)
        stack.blend_ = blend
        return stack

    @staticmethod
    def fit_on_holdout(predictions: Mapping[str, Prediction], split: Split) -> tuple[Blend, Prediction]:
        """The blend of the members' online predictions of ``split.test`` (``predictions``, by member name, in
        the order the stack will hold them), and its cross-fitted predictions of those rows."""
        test = split.test
        return fit_blend(list(predictions.values()), test.correct, test.log_time, items=test.item,
                         persons=test.person)

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Fit the members on a hold-out split of ``data``, the blend on their hold-out predictions, then the
        members on all of ``data`` (which may carry robust weights; the inner fits compute their own)."""
        if len(self.members) < 2:
            raise ValueError("a stack needs at least two members")
        split = holdout(data.weighted(None))
        inner_train = with_robust_weights(split.train)
        predictions = {}
        for done, name in enumerate(self.members):
            if progress:
                progress(done, 2 * len(self.members), f"stack: fitting {name} on the hold-out's training part")
            model = base.create(name, **self.member_params.get(name, {})).fit(inner_train)
            predictions[name] = online_predictions(model, split)  # the history as stored, as the pipeline does
        self.blend_ = self.fit_on_holdout(predictions, split)[0]
        members = {}
        for done, name in enumerate(self.members):
            if progress:
                progress(len(self.members) + done, 2 * len(self.members), f"stack: fitting {name}")
            members[name] = base.create(name, **self.member_params.get(name, {})).fit(data)
        self.members_ = members
        return self

    @property
    def fitted_members(self) -> Mapping[str, base.Model]:
        """The fitted members by name, in the blend's order (read-only)."""
        return MappingProxyType(self._fitted()[0])

    def _fitted(self) -> tuple[dict[str, base.Model], Blend]:
        if self.members_ is None or self.blend_ is None:
            raise RuntimeError("the stack is not fitted")
        return self.members_, self.blend_

    def _members_used(self) -> list[base.Model | None]:
        """Each member, or None where the blend does not use it (``Blend.uses``): its prediction is not made, so
        a member that lost on the hold-out costs a served call nothing."""
        members, blend = self._fitted()
        return [model if blend.uses(k) else None for k, model in enumerate(members.values())]

    # -- predicting ------------------------------------------------------------------------------------------
    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """Every member's prediction of ``queries`` (with the same ``history``), blended row by row."""
        blend = self._fitted()[1]
        return combine(blend, [None if m is None else m.predict(queries, history=history)
                               for m in self._members_used()])

    def predict_sequence(self, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
        """Online predictions of ``rows`` (``ml.evaluate.SequentialPredictor``): each member's own (vectorised
        when it offers it, else one served call per row), blended row by row: what ``predict`` serves."""
        blend = self._fitted()[1]
        preds = [None if m is None
                 else m.predict_sequence(history, rows, sequential=sequential) if isinstance(m, SequentialPredictor)
                 else served_predictions(m, history, rows, sequential=sequential) for m in self._members_used()]
        return combine(blend, preds)

    def update_person(self, person: str, history: Responses) -> None:
        """Re-estimate one person in every member, used or not: erasure (``learning.erasure``) strips a student
        from every member that the stored blend carries."""
        for model in self._fitted()[0].values():
            model.update_person(person, history)

    def explain(self, person: str, item: str, *, topic: str | None = None, difficulty: str | None = None,
                order: float | None = None, history: Responses | None = None, label: str | None = None) -> Any:
        """The explanation of the member with the largest accuracy weight that explains, among the members the
        blend's P(correct) uses (a positive weight); else a sentence naming the blend (``generic``). Its numbers are
        that member's: a caller showing the blend's own says the member's ``reason`` after them
        (``ml.practice.explain.headed``)."""
        members, blend = self._fitted()
        ranked = sorted(zip(blend.accuracy[1:], members.values(), strict=True), key=lambda pair: -pair[0])
        for weight, model in ranked:
            if weight > 0 and isinstance(model, _Explains):  # a member the blend ignores explains nothing shown
                return model.explain(person, item, topic=topic, difficulty=difficulty, order=order,
                                     history=history, label=label)
        return _Sentence(f"A blend of {', '.join(members)} fitted on recent answers.", generic=True)

    # -- storage ---------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The blend's coefficients and each member's own serialisation (no pickle)."""
        members, blend = self._fitted()
        meta = {"model": self.name, "members": list(members), "penalties": list(blend.penalties),
                "alone": list(blend.alone)}
        arrays = {"accuracy": blend.accuracy, "time": blend.time, "spread": blend.spread}
        for k, model in enumerate(members.values()):
            arrays[f"member_{k}"] = np.frombuffer(model.to_bytes(), dtype=np.uint8)
        return pack(meta, arrays)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """Load a stack written by ``to_bytes``; CorruptModel on bad input (or an unreadable member)."""
        meta, arrays = unpack(blob)
        try:
            if meta.get("model") != cls.name:
                raise CorruptModel(f"not a {cls.name} model")
            names = [str(n) for n in meta["members"]]
            blend = Blend(accuracy=np.asarray(arrays["accuracy"], dtype=float),
                          time=np.asarray(arrays["time"], dtype=float),
                          spread=np.asarray(arrays["spread"], dtype=float),
                          penalties=(float(meta["penalties"][0]), float(meta["penalties"][1])),
                          alone=(int(meta["alone"][0]), int(meta["alone"][1])))
            if not (blend.n_members == len(names) == blend.time.size - 1 == blend.spread.size - 1):
                raise CorruptModel("the blend's coefficients do not match its members")
            members = {name: base.load(name, arrays[f"member_{k}"].tobytes()) for k, name in enumerate(names)}
        except (KeyError, IndexError, TypeError, ValueError, base.UnknownModel) as exc:
            if isinstance(exc, CorruptModel):
                raise
            raise CorruptModel(f"cannot read the stack: {exc}") from exc
        stack = cls(members=names)
        stack.members_ = members
        stack.blend_ = blend
        return stack
