"""Default locations of the shared data (override with --shared or STUDYSMART_SHARED_DIR)."""

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STUDYSMART_SHARED_DIR", REPO.parent / "shared")).resolve()
RESULTS = REPO / "benchmarks" / "results"


def write_results(name: str, full: dict[str, Any], summary: dict[str, Any], out: Path | None, *,
                  results: Path = RESULTS) -> None:
    """Write ``full`` to ``results``/<name>.json and ``summary`` to ``out`` (if given), and print the summary."""
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(full, indent=2))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
