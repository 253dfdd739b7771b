"""Columnar containers for responses (who answered what, correct or not, how long) and prediction queries,
and the readers of the long CSV format (``read_responses``) and of held-out cell lists (``read_cells``).

Persons and items are coded as int32 indices into label arrays, so models work on dense NumPy arrays while
callers keep their own string identifiers. Missing values are NaN (correct and log_time are float64).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ORDER_COLUMNS",
    "TOPIC_COLUMNS",
    "DataError",
    "Queries",
    "Responses",
    "read_cells",
    "read_responses",
]


def _labels(values: Sequence[object] | np.ndarray) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=object)


def _log_seconds(sec: np.ndarray) -> np.ndarray:
    """log(seconds), NaN where seconds are missing, NaN or <= 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        result: np.ndarray = np.where(sec > 0, np.log(np.where(sec > 0, sec, 1.0)), np.nan)
    return result


def _recode(codes: np.ndarray, labels: np.ndarray, name: str, *, keep: bool = False) -> Any:
    """(sorted used labels, codes into them[, the old index of each kept label]) of codes into ``labels``."""
    if codes.size and (codes.min() < 0 or codes.max() >= len(labels)):
        raise ValueError(f"{name} codes must index its {len(labels)} labels")
    if len(np.unique(labels)) != len(labels):
        raise ValueError(f"{name} labels must be distinct")
    used = np.flatnonzero(np.bincount(codes, minlength=len(labels)) > 0)
    kept = used[np.argsort(labels[used], kind="stable")]
    mapping = np.full(len(labels), -1, dtype=np.int32)
    mapping[kept] = np.arange(len(kept), dtype=np.int32)
    recoded = mapping[codes]
    out = labels[kept].astype(object)
    return (out, recoded, kept) if keep else (out, recoded)


@dataclass(frozen=True)
class Queries:
    """Rows to predict: one (person, item) per row, with the item's features for cold start.

    Args:
        person: person labels (str), one per row.
        item: item labels (str), one per row.
        topic: optional topic label per row (used when the item is unknown to the model).
        difficulty: optional difficulty label per row ("easy", "medium", "hard" in the app).
        order: optional timestamp / position per row (seconds since epoch, or a sequence number).
    """

    person: np.ndarray
    item: np.ndarray
    topic: np.ndarray | None = None
    difficulty: np.ndarray | None = None
    order: np.ndarray | None = None

    @classmethod
    def from_columns(
        cls,
        person: Sequence[object],
        item: Sequence[object],
        topic: Sequence[object] | None = None,
        difficulty: Sequence[object] | None = None,
        order: Sequence[float] | None = None,
    ) -> Queries:
        """Build queries from plain sequences of labels."""
        return cls(
            person=_labels(person),
            item=_labels(item),
            topic=None if topic is None else _labels(topic),
            difficulty=None if difficulty is None else _labels(difficulty),
            order=None if order is None else np.asarray(order, dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.person.shape[0])


@dataclass(frozen=True)
class Responses:
    """Observed responses in long format.

    Row arrays (length n_rows): person, item (int32 codes), correct (1.0 / 0.0 / NaN),
    log_time (NaN = missing), order (optional float: timestamp or position, for temporal splits and sequence
    models).
    Label arrays: persons (n_persons), items (n_items). Item features (length n_items, optional):
    item_topic, item_difficulty. Person covariates: name -> array of length n_persons.
    weight: optional per-row weight (>= 0) of each row in item-level estimation (None = every row 1; see
    ``studysmart.ml.robust``). Person-level estimates use every row of a person regardless.
    """

    person: np.ndarray
    item: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    persons: np.ndarray
    items: np.ndarray
    order: np.ndarray | None = None
    item_topic: np.ndarray | None = None
    item_difficulty: np.ndarray | None = None
    person_covariates: dict[str, np.ndarray] = field(default_factory=dict)
    weight: np.ndarray | None = None

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_columns(
        cls,
        person: Sequence[object],
        item: Sequence[object],
        correct: Sequence[float | None] | np.ndarray,
        seconds: Sequence[float | None] | np.ndarray,
        *,
        order: Sequence[float] | np.ndarray | None = None,
        topic: Sequence[object] | None = None,
        difficulty: Sequence[object] | None = None,
    ) -> Responses:
        """Build responses from per-row columns of labels, correctness and seconds.

        Seconds that are missing, NaN or <= 0 become missing log-times. Topic and difficulty are per row here
        and are stored per item (the first row of each item wins).
        """
        person_labels, person_codes = np.unique(_labels(person), return_inverse=True)
        item_labels, item_codes = np.unique(_labels(item), return_inverse=True)
        correct_arr = np.array([np.nan if c is None else float(c) for c in correct], dtype=np.float64)
        sec = np.array([np.nan if s is None else float(s) for s in seconds], dtype=np.float64)
        log_time = _log_seconds(sec)
        n_items = item_labels.shape[0]

        def per_item(values: Sequence[object] | None) -> np.ndarray | None:
            if values is None:
                return None
            out = np.empty(n_items, dtype=object)
            labels = _labels(values)
            _, first = np.unique(item_codes, return_index=True)
            out[item_codes[first]] = labels[first]
            return out

        return cls(
            person=person_codes.astype(np.int32),
            item=item_codes.astype(np.int32),
            correct=correct_arr,
            log_time=log_time,
            persons=person_labels.astype(object),
            items=item_labels.astype(object),
            order=None if order is None else np.asarray(order, dtype=np.float64),
            item_topic=per_item(topic),
            item_difficulty=per_item(difficulty),
        )

    @classmethod
    def from_codes(
        cls,
        person: np.ndarray,
        persons: Sequence[object] | np.ndarray,
        item: np.ndarray,
        items: Sequence[object] | np.ndarray,
        correct: np.ndarray,
        seconds: np.ndarray,
        *,
        order: np.ndarray | None = None,
        item_topic: Sequence[object] | np.ndarray | None = None,
        item_difficulty: Sequence[object] | np.ndarray | None = None,
    ) -> Responses:
        """Build responses from integer codes into label arrays, without one label per row: the same
        Responses as ``from_columns`` of the rows' labels ``persons[person]``, ``items[item]`` (labels sorted,
        unused ones dropped). ``item_topic`` / ``item_difficulty`` are per label of ``items``.

        Raises:
            ValueError: a label occurs twice, a code is outside its labels, or the columns differ in length.
        """
        n = len(person)
        if not len(item) == len(correct) == len(seconds) == n or (order is not None and len(order) != n):
            raise ValueError("person, item, correct, seconds (and order) must have one entry per row")
        person_labels, person_codes = _recode(np.asarray(person), _labels(persons), "person")
        item_labels, item_codes, kept = _recode(np.asarray(item), _labels(items), "item", keep=True)

        def per_item(values: Sequence[object] | np.ndarray | None) -> np.ndarray | None:
            return None if values is None else _labels(values)[kept]

        return cls(
            person=person_codes, item=item_codes,
            correct=np.asarray(correct, dtype=np.float64), log_time=_log_seconds(np.asarray(seconds, np.float64)),
            persons=person_labels, items=item_labels,
            order=None if order is None else np.asarray(order, dtype=np.float64),
            item_topic=per_item(item_topic), item_difficulty=per_item(item_difficulty),
        )  # fmt: skip

    @classmethod
    def empty(cls) -> Responses:
        """No responses at all (a fresh app)."""
        return cls.from_columns([], [], [], [])

    # -- shape ----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.person.shape[0])

    @property
    def n_persons(self) -> int:
        return int(self.persons.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    @property
    def has_order(self) -> bool:
        """Whether any row has an order value (a timestamp or a position): the answers form sequences."""
        return self.order is not None and bool(np.any(~np.isnan(self.order)))

    # -- views ----------------------------------------------------------------------------------------------
    def subset(self, rows: np.ndarray) -> Responses:
        """The given rows (boolean mask or indices), keeping the same person and item vocabularies."""
        return replace(
            self,
            person=self.person[rows],
            item=self.item[rows],
            correct=self.correct[rows],
            log_time=self.log_time[rows],
            order=None if self.order is None else self.order[rows],
            weight=None if self.weight is None else self.weight[rows],
        )

    def weighted(self, weight: np.ndarray | None) -> Responses:
        """The same responses with per-row ``weight`` (None removes the weights).

        Raises:
            ValueError: the weights are not one finite number >= 0 per row.
        """
        if weight is None:
            return replace(self, weight=None)
        w = np.asarray(weight, dtype=np.float64)
        if w.shape != (len(self),) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"weight must be {len(self)} finite numbers >= 0, got shape {w.shape}")
        return replace(self, weight=w)

    def row_weight(self) -> np.ndarray:
        """The weight of every row (ones when the responses carry no weights)."""
        return np.ones(len(self)) if self.weight is None else self.weight

    def row_topic(self) -> np.ndarray | None:
        """Topic label per row (None when the data has no topics)."""
        return None if self.item_topic is None else self.item_topic[self.item]

    def row_difficulty(self) -> np.ndarray | None:
        """Difficulty label per row (None when the data has no difficulties)."""
        return None if self.item_difficulty is None else self.item_difficulty[self.item]

    def to_queries(self, rows: np.ndarray | None = None) -> Queries:
        """Queries for the given rows (all rows by default), with labels and item features."""
        sub = self if rows is None else self.subset(rows)
        topic = sub.row_topic()
        difficulty = sub.row_difficulty()
        return Queries(
            person=sub.persons[sub.person],
            item=sub.items[sub.item],
            topic=topic,
            difficulty=difficulty,
            order=sub.order,
        )


# -- reading CSV files ---------------------------------------------------------------------------------
#: Order columns tried, in this order, when ``read_responses(order=None)``.
ORDER_COLUMNS = ("timestamp", "order", "position", "time_point")
#: Topic columns tried, in this order, when ``read_responses(topic=None)``.
TOPIC_COLUMNS = ("topic", "skill")
_MISSING_TEXT = frozenset({"", "na", "nan", "null", "none"})


class DataError(ValueError):
    """A data file cannot be used; the message names the file, the line and the reason."""


def _open_text(path: Path) -> io.TextIOBase:
    """Open a CSV file for reading text, gunzipping it when it starts with the gzip magic bytes."""
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
        if magic == b"\x1f\x8b":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
        return path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_columns(path: str | Path, wanted: Sequence[str], required: Sequence[str],
                  ) -> tuple[dict[str, list[str]], list[int]]:
    """The named columns of a CSV file as lists of stripped strings, and the file line number of each row.

    Raises DataError for an empty file, a missing required column or a row of the wrong length.
    """
    path = Path(path)
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file (no header line)")
            header = [h.strip() for h in header]
            for name in required:
                if name not in header:
                    shown = ", ".join(header[:12]) + (f", ... ({len(header)} in all)" if len(header) > 12 else "")
                    raise DataError(f"{path}: missing column {name!r} (columns: {shown})")
            positions = {name: header.index(name) for name in wanted if name in header}
            columns: dict[str, list[str]] = {name: [] for name in positions}
            lines: list[int] = []
            width = len(header)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != width:
                    raise DataError(f"{path}:{reader.line_num}: expected {width} fields, found {len(row)}")
                lines.append(reader.line_num)
                for name, pos in positions.items():
                    columns[name].append(row[pos].strip())
    except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise DataError(f"{path}: cannot parse: {exc}") from exc
    return columns, lines


def _numbers(values: list[str], name: str, path: str | Path, lines: list[int]) -> np.ndarray:
    """Floats with missing text as NaN; DataError naming the first line that is not a finite number."""
    text = ["nan" if v.lower() in _MISSING_TEXT else v for v in values]
    try:
        out = np.asarray(text, dtype=np.float64)
    except ValueError:
        out = None
    if out is not None and not np.isinf(out).any():
        return out
    for line, value in zip(lines, text, strict=True):
        try:
            number = float(value)
        except ValueError:
            number = math.inf
        if math.isinf(number):
            raise DataError(f"{path}:{line}: {name} is not a number: {value!r}")
    raise AssertionError("unreachable")  # pragma: no cover


def _labels_column(columns: dict[str, list[str]], name: str, path: str | Path, lines: list[int]) -> list[str]:
    values = columns[name]
    for line, value in zip(lines, values, strict=True):
        if value.lower() in _MISSING_TEXT:
            raise DataError(f"{path}:{line}: {name} is empty")
    return values


def read_responses(path: str | Path, *, order: str | None = None, topic: str | None = None,
                   difficulty: str | None = "difficulty", columns: Mapping[str, str] | None = None,
                   ) -> Responses:
    """Read responses from a long CSV file (optionally gzipped): one row per answer.

    Required columns: person, item, correct (0/1, empty = missing), seconds (>= 0; empty or 0 = missing time).
    Other columns are ignored unless named here.

    Args:
        path: the CSV file (``.csv`` or gzip-compressed).
        order: the order/timestamp column; None picks the first present of ORDER_COLUMNS; "" reads none.
        topic: the item topic column; None picks the first present of TOPIC_COLUMNS; "" reads none.
        difficulty: the item difficulty column, used when present; "" reads none.
        columns: renames for the required columns, e.g. {"person": "studentId", "seconds": "timeTaken"}.

    Returns:
        The responses, with order and item topic/difficulty when those columns exist.

    Raises:
        DataError: the file cannot be read, a required column is missing, or a value is invalid (with the
            line number): correct not 0/1, seconds not a number or negative, an empty person or item.
    """
    names = {key: (columns or {}).get(key, key) for key in ("person", "item", "correct", "seconds")}
    with _open_text(Path(path)) as handle:
        header = [h.strip() for h in next(csv.reader(handle), [])]
    order_col = order if order is not None else next((c for c in ORDER_COLUMNS if c in header), "")
    topic_col = topic if topic is not None else next((c for c in TOPIC_COLUMNS if c in header), "")
    diff_col = difficulty if difficulty and difficulty in header else ""
    optional = [c for c in (order_col, topic_col) if c]
    data, lines = _read_columns(path, [*names.values(), *optional, *([diff_col] if diff_col else [])],
                                [*names.values(), *optional])
    person = _labels_column(data, names["person"], path, lines)
    item = _labels_column(data, names["item"], path, lines)
    correct = _numbers(data[names["correct"]], names["correct"], path, lines)
    bad = ~np.isnan(correct) & (correct != 0) & (correct != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}:{lines[row]}: {names['correct']} must be 0 or 1, found "
                        f"{data[names['correct']][row]!r}")
    seconds = _numbers(data[names["seconds"]], names["seconds"], path, lines)
    if (seconds < 0).any():
        row = int(np.flatnonzero(seconds < 0)[0])
        raise DataError(f"{path}:{lines[row]}: {names['seconds']} is negative: "
                        f"{data[names['seconds']][row]!r}")
    return Responses.from_columns(
        person, item, correct, seconds,
        order=_numbers(data[order_col], order_col, path, lines) if order_col else None,
        topic=data[topic_col] if topic_col else None,
        difficulty=data[diff_col] if diff_col else None,
    )


def read_cells(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read held-out cells: a CSV with columns person and item (optionally gzipped).

    Returns:
        (person labels, item labels) as object arrays of str, one entry per cell.

    Raises:
        DataError: the file cannot be read, a column is missing, or a person/item is empty (with the line).
    """
    data, lines = _read_columns(path, ["person", "item"], ["person", "item"])
    person = _labels_column(data, "person", path, lines)
    item = _labels_column(data, "item", path, lines)
    return np.asarray(person, dtype=object), np.asarray(item, dtype=object)
