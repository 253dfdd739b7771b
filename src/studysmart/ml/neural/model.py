"""Neural sequence models of accuracy and time together: ``NeuralLSTM`` ("neural") and ``NeuralAttention``
("neural-attn").

One multi-task network (see ``nets``) reads a student's past responses in order and predicts, for the
next item, P(correct) and a Gaussian over log(seconds). The history is read at prediction time: the responses
stored at fit (or by ``update_person``), or those passed as ``predict(..., history=...)`` for one call, so
predictions follow the student's answers without retraining. The encoder state after each stored history is
cached, so one prediction is a few small matrix products.

Cold start: unknown persons, items, topics and difficulties map to learned "unknown" embeddings. Sources follow
the baselines: SOURCE_MODEL when the person has a history and the item (or its topic / difficulty) is known,
SOURCE_ITEM_PRIOR when the item is known or priced from its topic / difficulty but there is no history, and
SOURCE_POPULATION_PRIOR when nothing about the item is known.

torch is imported here (and in ``nets`` / ``train``, imported only from here), never by the registry.
Weights are stored as safetensors inside the ``base.pack`` blob, with vocabularies, hyperparameters and the
stored histories as JSON / arrays: no pickle.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Self

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "the neural models (neural, neural-attn) need PyTorch, which is not installed: "
        "pip install torch==2.13.0  (or: pip install 'studysmart[neural]')"
    ) from exc

from studysmart.ml.base import SOURCE_ITEM_PRIOR, SOURCE_MODEL, SOURCE_POPULATION_PRIOR, Prediction, Progress
from studysmart.ml.data import Queries, Responses
from studysmart.ml.neural.batches import Batch, build_batches, pad_windows
from studysmart.ml.neural.data import (
    TIMESTAMP_THRESHOLD,
    TOPIC_SMOOTHING,
    QueryRows,
    Seq,
    Vocab,
    encode_histories,
    item_statistics,
    mix_outputs,
    step_time_features,
    time_features,
)
from studysmart.ml.neural.explain import Explanation, explain
from studysmart.ml.neural.nets import MultiTaskNet
from studysmart.ml.neural.store import from_blob, to_blob
from studysmart.ml.neural.train import torch_session, train

__all__ = ["Explanation", "NeuralAttention", "NeuralLSTM", "NeuralModel"]

READ_CHUNK = 512  #: query rows per attention read


@dataclass
class _State:
    """A person's encoded history: the memory a query reads, the steps it sees, and summary numbers."""

    memory: torch.Tensor
    summary: np.ndarray
    steps: int
    length: int
    last_order: float


@dataclass
class _Raw:
    """Head outputs (n, 3) of query rows with their item / topic / difficulty codes, history lengths and (for
    attention) the weights over each row's memory slots (slot 0 = no history, slot k = the k-th answer read)."""

    out: np.ndarray
    item: np.ndarray
    topic: np.ndarray
    difficulty: np.ndarray
    length: np.ndarray
    weights: list[np.ndarray]


def _standardisation(data: Responses) -> tuple[float, float, float]:
    """Weighted mean and sd of log-time (the targets' standardisation) and P(correct) of the data."""
    weight = data.row_weight()
    timed = np.isfinite(data.log_time) & (weight > 0)
    times, w_t = data.log_time[timed], weight[timed]
    mean = float(np.average(times, weights=w_t)) if times.size else float(np.log(60.0))
    sd = float(max(np.sqrt(np.average((times - mean) ** 2, weights=w_t)), 0.05)) if times.size > 1 else 1.0
    answered = np.isfinite(data.correct) & (weight > 0)
    p = float(np.clip(np.average(data.correct[answered], weights=weight[answered]), 0.02, 0.98)) \
        if answered.any() else 0.7
    return mean, sd, p


class NeuralModel:
    """Embeddings + a history encoder + two heads (P(correct), log-time); the encoder is ``encoder``.

    Args:
        dim: embedding width of persons, items, topics, difficulties.
        hidden: width of the encoder and the shared trunk.
        n_heads: attention heads (attention encoder only).
        dropout: dropout rate in the encoder and trunk.
        id_dropout: share of person / item ids (half that of topics) replaced by "unknown" while training.
        person_prior: precision of the Gaussian prior on each person's embedding effects (logit, mean and
            log-variance of time); 0 = none. The history carries most of what is known about a person.
        epochs: maximum passes over the data.
        batch_size: sequences (windows) per batch.
        lr: Adam learning rate.
        weight_decay: L2 penalty (Adam's weight_decay).
        window: at most this many of a person's latest responses are read (longer histories train on windows).
        valid_fraction: share of each person's responses held out for early stopping.
        valid_split: which ones: "last" (latest), "random", or "auto" (last, unless those are mostly items
            without training targets, as in cross-sectional data where everyone answers in the same order).
        patience: epochs without validation improvement before stopping.
        max_seconds: time budget of fit, in seconds (training stops early; the best weights so far are kept).
        num_threads: torch threads during fit and predict (default 1, so a core stays free for serving).
        seed: random seed (same seed, data and settings -> identical model, unless the time budget stops it).
    """

    name: ClassVar[str] = "neural"
    encoder: ClassVar[str] = "lstm"

    def __init__(self, *, dim: int = 16, hidden: int = 32, n_heads: int = 2, dropout: float = 0.1,
                 id_dropout: float = 0.1, person_prior: float = 10.0, epochs: int = 30, batch_size: int = 32,
                 lr: float = 5e-3,
                 weight_decay: float = 1e-5, window: int = 150, valid_fraction: float = 0.1,
                 valid_split: str = "auto", patience: int = 3,
                 max_seconds: float = 100.0, num_threads: int = 1, seed: int = 0) -> None:
        self.dim = dim
        self.hidden = hidden
        self.n_heads = n_heads
        self.dropout = dropout
        self.id_dropout = id_dropout
        self.person_prior = person_prior
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.window = window
        self.valid_fraction = valid_fraction
        self.valid_split = valid_split
        self.patience = patience
        self.max_seconds = max_seconds
        self.num_threads = num_threads
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to ``__init__``."""
        return {name: getattr(self, name) for name in inspect.signature(type(self).__init__).parameters
                if name != "self"}

    # -- fitting ----------------------------------------------------------------------------------------------
    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Learn vocabularies, statistics and weights from ``data``; store every person's history.

        Args:
            data: responses. ``order`` gives the sequence (unix timestamps when > 1e8, else positions); without
                an order, each person's stored history keeps the row order and training shows the responses in
                a new random order every epoch (there is no sequence to learn, only a set).
            progress: progress(epoch, epochs, message) after each epoch.

        Row weights (``data.weight``, see ``studysmart.ml.robust``) weigh each response as a training target
        (the losses, the item statistics of the initialisation, the standardisation); every response is still
        read as history.

        Returns:
            self.
        """
        started = time.perf_counter()
        self._fit_vocabularies(data)
        order = data.order
        self.timestamps_ = bool(order is not None and np.nanmax(order, initial=0) > TIMESTAMP_THRESHOLD)
        self.mean_log_time_, self.sd_log_time_, self.p_correct_ = _standardisation(data)
        self.histories_ = encode_histories(data, None, self.items_, self.topics_, self.difficulties_,
                                           self.item_topic_, self.item_difficulty_)
        item_stats, topic_stats = item_statistics(self.histories_.values(), self.item_topic_, self.topics_.size,
                                                  self.p_correct_, self.mean_log_time_, self.sd_log_time_)
        with torch_session(self.num_threads, self.seed):
            self.net_ = self._new_net()
            self.net_.initialise(item_stats, topic_stats, self.item_topic_, self.p_correct_)
            seqs = [(self.persons_.code(label), seq) for label, seq in self.histories_.items()]
            make = partial(build_batches, seqs, window=self.window, batch_size=self.batch_size,
                           valid_fraction=self.valid_fraction, valid_split=self.valid_split, seed=self.seed,
                           mean_log_time=self.mean_log_time_, sd_log_time=self.sd_log_time_,
                           timestamps=self.timestamps_)
            fixed = make()

            def batches(epoch: int) -> list[Batch]:
                """Without an order, each epoch sees every person's responses in a new random order."""
                if data.order is not None or epoch == 0:
                    return fixed
                return make(shuffle=np.random.default_rng([self.seed, epoch]))

            budget = self.max_seconds - (time.perf_counter() - started)
            self.report_ = train(self.net_, batches, epochs=self.epochs, lr=self.lr,
                                 weight_decay=self.weight_decay, patience=self.patience, max_seconds=budget,
                                 id_dropout=self.id_dropout, person_prior=self.person_prior, seed=self.seed,
                                 progress=progress)
        self.report_.seconds = time.perf_counter() - started
        self._cache: dict[str, _State] = {}
        return self

    def _fit_vocabularies(self, data: Responses) -> None:
        """Persons and items with at least one observed response; their topics and difficulties."""
        observed = np.isfinite(data.correct) | np.isfinite(data.log_time)
        self.persons_ = Vocab(data.persons[np.unique(data.person[observed])])
        item_codes = np.unique(data.item[observed])
        self.items_ = Vocab(data.items[item_codes])
        topics = None if data.item_topic is None else data.item_topic[item_codes]
        difficulties = None if data.item_difficulty is None else data.item_difficulty[item_codes]
        self.topics_ = Vocab([] if topics is None else topics)
        self.difficulties_ = Vocab([] if difficulties is None else difficulties)
        code = self.items_.encode(data.items[item_codes], item_codes.size)
        self.item_topic_ = np.zeros(self.items_.size, dtype=np.int64)
        self.item_difficulty_ = np.zeros(self.items_.size, dtype=np.int64)
        self.item_topic_[code] = self.topics_.encode(topics, item_codes.size)
        self.item_difficulty_[code] = self.difficulties_.encode(difficulties, item_codes.size)
        self.item_topic_[0] = self.item_difficulty_[0] = 0

    def _new_net(self) -> MultiTaskNet:
        sizes = {"persons": self.persons_.size, "items": self.items_.size, "topics": self.topics_.size,
                 "difficulties": self.difficulties_.size}
        return MultiTaskNet(sizes=sizes, dim=self.dim, hidden=self.hidden, encoder=self.encoder,
                            n_heads=self.n_heads, dropout=self.dropout)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")

    # -- histories and the cache -------------------------------------------------------------------------------
    def _encode(self, seqs: list[Seq]) -> list[_State]:
        """Run the encoder over the latest ``window`` responses of each sequence.

        One sequence at a time (an LSTM's float rounding depends on the batch size, and a person's state must not
        depend on who else was encoded with it: a model loaded elsewhere must predict identically); ~0.3 ms each.
        """
        states = []
        for seq in seqs:
            tail = seq.tail(self.window)
            batch = pad_windows([(0, tail, step_time_features(tail, self.timestamps_))], self.mean_log_time_,
                                self.sd_log_time_)
            t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in vars(batch).items()}
            vectors, _, summary = self.net_.steps(t["item"], t["topic"], t["difficulty"], t["correct"],
                                                  t["z_time"], t["time"])
            n = len(tail)
            kept, steps = self.net_.encoder.summary(self.net_.encoder.memory(vectors)[0], n)
            last = float(tail.order[-1]) if n else float("nan")
            states.append(_State(kept.clone(), summary[0, n].numpy().copy(), steps, n, last))
        return states

    def _states(self, labels: np.ndarray, override: dict[str, Seq]) -> list[_State]:
        """Encoded histories of persons: those in ``override`` fresh, the others from the cache."""
        fresh = [str(x) for x in labels if str(x) in override]
        missing = [str(x) for x in labels if str(x) not in override and str(x) not in self._cache]
        computed = dict(zip(fresh, self._encode([override[p] for p in fresh]), strict=True))
        for label, state in zip(missing, self._encode([self.histories_.get(p, Seq.empty()) for p in missing]),
                                strict=True):
            self._cache[label] = state
        return [computed[str(x)] if str(x) in computed else self._cache[str(x)] for x in labels]

    def _history_of(self, history: Responses, persons: list[str] | None) -> dict[str, Seq]:
        return encode_histories(history, persons, self.items_, self.topics_, self.difficulties_,
                                self.item_topic_, self.item_difficulty_)

    def update_person(self, person: str, history: Responses) -> None:
        """Store ``person``'s history (their rows of ``history``, replacing what was stored) and re-encode it.

        Args:
            person: the person label.
            history: responses containing that person's complete history (other persons' rows are ignored).
        """
        self._check_fitted()
        seq = self._history_of(history, [person]).get(person, Seq.empty())
        self.histories_[person] = seq
        with torch_session(self.num_threads), torch.inference_mode():
            self._cache[person] = self._encode([seq])[0]

    # -- prediction --------------------------------------------------------------------------------------------
    def _query_codes(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(queries)
        item = self.items_.encode(queries.item, n)
        topic = np.where(item > 0, self.item_topic_[item], self.topics_.encode(queries.topic, n))
        difficulty = np.where(item > 0, self.item_difficulty_[item],
                              self.difficulties_.encode(queries.difficulty, n))
        return item, topic, difficulty

    def _outputs(self, queries: Queries, history: Responses | None, cold: bool = False) -> _Raw:
        """Head outputs for the query rows. ``cold``: as for an unknown person without history (the prior)."""
        self._check_fitted()
        n = len(queries)
        item, topic, difficulty = self._query_codes(queries)
        labels, inverse = np.unique(queries.person.astype(str), return_inverse=True)
        if cold:
            override = {str(x): Seq.empty() for x in labels}
        else:
            override = {} if history is None else self._history_of(history, [str(x) for x in labels])
        states = self._states(labels, override)
        if n == 0:
            return _Raw(np.zeros((0, 3)), item, topic, difficulty, np.zeros(0, dtype=np.int64), [])
        person = np.zeros(n, dtype=np.int64) if cold else self.persons_.encode(queries.person, n)
        last = np.array([s.last_order for s in states])[inverse]
        order = np.full(n, np.nan) if queries.order is None else queries.order.astype(np.float64)
        if not self.timestamps_:  # positions: a query without an order comes right after the history
            order = np.where(np.isfinite(order), order, last + 1)
        length = np.array([s.length for s in states], dtype=np.int64)[inverse]
        summary = np.stack([s.summary for s in states])[inverse]
        features = np.c_[time_features(order, last, self.timestamps_), np.log1p(length) / 5.0, summary]
        rows = QueryRows(person, item, topic, difficulty, features.astype(np.float32), inverse)
        out, weights = self._heads(rows, states)
        by_topic = np.flatnonzero((item == 0) & (topic > 0))
        if by_topic.size:  # a new item priced from a topic known through few items: trust the topic less
            plain = rows.take(by_topic)
            plain.topic = np.zeros_like(plain.topic)
            members = np.bincount(self.item_topic_[1:], minlength=self.topics_.size)[topic[by_topic]]
            trust = members / (members + TOPIC_SMOOTHING)
            out[by_topic] = mix_outputs(out[by_topic], self._heads(plain, states)[0], trust)
        return _Raw(out, item, topic, difficulty, length, weights)

    def _heads(self, rows: QueryRows, states: list[_State]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Read each row's memory with its item and run the heads: outputs (n, 3) and attention weights."""
        net = self.net_
        t_item, t_topic, t_diff = (torch.from_numpy(a) for a in (rows.item, rows.topic, rows.difficulty))
        content = net.content(t_item, t_topic, t_diff)
        padded = torch.nn.utils.rnn.pad_sequence([s.memory for s in states], batch_first=True)
        steps = torch.tensor([s.steps for s in states], dtype=torch.int64)
        index = torch.from_numpy(rows.state.astype(np.int64))
        contexts, weights = [], []
        for start in range(0, len(index), READ_CHUNK):
            r, chunk = index[start:start + READ_CHUNK], slice(start, start + READ_CHUNK)
            context, attention = net.read(padded[r], content[chunk].unsqueeze(1), steps[r].unsqueeze(1))
            contexts.append(context[:, 0])
            if attention is not None:
                weights.extend(list(attention[:, 0].numpy()))
        out = net.predict_heads(torch.cat(contexts), torch.from_numpy(rows.person), t_item, t_topic, t_diff,
                                content, torch.from_numpy(rows.features))
        return out.numpy().astype(np.float64), weights

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """P(correct) and the log-time distribution of every query row.

        Args:
            queries: rows to predict (topic / difficulty price unknown items; order gives the time context).
            history: responses of some persons; for them, this history replaces the stored one for this call.

        Returns:
            A Prediction with per-row sources.
        """
        with torch_session(self.num_threads), torch.inference_mode():
            return self._prediction(self._outputs(queries, history))

    def _prediction(self, raw: _Raw) -> Prediction:
        priced = (raw.item > 0) | (raw.topic > 0) | (raw.difficulty > 0)
        source = np.full(raw.item.shape[0], SOURCE_POPULATION_PRIOR, dtype=object)
        source[priced] = SOURCE_ITEM_PRIOR
        source[priced & (raw.length > 0)] = SOURCE_MODEL
        return Prediction(
            p_correct=1.0 / (1.0 + np.exp(-raw.out[:, 0])),
            mean_log_time=self.mean_log_time_ + self.sd_log_time_ * raw.out[:, 1],
            sd_log_time=self.sd_log_time_ * np.exp(0.5 * raw.out[:, 2]),
            source=source,
        )

    # -- explanation, serialisation ------------------------------------------------------------------------------
    def explain(self, person: str, item: str, *, topic: str | None = None, difficulty: str | None = None,
                order: float | None = None, history: Responses | None = None,
                label: str | None = None) -> Explanation:
        """Why one prediction is what it is, as one sentence for the UI plus the numbers behind it.

        Args:
            person, item, topic, difficulty, order: the query (as one row of Queries).
            history: this person's responses for this call (else the stored history).
            label: the topic's name as the student sees it (else the model's label of ``topic``).

        Returns:
            An Explanation (its ``sentence`` is the UI text).
        """
        return explain(self, person, item, topic=topic, difficulty=difficulty, order=order, history=history,
                       label=label)

    def to_bytes(self) -> bytes:
        """The fitted model as bytes: safetensors weights inside a ``base.pack`` blob (no pickle)."""
        self._check_fitted()
        return to_blob(self)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """A model written by ``to_bytes``; raises base.CorruptModel on truncated, corrupted or foreign data."""
        model = cls()
        from_blob(model, blob)
        model._cache = {}
        return model


class NeuralLSTM(NeuralModel):
    """The neural sequence model with an LSTM over the student's history (registered as "neural")."""

    name: ClassVar[str] = "neural"
    encoder: ClassVar[str] = "lstm"


class NeuralAttention(NeuralModel):
    """The neural sequence model with causal self-attention over the history, SAKT style ("neural-attn")."""

    name: ClassVar[str] = "neural-attn"
    encoder: ClassVar[str] = "attention"

