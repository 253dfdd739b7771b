"""The reference bar of issue 13: the best of simple online predictors, per data set and metric.

    .venv/bin/python -m benchmarks.reference [--shared DIR] [--runs assistments,chess,junyi]
        [--out benchmarks/results/reference.json]

Each predictor sees, for a test row, only the person's earlier rows (training rows and earlier test rows by the
order column, as ``studysmart evaluate --mode online``); everything population-level (item and topic tables,
pseudo-counts, regression weights) comes from the training rows only. The simple predictors:

* ``running``: the student's running accuracy (k + m p0) / (n + m) and running mean log-time, m = 5;
* ``topic``: the topic's accuracy and mean log-time (training rows, 5 pseudo-answers at the population);
* ``person-topic``: the student's running accuracy and mean log-time on the topic, shrunk (m = 5) to their
  running ones;
* ``additive``: person + item additive fits, logit P = theta_i + b_k (ridge MAP, theta ~ N(0, 0.5)) and
  log T = tau_i + lambda_k; item effects from the training rows (a new item takes the mean item), the student's
  theta_i and tau_i re-estimated from their earlier rows before each answer;
* ``combined``: a logistic regression of correctness and a linear regression of log-time on all of the above
  plus log(1 + answers so far), stacked on a temporal hold-out of the training rows (their last 20% per person,
  predicted from the rest), then applied to the predictors fitted on all training rows.

The reference of a data set is the best of these on each metric (log loss, RMSE of log-time) separately.
On CredentialForm1 the reference is the R package LNIRT (``../shared/peers/lnirt/r_metrics.txt``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from benchmarks.models import RUNS, Run, make_split
from benchmarks.paths import RESULTS, SHARED
from studysmart.ml.data import Responses
from studysmart.ml.evaluate import Split, split_temporal
from studysmart.ml.metrics import auc, ece, log_loss, rmse_log_time

#: The issue's table: (reference log loss, reference RMSE of log-time) per run, as measured by the lead.
ISSUE_REFERENCE = {
    "credential-heldout": (0.5013, 0.5070),
    "assistments": (0.6439, 1.2682),
    "chess": (0.6355, 0.5628),
    "junyi": (0.4039, 0.7776),
}
PSEUDO = 5.0
THETA_VAR = 0.5
ITEM_VAR = 1.0


@dataclass(frozen=True)
class Sequence:
    """Train and test rows in one time line: per row its person, topic code, outcome and log-time, sorted by
    person, then order, then position; ``is_test`` marks the test rows and ``row`` their index in their part."""

    person: np.ndarray
    topic: np.ndarray
    item: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    is_test: np.ndarray
    row: np.ndarray


def sequence(split: Split) -> Sequence:
    """The combined, time-ordered sequence of ``split`` (rows without an order come first)."""
    train, test = split.train, split.test

    def order(part: Responses) -> np.ndarray:
        return np.zeros(len(part)) if part.order is None else np.nan_to_num(part.order, nan=-np.inf)

    def topics(part: Responses) -> np.ndarray:
        return np.zeros(len(part), dtype=object) if part.item_topic is None else part.item_topic[part.item]

    _, topic = np.unique(np.concatenate([topics(train), topics(test)]).astype(str), return_inverse=True)
    person = np.concatenate([train.person, test.person])
    when = np.concatenate([order(train), order(test)])
    is_test = np.r_[np.zeros(len(train), bool), np.ones(len(test), bool)]
    row = np.r_[np.arange(len(train)), np.arange(len(test))]
    idx = np.lexsort((is_test, np.arange(person.size), when, person))
    return Sequence(person[idx], topic[idx], np.concatenate([train.item, test.item])[idx],
                    np.concatenate([train.correct, test.correct])[idx],
                    np.concatenate([train.log_time, test.log_time])[idx], is_test[idx], row[idx])


def before(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``values`` over the earlier rows with the same ``key`` (rows sorted by time within
    key, keys possibly interleaved)."""
    out = np.zeros(key.size)
    idx = np.argsort(key, kind="stable")
    k, v = key[idx], values[idx]
    total = np.cumsum(v) - v
    first = np.r_[True, k[1:] != k[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(k.size), 0))
    out[idx] = total - total[start]
    return out


def running(seq: Sequence, key: np.ndarray) -> dict[str, np.ndarray]:
    """Counts and sums of the earlier rows of each row's key: n, k (correct), nt, s (log-times)."""
    c, t = ~np.isnan(seq.correct), ~np.isnan(seq.log_time)
    return {"n": before(key, c * 1.0), "k": before(key, np.where(c, seq.correct, 0.0)),
            "nt": before(key, t * 1.0), "s": before(key, np.where(t, seq.log_time, 0.0))}


def additive_items(seq: Sequence) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Item effects b (logit) and lambda (log-time) of the additive fits on the training rows; unanswered
    items take the mean item. Returns (b per item code, lambda per item code, population logit, mean lt)."""
    train = ~seq.is_test
    n_items = int(seq.item.max()) + 1
    c = train & ~np.isnan(seq.correct)
    persons, items, y = seq.person[c], seq.item[c], seq.correct[c]
    n_persons = int(seq.person.max()) + 1
    b0 = float(logit(np.clip(y.mean(), 1e-3, 1 - 1e-3)))
    theta, b = np.zeros(n_persons), np.full(n_items, b0)
    for _ in range(50):
        p = expit(theta[persons] + b[items])
        theta += ((np.bincount(persons, y - p, n_persons) - theta / THETA_VAR)
                  / (np.bincount(persons, p * (1 - p), n_persons) + 1 / THETA_VAR))
        p = expit(theta[persons] + b[items])
        b += ((np.bincount(items, y - p, n_items) - (b - b0) / ITEM_VAR)
              / (np.bincount(items, p * (1 - p), n_items) + 1 / ITEM_VAR))
    seen = np.bincount(items, minlength=n_items) > 0
    b = np.where(seen, b, b[seen].mean() if seen.any() else b0)
    t = train & ~np.isnan(seq.log_time)
    persons, items, lt = seq.person[t], seq.item[t], seq.log_time[t]
    mu = float(lt.mean())
    tau, lam = np.zeros(n_persons), np.full(n_items, mu)
    for _ in range(30):
        tau = np.bincount(persons, lt - lam[items], n_persons) / (np.bincount(persons, minlength=n_persons) + 1)
        lam = (np.bincount(items, lt - tau[persons], n_items) + mu) / (np.bincount(items, minlength=n_items) + 1)
    seen = np.bincount(items, minlength=n_items) > 0
    lam = np.where(seen, lam, lam[seen].mean() if seen.any() else mu)
    return b, lam, b0, mu


def additive_online(seq: Sequence, b: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the additive logit and mean log-time with the person's theta and tau from their earlier rows."""
    eta, mean = np.empty(seq.person.size), np.empty(seq.person.size)
    bounds = np.flatnonzero(np.r_[True, seq.person[1:] != seq.person[:-1], True])
    for lo, hi in pairwise(bounds):
        theta = 0.0
        for r in range(lo, hi):
            rows = np.arange(lo, r)
            c = rows[~np.isnan(seq.correct[rows])]
            for _ in range(4):  # warm-started Newton steps of the MAP theta
                q = expit(theta + b[seq.item[c]])
                theta += (np.sum(seq.correct[c] - q) - theta / THETA_VAR) / (np.sum(q * (1 - q)) + 1 / THETA_VAR)
            t = rows[~np.isnan(seq.log_time[rows])]
            tau = np.sum(seq.log_time[t] - lam[seq.item[t]]) / (t.size + 1)
            eta[r], mean[r] = theta + b[seq.item[r]], tau + lam[seq.item[r]]
    return eta, mean


def predictors(split: Split) -> tuple[Sequence, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every simple predictor's (P(correct), mean log-time) on every row of the combined sequence; the
    ``combined`` regressions are fitted on a temporal hold-out of the training rows (the last 20% of each
    person's), with the simple predictors computed from the rest, so their weights are not fitted in-sample."""
    seq, out = simple_predictors(split)
    inner = split_temporal(split.train) if split.train.order is not None else None
    if inner is not None and len(inner.test):
        inner_seq, inner_out = simple_predictors(inner)
        w, beta, ranges = combination(inner_seq, inner_out)
        out["combined"] = combine(seq, out, w, beta, ranges)
    return seq, out


def simple_predictors(split: Split) -> tuple[Sequence, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The simple predictors (all but ``combined``) on every row of the combined sequence of ``split``."""
    seq = sequence(split)
    train = ~seq.is_test
    p0 = float(np.nanmean(seq.correct[train]))
    mu0 = float(np.nanmean(seq.log_time[train]))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    own = running(seq, seq.person)
    p_run = (own["k"] + PSEUDO * p0) / (own["n"] + PSEUDO)
    mu_run = (own["s"] + PSEUDO * mu0) / (own["nt"] + PSEUDO)
    out["running"] = (p_run, mu_run)
    n_topics = int(seq.topic.max()) + 1
    c, t = train & ~np.isnan(seq.correct), train & ~np.isnan(seq.log_time)
    topic_p = (np.bincount(seq.topic[c], seq.correct[c], n_topics) + PSEUDO * p0) / (
        np.bincount(seq.topic[c], minlength=n_topics) + PSEUDO)
    topic_mu = (np.bincount(seq.topic[t], seq.log_time[t], n_topics) + PSEUDO * mu0) / (
        np.bincount(seq.topic[t], minlength=n_topics) + PSEUDO)
    out["topic"] = (topic_p[seq.topic], topic_mu[seq.topic])
    cell = running(seq, seq.person.astype(np.int64) * n_topics + seq.topic)
    out["person-topic"] = ((cell["k"] + PSEUDO * p_run) / (cell["n"] + PSEUDO),
                           (cell["s"] + PSEUDO * mu_run) / (cell["nt"] + PSEUDO))
    b, lam, _, _ = additive_items(seq)
    eta, mean = additive_online(seq, b, lam)
    out["additive"] = (expit(eta), mean)
    return seq, out


_COMBINED = ("running", "topic", "person-topic", "additive")


def _features(seq: Sequence, simple: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    eps = 1e-4
    own = running(seq, seq.person)
    x_p = np.column_stack([np.ones(seq.person.size), np.log1p(own["n"]),
                           *(logit(np.clip(simple[n][0], eps, 1 - eps)) for n in _COMBINED)])
    x_t = np.column_stack([np.ones(seq.person.size), np.log1p(own["nt"]), *(simple[n][1] for n in _COMBINED)])
    return x_p, x_t


def combine(seq: Sequence, simple: dict[str, tuple[np.ndarray, np.ndarray]], w: np.ndarray,
            beta: np.ndarray, ranges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
            ) -> tuple[np.ndarray, np.ndarray]:
    """The combined predictions with regression weights ``w`` (logit) and ``beta`` (log-time), each predictor
    clipped to the range it had where the weights were fitted (no extrapolation)."""
    x_p, x_t = _features(seq, simple)
    lo_p, hi_p, lo_t, hi_t = ranges
    return expit(np.clip(x_p, lo_p, hi_p) @ w), np.clip(x_t, lo_t, hi_t) @ beta


#: Ridge penalty of the combined regressions, on standardised predictors (the simple predictors are
#: strongly collinear; on chess, where every answer's count is its position, an unpenalised fit extrapolates).
RIDGE = 10.0


def combination(seq: Sequence, simple: dict[str, tuple[np.ndarray, np.ndarray]],
                ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Regression weights of the combined predictor, fitted on the test rows of ``seq`` (an inner hold-out):
    ridge regressions (penalty RIDGE) on the standardised predictors, returned on their original scale, and
    the range of each predictor on those rows."""
    x_p, x_t = _features(seq, simple)
    fit = seq.is_test
    c = fit & ~np.isnan(seq.correct)
    t = fit & ~np.isnan(seq.log_time)

    def scaled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centre = np.r_[0.0, x[:, 1:].mean(axis=0)]
        scale = np.r_[1.0, np.maximum(x[:, 1:].std(axis=0), 1e-9)]
        return (x - centre) / scale, centre, scale

    def unscale(coef: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
        out = coef / scale
        out[0] = coef[0] - np.sum(out[1:] * centre[1:])
        return out

    penalty = RIDGE * np.r_[0.0, np.ones(x_p.shape[1] - 1)]
    z, centre, scale = scaled(x_p[c])
    w = np.zeros(x_p.shape[1])
    for _ in range(30):  # Newton steps of the ridged logistic regression
        q = expit(z @ w)
        grad = z.T @ (seq.correct[c] - q) - penalty * w
        hess = (z * (q * (1 - q))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(w.size)
        w += np.linalg.solve(hess, grad)
    w = unscale(w, centre, scale)
    z, centre, scale = scaled(x_t[t])
    penalty = RIDGE * np.r_[0.0, np.ones(x_t.shape[1] - 1)]
    beta = np.linalg.solve(z.T @ z + np.diag(penalty) + 1e-9 * np.eye(z.shape[1]), z.T @ seq.log_time[t])
    ranges = (x_p[c].min(axis=0), x_p[c].max(axis=0), x_t[t].min(axis=0), x_t[t].max(axis=0))
    return w, unscale(beta, centre, scale), ranges


def reference(split: Split) -> dict[str, Any]:
    """Metrics of every simple predictor on the test rows and the reference (best log loss, best RMSE)."""
    seq, preds = predictors(split)
    test = seq.is_test
    y, lt = seq.correct[test], seq.log_time[test]
    rows: dict[str, dict[str, float]] = {}
    for name, (p, mu) in preds.items():
        rows[name] = {"log_loss": log_loss(p[test], y), "auc": auc(p[test], y), "ece": ece(p[test], y),
                      "rmse_log_time": rmse_log_time(mu[test], lt)}
    best_ll = min(rows, key=lambda n: rows[n]["log_loss"])
    best_rmse = min(rows, key=lambda n: rows[n]["rmse_log_time"])
    return {"predictors": rows, "log_loss": rows[best_ll]["log_loss"], "log_loss_by": best_ll,
            "rmse_log_time": rows[best_rmse]["rmse_log_time"], "rmse_log_time_by": best_rmse}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Compute the reference of each temporal run, compare with the issue's table, write JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--runs", default="assistments,chess,junyi")
    parser.add_argument("--out", type=Path, default=RESULTS / "reference.json")
    args = parser.parse_args(argv)
    wanted = [r.strip() for r in args.runs.split(",") if r.strip()]
    runs: list[Run] = [r for r in RUNS if r.name in wanted and r.split == "temporal"]
    out: dict[str, Any] = {"runs": {}}
    for run in runs:
        result = reference(make_split(run, args.shared))
        issue_ll, issue_rmse = ISSUE_REFERENCE[run.name]
        result["issue"] = {"log_loss": issue_ll, "rmse_log_time": issue_rmse}
        out["runs"][run.name] = result
        print(f"{run.name}: reference log_loss {result['log_loss']:.4f} ({result['log_loss_by']}; issue "
              f"{issue_ll:.4f}), rmse_log_time {result['rmse_log_time']:.4f} ({result['rmse_log_time_by']}; "
              f"issue {issue_rmse:.4f})")
        for name, row in result["predictors"].items():
            print(f"    {name:14s} " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
