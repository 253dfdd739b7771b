"""The application context: each app, command and test has its own (settings, model cache, job queue); no module
holds one, and services read settings from the context their session belongs to, never from the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from studysmart.core.config import Settings
from studysmart.core.db import utcnow
from studysmart.learning import registry
from studysmart.learning.context import AppContext, context_of, make_context
from studysmart.learning.serving import choose_model
from tests.conftest import reconfigured
from tests.factories import make_user

SRC = Path(__file__).resolve().parents[2] / "src" / "studysmart"
#: Entry points: they read the environment once and build a context (the CLI, the worker, the ASGI module).
ENTRY_POINTS = {"cli.py", "asgi.py", "app.py", "learning/consumer.py", "learning/jobs.py", "commands/plan.py",
                "core/config.py"}
SINGLETON_TYPES = {"ModelCache", "Jobs", "AppContext", "WebContext"}


def _called(node: ast.AST) -> str:
    """The name a call calls (``f()`` or ``x.f()``), or ""."""
    if not isinstance(node, ast.Call):
        return ""
    return str(getattr(node.func, "id", getattr(node.func, "attr", "")))


def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(SRC)), ast.parse(path.read_text())) for path in sorted(SRC.rglob("*.py"))]


def test_no_module_holds_a_cache_a_queue_or_a_context() -> None:
    found = []
    for name, tree in _modules():
        for node in tree.body:  # module level only
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if value is not None and _called(value) in SINGLETON_TYPES:
                found.append(f"{name}:{node.lineno}")
            if isinstance(value, ast.Dict | ast.Call) and isinstance(node, ast.AnnAssign) \
                    and "Jobs" in ast.unparse(node.annotation):
                found.append(f"{name}:{node.lineno}")
    assert found == []


def test_services_never_read_the_environment_for_settings() -> None:
    calls = [f"{name}:{node.lineno}" for name, tree in _modules() if name not in ENTRY_POINTS
             for node in ast.walk(tree) if _called(node) == "get_settings"]
    assert calls == []


def test_two_contexts_on_one_database_keep_their_own_models_and_settings(context: AppContext,
                                                                         settings: Settings) -> None:
    challenger = reconfigured(context, ab_challenger_share=1.0, serving_model=registry.AUTO)
    with context.sessions() as session:
        student = make_user(session, now=utcnow())
        session.commit()
        assert context_of(session) is context
        assert choose_model(session, student) == (registry.FALLBACK, "champion")
        assert context.models.get(session, registry.FALLBACK) is not None
        assert set(context.models.versions()) == {registry.FALLBACK}
    assert challenger.models.versions() == {}  # nothing loaded there: the caches are not shared
    with challenger.sessions() as session:
        assert context_of(session) is challenger
        assert challenger.settings.ab_challenger_share == 1.0 and context.settings.ab_challenger_share == 0.0


def test_a_session_from_elsewhere_is_refused_with_a_clear_error(settings: Settings, migrated: str) -> None:
    made = make_context(settings)
    try:
        with Session(made.engine) as stray, pytest.raises(RuntimeError, match="AppContext"):
            context_of(stray)
    finally:
        made.dispose()
