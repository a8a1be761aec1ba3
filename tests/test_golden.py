"""The mini project's HTML twins compared as a folder with tests/golden/mini/.

After an intended change to templates or citations, run `make golden` and review the diff.
"""

from __future__ import annotations

import difflib

from support.golden import GOLDEN, render_html


def test_html_output_matches_the_golden_folder(tmp_path):
    built = render_html(tmp_path)
    expected = {p.name: p.read_bytes() for p in sorted(GOLDEN.glob("*.html"))}
    assert expected, f"{GOLDEN} is empty: run `make golden`"
    assert sorted(built) == sorted(expected), "files missing or extra; run `make golden`?"
    for name, data in built.items():
        if data != expected[name]:
            diff = "\n".join(
                difflib.unified_diff(
                    expected[name].decode().splitlines(),
                    data.decode().splitlines(),
                    f"golden/{name}",
                    f"built/{name}",
                    lineterm="",
                    n=2,
                )
            )
            raise AssertionError(
                f"{name} differs from the golden copy (intended? run `make golden`):\n{diff[:4000]}"
            )
