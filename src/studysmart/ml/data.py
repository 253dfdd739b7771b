"""Columnar containers for responses (who answered what, correct or not, how long) and prediction queries.

Persons and items are coded as int32 indices into label arrays, so models work on dense NumPy arrays while
callers keep their own string identifiers. Missing values are NaN (correct and log_time are float64).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Queries", "Responses"]


def _labels(values: Sequence[object] | np.ndarray) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=object)


@dataclass(frozen=True)
class Queries:
    """Rows to predict: one (person, item) per row, with the item's features for cold start.

    Args:
        person: person labels (str), one per row.
        item: item labels (str), one per row.
        topic: optional topic label per row (used when the item is unknown to the model).
        difficulty: optional difficulty label per row ("easy", "medium", "hard" in the app).
        order: optional timestamp / position per row (seconds since epoch, or a sequence number).
    """

    person: np.ndarray
    item: np.ndarray
    topic: np.ndarray | None = None
    difficulty: np.ndarray | None = None
    order: np.ndarray | None = None

    @classmethod
    def from_columns(
        cls,
        person: Sequence[object],
        item: Sequence[object],
        topic: Sequence[object] | None = None,
        difficulty: Sequence[object] | None = None,
        order: Sequence[float] | None = None,
    ) -> Queries:
        """Build queries from plain sequences of labels."""
        return cls(
            person=_labels(person),
            item=_labels(item),
            topic=None if topic is None else _labels(topic),
            difficulty=None if difficulty is None else _labels(difficulty),
            order=None if order is None else np.asarray(order, dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.person.shape[0])


@dataclass(frozen=True)
class Responses:
    """Observed responses in long format.

    Row arrays (length n_rows): person, item (int32 codes), correct (1.0 / 0.0 / NaN), log_time (NaN = missing),
    order (optional float: timestamp or position, for temporal splits and sequence models).
    Label arrays: persons (n_persons), items (n_items). Item features (length n_items, optional):
    item_topic, item_difficulty. Person covariates: name -> array of length n_persons.
    """

    person: np.ndarray
    item: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    persons: np.ndarray
    items: np.ndarray
    order: np.ndarray | None = None
    item_topic: np.ndarray | None = None
    item_difficulty: np.ndarray | None = None
    person_covariates: dict[str, np.ndarray] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_columns(
        cls,
        person: Sequence[object],
        item: Sequence[object],
        correct: Sequence[float | None] | np.ndarray,
        seconds: Sequence[float | None] | np.ndarray,
        *,
        order: Sequence[float] | np.ndarray | None = None,
        topic: Sequence[object] | None = None,
        difficulty: Sequence[object] | None = None,
    ) -> Responses:
        """Build responses from per-row columns of labels, correctness and seconds.

        Seconds that are missing, NaN or <= 0 become missing log-times. Topic and difficulty are per row here
        and are stored per item (the first row of each item wins).
        """
        person_labels, person_codes = np.unique(_labels(person), return_inverse=True)
        item_labels, item_codes = np.unique(_labels(item), return_inverse=True)
        correct_arr = np.array([np.nan if c is None else float(c) for c in correct], dtype=np.float64)
        sec = np.array([np.nan if s is None else float(s) for s in seconds], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_time = np.where(sec > 0, np.log(np.where(sec > 0, sec, 1.0)), np.nan)
        n_items = item_labels.shape[0]

        def per_item(values: Sequence[object] | None) -> np.ndarray | None:
            if values is None:
                return None
            out = np.empty(n_items, dtype=object)
            labels = _labels(values)
            _, first = np.unique(item_codes, return_index=True)
            out[item_codes[first]] = labels[first]
            return out

        return cls(
            person=person_codes.astype(np.int32),
            item=item_codes.astype(np.int32),
            correct=correct_arr,
            log_time=log_time,
            persons=person_labels.astype(object),
            items=item_labels.astype(object),
            order=None if order is None else np.asarray(order, dtype=np.float64),
            item_topic=per_item(topic),
            item_difficulty=per_item(difficulty),
        )

    @classmethod
    def empty(cls) -> Responses:
        """No responses at all (a fresh app)."""
        return cls.from_columns([], [], [], [])

    # -- shape ----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.person.shape[0])

    @property
    def n_persons(self) -> int:
        return int(self.persons.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    # -- views ----------------------------------------------------------------------------------------------
    def subset(self, rows: np.ndarray) -> Responses:
        """The given rows (boolean mask or indices), keeping the same person and item vocabularies."""
        return replace(
            self,
            person=self.person[rows],
            item=self.item[rows],
            correct=self.correct[rows],
            log_time=self.log_time[rows],
            order=None if self.order is None else self.order[rows],
        )

    def row_topic(self) -> np.ndarray | None:
        """Topic label per row (None when the data has no topics)."""
        return None if self.item_topic is None else self.item_topic[self.item]

    def row_difficulty(self) -> np.ndarray | None:
        """Difficulty label per row (None when the data has no difficulties)."""
        return None if self.item_difficulty is None else self.item_difficulty[self.item]

    def to_queries(self, rows: np.ndarray | None = None) -> Queries:
        """Queries for the given rows (all rows by default), with labels and item features."""
        sub = self if rows is None else self.subset(rows)
        topic = sub.row_topic()
        difficulty = sub.row_difficulty()
        return Queries(
            person=sub.persons[sub.person],
            item=sub.items[sub.item],
            topic=topic,
            difficulty=difficulty,
            order=sub.order,
        )
