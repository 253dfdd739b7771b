"""The base of every domain error: plain Python (no web framework), so pure code such as the planning engine can
raise them; ``core.errors`` answers them over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class DomainError(Exception):
    """An error a service raises for the API to answer with ``status``: a 422-style body naming ``field`` when
    one is given (``where`` is the part of the request it came in), else ``{"detail": message}``."""

    status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None, where: str = "body",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field
        self.where = where
        self.headers = dict(headers or {})
