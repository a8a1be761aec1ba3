"""Reproducible builds: the same inputs give byte-identical PDFs and HTML in separate
processes, from copies of the project in different places, serially or in parallel."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from support import frozen_tool
from support.mini import MINI


@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> Path:
    return frozen_tool.snapshot(tmp_path_factory.mktemp("tool"))


def _build(tool: Path, project: Path, out: Path, *args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy_briefs",
            "build",
            "--project",
            str(project),
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=project,
        env=frozen_tool.environ(tool, **env),
    )
    assert result.returncode == 0, result.stderr


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def _without_build_times(manifest: dict) -> dict:
    for entry in manifest["briefs"].values():
        entry.pop("built_at")
    return manifest


def test_separate_processes_write_identical_bytes(tool, tmp_path):
    here = Path(shutil.copytree(MINI, tmp_path / "one" / "mini"))
    there = Path(shutil.copytree(MINI, tmp_path / "two" / "elsewhere"))
    out_a, out_b = tmp_path / "out-a", tmp_path / "out-b"
    _build(tool, here, out_a, env={"PYTHONHASHSEED": "1", "SOURCE_DATE_EPOCH": "1768435200"})
    _build(
        tool,
        there,
        out_b,
        "--jobs",
        "2",
        env={"PYTHONHASHSEED": "4242", "SOURCE_DATE_EPOCH": "1800000000"},
    )

    a, b = _digests(out_a), _digests(out_b)
    assert (
        set(a)
        == set(b)
        >= {
            "federal.pdf",
            "federal.html",
            "sme.pdf",
            "sme.html",
            "manifest.json",
            "CHANGES.md",
            "changes.json",
        }
    )
    stamped = {"manifest.json", "CHANGES.md", "changes.json"}  # the build time, and only it
    differ = [name for name in a if a[name] != b[name] and name not in stamped]
    assert differ == []
    for name in ("CHANGES.md", "changes.json"):
        text_a = (out_a / name).read_text("utf-8").replace("2026-01-15T00:00:00Z", "TIME")
        text_b = (out_b / name).read_text("utf-8").replace("2027-01-15T08:00:00Z", "TIME")
        assert "TIME" in text_a and text_a == text_b

    manifest_a = json.loads((out_a / "manifest.json").read_text("utf-8"))
    manifest_b = json.loads((out_b / "manifest.json").read_text("utf-8"))
    assert manifest_a["briefs"]["federal"]["built_at"] == "2026-01-15T00:00:00Z"
    assert manifest_b["briefs"]["federal"]["built_at"] == "2027-01-15T08:00:00Z"
    assert _without_build_times(manifest_a) == _without_build_times(manifest_b)


def test_pdf_dates_and_id_come_from_the_inputs(tool, tmp_path):
    project = Path(shutil.copytree(MINI, tmp_path / "mini"))
    out = tmp_path / "out"
    _build(tool, project, out, "federal", "--format", "pdf", env={})
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    entry = manifest["briefs"]["federal"]
    with pikepdf.open(out / "federal.pdf") as pdf:
        first_id = bytes(pdf.trailer.ID[0])
        created = str(pdf.docinfo["/CreationDate"])
        modified = str(pdf.docinfo["/ModDate"])
        producer = str(pdf.docinfo["/Producer"])
    assert first_id == hashlib.md5(entry["input_hash"].encode()).hexdigest().encode()
    publication = (project / "findings" / "publication.yaml").read_text("utf-8")
    date = next(
        line.split(":", 1)[1].strip().strip("'\"")
        for line in publication.splitlines()
        if line.strip().startswith("date:")
    )
    assert created == modified == "D:" + date.replace("-", "")
    assert producer == f"WeasyPrint {manifest['tool']['weasyprint']}"
