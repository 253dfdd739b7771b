"""The shared frame of every dashboard page: header, navigation drawer, theme, and the content column."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nicegui import ui

from studysmart.users.models import User
from studysmart.web import auth

BRAND = "StudySmart"
NAV = (
    ("/dashboard", "Dashboard", "today"),
    ("/dashboard/tasks", "Tasks", "checklist"),
    ("/dashboard/analytics", "Analytics", "insights"),
    ("/dashboard/preparation", "Preparation", "event"),
    ("/dashboard/settings", "Settings", "settings"),
)
THEMES: dict[str, bool | None] = {"light": False, "dark": True, "auto": None}


@dataclass
class Frame:
    """What a page may still change after building the frame."""

    dark: ui.dark_mode
    content: ui.column


def theme_value(theme: str | None) -> bool | None:
    """The ``ui.dark_mode`` value of a theme preference (None: follow the system)."""
    return THEMES.get(theme or "auto")


def apply_style() -> None:
    """Colours shared by every page (the public home page too)."""
    ui.colors(primary="#3f51b5", secondary="#26a69a", accent="#7e57c2", positive="#2e7d32")
    ui.add_css("""
        body:not(.body--dark) { background-color: #f5f6f8; }
        .ss-card { width: 100%; }
        .ss-rule { border-bottom: 1px solid rgba(140, 143, 152, 0.3); }
        .ss-muted { opacity: 0.72; }
        .ss-nav a { text-decoration: none; color: inherit; }
        .ss-nav a[aria-current="page"] { background: rgba(63, 81, 181, 0.14); font-weight: 600; }
        .q-drawer--standard:has(.ss-nav) { background: transparent; }
        .nicegui-link { color: var(--q-primary); }
        /* Dark mode: the theme colours as text (links, outline and flat buttons, badges) in their light tints,
           and as backgrounds under white text in deeper shades, so both keep WCAG AA contrast (4.5:1).
           In the first cascade layer: an !important there outranks Quasar's (NiceGUI puts those in the last). */
        @layer theme {
          .body--dark { --q-primary: #9fa8da !important; --q-positive: #81c784 !important;
                        --q-negative: #ef9a9a !important; }
          .body--dark .bg-primary { background-color: #3949ab !important; }
          .body--dark .bg-positive { background-color: #2e7d32 !important; }
          .body--dark .bg-negative { background-color: #c62828 !important; }
          .body--dark .text-grey-7 { color: #bdbdbd !important; }
          :focus-visible { outline: 3px solid var(--q-primary) !important; outline-offset: 2px; }
          /* A task action's word shows on wide screens only (phones: the icon, named by aria-label and title). */
          @media (max-width: 599.98px) { .ss-action .q-btn__content > .block { display: none !important; }
                                         .ss-action .q-icon.on-left { margin-right: 0 !important; } }
        }
        /* Phones: every button at least 44 CSS px both ways (WCAG 2.5.5). */
        @media (max-width: 599.98px) { .q-btn { min-height: 44px; min-width: 44px; } }

    """)


def _logout() -> None:
    auth.log_out()


@contextmanager
def frame(title: str, *, user: User, path: str) -> Iterator[Frame]:
    """Build the header and navigation of a dashboard page; the page's content goes inside the ``with`` block.

    Args:
        title: the page's heading and browser title.
        user: the logged-in user (for the name and theme).
        path: the page's route, marked as current in the navigation.

    Yields:
        The frame: its dark-mode element (settings changes it live) and the content column.
    """
    ui.page_title(f"{title} · {BRAND}")
    apply_style()
    dark = ui.dark_mode(theme_value(user.preference("theme")))
    with ui.header(elevated=False).classes("items-center gap-2 px-3 py-2 bg-primary text-white"):
        menu = ui.button(icon="menu").props('flat round dense color=white aria-label="Open navigation"')
        ui.link(BRAND, "/dashboard").classes("text-lg font-bold text-white no-underline")
        ui.space()
        ui.label(user.display_name).classes("text-sm gt-xs ss-name").mark("user-name")
        ui.button("Log out", icon="logout", on_click=_logout) \
            .props('flat dense no-caps color=white aria-label="Log out"').mark("logout")
    # Open above the breakpoint, closed on phones: Quasar decides in the browser (show-if-above) and reports the
    # value back, rather than NiceGUI asking the browser for it (a JavaScript round trip that logs an error
    # whenever the page is left within a second).
    with ui.left_drawer(value=False).props("show-if-above width=220 breakpoint=1023") \
            .classes("ss-nav p-2") as drawer:
        with ui.element("nav").props('aria-label="Main"').classes("w-full"):
            for target, label, icon in NAV:
                current = "page" if target == path else "false"
                with ui.link(target=target).props(f"aria-current={current}") \
                        .classes("flex items-center gap-3 rounded px-3 py-2 w-full"):
                    ui.icon(icon).classes("text-xl")
                    ui.label(label)
    menu.on_click(drawer.toggle)
    content = ui.column().classes("w-full max-w-5xl mx-auto gap-4 p-3 sm:p-5")
    ui.skip_link("Skip to main content", target=content)
    with content:
        ui.label(title).classes("text-2xl font-semibold").props('role=heading aria-level="1"')
        yield Frame(dark=dark, content=content)


def empty_state(message: str, *, action: str | None = None, target: str | None = None,
                icon: str = "info") -> None:
    """A friendly "nothing here yet" block that says what to do next."""
    with ui.row().classes("w-full items-center gap-3 p-4 rounded border border-dashed ss-muted"):
        ui.icon(icon).classes("text-2xl")
        ui.label(message).classes("flex-1 min-w-[12rem]")
        if action and target:
            ui.button(action, on_click=lambda: ui.navigate.to(target)).props("outline no-caps")


async def placeholder_until_connected(*, blocks: int, height: str, columns: str = "grid-cols-1") -> ui.element:
    """Show skeletons in the shape of what is coming, deliver the page, and wait for the browser.

    Pages whose data takes a while (predictions, analytics) call this before loading it, so the page never
    hits NiceGUI's page-build timeout and the layout does not jump much when the data arrives. Delete the
    returned element, then build the real content in its place.
    """
    holder = ui.element("div").classes(f"w-full grid {columns} gap-4").props('aria-busy=true')
    with holder:
        for _ in range(blocks):
            ui.skeleton(height=height).classes("w-full rounded")
    await ui.context.client.connected(timeout=30)
    return holder

