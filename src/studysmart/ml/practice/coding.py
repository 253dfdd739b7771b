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

    def code(self, item: np.ndarray, topic: np.ndarray | None, level: np.ndarray | None) -> tuple[
            np.ndarray, np.ndarray, np.ndarray]:
        """Item, topic and level codes of rows given their labels; the row's own topic/level labels win over
        the fitted item's (as in the app, where the query names them), else the item's."""
        n = item.shape[0]
        new_items: dict[str, int] = {}
        new_topics: dict[str, int] = {}
        items = np.empty(n, dtype=np.int64)
        topics = np.empty(n, dtype=np.int64)
        levels = np.empty(n, dtype=np.int64)
        for r in range(n):
            label = str(item[r])
            k = self._items.get(label)
            if k is None:
                k = new_items.setdefault(label, self.n_items + len(new_items))
            items[r] = k
            t = clean_label(topic[r]) if topic is not None else None
            if t is None:
                topics[r] = self.item_topic[k] if k < self.n_items else -1
            else:
                code = self._topics.get(t)
                topics[r] = code if code is not None else new_topics.setdefault(t, self.n_topics + len(new_topics))
            d = clean_label(level[r]) if level is not None else None
            if d is None:
                levels[r] = self.item_level[k] if k < self.n_items else -1
            else:
                levels[r] = self._levels.get(d, -1)
        return items, topics, levels

    def code_responses(self, data: Responses) -> CodedRows:
        """Every row of ``data`` in model codes."""
        labels = data.items[data.item]
        items, topics, levels = self.code(labels, data.row_topic(), data.row_difficulty())
        order = np.full(len(data), np.nan) if data.order is None else np.asarray(data.order, dtype=np.float64)
        return CodedRows(data.persons[data.person].astype(object), items, topics, levels, data.correct,
                         data.log_time, order, row_weights(data))

    def code_queries(self, queries: Queries) -> CodedRows:
        """Every query row in model codes (no outcomes)."""
        n = len(queries)
        items, topics, levels = self.code(queries.item, queries.topic, queries.difficulty)
        order = np.full(n, np.nan) if queries.order is None else np.asarray(queries.order, dtype=np.float64)
        return CodedRows(queries.person.astype(object), items, topics, levels, np.full(n, np.nan),
                         np.full(n, np.nan), order, np.ones(n))
