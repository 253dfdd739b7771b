"""LNIRT models behind the Model protocol: ``lnirt-gibbs`` (the full sampler) and ``lnirt`` (the fast one).

Both estimate van der Linden's joint model of accuracy and speed exactly as the R package LNIRT defines it
(see ``gibbs``): ``LNIRTGibbs`` runs R's 2,000 iterations; ``LNIRT``, the estimator the app serves,
runs a chain sized to the data (R's 2,000 iterations on app-sized data, down to 300 on large data sets) from
a moment-based start (or, with ``warm_start``, from its previous fit), which reaches the same held-out
accuracy in a fraction of the time, with a pooled prior of the residual variances that keeps
intervals calibrated on sparse data. Predictions average over parameter uncertainty
(``predictive``); unknown items are priced from their topic/difficulty group, unknown persons from the
population N2(mu_P, Sigma_P), and a student's history updates their (theta, zeta) online in milliseconds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np

from studysmart.ml._shared import index_of, lookup
from studysmart.ml.base import (
    SOURCE_ITEM_PRIOR,
    SOURCE_MODEL,
    SOURCE_POPULATION_PRIOR,
    CorruptModel,
    Prediction,
    Progress,
    pack,
    unpack,
)
from studysmart.ml.data import Queries, Responses
from studysmart.ml.lnirt.predictive import ItemGroups, PersonEstimate, person_posterior, predictive
from studysmart.ml.memo import derived, forget
from studysmart.ml.robust import person_weights

if TYPE_CHECKING:  # the sampler (and numba) is imported by fit() only: serving predictions never needs it
    from studysmart.ml.lnirt.gibbs import Cells, GibbsState

Backend = Literal["numba", "numpy"]

__all__ = ["LNIRT", "LNIRTGibbs"]

_FORMAT = 1
SIGMA2_DF_DEFAULT = 4.0  # pseudo-observations of the pooled residual-variance prior of ``lnirt``
#: ``lnirt``'s chain length when not given: this many cell-iterations (about 2 s on one core), between
#: 300 iterations (CredentialForm1's 250,000 cells) and R's 2,000 (app-sized data, where a short chain's
#: Monte Carlo noise would cost more accuracy than the extra second costs time).
AUTO_CELL_ITERATIONS = 75_000_000
AUTO_ITERATIONS = (300, 2000)


def auto_iterations(n_cells: int) -> int:
    """The chain length ``lnirt`` runs on ``n_cells`` observed cells (see AUTO_CELL_ITERATIONS)."""
    low, high = AUTO_ITERATIONS
    return int(min(max(AUTO_CELL_ITERATIONS // max(n_cells, 1), low), high))
_ARRAYS = (
    "persons", "items", "theta", "zeta", "person_cov", "item_params", "item_cov", "sigma2",
    "mu_p", "sigma_p", "mu_i", "sigma_i",
)  # fmt: skip


def _labels(labels: np.ndarray) -> np.ndarray:
    return np.asarray([str(label) for label in labels], dtype=object)


class _LNIRTBase:
    """Shared fit / predict / online update / serialisation; subclasses set the chain's defaults."""

    name: ClassVar[str]

    def __init__(
        self,
        *,
        iterations: int | None,
        burn_in: float,
        seed: int | None = 0,
        warm_start: bool = False,
        group_strength: float = 1.0,
        backend: Backend = "numba",
        n_threads: int = 1,
        sigma2_df: float | None = None,
    ) -> None:
        self.iterations = iterations
        self.burn_in = burn_in
        self.seed = seed
        self.warm_start = warm_start
        self.group_strength = group_strength
        self.backend = backend
        self.n_threads = n_threads
        self.sigma2_df = sigma2_df

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters (as passed to ``__init__``)."""
        return {
            "iterations": self.iterations, "burn_in": self.burn_in, "seed": self.seed,
            "warm_start": self.warm_start, "group_strength": self.group_strength, "backend": self.backend,
            "n_threads": self.n_threads, "sigma2_df": self.sigma2_df,
        }  # fmt: skip

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Run the Gibbs sampler on all observed cells of ``data`` and keep posterior means and sds.

        Persons and items of the vocabulary without any observed cell are left out: predictions for them come
        from the priors (and say so in their source). Row weights (``data.weight``) temper each cell's
        likelihood in the item conditionals, and each person's weight in the population of students is the
        share of their rows' weight kept (``robust.person_weights``; see ``gibbs.Cells``).

        Args:
            data: responses (NaN correct or log-time = missing; both missing = row ignored).
            progress: optional progress(done, total, message) callback.

        Returns:
            self, fitted.
        """
        from studysmart.ml.lnirt.gibbs import prepare_cells, run_gibbs

        forget(self)
        rows = np.flatnonzero(~(np.isnan(data.correct) & np.isnan(data.log_time)))
        if rows.size == 0:
            raise ValueError(f"{self.name} needs at least one observed response or time to fit")
        persons, person_code = np.unique(data.person[rows], return_inverse=True)
        items, item_code = np.unique(data.item[rows], return_inverse=True)
        weighted = data.weight is not None
        cells = prepare_cells(person_code, item_code, data.correct[rows], data.log_time[rows],
                              n_persons=persons.size, n_items=items.size,
                              weight=data.weight[rows] if data.weight is not None else None,
                              person_weight=person_weights(data)[persons] if weighted else None)
        person_labels, item_labels = data.persons[persons], data.items[items]
        init = None
        if self.warm_start and hasattr(self, "theta_"):
            init = self._warm_state(person_labels, item_labels, cells)
        iterations = self.iterations if self.iterations is not None else auto_iterations(rows.size)
        post = run_gibbs(
            cells, iterations=iterations, burn_in=self.burn_in, seed=self.seed, init=init,
            progress=progress, backend=self.backend, n_threads=self.n_threads, sigma2_df=self.sigma2_df,
        )  # fmt: skip
        mean, sd = post.mean, post.sd
        self.persons_ = np.asarray(person_labels, dtype=object)
        self.items_ = np.asarray(item_labels, dtype=object)
        self.theta_, self.zeta_ = mean["theta"], mean["zeta"]
        self.person_cov_ = np.zeros((persons.size, 2, 2))
        self.person_cov_[:, 0, 0], self.person_cov_[:, 1, 1] = sd["theta"] ** 2, sd["zeta"] ** 2
        self.item_params_ = np.column_stack([mean["a"], mean["b"], mean["phi"], mean["lam"]])
        item_sd = np.column_stack([sd["a"], sd["b"], sd["phi"], sd["lam"]])
        self.item_cov_ = np.einsum("kj,jl->kjl", item_sd**2, np.eye(4))
        self.sigma2_ = mean["sigma2"]
        self.mu_p_, self.sigma_p_ = mean["mu_p"], mean["sigma_p"]
        self.mu_i_, self.sigma_i_ = mean["mu_i"], mean["sigma_i"]
        self.item_topic_ = None if data.item_topic is None else _labels(data.item_topic[items])
        self.item_difficulty_ = None if data.item_difficulty is None else _labels(data.item_difficulty[items])
        self._reset_caches()
        return self

    def _warm_state(self, persons: np.ndarray, items: np.ndarray, cells: Cells) -> GibbsState:
        """Start from the previous fit: known persons and items keep their estimates, new ones the moments."""
        from studysmart.ml.lnirt.gibbs import initial_state

        state = initial_state(cells, np.random.default_rng(self.seed))
        for new, old in enumerate(lookup(self._person_index, persons)):
            if old >= 0:
                state.theta[new], state.zeta[new] = self.theta_[old], self.zeta_[old]
        for new, old in enumerate(lookup(self._item_index, items)):
            if old >= 0:
                state.a[new], state.b[new], state.phi[new], state.lam[new] = self.item_params_[old]
                state.sigma2[new] = self.sigma2_[old]
        state.mu_p, state.sigma_p = self.mu_p_.copy(), self.sigma_p_.copy()
        state.mu_i, state.sigma_i = self.mu_i_.copy(), self.sigma_i_.copy()
        return state

    # -- lookups -------------------------------------------------------------------------------------------
    def _reset_caches(self) -> None:
        self._person_index = index_of(self.persons_)
        self._item_index = index_of(self.items_)
        self._groups: ItemGroups | None = None

    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise RuntimeError(f"{self.name} is not fitted; call fit() first")

    def _item_groups(self) -> ItemGroups:
        if self._groups is None:
            self._groups = ItemGroups(
                self.item_params_, self.sigma2_, self.item_topic_, self.item_difficulty_, self.sigma_i_,
                strength=self.group_strength,
            )  # fmt: skip
        return self._groups

    def _items_for(
        self, labels: np.ndarray, topic: np.ndarray | None, difficulty: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Item mean (n, 4), covariance (n, 4, 4), sigma2 (n,) and a known-item mask for item labels."""
        idx = lookup(self._item_index, labels)
        known = idx >= 0
        mean = np.empty((len(labels), 4))
        cov = np.empty((len(labels), 4, 4))
        sigma2 = np.empty(len(labels))
        rows = idx[known]
        mean[known], cov[known] = self.item_params_[rows], self.item_cov_[rows]
        sigma2[known] = self.sigma2_[rows]
        if not known.all():
            unknown = ~known
            prior = self._item_groups().prior(
                None if topic is None else topic[unknown],
                None if difficulty is None else difficulty[unknown],
                int(unknown.sum()),
            )
            mean[unknown], cov[unknown], sigma2[unknown] = prior.mean, prior.cov, prior.sigma2
        return mean, cov, sigma2, known

    def _estimate_persons(self, history: Responses) -> dict[str, PersonEstimate]:
        """Online estimates of every person with rows in ``history`` (fixed item parameters)."""
        if len(history) == 0:
            return {}
        return derived(self, history, "lnirt.persons", lambda: self._posteriors(history))

    def _posteriors(self, history: Responses) -> dict[str, PersonEstimate]:
        labels = history.items[history.item]
        mean, _, sigma2, _ = self._items_for(labels, history.row_topic(), history.row_difficulty())
        order = np.argsort(history.person, kind="stable")
        codes, starts = np.unique(history.person[order], return_index=True)
        bounds = np.append(starts, len(order))
        estimates = {}
        for code, lo, hi in zip(codes, bounds[:-1], bounds[1:], strict=True):
            rows = order[lo:hi]
            estimates[str(history.persons[code])] = person_posterior(
                mean[rows], sigma2[rows], history.correct[rows], history.log_time[rows],
                self.mu_p_, self.sigma_p_,
            )
        return estimates

    def ability(self, person: str, history: Responses | None = None) -> tuple[float, float]:
        """One student's ability theta and its posterior sd: from ``history`` (the online update) when it has
        their rows, else from the fit, else the population prior.

        Args:
            person: the person label.
            history: responses that include this person's (optional).

        Returns:
            (theta, sd of theta).
        """
        found = self._estimate_persons(history).get(person) if history is not None and len(history) else None
        if found is not None:
            return float(found.mean[0]), math.sqrt(max(float(found.cov[0, 0]), 0.0))
        known = np.flatnonzero(np.asarray(self.persons_, dtype=object) == person)
        if known.size:
            return float(self.theta_[known[0]]), math.sqrt(max(float(self.person_cov_[known[0], 0, 0]), 0.0))
        return float(self.mu_p_[0]), math.sqrt(max(float(self.sigma_p_[0, 0]), 0.0))

    # -- prediction ----------------------------------------------------------------------------------------
    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """P(correct) and the log-time distribution for every query row.

        Args:
            queries: person/item labels (with topic/difficulty to price unknown items).
            history: responses of some persons; their (theta, zeta) are re-estimated from it, for this call
                only (the model is not changed).

        Returns:
            Prediction with per-row source: "model" (person and item fitted or updated), "item-prior" (one of
            them from a prior), "population-prior" (neither known).
        """
        self._check_fitted()
        n = len(queries)
        idx = lookup(self._person_index, queries.person)
        known_p = idx >= 0
        theta = np.full(n, self.mu_p_[0])
        zeta = np.full(n, self.mu_p_[1])
        person_cov = np.tile(self.sigma_p_, (n, 1, 1))
        theta[known_p], zeta[known_p] = self.theta_[idx[known_p]], self.zeta_[idx[known_p]]
        person_cov[known_p] = self.person_cov_[idx[known_p]]
        if history is not None:
            for label, est in self._estimate_persons(history).items():
                rows = queries.person == label
                theta[rows], zeta[rows] = est.mean
                person_cov[rows] = est.cov
                known_p |= rows
        item_mean, item_cov, sigma2, known_i = self._items_for(
            queries.item, queries.topic, queries.difficulty
        )
        p, mean, sd = predictive(theta, zeta, person_cov, item_mean, item_cov, sigma2)
        one_known = np.where(known_p | known_i, SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR)
        source = np.where(known_p & known_i, SOURCE_MODEL, one_known).astype(object)
        return Prediction(p_correct=p, mean_log_time=mean, sd_log_time=sd, source=source)

    def predict_sequence(self, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
        """Online predictions of ``rows`` in one vectorised pass (``ml.evaluate.SequentialPredictor``): what
        ``predict`` serves each row from the person's earlier answers (``lnirt.sequence``)."""
        from studysmart.ml.lnirt.sequence import predict_sequence

        return predict_sequence(self, history, rows, sequential=sequential)

    def update_person(self, person: str, history: Responses) -> None:
        """Re-estimate one person's (theta, zeta) from their rows in ``history``, in place (adds new persons).

        Args:
            person: the person's label; history: responses (rows of other persons are ignored).
        """
        self._check_fitted()
        rows = np.flatnonzero(history.persons[history.person] == person) if len(history) else np.zeros(0, int)
        est = self._estimate_persons(history.subset(rows)).get(str(person))
        if est is None:  # no responses: the population prior
            est = PersonEstimate(mean=self.mu_p_.copy(), cov=self.sigma_p_.copy())
        i = self._person_index.get(str(person))
        if i is None:
            i = len(self.persons_)
            self.persons_ = np.append(self.persons_, np.asarray([str(person)], dtype=object))
            self.theta_, self.zeta_ = np.append(self.theta_, 0.0), np.append(self.zeta_, 0.0)
            self.person_cov_ = np.concatenate([self.person_cov_, np.zeros((1, 2, 2))])
            self._person_index[str(person)] = i
        self.theta_[i], self.zeta_[i] = est.mean
        self.person_cov_[i] = est.cov

    # -- serialisation -------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The fitted model as an ``.npz`` blob with a JSON header (no pickle)."""
        self._check_fitted()
        arrays = {name: getattr(self, f"{name}_") for name in _ARRAYS}
        if self.item_topic_ is not None:
            arrays["item_topic"] = self.item_topic_
        if self.item_difficulty_ is not None:
            arrays["item_difficulty"] = self.item_difficulty_
        return pack({"model": self.name, "format": _FORMAT, "params": self.get_params()}, arrays)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """Load a model written by ``to_bytes``; raises CorruptModel on truncated, corrupt or foreign data."""
        meta, arrays = unpack(blob)
        if meta.get("model") != cls.name or meta.get("format") != _FORMAT:
            raise CorruptModel(f"not a {cls.name} model (format {_FORMAT}): {meta.get('model')!r}")
        missing = [name for name in _ARRAYS if name not in arrays]
        if missing:
            raise CorruptModel(f"{cls.name} model lacks arrays {missing}")
        try:
            model = cls(**meta["params"])
        except (TypeError, KeyError) as exc:
            raise CorruptModel(f"bad {cls.name} hyperparameters: {exc}") from exc
        n, k = arrays["persons"].shape[0], arrays["items"].shape[0]
        shapes = {
            "theta": (n,), "zeta": (n,), "person_cov": (n, 2, 2), "item_params": (k, 4),
            "item_cov": (k, 4, 4), "sigma2": (k,), "mu_p": (2,), "sigma_p": (2, 2), "mu_i": (4,),
            "sigma_i": (4, 4),
        }  # fmt: skip
        for name, shape in shapes.items():
            value = arrays[name]
            if value.shape != shape or value.dtype.kind != "f" or not np.all(np.isfinite(value)):
                raise CorruptModel(f"{cls.name} array {name}: {value.dtype} {value.shape}, expected {shape}")
        for name in _ARRAYS:
            value = arrays[name]
            setattr(model, f"{name}_", value if value.dtype == object else value.astype(np.float64))
        model.item_topic_ = arrays.get("item_topic")
        model.item_difficulty_ = arrays.get("item_difficulty")
        model._reset_caches()
        return model


class LNIRTGibbs(_LNIRTBase):
    """The full Gibbs sampler with R's defaults: 2,000 iterations, 10% burn-in, R's residual-variance prior.

    Args:
        iterations: chain length; burn_in: fraction discarded; seed: random seed.
        warm_start: start a refit from the previous estimates; group_strength: pseudo-count of the population
            in item-group priors; backend: "numba" (fused kernels) or "numpy" (reference);
        n_threads: threads for the sampler's cell passes (1 by default: training leaves a core to the web).
        sigma2_df: None = the R package's prior of the residual variances; a number = the pooled prior with
            that many pseudo-observations (``gibbs``).
    """

    name: ClassVar[str] = "lnirt-gibbs"

    def __init__(
        self,
        *,
        iterations: int = 2000,
        burn_in: float = 0.1,
        seed: int | None = 0,
        warm_start: bool = False,
        group_strength: float = 1.0,
        backend: Backend = "numba",
        n_threads: int = 1,
        sigma2_df: float | None = None,
    ) -> None:
        super().__init__(
            iterations=iterations, burn_in=burn_in, seed=seed, warm_start=warm_start,
            group_strength=group_strength, backend=backend, n_threads=n_threads, sigma2_df=sigma2_df,
        )  # fmt: skip


class LNIRT(_LNIRTBase):
    """The fast estimator the app serves: a chain sized to the data, from a moment-based or the last fit's start.

    Args: as ``LNIRTGibbs``, with defaults of ``auto_iterations`` (300 to 2,000 by data size; an int fixes
    the length), 30% burn-in and the pooled residual-variance prior (``sigma2_df`` = 4): R's prior makes the
    intervals far too wide when items have few times (held-out coverage80 0.94 instead of 0.80 on the
    ASSISTments sample); with hundreds of times per item, as in CredentialForm1, the two priors give the same
    numbers.
    """

    name: ClassVar[str] = "lnirt"

    def __init__(
        self,
        *,
        iterations: int | None = None,
        burn_in: float = 0.3,
        seed: int | None = 0,
        warm_start: bool = False,
        group_strength: float = 1.0,
        backend: Backend = "numba",
        n_threads: int = 1,
        sigma2_df: float | None = SIGMA2_DF_DEFAULT,
    ) -> None:
        super().__init__(
            iterations=iterations, burn_in=burn_in, seed=seed, warm_start=warm_start,
            group_strength=group_strength, backend=backend, n_threads=n_threads, sigma2_df=sigma2_df,
        )  # fmt: skip
