"""The six pages: home (/), dashboard, tasks, analytics, preparation, settings; and the password reset pages."""

from __future__ import annotations

from studysmart.web.pages import analytics, dashboard, home, preparation, reset, settings, tasks


def register() -> None:
    """Register every page on NiceGUI's app (re-registering replaces the previous routes)."""
    for page in (home, dashboard, tasks, analytics, preparation, settings, reset):
        page.register()
