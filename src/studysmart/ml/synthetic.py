"""Synthetic responses with known parameters (recovery tests, demos, simulations): from the LNIRT model
(``generate``), and from students who learn with practice and forget with time away (``generate_learning``).

    data = generate(n_persons=1000, n_items=30, n_topics=3, observed=0.3, seed=1)
    data.responses        # Responses (long format, sparse design, with item topic/difficulty and timestamps)
    data.truth.theta      # the true parameters, in the model's identification (see ``generate``)
    draw = simulate_response(theta=0.5, zeta=0.0, a=1.2, b=-0.3, phi=1.0, lam=4.0, sigma2=0.25, rng=rng)
    learning = generate_learning(n_persons=300, n_topics=6, seed=1)
    learning.truth.slope_correct  # per topic: the logit gain of log(1 + earlier correct answers)

Items belong to topics and to a difficulty level ("easy", "medium", "hard"): the level shifts the intercept b
(harder = larger b = lower P(correct)) and the time intensity lambda (harder = slower); each topic has its own
random offsets, so items of one group resemble each other, which is what the app's item priors exploit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from studysmart.ml.data import Responses

__all__ = [
    "DIFFICULTIES",
    "ITEM_CORRELATION",
    "LEARNING_GAP_SCALE",
    "LearningProcess",
    "LearningTruth",
    "SimulatedResponse",
    "SyntheticData",
    "SyntheticLearning",
    "Truth",
    "generate",
    "generate_learning",
    "learning_truth",
    "simulate_response",
]

DIFFICULTIES = ("easy", "medium", "hard")
#: Shift of b and of lambda per difficulty level (easy, medium, hard).
_B_SHIFT = np.array([-0.6, 0.0, 0.6])
_LAMBDA_SHIFT = np.array([-0.25, 0.0, 0.25])
#: Correlation of (a, b, phi, lambda) across items, rounded from the R reference fit of CredentialForm1:
#: discriminating items are easier to tell apart in time too, harder items take longer.
ITEM_CORRELATION = np.array([
    [1.0, -0.45, 0.5, 0.0],
    [-0.45, 1.0, -0.45, 0.45],
    [0.5, -0.45, 1.0, -0.4],
    [0.0, 0.45, -0.4, 1.0],
])  # fmt: skip
_EPOCH0 = 1_700_000_000.0  # timestamps start here (Nov 2023), one session per person


@dataclass(frozen=True)
class Truth:
    """The parameters the data were drawn from (per person: theta, zeta; per item: the rest).

    ``persons`` / ``items`` are the labels; they equal ``Responses.persons`` / ``Responses.items`` (so codes
    index the truth directly) unless the design left an item unanswered.
    """

    persons: np.ndarray
    items: np.ndarray

    theta: np.ndarray
    zeta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    phi: np.ndarray
    lam: np.ndarray
    sigma2: np.ndarray
    item_topic: np.ndarray
    item_difficulty: np.ndarray
    mu_p: np.ndarray
    sigma_p: np.ndarray


@dataclass(frozen=True)
class SyntheticData:
    """Generated responses and the truth behind them."""

    responses: Responses
    truth: Truth


@dataclass(frozen=True)
class SimulatedResponse:
    """One (or an array of) simulated answer(s): the true P(correct), the outcome and the log-time."""

    p_correct: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray

    @property
    def seconds(self) -> np.ndarray:
        """exp(log_time)."""
        result: np.ndarray = np.exp(self.log_time)
        return result


def simulate_response(
    *,
    theta: float | np.ndarray,
    zeta: float | np.ndarray,
    a: float | np.ndarray,
    b: float | np.ndarray,
    phi: float | np.ndarray,
    lam: float | np.ndarray,
    sigma2: float | np.ndarray,
    rng: np.random.Generator,
) -> SimulatedResponse:
    """Draw answers from the model: correct ~ Bernoulli(Phi(a theta - b)), log T ~ N(lam - phi zeta, sigma2).

    Args:
        theta, zeta: the person's ability and speed; a, b, phi, lam, sigma2: the item's parameters
            (scalars or broadcastable arrays).
        rng: NumPy random generator.

    Returns:
        SimulatedResponse with arrays of the broadcast shape (0-d for scalars).
    """
    from scipy.special import ndtr

    theta, zeta, a, b, phi, lam, sigma2 = np.broadcast_arrays(theta, zeta, a, b, phi, lam, sigma2)
    p = ndtr(a * theta - b)
    correct = (rng.random(p.shape) < p).astype(np.float64)
    log_time = lam - phi * zeta + np.sqrt(sigma2) * rng.standard_normal(p.shape)
    return SimulatedResponse(p_correct=np.asarray(p), correct=correct, log_time=np.asarray(log_time))


def _identify(
    theta: np.ndarray, zeta: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same model in ident=2: mean theta = mean zeta = 0, prod(a) = prod(phi) = 1."""
    a, b, phi, lam = items.T.copy()
    b = b - a * theta.mean()
    lam = lam - phi * zeta.mean()
    g_a, g_phi = np.exp(np.mean(np.log(a))), np.exp(np.mean(np.log(phi)))
    theta = (theta - theta.mean()) * g_a
    zeta = (zeta - zeta.mean()) * g_phi
    return theta, zeta, np.column_stack([a / g_a, b, phi / g_phi, lam])


def generate(
    n_persons: int = 500,
    n_items: int = 40,
    n_topics: int = 4,
    observed: float = 1.0,
    *,
    seed: int | None = None,
    rho: float = 0.4,
    sd_theta: float = 1.0,
    sd_zeta: float = 0.5,
    sd_a: float = 0.4,
    sd_phi: float = 0.25,
    mean_b: float = -0.7,
    mean_log_time: float = 4.0,
    missing_time: float = 0.0,
    timestamps: bool = True,
    topic_names: Sequence[str] | None = None,
) -> SyntheticData:
    """Draw a data set from the LNIRT model.

    Each person answers a random ``observed`` share of the items (at least one), in a random order, in one
    session; a share ``missing_time`` of the answered cells has no time recorded.

    Args:
        n_persons, n_items, n_topics: sizes (items are assigned to topics and difficulty levels at random).
        observed: fraction of the person x item cells answered (sparse designs: e.g. 0.3).
        seed: random seed (same seed, same data).
        rho: correlation of ability and speed; sd_theta, sd_zeta: their spreads.
        sd_a, sd_phi: spreads of the discriminations around 1 (items are N4 with ITEM_CORRELATION; within a
            topic and difficulty level, b and lambda spread by 0.45 and 0.25).
        mean_b: mean item intercept before the topic and level shifts (-0.7: most answers are right, as in
            study data; 0.0 centres the items on the population, as R's simLNIRT does).
        mean_log_time: typical log-seconds (4.0 is about 55 s).
        missing_time: fraction of answered cells whose time is missing.
        timestamps: attach ``order`` = seconds since the epoch of each answer's end.
        topic_names: labels of the n_topics topics (default "topic-1", "topic-2", ...).

    Returns:
        SyntheticData(responses, truth); the truth is in the model's identification (ident=2: abilities and
        speeds centred, prod(a) = prod(phi) = 1), so it can be compared with estimates directly.
    """
    if not 0.0 < observed <= 1.0:
        raise ValueError(f"observed must be in (0, 1], got {observed}")
    if topic_names is not None and len(topic_names) != n_topics:
        raise ValueError(f"{len(topic_names)} topic names for {n_topics} topics")
    rng = np.random.default_rng(seed)
    cov = np.array([[sd_theta**2, rho * sd_theta * sd_zeta], [rho * sd_theta * sd_zeta, sd_zeta**2]])
    persons = rng.multivariate_normal(np.zeros(2), cov, size=n_persons)
    topic = rng.integers(0, max(n_topics, 1), size=n_items)
    level = rng.integers(0, len(DIFFICULTIES), size=n_items)
    topic_b, topic_lam = rng.normal(0.0, 0.4, size=n_topics), rng.normal(0.0, 0.3, size=n_topics)
    sd = np.array([sd_a, 0.45, sd_phi, 0.25])
    item_cov = ITEM_CORRELATION * np.outer(sd, sd)
    items = rng.multivariate_normal(np.array([1.0, mean_b, 1.0, mean_log_time]), item_cov, size=n_items)
    items[:, 1] += topic_b[topic] + _B_SHIFT[level]
    items[:, 3] += topic_lam[topic] + _LAMBDA_SHIFT[level]
    items[:, [0, 2]] = np.maximum(np.abs(items[:, [0, 2]]), 0.1)  # discriminations are positive
    sigma2 = rng.uniform(0.12, 0.4, size=n_items)
    theta, zeta, items = _identify(persons[:, 0], persons[:, 1], items)

    per_person = max(1, round(observed * n_items))
    person_idx = np.repeat(np.arange(n_persons), per_person)
    item_idx = np.concatenate([rng.permutation(n_items)[:per_person] for _ in range(n_persons)])
    a, b, phi, lam = (items[item_idx, j] for j in range(4))
    draw = simulate_response(theta=theta[person_idx], zeta=zeta[person_idx], a=a, b=b, phi=phi, lam=lam,
                             sigma2=sigma2[item_idx], rng=rng)
    seconds = np.exp(draw.log_time)
    seconds[rng.random(seconds.shape[0]) < missing_time] = np.nan
    order = None
    if timestamps:  # one session per person: answers back to back with short pauses
        pause = rng.exponential(20.0, size=seconds.shape[0])
        elapsed = np.nan_to_num(seconds, nan=60.0) + pause
        cumulative = np.cumsum(elapsed.reshape(n_persons, per_person), axis=1).ravel()
        order = _EPOCH0 + person_idx * 86_400.0 * 0.37 + cumulative

    width_p, width_i, width_t = len(str(n_persons)), len(str(n_items)), len(str(max(n_topics, 1)))
    person_labels = np.asarray([f"p{i:0{width_p}d}" for i in range(n_persons)], dtype=object)
    item_labels = np.asarray([f"i{k:0{width_i}d}" for k in range(n_items)], dtype=object)
    names = list(topic_names) if topic_names is not None else [f"topic-{t + 1:0{width_t}d}" for t in range(n_topics)]
    topic_labels = np.asarray([names[t] for t in topic], dtype=object)
    difficulty_labels = np.asarray([DIFFICULTIES[lv] for lv in level], dtype=object)
    responses = Responses.from_columns(
        list(person_labels[person_idx]), list(item_labels[item_idx]), draw.correct, seconds, order=order,
        topic=topic_labels[item_idx], difficulty=difficulty_labels[item_idx],
    )  # fmt: skip
    truth = Truth(
        persons=person_labels, items=item_labels,
        theta=theta, zeta=zeta, a=items[:, 0], b=items[:, 1], phi=items[:, 2], lam=items[:, 3], sigma2=sigma2,
        item_topic=topic_labels, item_difficulty=difficulty_labels,
        mu_p=np.array([theta.mean(), zeta.mean()]), sigma_p=np.cov(np.column_stack([theta, zeta]).T),
    )  # fmt: skip
    return SyntheticData(responses=responses, truth=truth)


# -- learning and forgetting ---------------------------------------------------------------------------------
#: The unit of the forgetting factor (1 + gap / scale)^-rate: one minute (an answer's time).
LEARNING_GAP_SCALE = 60.0


@dataclass(frozen=True)
class LearningTruth:
    """The parameters of ``generate_learning``: per topic the practice slopes and forgetting rate, per person the
    ability (student-wide and per topic) and slowness, per item its easiness (logit) and time intensity."""

    persons: np.ndarray
    items: np.ndarray
    topics: np.ndarray
    item_topic: np.ndarray
    easiness: np.ndarray
    time_intensity: np.ndarray
    ability: np.ndarray
    topic_ability: np.ndarray
    slowness: np.ndarray
    slope_correct: np.ndarray
    slope_wrong: np.ndarray
    speedup: np.ndarray
    forgetting: np.ndarray
    sigma: float


class LearningProcess:
    """Students who learn and forget: each answer's P(correct) and log-time follow

        logit P = easiness_k + ability_i + topic_ability_it + D_t * (g_t log(1 + S_it) + h_t log(1 + F_it))
        log T   = time_intensity_k + slowness_i - D_t * c_t log(1 + S_it + F_it) + N(0, sigma^2)

    with S_it, F_it the student's earlier correct and wrong answers on topic t and D_t = (1 + gap / 60 s)^-r_t
    the share of the practice gain left after ``gap`` seconds away from the topic (r_t: its forgetting rate).
    The demo draws its students from here; ``generate_learning`` draws whole data sets.
    """

    def __init__(self, truth: LearningTruth, rng: np.random.Generator) -> None:
        self.truth = truth
        self.rng = rng
        n_persons, n_topics = truth.topic_ability.shape
        self.correct = np.zeros((n_persons, n_topics))
        self.wrong = np.zeros((n_persons, n_topics))
        self.last = np.full((n_persons, n_topics), np.nan)

    def gain(self, person: int, topic: int, when: float) -> tuple[float, float]:
        """The student's current practice gain on the topic: (logit of accuracy, minus log-time)."""
        t = self.truth
        last = self.last[person, topic]
        if np.isnan(last):
            return 0.0, 0.0
        share = float((1.0 + max(when - last, 0.0) / LEARNING_GAP_SCALE) ** -t.forgetting[topic])
        s, f = self.correct[person, topic], self.wrong[person, topic]
        return (share * (t.slope_correct[topic] * np.log1p(s) + t.slope_wrong[topic] * np.log1p(f)),
                share * t.speedup[topic] * np.log1p(s + f))

    def answer(self, person: int, item: int, when: float) -> SimulatedResponse:
        """Draw the student's answer to the item at time ``when`` (seconds) and record it as practice."""
        t = self.truth
        topic = int(t.item_topic[item])
        accuracy_gain, speed_gain = self.gain(person, topic, when)
        eta = t.easiness[item] + t.ability[person] + t.topic_ability[person, topic] + accuracy_gain
        p = 1.0 / (1.0 + np.exp(-eta))
        correct = float(self.rng.random() < p)
        log_time = t.time_intensity[item] + t.slowness[person] - speed_gain + t.sigma * self.rng.standard_normal()
        (self.correct if correct else self.wrong)[person, topic] += 1
        self.last[person, topic] = when
        return SimulatedResponse(p_correct=np.asarray(p), correct=np.asarray(correct), log_time=np.asarray(log_time))


@dataclass(frozen=True)
class SyntheticLearning:
    """Generated responses of learning students and the truth behind them."""

    responses: Responses
    truth: LearningTruth


def learning_truth(n_persons: int, n_topics: int, items_per_topic: int, rng: np.random.Generator, *,
                   slope_mean: float = 0.35, slope_sd: float = 0.2, forgetting_mean: float = 0.25,
                   forgetting_sd: float = 0.08) -> LearningTruth:
    """Draw the parameters of a learning population (see ``LearningProcess``)."""
    n_items = n_topics * items_per_topic
    item_topic = np.repeat(np.arange(n_topics), items_per_topic)
    width_p, width_i = len(str(n_persons)), len(str(n_items))
    return LearningTruth(
        persons=np.asarray([f"s{i:0{width_p}d}" for i in range(n_persons)], dtype=object),
        items=np.asarray([f"q{k:0{width_i}d}" for k in range(n_items)], dtype=object),
        topics=np.asarray([f"topic-{t + 1}" for t in range(n_topics)], dtype=object),
        item_topic=item_topic,
        easiness=rng.normal(-0.3, 0.4, n_topics)[item_topic] + rng.normal(0.0, 0.6, n_items),
        time_intensity=rng.normal(4.0, 0.3, n_topics)[item_topic] + rng.normal(0.0, 0.3, n_items),
        ability=rng.normal(0.0, 0.8, n_persons),
        topic_ability=rng.normal(0.0, 0.4, (n_persons, n_topics)),
        slowness=rng.normal(0.0, 0.3, n_persons),
        slope_correct=np.clip(rng.normal(slope_mean, slope_sd, n_topics), 0.0, None),
        slope_wrong=np.clip(rng.normal(slope_mean / 2, slope_sd / 2, n_topics), 0.0, None),
        speedup=np.clip(rng.normal(0.15, 0.05, n_topics), 0.0, None),
        forgetting=np.clip(rng.normal(forgetting_mean, forgetting_sd, n_topics), 0.02, None),
        sigma=0.4,
    )  # fmt: skip


def generate_learning(n_persons: int = 300, n_topics: int = 6, items_per_topic: int = 10,
                      answers_per_person: int = 60, *, sessions: int = 6, seed: int | None = None,
                      **truth: float) -> SyntheticLearning:
    """Draw practice logs of students who learn and forget (``LearningProcess``).

    Each student works in ``sessions`` sessions a few days apart (gaps of 1-7 days), answering items of two or
    three of the topics, about a minute apart; the order column holds timestamps (seconds).

    Args:
        n_persons, n_topics, items_per_topic, answers_per_person: sizes.
        sessions: sessions per student.
        seed: random seed.
        truth: overrides of ``learning_truth`` (slope_mean, slope_sd, forgetting_mean, forgetting_sd).

    Returns:
        SyntheticLearning(responses with topics and timestamps, truth).
    """
    rng = np.random.default_rng(seed)
    params = learning_truth(n_persons, n_topics, items_per_topic, rng, **truth)
    process = LearningProcess(params, rng)
    persons, items, correct, seconds, order = [], [], [], [], []
    for person in range(n_persons):
        when = _EPOCH0 + float(rng.uniform(0, 86_400.0))
        topics = rng.choice(n_topics, size=min(n_topics, int(rng.integers(2, 4))), replace=False)
        per_session = np.diff(np.linspace(0, answers_per_person, sessions + 1).round().astype(int))
        for count in per_session:
            for _ in range(count):
                topic = int(rng.choice(topics))
                item = int(topic * items_per_topic + rng.integers(items_per_topic))
                draw = process.answer(person, item, when)
                persons.append(person)
                items.append(item)
                correct.append(float(draw.correct))
                seconds.append(float(np.exp(draw.log_time)))
                order.append(when)
                when += float(np.exp(draw.log_time)) + float(rng.exponential(20.0))
            when += float(rng.uniform(1, 7)) * 86_400.0
    person_idx, item_idx = np.asarray(persons), np.asarray(items)
    responses = Responses.from_columns(
        list(params.persons[person_idx]), list(params.items[item_idx]), correct, seconds, order=order,
        topic=list(params.topics[params.item_topic[item_idx]]),
    )  # fmt: skip
    return SyntheticLearning(responses=responses, truth=params)
