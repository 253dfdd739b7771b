"""Debian's Chromium for the real-browser tests (driven by Playwright): where it is, how it is started, and a
skip (locally) or failure (CI) when it is missing."""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Skip the calling test when Chromium is absent locally; in CI (services required) fail it."""
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is needed (apt-get install chromium)"
        if os.environ.get("CI") or os.environ.get("STUDYSMART_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
