"""The engine is pure: importing all of it loads no database, web or other domain module."""

from __future__ import annotations

import subprocess
import sys

ENGINE = ["plan", "planner", "readiness", "optimise", "simulate", "spec"]


def test_the_engine_imports_only_ml_and_core() -> None:
    code = (
        "import sys\n"
        + "".join(f"import studysmart.planning.engine.{name}\n" for name in ENGINE)
        + "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    app = [m for m in loaded if m.startswith("studysmart.")
           and not m.startswith(("studysmart.planning.engine", "studysmart.ml", "studysmart.core"))
           and m != "studysmart.planning"]
    assert app == []
    assert [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "fastapi", "nicegui", "icalendar")] == []
