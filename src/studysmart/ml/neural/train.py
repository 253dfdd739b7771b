"""The training loop of the neural sequence models.

Adam on the sum of two losses per step (binary cross-entropy of the outcome, Gaussian negative log-likelihood of
the standardised log-time), on next-step predictions with the person's history and, at half weight, on the same
targets predicted cold (no history, unknown person, more items dropped to unknown) so the priors are trained too.
Ids are randomly dropped to the unknown code, so unknown persons, items and topics get learned embeddings.

Early stopping on the validation targets (the last responses of each person), keeping the best weights, with
the learning rate halved after every epoch without improvement; a time
budget stops training early (validation is still run and the best weights kept). Deterministic for a given seed
as long as the time budget is not what stops it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from studysmart.ml.base import Progress
from studysmart.ml.neural.batches import Batch
from studysmart.ml.neural.nets import MultiTaskNet

__all__ = ["TrainReport", "gaussian_nll", "torch_session", "train"]

COLD_WEIGHT = 0.5  #: weight of the cold-start loss
COLD_ITEM_DROPOUT = 0.3  #: extra share of items dropped to unknown in the cold-start pass
CLIP_NORM = 5.0
LR_DECAY = 0.5  #: the learning rate is multiplied by this after each epoch without validation improvement


@contextmanager
def torch_session(num_threads: int, seed: int | None = None) -> Iterator[None]:
    """Run torch with ``num_threads`` threads, restoring the process-wide setting afterwards. With a ``seed``
    (training): deterministic algorithms and a forked, seeded random generator, both restored afterwards.
    (``use_deterministic_algorithms`` imports torch's compiler on first use, about 2 s, so prediction, which
    uses no randomness, skips it.)"""
    threads = torch.get_num_threads()
    if threads != num_threads:
        torch.set_num_threads(num_threads)
    try:
        if seed is None:
            yield
            return
        deterministic = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                yield
        finally:
            torch.use_deterministic_algorithms(deterministic)
    finally:
        if threads != num_threads:
            torch.set_num_threads(threads)


@dataclass
class TrainReport:
    """What happened during fit: epochs run, the best epoch, losses per epoch, seconds, and why it stopped."""

    epochs: int = 0
    best_epoch: int = 0
    best_valid_loss: float | None = None
    seconds: float = 0.0
    stopped: str = "max epochs"
    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainReport:
        """Inverse of ``to_dict``."""
        return cls(**data)


def gaussian_nll(mean: Tensor, log_var: Tensor, target: Tensor) -> Tensor:
    """Negative log-likelihood of ``target`` under N(mean, exp(log_var)), without the constant."""
    return 0.5 * (log_var + (target - mean) ** 2 * torch.exp(-log_var))


def _losses(out: Tensor, correct: Tensor, z_time: Tensor, mask: Tensor,
            weight: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Weighted sums of BCE and NLL over the masked observed targets, and the sums of their weights (each
    target counts with its row weight, ``studysmart.ml.robust``)."""
    seen_c = mask & torch.isfinite(correct)
    seen_t = mask & torch.isfinite(z_time)
    c = torch.where(seen_c, correct, torch.zeros_like(correct))
    z = torch.where(seen_t, z_time, torch.zeros_like(z_time))
    bce = nn.functional.binary_cross_entropy_with_logits(out[..., 0], c, reduction="none")
    nll = gaussian_nll(out[..., 1], out[..., 2], z)
    zero = torch.zeros_like(bce)
    w_c, w_t = torch.where(seen_c, weight, zero), torch.where(seen_t, weight, zero)
    return (torch.where(seen_c, w_c * bce, zero).sum(), torch.where(seen_t, w_t * nll, zero).sum(),
            w_c.sum(), w_t.sum())


def _mean_loss(out: Tensor, batch: dict[str, Tensor], mask: Tensor) -> Tensor:
    bce, nll, n_c, n_t = _losses(out, batch["correct"], batch["z_time"], mask, batch["weight"])
    return bce / n_c.clamp(min=1) + nll / n_t.clamp(min=1)


def to_tensors(batch: Batch) -> dict[str, Tensor]:
    """The arrays of a Batch as tensors."""
    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in vars(batch).items()}


def _drop(codes: Tensor, rate: float, generator: torch.Generator) -> Tensor:
    """Codes with a share ``rate`` replaced by the unknown code 0."""
    if rate <= 0:
        return codes
    keep = torch.rand(codes.shape, generator=generator) >= rate
    return torch.where(keep, codes, torch.zeros_like(codes))


def _run(net: MultiTaskNet, batch: dict[str, Tensor], **overrides: Tensor) -> tuple[Tensor, Tensor]:
    args = {key: batch[key] for key in ("person", "item", "topic", "difficulty", "correct", "z_time", "time",
                                         "n_prior")}
    args.update(overrides)
    result: tuple[Tensor, Tensor] = net(**args)
    return result


def _validate(net: MultiTaskNet, batches: list[dict[str, Tensor]]) -> float:
    """Mean BCE + mean NLL over all validation targets (no dropout)."""
    net.eval()
    totals = torch.zeros(4, dtype=torch.float64)
    with torch.no_grad():
        for batch in batches:
            if not bool(batch["valid"].any()):
                continue
            warm, _ = _run(net, batch)
            totals += torch.stack([t.double() for t in _losses(warm, batch["correct"], batch["z_time"],
                                                                batch["valid"], batch["weight"])])
    bce, nll, n_c, n_t = totals.tolist()
    result: float = bce / max(n_c, 1.0) + nll / max(n_t, 1.0)
    return result


def train(net: MultiTaskNet, batches: Callable[[int], list[Batch]], *, epochs: int, lr: float, weight_decay: float,  # noqa: PLR0912, PLR0915 - the training loop (epochs, early stopping, time budget, progress); to split
          patience: int, max_seconds: float, id_dropout: float, person_prior: float, seed: int,
          progress: Progress | None = None,
          clock: Callable[[], float] = time.perf_counter) -> TrainReport:
    """Fit ``net`` in place on the batches; returns a report. The best weights (by validation loss) are kept.

    Args:
        net: the network (initialised).
        batches: batches(epoch) -> the training batches of that epoch (from ``build_batches``; the same list
            object every epoch when nothing changes, so its tensors are reused).
        epochs, lr, weight_decay, patience, max_seconds, id_dropout, person_prior, seed: the model's
            hyperparameters.
        progress: progress(epoch, epochs, message) after each epoch.
        clock: the time source (for tests).
    """
    started = clock()
    report = TrainReport()
    first = batches(0)
    if not first:
        report.stopped = "no data"
        net.eval()
        return report
    converted: tuple[list[Batch], list[dict[str, Tensor]]] = (first, [to_tensors(b) for b in first])
    has_valid = any(bool(b.valid.any()) for b in first)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    best_loss, since_best, valid_seconds = math.inf, 0, 0.0
    for epoch in range(1, epochs + 1):
        current = batches(epoch - 1)
        if current is not converted[0]:
            converted = (current, [to_tensors(b) for b in current])
        tensors = converted[1]
        net.train()
        total, count, out_of_time = 0.0, 0, False
        for index in rng.permutation(len(tensors)):
            if clock() - started + valid_seconds > max_seconds:
                out_of_time = True
                break
            batch = tensors[int(index)]
            item = _drop(batch["item"], id_dropout, generator)
            topic = _drop(batch["topic"], id_dropout / 2, generator)
            person = _drop(batch["person"], id_dropout, generator)
            warm, cold = _run(net, batch, person=person, item=item,
                              topic=topic, cold_item=_drop(item, COLD_ITEM_DROPOUT, generator),
                              cold_topic=_drop(topic, COLD_ITEM_DROPOUT / 2, generator))
            loss = _mean_loss(warm, batch, batch["train"]) + COLD_WEIGHT * _mean_loss(cold, batch, batch["train"])
            if person_prior > 0:  # a N(0, 1 / person_prior) prior on each person's effects, per target
                effects = net.person_effect(net.person(person))
                loss = loss + person_prior * 0.5 * (effects**2).sum() / batch["train"].sum().clamp(min=1)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
            optimizer.step()
            total, count = total + float(loss.detach()), count + 1
        if count == 0:
            report.stopped = "time budget"
            break
        report.epochs = epoch
        report.train_loss.append(total / count)
        if has_valid:
            valid_started = clock()
            loss_value = _validate(net, tensors)
            valid_seconds = clock() - valid_started
            report.valid_loss.append(loss_value)
        else:
            loss_value = report.train_loss[-1]
        if loss_value < best_loss - 1e-4:
            best_loss, since_best, report.best_epoch = loss_value, 0, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            since_best += 1
            for group in optimizer.param_groups:  # a plateau: smaller steps before giving up
                group["lr"] *= LR_DECAY
        if progress is not None:
            progress(epoch, epochs, f"epoch {epoch}: train loss {report.train_loss[-1]:.4f}"
                     + (f", validation loss {loss_value:.4f}" if has_valid else ""))
        if out_of_time:
            report.stopped = "time budget"
            break
        if has_valid and since_best >= patience:
            report.stopped = "early stopping"
            break
    net.load_state_dict(best_state)
    net.eval()
    report.best_valid_loss = best_loss if has_valid and math.isfinite(best_loss) else None
    report.seconds = clock() - started
    return report
