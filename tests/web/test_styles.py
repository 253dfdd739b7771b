"""The pages' Tailwind stylesheet is compiled ahead (web.styles), committed and current (that the pages load it
and no in-browser compiler: the real-browser walk, tests/web/browser)."""

from __future__ import annotations

from pathlib import Path

from studysmart.web import styles


def test_the_committed_stylesheet_is_a_fresh_build_of_the_classes_the_pages_use(tmp_path: Path) -> None:
    fresh = styles.build(out=tmp_path / "tailwind.css")
    assert styles.STYLESHEET.read_text() == fresh, "a page's classes changed: run `make css` and commit the result"
    for used in (".md\\:grid-cols-2", ".items-center", ".gap-2"):  # classes of our pages, compiled in
        assert used in fresh, used

