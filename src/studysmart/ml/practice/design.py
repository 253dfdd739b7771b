"""From practice features to the columns of the model's linear predictors, and their practice gains.

Each part of the model (accuracy on the logit scale, log-time) adds, per row,

    D(gap_topic) * [g_S log(1+S_t) + g_F log(1+F_t) + k_S zS log(1+S_t) + k_F zF log(1+F_t)]
  + D(gap_item)  * [h_S log(1+S_k) + h_F log(1+F_k)]
  + a_S log(1+S_all) + a_F log(1+F_all)

with D(gap) = (1 + gap / scale)^-delta the forgetting factor (delta >= 0 estimated per part), zS and zF the
mean hardness of the earlier correct and wrong answers on the topic (so k_S > 0: hard successes teach more
than easy ones), and g_S, g_F the topic's own slopes (pooled slope + the topic's deviation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studysmart.ml.practice.features import Features, decay

__all__ = ["N_COLUMNS", "TOPIC_SLOPES", "COLUMN_NAMES", "Columns", "columns", "linear", "linear_and_slope"]

COLUMN_NAMES = ("topic_correct", "topic_wrong", "topic_correct_hardness", "topic_wrong_hardness",
                "item_correct", "item_wrong", "all_correct", "all_wrong")
N_COLUMNS = len(COLUMN_NAMES)
#: The columns whose slopes vary by topic (deviations from the pooled slope).
TOPIC_SLOPES = (0, 1)
_TOPIC_BLOCK = slice(0, 4)
_ITEM_BLOCK = slice(4, 6)


@dataclass(frozen=True)
class Columns:
    """Undecayed columns (n, N_COLUMNS), the log-gap of each row's topic and item blocks, and the row's
    position in its topic, log(1 + earlier answers on the topic) (the items' group covariate, ``groups``)."""

    raw: np.ndarray
    log_gap_topic: np.ndarray
    log_gap_item: np.ndarray
    position: np.ndarray

    def __len__(self) -> int:
        return int(self.raw.shape[0])

    def take(self, rows: np.ndarray) -> Columns:
        """The given rows."""
        return Columns(self.raw[rows], self.log_gap_topic[rows], self.log_gap_item[rows], self.position[rows])


def columns(features: Features, scale: float) -> Columns:
    """The model's columns from raw practice features (gap unit ``scale``)."""
    ls, lf = np.log1p(features.topic_s), np.log1p(features.topic_f)
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = np.where(features.topic_s > 0, features.topic_zs / np.maximum(features.topic_s, 1e-12), 0.0)
        zf = np.where(features.topic_f > 0, features.topic_zf / np.maximum(features.topic_f, 1e-12), 0.0)
    raw = np.column_stack([ls, lf, zs * ls, zf * lf, np.log1p(features.item_s), np.log1p(features.item_f),
                           np.log1p(features.all_s), np.log1p(features.all_f)])
    return Columns(raw, np.log1p(np.maximum(features.topic_gap, 0.0) / scale),
                   np.log1p(np.maximum(features.item_gap, 0.0) / scale),
                   np.log1p(features.topic_s + features.topic_f))


def decayed(cols: Columns, delta: float) -> np.ndarray:
    """The columns with the topic and item blocks multiplied by their forgetting factors."""
    out = cols.raw.copy()
    out[:, _TOPIC_BLOCK] *= np.exp(-delta * cols.log_gap_topic)[:, None]
    out[:, _ITEM_BLOCK] *= np.exp(-delta * cols.log_gap_item)[:, None]
    return out


def linear(cols: Columns, weights: np.ndarray, delta: float, topic_slopes: np.ndarray | None = None,
           topic: np.ndarray | None = None) -> np.ndarray:
    """Per row: the practice term of the linear predictor (pooled weights plus the row's topic deviations)."""
    return linear_and_slope(cols, weights, delta, topic_slopes, topic)[0]


def linear_and_slope(cols: Columns, weights: np.ndarray, delta: float, topic_slopes: np.ndarray | None = None,
                     topic: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The practice term, its derivative in delta, and the decayed columns.

    Args:
        cols: the rows' columns; weights: (N_COLUMNS,) pooled slopes; delta: forgetting rate.
        topic_slopes: (n_topics, len(TOPIC_SLOPES)) deviations, with ``topic`` the rows' topic codes (-1 = none).
    """
    x = decayed(cols, delta)
    w = np.broadcast_to(weights, x.shape).copy()
    if topic_slopes is not None and topic is not None and topic_slopes.size:
        known = topic >= 0
        for j, col in enumerate(TOPIC_SLOPES):
            w[known, col] += topic_slopes[topic[known], j]
    term = np.einsum("ij,ij->i", x, w)
    topic_part = np.einsum("ij,ij->i", x[:, _TOPIC_BLOCK], w[:, _TOPIC_BLOCK])
    item_part = np.einsum("ij,ij->i", x[:, _ITEM_BLOCK], w[:, _ITEM_BLOCK])
    slope = -(cols.log_gap_topic * topic_part + cols.log_gap_item * item_part)
    return term, slope, x
