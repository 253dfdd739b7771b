"""Where the shared data sets live (read in place, never copied): STUDYSMART_SHARED_DIR or ../shared."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STUDYSMART_SHARED_DIR", REPO.parent / "shared")).resolve()
DATA = SHARED / "data"
LNIRT_PEER = SHARED / "peers" / "lnirt"


def needs_shared(path: Path) -> pytest.MarkDecorator:
    """Skip a test when a shared data file is absent locally; in CI the test runs (and fails without it)."""
    required = bool(os.environ.get("CI") or os.environ.get("STUDYSMART_REQUIRE_SERVICES"))
    return pytest.mark.skipif(not path.exists() and not required, reason=f"shared data absent: {path}")
