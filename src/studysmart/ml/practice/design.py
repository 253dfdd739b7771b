"""From practice features to the columns of the model's linear predictors, and their practice gains.

Each part of the model (accuracy on the logit scale, log-time) adds, per row,

    D(gap_topic) * [g_S log(1+S_t) + g_F log(1+F_t) + k_S zS log(1+S_t) + k_F zF log(1+F_t) + r_t last_t]
  + D(gap_item)  * [h_S log(1+S_k) + h_F log(1+F_k) + r_k last_k]
  + G_S log(1+S_t) + G_F log(1+F_t) + H_S log(1+S_k) + H_F log(1+F_k)
  + a_S log(1+S_all) + a_F log(1+F_all) + r_a last_all
  + e_g log(1 + gap_all / scale) + e_v speed_last + e_x speed_last last_all

with D(gap) = (1 + gap / scale)^-delta the forgetting factor (delta >= 0 estimated per part): the gain of a
practised topic is a part that fades with time away (g, h) plus a part that lasts (G, H; a short-term and a
long-term memory of practice, so a student back after a week is neither as practised as yesterday nor a
novice), zS and zF the
mean hardness of the earlier correct and wrong answers on the topic (so k_S > 0: hard successes teach more
than easy ones), last_* the outcome of the latest earlier answer in the scope (+1 / -1 / 0: recent performance
beyond the counts), gap_all the time since the student's latest answer (a new session), speed_last that
answer's standardised log-time (alone and with its outcome: a very fast wrong answer is often a guess or a
hint request), and g_S, g_F the topic's own slopes (pooled slope + the topic's deviation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studysmart.ml.practice import kernels
from studysmart.ml.practice.features import Features

__all__ = ["COLUMN_NAMES", "KEPT", "N_COLUMNS", "OPTIONAL_BLOCKS", "TOPIC_SLOPES", "Columns", "active_columns",
           "columns", "linear", "linear_and_slope"]

COLUMN_NAMES = ("topic_correct", "topic_wrong", "topic_correct_hardness", "topic_wrong_hardness", "topic_last",
                "item_correct", "item_wrong", "item_last", "all_correct", "all_wrong", "all_last", "session_gap",
                "last_speed", "last_speed_outcome", "topic_correct_kept", "topic_wrong_kept", "item_correct_kept",
                "item_wrong_kept")
N_COLUMNS = len(COLUMN_NAMES)
#: The columns whose slopes vary by topic (deviations from the pooled slope).
TOPIC_SLOPES = (0, 1)
_TOPIC_BLOCK = slice(0, 5)
_ITEM_BLOCK = slice(5, 8)
_GENERAL = slice(8, 18)  # not decayed: overall practice, session and recent-speed terms, the lasting gains
#: The lasting part of each practice gain: (its column, the fading column it copies).
KEPT = ((14, 0), (15, 1), (16, 5), (17, 6))
#: Auxiliary blocks of columns that the fit keeps only where they predict the inner hold-out (``model``): the
#: topic and item practice blocks are the model of learning and always stay.
OPTIONAL_BLOCKS = {"overall_practice": (8, 9), "last_outcome": (10,), "session_gap": (11,),
                   "last_speed": (12, 13)}


def active_columns(dropped: list[str] | tuple[str, ...]) -> np.ndarray:
    """The mask of columns in use when the named optional blocks are dropped."""
    active = np.ones(N_COLUMNS, dtype=bool)
    for name in dropped:
        active[list(OPTIONAL_BLOCKS[name])] = False
    return active


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
        return Columns(np.ascontiguousarray(self.raw[rows]), self.log_gap_topic[rows], self.log_gap_item[rows],
                       self.position[rows])


def columns(features: Features, scale: float) -> Columns:
    """The model's columns from raw practice features (gap unit ``scale``)."""
    ls, lf = np.log1p(features.topic_s), np.log1p(features.topic_f)
    with np.errstate(invalid="ignore", divide="ignore"):
        zs = np.where(features.topic_s > 0, features.topic_zs / np.maximum(features.topic_s, 1e-12), 0.0)
        zf = np.where(features.topic_f > 0, features.topic_zf / np.maximum(features.topic_f, 1e-12), 0.0)
    item_s, item_f = np.log1p(features.item_s), np.log1p(features.item_f)
    raw = np.ascontiguousarray(np.column_stack([
        ls, lf, zs * ls, zf * lf, features.topic_last, item_s, item_f, features.item_last,
        np.log1p(features.all_s), np.log1p(features.all_f), features.all_last,
        np.log1p(np.maximum(features.all_gap, 0.0) / scale), features.last_speed,
        features.last_speed * features.all_last, ls, lf, item_s, item_f,
    ]))  # fmt: skip
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
    return _terms(cols, weights, delta, topic_slopes, topic)[0]


def _terms(cols: Columns, weights: np.ndarray, delta: float, topic_slopes: np.ndarray | None,
           topic: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(term, topic part, item part, topic decay, item decay) per row."""
    raw = cols.raw
    w = np.ascontiguousarray(weights, dtype=np.float64)
    topic_part = kernels.matvec(raw, w, _TOPIC_BLOCK.start, _TOPIC_BLOCK.stop)
    if topic_slopes is not None and topic is not None and topic_slopes.size:
        known = topic >= 0
        t = np.where(known, topic, 0)
        for j, col in enumerate(TOPIC_SLOPES):
            topic_part = topic_part + np.where(known, topic_slopes[t, j], 0.0) * raw[:, col]
    item_part = kernels.matvec(raw, w, _ITEM_BLOCK.start, _ITEM_BLOCK.stop)
    general = kernels.matvec(raw, w, _GENERAL.start, _GENERAL.stop)
    d_topic, d_item = np.exp(-delta * cols.log_gap_topic), np.exp(-delta * cols.log_gap_item)
    return d_topic * topic_part + d_item * item_part + general, topic_part, item_part, d_topic, d_item


def linear_and_slope(cols: Columns, weights: np.ndarray, delta: float, topic_slopes: np.ndarray | None = None,
                     topic: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The practice term, its derivative in delta, and the decayed columns.

    Args:
        cols: the rows' columns; weights: (N_COLUMNS,) pooled slopes; delta: forgetting rate.
        topic_slopes: (n_topics, len(TOPIC_SLOPES)) deviations, with ``topic`` the rows' topic codes (-1 = none).
    """
    term, topic_part, item_part, d_topic, d_item = _terms(cols, weights, delta, topic_slopes, topic)
    slope = -(cols.log_gap_topic * d_topic * topic_part + cols.log_gap_item * d_item * item_part)
    x = cols.raw.copy()
    x[:, _TOPIC_BLOCK] *= d_topic[:, None]
    x[:, _ITEM_BLOCK] *= d_item[:, None]
    return term, slope, x
