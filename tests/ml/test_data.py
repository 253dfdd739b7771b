"""Reading the long CSV format and held-out cells: good files, gzip, missing values and one clear error per
bad file (with the line number)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from studysmart.ml.data import DataError, read_cells, read_responses
from tests.paths import DATA, LNIRT_PEER, needs_shared

GOOD = """person,item,correct,seconds,skill,position,extra
p1,1,1,20.5,algebra,1,x
p1,2,0,0,algebra,2,y
p2,1,,12,geometry,1,z
p2,3,1,,geometry,2,w
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz"])
def test_reads_long_format_with_missing_values(tmp_path: Path, name: str) -> None:
    data = read_responses(write(tmp_path, GOOD, name))
    assert len(data) == 4 and list(data.persons) == ["p1", "p2"] and list(data.items) == ["1", "2", "3"]
    np.testing.assert_array_equal(np.isnan(data.correct), [False, False, True, False])
    np.testing.assert_allclose(data.log_time[[0, 2]], np.log([20.5, 12]))
    assert np.isnan(data.log_time[1]) and np.isnan(data.log_time[3])  # zero and empty seconds: missing times
    assert data.order is not None and list(data.order) == [1, 2, 1, 2]  # "position" found automatically
    assert data.item_topic is not None and list(data.item_topic) == ["algebra", "algebra", "geometry"]


def test_options_choose_and_rename_columns(tmp_path: Path) -> None:
    text = "studentId,problem,ok,timeTaken,stamp\na,x,1,3,100\na,y,0,4,50\n"
    data = read_responses(write(tmp_path, text), order="stamp", topic="",
                          columns={"person": "studentId", "item": "problem", "correct": "ok",
                                   "seconds": "timeTaken"})
    assert data.order is not None and list(data.order) == [100, 50]
    assert data.item_topic is None
    assert read_responses(write(tmp_path, GOOD), order="").order is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("person,item,correct\np,1,1\n", "missing column 'seconds'"),
        ("person,item,correct,seconds\np,1,1,10\np,2,1,fast\n", ":3: seconds is not a number: 'fast'"),
        ("person,item,correct,seconds\np,1,1,10\np,2,1,-4\n", ":3: seconds is negative"),
        ("person,item,correct,seconds\np,1,2,10\n", ":2: correct must be 0 or 1, found '2'"),
        ("person,item,correct,seconds\np,1,yes,10\n", ":2: correct is not a number: 'yes'"),
        ("person,item,correct,seconds\n,1,1,10\n", ":2: person is empty"),
        ("person,item,correct,seconds\np,1,1\n", ":2: expected 4 fields, found 3"),
        ("", "empty file"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message.replace("(", r"\(")) as info:
        read_responses(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_responses(tmp_path / "nope.csv")


def test_read_cells(tmp_path: Path) -> None:
    person, item = read_cells(write(tmp_path, '"person","item"\n1,27\n2,3\n', "cells.csv"))
    assert list(person) == ["1", "2"] and list(item) == ["27", "3"]
    with pytest.raises(DataError, match="missing column 'item'"):
        read_cells(write(tmp_path, "person\n1\n", "bad.csv"))


@needs_shared(DATA / "lnirt_amsterdam_chess" / "data.csv")
def test_reads_the_shared_chess_data() -> None:
    data = read_responses(DATA / "lnirt_amsterdam_chess" / "data.csv")
    assert (len(data), data.n_persons, data.n_items) == (10360, 259, 40)
    assert int(np.isnan(data.correct).sum()) == 120 and data.order is not None
    assert data.item_topic is not None and set(data.item_topic) == {"tactical", "positional", "endgame"}


@needs_shared(LNIRT_PEER / "heldout_cells.csv")
def test_reads_the_reference_heldout_cells() -> None:
    person, item = read_cells(LNIRT_PEER / "heldout_cells.csv")
    assert person.shape == (27812,) and (person[0], item[0]) == ("1", "27")
