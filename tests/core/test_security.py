"""The production password hasher (the suite runs with a cheaper one: tests/conftest.py ``CHEAP_HASHER``)."""

from __future__ import annotations

import re

import pytest

from studysmart.core import security


def test_production_hashes_are_argon2id_at_owasp_strength(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real hasher, not the suite's cheap one
    for stored in (security.hash_password("correct horse battery"), security._DUMMY_HASH):
        match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", stored)
        assert match is not None, stored
        memory_kib, time_cost, _ = map(int, match.groups())
        assert memory_kib >= 19 * 1024 and time_cost >= 2  # OWASP's minimum for argon2id: 19 MiB, 2 passes
    assert security.verify_password("correct horse battery", security.hash_password("correct horse battery"))
    assert not security.verify_password("wrong", security.hash_password("correct horse battery"))


def test_the_suite_hashes_with_its_cheap_hasher() -> None:
    assert "m=1024,t=1,p=1" in security.hash_password("x")
