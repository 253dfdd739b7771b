"""Where the shared data sets live (read in place, never copied): STUDYSMART_SHARED_DIR or ../shared."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STUDYSMART_SHARED_DIR", REPO.parent / "shared")).resolve()
DATA = SHARED / "data"
LNIRT_PEER = SHARED / "peers" / "lnirt"
