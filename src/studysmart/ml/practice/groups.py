"""The prior of an item parameter from the item's group: intercept + topic effect + difficulty effect.

Item parameters x_k (an item's logit easiness, or its mean log-time) are modelled as

    x_k = intercept + topic_t(k) + level_d(k) + slope * z_k + e_k,
    topic_t ~ N(0, sd_topic^2),  e_k ~ N(0, sd_item^2)

where z_k is where the item sits in students' sequences: the mean of log(1 + answers the student gave before
it), centred (curricula and tests tend to bring harder, slower items later; the slope is ~0 where they do not).
A new item's z is known when it is asked: log(1 + the student's answers so far).

with each item one observation (so a topic known from two items is not certain because those items have many
answers). The spreads are estimated by EM from the items' posterior means and variances. A new item of a known
topic is priced at its group's mean with the variance sd_item^2 + Var(topic_t); of a new topic, with
sd_item^2 + sd_topic^2: the group's own uncertainty is integrated out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GroupPrior", "fit_groups"]

_LEVEL_VAR = 1.0  # prior variance of a difficulty level's effect (few levels: nearly free)
_MIN_VAR = 1e-4


@dataclass
class GroupPrior:
    """Fitted group structure of one item parameter (codes: topic 0..T-1, level 0..D-1; -1 = unknown)."""

    intercept: float
    topic_effect: np.ndarray
    topic_var: np.ndarray
    level_effect: np.ndarray
    level_var: np.ndarray
    sd_topic2: float
    sd_item2: float
    slope: float = 0.0
    slope_var: float = 0.0
    z_mean: float = 0.0

    def mean(self, topic: np.ndarray, level: np.ndarray, z: np.ndarray | float | None = None) -> np.ndarray:
        """The prior mean of items of these (topic, level) codes at sequence position ``z`` (None: average)."""
        t = np.where(topic >= 0, self.topic_effect[np.maximum(topic, 0)] if self.topic_effect.size else 0.0, 0.0)
        d = np.where(level >= 0, self.level_effect[np.maximum(level, 0)] if self.level_effect.size else 0.0, 0.0)
        shift = 0.0 if z is None else self.slope * (np.asarray(z) - self.z_mean)
        return self.intercept + t + d + shift

    def group_var(self, topic: np.ndarray, level: np.ndarray) -> np.ndarray:
        """The uncertainty of the group mean (a new topic: the spread of topics)."""
        t = np.where(topic >= 0, self.topic_var[np.maximum(topic, 0)] if self.topic_var.size else 0.0,
                     self.sd_topic2)
        d = np.where(level >= 0, self.level_var[np.maximum(level, 0)] if self.level_var.size else 0.0, 0.0)
        return t + d

    def new_item_var(self, topic: np.ndarray, level: np.ndarray, z: np.ndarray | float | None = None,
                     ) -> np.ndarray:
        """The variance of a new item's parameter: its group's uncertainty plus the spread of items."""
        slope = 0.0 if z is None else self.slope_var * (np.asarray(z) - self.z_mean) ** 2
        return self.sd_item2 + self.group_var(topic, level) + slope


def fit_groups(x: np.ndarray, v: np.ndarray, topic: np.ndarray, level: np.ndarray, n_topics: int,
               n_levels: int, *, z: np.ndarray | None = None, previous: GroupPrior | None = None,
               iterations: int = 10) -> GroupPrior:
    """Estimate the group prior from item estimates ``x`` with posterior variances ``v``.

    Args:
        x, v: per item (only items with data); topic, level: their codes (-1 = none); z: their sequence
            positions (None: no position term).
        n_topics, n_levels: number of topic and level codes.
        previous: a starting point (the last sweep's prior).
    """
    if x.size == 0:
        return previous or GroupPrior(0.0, np.zeros(n_topics), np.zeros(n_topics), np.zeros(n_levels),
                                      np.zeros(n_levels), 1.0, 1.0)
    prior = previous or GroupPrior(float(np.mean(x)), np.zeros(n_topics), np.zeros(n_topics),
                                   np.zeros(n_levels), np.zeros(n_levels), 0.5 * float(np.var(x)) + _MIN_VAR,
                                   0.5 * float(np.var(x)) + _MIN_VAR)
    has_t, has_d = topic >= 0, level >= 0
    tc, dc = np.maximum(topic, 0), np.maximum(level, 0)
    n_t = np.bincount(tc[has_t], minlength=n_topics).astype(float)
    n_d = np.bincount(dc[has_d], minlength=n_levels).astype(float)
    te, de = prior.topic_effect.copy(), prior.level_effect.copy()
    sd_t2, sd_i2 = prior.sd_topic2, prior.sd_item2
    tv, dv = prior.topic_var.copy(), prior.level_var.copy()
    intercept = prior.intercept
    z_mean = float(np.mean(z)) if z is not None and z.size else 0.0
    zc = np.zeros_like(x) if z is None else z - z_mean
    slope, slope_var = prior.slope, prior.slope_var
    zz = float(np.sum(zc**2))
    for _ in range(iterations):
        t_part = np.where(has_t, te[tc], 0.0) if n_topics else np.zeros_like(x)
        d_part = np.where(has_d, de[dc], 0.0) if n_levels else np.zeros_like(x)
        if z is not None and zz > 0:
            slope_var = 1.0 / (zz / sd_i2 + 1.0 / _LEVEL_VAR)
            slope = float(np.sum(zc * (x - intercept - t_part - d_part)) / sd_i2 * slope_var)
        s_part = slope * zc
        intercept = float(np.mean(x - t_part - d_part - s_part))
        if n_levels:
            r = x - intercept - t_part - s_part
            dv = 1.0 / (n_d / sd_i2 + 1.0 / _LEVEL_VAR)
            de = np.bincount(dc[has_d], r[has_d], n_levels) / sd_i2 * dv
            d_part = np.where(has_d, de[dc], 0.0)
        if n_topics:
            r = x - intercept - d_part - s_part
            tv = 1.0 / (n_t / sd_i2 + 1.0 / sd_t2)
            te = np.bincount(tc[has_t], r[has_t], n_topics) / sd_i2 * tv
            t_part = np.where(has_t, te[tc], 0.0)
            seen = n_t > 0
            sd_t2 = float(np.mean(te[seen] ** 2 + tv[seen])) if seen.sum() >= 2 else sd_t2
            sd_t2 = max(sd_t2, _MIN_VAR)
        resid = x - intercept - t_part - d_part - s_part
        group_v = (np.where(has_t, tv[tc], 0.0) if n_topics else 0.0) + (
            np.where(has_d, dv[dc], 0.0) if n_levels else 0.0)
        sd_i2 = max(float(np.mean(resid**2 + v + group_v)), _MIN_VAR)
    return GroupPrior(intercept, te, tv, de, dv, sd_t2, sd_i2, slope, slope_var, z_mean)
