"""The golden folder: the mini project's HTML twins as they should be, byte for byte.

    .venv/bin/python tests/support/golden.py     (what `make golden` runs)

writes tests/golden/mini/ from a fresh build; test_golden.py compares a build with it as
a folder (files missing, extra or different). Regenerate after an intended change to the
templates or the citation output, and review the diff like any other change.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "golden" / "mini"
MINI = HERE.parent / "projects" / "mini"


# The embedded fonts are subsets of the installed font files, which differ between
# machines (package versions); tests/test_webfonts.py checks them. The golden copies
# keep each @font-face rule with its payload replaced by a fixed mark.
_FONT_DATA = re.compile(rb"data:font/woff2;base64,[A-Za-z0-9+/=]+")
FONT_MARK = b"data:font/woff2;base64,(subset)"


def render_html(into: Path) -> dict[str, bytes]:
    """The mini project's HTML twins, built into ``into``: name -> bytes (fonts marked)."""
    from policy_briefs.build import BuildOptions, build
    from policy_briefs.project import Project

    root = Path(shutil.copytree(MINI, into / "mini"))
    build(Project.at(root), BuildOptions(formats=("html",)))
    return {
        p.name: _FONT_DATA.sub(FONT_MARK, p.read_bytes())
        for p in sorted((root / "output").glob("*.html"))
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        files = render_html(Path(tmp))
    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    GOLDEN.mkdir(parents=True)
    for name, data in files.items():
        (GOLDEN / name).write_bytes(data)
        print(
            GOLDEN.relative_to(Path.cwd()) / name
            if GOLDEN.is_relative_to(Path.cwd())
            else GOLDEN / name
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
