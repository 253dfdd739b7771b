"""The registry is the one place model names live: no other module of the app writes one as a string literal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from studysmart.learning import registry
from studysmart.ml import base as ml

SRC = Path(registry.__file__).resolve().parents[1]
ALLOWED = {SRC / "learning" / "registry.py"}


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_every_ml_model_is_registered_and_every_spec_names_an_ml_model() -> None:
    assert set(registry.BY_NAME) == set(ml.MODELS)
    assert registry.FALLBACK in registry.servable()


def test_no_model_name_is_written_outside_the_registry_and_ml() -> None:
    names = set(registry.BY_NAME)
    found = [f"{path.relative_to(SRC)}:{line}: {value!r}"
             for path in sorted(SRC.rglob("*.py"))
             if path not in ALLOWED and "ml" not in path.relative_to(SRC).parts[:1]
             for line, value in _literals(path) if value in names]
    assert found == []


@pytest.mark.parametrize("name", sorted(registry.BY_NAME))
def test_every_spec_answers_its_questions(name: str) -> None:
    spec = registry.spec(name)
    assert spec.label and registry.label(name) == spec.label
    assert spec.needs_torch == (name in ml.NEEDS_TORCH)


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(ml.UnknownModel):
        registry.spec("nope")
