"""The torch modules of the neural sequence models: one multi-task network with a pluggable history encoder.

Every response in a student's history becomes one step vector (item, topic and difficulty embeddings, the
outcome, the standardised log-time, its residuals against the item's averages, and when it happened). An
encoder turns the history into a *memory*: slot 0 is a learned "no history yet" state and slot k the state
after k responses. A query (the next item) *reads* the memory of the steps before it:

* ``LSTMEncoder``: memory = LSTM states; the read takes the state after the last prior response.
* ``AttentionEncoder``: memory = the step vectors; the read is causal multi-head attention (SAKT style) from
  the query item over the prior steps, with a learned recency penalty per head (AKT's decay, simplified).

Two heads share one trunk (the context, the query item's content, when the query happens, and a running summary
of the history's residuals): the logit of P(correct) and a Gaussian over standardised log-time (mean,
log-variance). Added to them: learned global / item / topic / difficulty biases, a direct path from the history
summary (started as a shrinkage estimate), and the person embedding's effect on the three outputs. The person
embedding enters only through that small effect, under a Gaussian prior (``person_prior``): measured on
CredentialForm1, a person embedding inside the trunk (or an unpenalised effect) overfits, and the history
already carries what is known about a person, also for persons the model has never seen. Code 0 of every
vocabulary is a learned "unknown" embedding (trained by randomly dropping ids to it), so cold start is never a
constant.

Imported only through ``studysmart.ml.neural.model``, which checks that torch is installed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from studysmart.ml.neural.data import N_TIME

__all__ = ["N_QUERY", "N_STEP", "AttentionEncoder", "LSTMEncoder", "MultiTaskNet"]

N_STEP = 4 + N_TIME  #: step features: z-time, time observed, correct residual, time residual, time features
N_SUMMARY = 2  #: running means of the history's residuals (correct - item average, z-time - item average)
N_QUERY = N_TIME + 1 + N_SUMMARY  #: query features: its time features, log(1 + prior steps), the summary
SUMMARY_SHRINK = 3.0  #: pseudo-responses of residual 0 in the running means
LOGVAR_RANGE = (-6.0, 4.0)


class LSTMEncoder(nn.Module):
    """Memory = [learned start state, LSTM state after each step]; a read takes the state after the prior steps."""

    def __init__(self, hidden: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(hidden, hidden, batch_first=True)
        self.start = nn.Parameter(torch.zeros(hidden))

    def memory(self, steps: Tensor) -> Tensor:
        """(B, T, H) step vectors -> (B, T + 1, H) memory."""
        states, _ = self.rnn(steps)
        return torch.cat([self.start.expand(steps.shape[0], 1, -1), states], dim=1)

    def summary(self, memory: Tensor, length: int) -> tuple[Tensor, int]:
        """What a cache must keep of one sequence's memory (M, H): the last state only (read at step 0)."""
        return memory[length: length + 1], 0

    def read(self, memory: Tensor, query: Tensor, steps: Tensor) -> tuple[Tensor, Tensor | None]:
        """Context for queries (B, Q, H) that each see ``steps`` (B, Q) prior responses; no weights."""
        index = steps.unsqueeze(-1).expand(-1, -1, memory.shape[-1])
        return torch.gather(memory, 1, index), None


class AttentionEncoder(nn.Module):
    """Memory = [learned start vector, step vectors]; a read is causal attention from the query item."""

    def __init__(self, hidden: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % n_heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of n_heads ({n_heads})")
        self.n_heads = n_heads
        self.start = nn.Parameter(torch.zeros(hidden))
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.decay = nn.Parameter(torch.zeros(n_heads))
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(2 * hidden, hidden))
        self.drop = nn.Dropout(dropout)

    def memory(self, steps: Tensor) -> Tensor:
        """(B, T, H) step vectors -> (B, T + 1, H) memory."""
        return torch.cat([self.start.expand(steps.shape[0], 1, -1), steps], dim=1)

    def summary(self, memory: Tensor, length: int) -> tuple[Tensor, int]:
        """What a cache must keep of one sequence's memory (M, H): all slots up to its length."""
        return memory[: length + 1], length

    def read(self, memory: Tensor, query: Tensor, steps: Tensor) -> tuple[Tensor, Tensor | None]:
        """Attend from queries (B, Q, H) over memory slots 0..steps (B, Q); returns context and the
        head-averaged attention weights (B, Q, M)."""
        batch, n_query, hidden = query.shape
        n_slots, head_dim = memory.shape[1], hidden // self.n_heads
        q = self.query(query).view(batch, n_query, self.n_heads, head_dim).transpose(1, 2)
        k = self.key(memory).view(batch, n_slots, self.n_heads, head_dim).transpose(1, 2)
        v = self.value(memory).view(batch, n_slots, self.n_heads, head_dim).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / head_dim**0.5  # (B, heads, Q, M)
        slot = torch.arange(n_slots, device=memory.device)
        distance = (steps.unsqueeze(-1) - slot).unsqueeze(1)  # (B, 1, Q, M): 0 = the most recent slot
        penalty = nn.functional.softplus(self.decay).view(1, -1, 1, 1) * torch.log1p(distance.clamp(min=0))
        scores = (scores - penalty).masked_fill(distance < 0, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        mixed = (self.drop(weights) @ v).transpose(1, 2).reshape(batch, n_query, hidden)
        context = self.norm1(query + self.out(mixed))
        context = self.norm2(context + self.ffn(context))
        return context, weights.mean(dim=1)


ENCODERS: dict[str, type[LSTMEncoder] | type[AttentionEncoder]] = {
    "lstm": LSTMEncoder,
    "attention": AttentionEncoder,
}


class MultiTaskNet(nn.Module):
    """Embeddings + history encoder + two heads (logit of P(correct), Gaussian over standardised log-time).

    Args:
        sizes: vocabulary sizes including the unknown code: persons, items, topics, difficulties.
        dim: embedding width; hidden: encoder / trunk width; encoder: "lstm" or "attention";
        n_heads: attention heads; dropout: dropout rate.
    """

    item_stats: Tensor
    topic_stats: Tensor

    def __init__(self, *, sizes: dict[str, int], dim: int, hidden: int, encoder: str, n_heads: int,
                 dropout: float) -> None:
        super().__init__()
        self.person = nn.Embedding(sizes["persons"], dim)
        self.item = nn.Embedding(sizes["items"], dim)
        self.topic = nn.Embedding(sizes["topics"], dim)
        self.difficulty = nn.Embedding(sizes["difficulties"], dim)
        self.item_bias = nn.Embedding(sizes["items"], 3)
        self.topic_bias = nn.Embedding(sizes["topics"], 3)
        self.difficulty_bias = nn.Embedding(sizes["difficulties"], 3)
        self.global_bias = nn.Parameter(torch.zeros(3))
        self.outcome = nn.Embedding(3, dim)  # wrong, right, missing
        self.step_in = nn.Linear(2 * dim + N_STEP, hidden)
        self.query_in = nn.Linear(dim, hidden)
        self.encoder = ENCODERS[encoder](hidden, n_heads, dropout)
        self.trunk = nn.Sequential(nn.Linear(2 * hidden + N_QUERY, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.person_effect = nn.Linear(dim, 3, bias=False)  # zero at start: an untrained model gives the priors
        self.head = nn.Linear(hidden, 3)
        # A direct path from the history summary, started as a simple shrinkage estimate: a mean residual r of
        # the outcomes moves the logit by r / (p (1 - p)) ~ 4 r, one of the z-times moves the mean z-time by it.
        self.summary_effect = nn.Linear(N_SUMMARY, 3, bias=False)
        # How strongly each item responds to the person's level (like IRT discriminations): 1 + item_slope.
        self.item_slope = nn.Embedding(sizes["items"], 3)
        # Smoothed per-item / per-topic (P(correct), mean z-time), fixed at fit: residual features.
        self.register_buffer("item_stats", torch.zeros(sizes["items"], 2))
        self.register_buffer("topic_stats", torch.zeros(sizes["topics"], 2))
        for table in (self.person, self.item, self.topic, self.difficulty, self.outcome):
            nn.init.normal_(table.weight, std=0.1)
        for table in (self.item_bias, self.topic_bias, self.difficulty_bias, self.item_slope):
            nn.init.zeros_(table.weight)
        nn.init.zeros_(self.person_effect.weight)
        with torch.no_grad():
            self.summary_effect.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]]))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def initialise(self, item_stats: np.ndarray, topic_stats: np.ndarray, item_topic: np.ndarray,
                   p_correct: float) -> None:
        """Store the smoothed item / topic averages (residual features) and start the biases at them: global
        logit and z-time, topic offsets from the global ones, item offsets from their topic's."""

        def logit(p: np.ndarray) -> np.ndarray:
            q = np.clip(p, 1e-3, 1 - 1e-3)
            return np.asarray(np.log(q / (1 - q)))

        base_logit = float(logit(np.array(p_correct)))
        topic_offset = np.stack([logit(topic_stats[:, 0]) - base_logit, topic_stats[:, 1]], axis=1)
        prior = topic_stats[item_topic]
        item_offset = np.stack([logit(item_stats[:, 0]) - logit(prior[:, 0]), item_stats[:, 1] - prior[:, 1]], 1)
        item_offset[0] = 0.0
        with torch.no_grad():
            self.item_stats.copy_(torch.from_numpy(item_stats))
            self.topic_stats.copy_(torch.from_numpy(topic_stats))
            self.global_bias.copy_(torch.tensor([base_logit, 0.0, 0.0]))
            self.topic_bias.weight[:, :2] = torch.from_numpy(topic_offset)
            self.item_bias.weight[:, :2] = torch.from_numpy(item_offset)

    def content(self, item: Tensor, topic: Tensor, difficulty: Tensor) -> Tensor:
        """What is known about an item: the sum of its item, topic and difficulty embeddings."""
        result: Tensor = self.item(item) + self.topic(topic) + self.difficulty(difficulty)
        return result

    def stats(self, item: Tensor, topic: Tensor) -> Tensor:
        """(P(correct), mean z-time) of the item, or of its topic when the item is unknown."""
        item_stats: Tensor = self.item_stats[item]
        topic_stats: Tensor = self.topic_stats[topic]
        return torch.where((item > 0).unsqueeze(-1), item_stats, topic_stats)

    def steps(self, item: Tensor, topic: Tensor, difficulty: Tensor, correct: Tensor, z_time: Tensor,
              time: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Step vectors (B, T, H) of past responses, the item content (B, T, dim) reused by queries, and the
        history summary (B, T + 1, N_SUMMARY): at slot k, the shrunk means of the residuals of the first k steps."""
        content = self.content(item, topic, difficulty)
        stats = self.stats(item, topic)
        seen_c, seen_t = torch.isfinite(correct), torch.isfinite(z_time)
        c = torch.where(seen_c, correct, torch.zeros_like(correct))
        z = torch.where(seen_t, z_time, torch.zeros_like(z_time))
        outcome = torch.where(seen_c, c.long(), torch.full_like(item, 2))
        residual = torch.stack([torch.where(seen_c, c - stats[..., 0], torch.zeros_like(c)),
                                torch.where(seen_t, z - stats[..., 1], torch.zeros_like(z))], dim=-1)
        features = torch.cat([z.unsqueeze(-1), seen_t.float().unsqueeze(-1), residual], dim=-1)
        vectors = self.step_in(torch.cat([content, self.outcome(outcome), features, time], dim=-1))
        counts = torch.stack([seen_c, seen_t], dim=-1).float()
        start = torch.zeros_like(residual[:, :1])
        sums = torch.cat([start, residual.cumsum(dim=1)], dim=1)
        seen = torch.cat([start, counts.cumsum(dim=1)], dim=1)
        return vectors, content, sums / (seen + SUMMARY_SHRINK)

    def predict_heads(self, context: Tensor, person: Tensor, item: Tensor, topic: Tensor, difficulty: Tensor,
                      content: Tensor, query_features: Tensor) -> Tensor:
        """(..., 3): logit of P(correct), mean and log-variance of standardised log-time."""
        trunk = self.trunk(torch.cat([context, self.query_in(content), query_features], -1))
        bias = self.global_bias + self.item_bias(item) + self.topic_bias(topic) + self.difficulty_bias(difficulty)
        level = self.person_effect(self.person(person)) + self.summary_effect(query_features[..., -N_SUMMARY:])
        out = self.head(trunk) + bias + (1.0 + self.item_slope(item)) * level
        return torch.cat([out[..., :2], out[..., 2:].clamp(*LOGVAR_RANGE)], dim=-1)

    def read(self, memory: Tensor, content: Tensor, steps: Tensor) -> tuple[Tensor, Tensor | None]:
        """Context of queries with item content (B, Q, dim) over a memory, each after ``steps`` prior steps."""
        return self.encoder.read(memory, self.query_in(content), steps)

    def forward(self, person: Tensor, item: Tensor, topic: Tensor, difficulty: Tensor, correct: Tensor,
                z_time: Tensor, time: Tensor, n_prior: Tensor, cold_item: Tensor | None = None,
                cold_topic: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Next-step training pass over padded sequences (B, T).

        Returns:
            (B, T, 3) outputs for each step given the steps before it (with the person's embedding), and
            (B, T, 3) cold-start outputs for the same targets with no history and the unknown person (the items
            and topics of ``cold_item`` / ``cold_topic`` when given, so more of them can be dropped to unknown).
        """
        vectors, content, summary = self.steps(item, topic, difficulty, correct, z_time, time)
        memory = self.encoder.memory(vectors)
        steps = torch.arange(item.shape[1], device=item.device).expand_as(item)
        context, _ = self.read(memory, content, steps)
        person_rows = person.unsqueeze(1).expand_as(item)
        warm = self.predict_heads(context, person_rows, item, topic, difficulty, content,
                                  torch.cat([time, n_prior.unsqueeze(-1), summary[:, :-1]], dim=-1))
        cold_item = item if cold_item is None else cold_item
        cold_topic = topic if cold_topic is None else cold_topic
        cold_content = self.content(cold_item, cold_topic, difficulty)
        cold_context, _ = self.read(memory[:, :1], cold_content, torch.zeros_like(steps))
        cold_time = time.clone()
        cold_time[..., 0], cold_time[..., 1] = 0.0, 1.0  # no previous response: the gap is missing
        cold_features = torch.cat([cold_time, torch.zeros_like(n_prior).unsqueeze(-1),
                                   torch.zeros_like(summary[:, :-1])], dim=-1)
        cold = self.predict_heads(cold_context, torch.zeros_like(person_rows), cold_item, cold_topic, difficulty,
                                  cold_content, cold_features)
        return warm, cold
