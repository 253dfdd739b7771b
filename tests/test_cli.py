"""The command line: db upgrade, demo (idempotent), status (text and JSON), exit code 2 on operator errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from studysmart.cli import app
from studysmart.core.config import Settings

runner = CliRunner()


def test_db_upgrade_demo_status(settings: Settings) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["demo", "--students", "2"])
    assert first.exit_code == 0, first.output
    assert "loaded demo data" in first.output and "demo login" in first.output
    again = runner.invoke(app, ["demo", "--students", "2"])
    assert "already present" in again.output
    report = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert report["users"] == 2
    done = report["tasks"]["done"]
    assert done > 0
    assert report["training"]["samples"] == done
    text = runner.invoke(app, ["status"])
    assert text.exit_code == 0
    assert f"{report['training']['completed_since_training']}/5" in text.output


def test_demo_if_empty_leaves_a_used_database_alone(settings: Settings) -> None:
    runner.invoke(app, ["db", "upgrade"])
    runner.invoke(app, ["demo", "--students", "1"])
    assert "already present" in runner.invoke(app, ["demo", "--if-empty"]).output


def test_status_on_a_missing_database_exits_2(settings: Settings) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert "db upgrade" in result.output


def test_status_never_imports_torch(settings: Settings) -> None:
    import subprocess
    import sys

    runner.invoke(app, ["db", "upgrade"])
    code = ("import sys; from typer.testing import CliRunner; from studysmart.cli import app; "
            "r = CliRunner().invoke(app, ['status']); assert r.exit_code == 0, r.output; "
            "assert 'torch' not in sys.modules and 'numba' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
