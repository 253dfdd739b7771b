"""Structured (key=value) logging set up once per process; secrets are never passed to loggers."""

from __future__ import annotations

import logging
import sys
from typing import Any

_HANDLER = "studysmart"


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with timestamps at ``level`` (idempotent)."""
    root = logging.getLogger()
    if any(h.get_name() == _HANDLER for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())


def kv(event: str, **fields: Any) -> str:
    """A structured log line: ``event key=value ...``."""
    return event + "".join(f" {key}={value!r}" for key, value in fields.items())
