"""Default locations of the shared data (override with --shared or STUDYSMART_SHARED_DIR)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STUDYSMART_SHARED_DIR", REPO.parent / "shared")).resolve()
RESULTS = REPO / "benchmarks" / "results"
