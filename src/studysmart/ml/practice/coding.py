"""Vocabularies of the practice model and the coding of answers and queries into its integer codes.

Items, topics and difficulty levels are coded against the fitted vocabularies; an item or topic the model never
saw gets a code past the known ones (``n_items + j``, ``n_topics + j``), so a student's practice on it still
counts (same-item and same-topic features, a person x topic cell), while its parameters come from its group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studysmart.ml._shared import clean_label, index_of
from studysmart.ml.data import Queries, Responses

__all__ = ["CodedRows", "Vocab", "row_weights"]


def row_weights(data: Responses) -> np.ndarray:
    """Per-row weights of ``data`` (an optional ``weight`` column; missing = 1)."""
    weight = getattr(data, "weight", None)
    if weight is None:
        return np.ones(len(data))
    return np.nan_to_num(np.asarray(weight, dtype=np.float64), nan=1.0)


def _first_seen(labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct labels (as str) in order of first appearance, and each row's position among them."""
    seen: dict[str, int] = {}
    inverse = np.fromiter((seen.setdefault(str(v), len(seen)) for v in labels.tolist()), dtype=np.int64,
                          count=labels.shape[0])
    return list(seen), inverse


@dataclass(frozen=True)
class CodedRows:
    """Rows in model codes (-1: no topic / no level)."""

    person: np.ndarray  # labels (object), per row
    item: np.ndarray  # model item code, or >= n_items for an item it never saw
    topic: np.ndarray  # model topic code, >= n_topics for a new topic, -1 none
    level: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    order: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.item.shape[0])

    def take(self, rows: np.ndarray) -> CodedRows:
        """The given rows."""
        return CodedRows(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))


class Vocab:
    """Item, topic and level labels of a fitted model and the item -> (topic, level) map."""

    def __init__(self, items: np.ndarray, topics: np.ndarray, levels: np.ndarray, item_topic: np.ndarray,
                 item_level: np.ndarray) -> None:
        self.items, self.topics, self.levels = items, topics, levels
        self.item_topic, self.item_level = item_topic, item_level
        self._items, self._topics, self._levels = index_of(items), index_of(topics), index_of(levels)

    @classmethod
    def from_data(cls, data: Responses) -> Vocab:
        """The vocabularies of the items ``data`` has rows of (their topics and levels; missing labels are no
        topic/level). Items of the label vocabulary without any row are unknown to the model."""
        used = np.unique(data.item)
        n = used.size
        topics = np.full(n, None, dtype=object) if data.item_topic is None else data.item_topic[used]
        levels = np.full(n, None, dtype=object) if data.item_difficulty is None else data.item_difficulty[used]
        t_clean = [clean_label(t) for t in topics]
        l_clean = [clean_label(d) for d in levels]
        t_names = np.array(sorted({t for t in t_clean if t is not None}), dtype=object)
        l_names = np.array(sorted({d for d in l_clean if d is not None}), dtype=object)
        t_index, l_index = index_of(t_names), index_of(l_names)
        item_topic = np.array([-1 if t is None else t_index[t] for t in t_clean], dtype=np.int64)
        item_level = np.array([-1 if d is None else l_index[d] for d in l_clean], dtype=np.int64)
        return cls(data.items[used].astype(object), t_names, l_names, item_topic, item_level)

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    @property
    def n_topics(self) -> int:
        return int(self.topics.shape[0])

    @property
    def n_levels(self) -> int:
        return int(self.levels.shape[0])

    def code(self, item: np.ndarray, topic: np.ndarray | None, level: np.ndarray | None, *,
             new_items: dict[str, int] | None = None, new_topics: dict[str, int] | None = None,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Item, topic and level codes of rows given their labels; the row's own topic/level labels win over
        the fitted item's (as in the app, where the query names them), else the item's. New items and topics get
        codes past the known ones, in order of first appearance, continuing ``new_items`` / ``new_topics`` (label
        -> code, updated in place) when given, so rows coded in two calls agree."""
        new_items = {} if new_items is None else new_items
        new_topics = {} if new_topics is None else new_topics
        n = item.shape[0]
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        names, inverse = _first_seen(item)  # new codes follow the rows' order
        codes = np.fromiter((self._code_of(name, new_items) for name in names), dtype=np.int64, count=len(names))
        items = codes[inverse]
        known = items < self.n_items
        safe = np.where(known, items, 0)
        topics = np.where(known, self.item_topic[safe] if self.n_items else -1, -1)
        levels = np.where(known, self.item_level[safe] if self.n_items else -1, -1)
        if topic is not None:
            topics = self._override(topics, topic, self._topics, new_topics, self.n_topics)
        if level is not None:
            levels = self._override(levels, level, self._levels, None, self.n_levels)
        return items, topics.astype(np.int64), levels.astype(np.int64)

    def _code_of(self, name: str, new_items: dict[str, int]) -> int:
        """An item label's code (a new label: the next code past the known ones and ``new_items``)."""
        k = self._items.get(name)
        return k if k is not None else new_items.setdefault(name, self.n_items + len(new_items))

    @staticmethod
    def _override(codes: np.ndarray, labels: np.ndarray, index: dict[str, int], new: dict[str, int] | None,
                  n_known: int) -> np.ndarray:
        """Codes of the rows' own labels where they have one (new labels: past the known ones, or -1)."""
        out = codes.copy()
        values, inverse = _first_seen(labels)
        mapped = np.empty(len(values), dtype=np.int64)
        for u, value in enumerate(values):
            label = clean_label(value)
            if label is None:
                mapped[u] = -2  # keep the item's code
                continue
            code = index.get(label)
            if code is None:
                code = -1 if new is None else new.setdefault(label, n_known + len(new))
            mapped[u] = code
        row = mapped[inverse]
        return np.where(row == -2, out, row)

    def code_responses(self, data: Responses) -> CodedRows:
        """Every row of ``data`` in model codes."""
        labels = data.items[data.item]
        items, topics, levels = self.code(labels, data.row_topic(), data.row_difficulty())
        order = np.full(len(data), np.nan) if data.order is None else np.asarray(data.order, dtype=np.float64)
        return CodedRows(data.persons[data.person].astype(object), items, topics, levels, data.correct,
                         data.log_time, order, row_weights(data))

    def code_queries(self, queries: Queries, *, new_items: dict[str, int] | None = None,
                     new_topics: dict[str, int] | None = None) -> CodedRows:
        """Every query row in model codes (no outcomes); see ``code`` for the new-label maps."""
        n = len(queries)
        items, topics, levels = self.code(queries.item, queries.topic, queries.difficulty, new_items=new_items,
                                          new_topics=new_topics)
        order = np.full(n, np.nan) if queries.order is None else np.asarray(queries.order, dtype=np.float64)
        return CodedRows(queries.person.astype(object), items, topics, levels, np.full(n, np.nan),
                         np.full(n, np.nan), order, np.ones(n))
