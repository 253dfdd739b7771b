"""The six pages: home (/), dashboard, tasks, analytics, preparation, settings; the password reset pages, one
task's page, and the "not found" page for every other /dashboard path (registered last)."""

from __future__ import annotations

from studysmart.web.pages import (
    analytics,
    dashboard,
    home,
    not_found,
    preparation,
    reset,
    settings,
    task,
    tasks,
)


def register() -> None:
    """Register every page on NiceGUI's app (re-registering replaces the previous routes)."""
    for page in (home, dashboard, tasks, task, analytics, preparation, settings, reset, not_found):
        page.register()
