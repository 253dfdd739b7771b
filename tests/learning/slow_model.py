"""A test-only model whose first fit blocks (until killed), to exercise worker failures mid-training."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar, Self

from studysmart.ml.base import Progress
from studysmart.ml.baselines import GlobalAverage
from studysmart.ml.data import Responses

MARKER_ENV = "STUDYSMART_TEST_SLOW_MARKER"


class SlowModel(GlobalAverage):
    """``avg`` that, while the marker file does not exist, creates it and then sleeps for a minute."""

    name: ClassVar[str] = "slow-test"

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        marker = Path(os.environ[MARKER_ENV])
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)
        return super().fit(data, progress=progress)
