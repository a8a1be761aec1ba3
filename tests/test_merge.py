"""`briefs merge`: the shards of a build, merged, are the build one machine would make."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from policy_briefs.build import BuildOptions, build
from policy_briefs.merge import MergeError, merge
from policy_briefs.project import Project
from support.mini import MINI

pytestmark = pytest.mark.usefixtures("frozen_templates")

EXTRA_AUDIENCE = (
    "  - id: extra\n    title: Extra readers\n    reader: Anyone.\n    template: sme.html\n"
    "    citation_style: apa\n    reading_grade: 9\n"
)
EDITION = "sme-supplier-networks"  # the mini project's declared edition
EXTRA_RELEVANCE = "      extra:\n        priority: low\n        implication: Worth a look.\n"


@pytest.fixture(scope="module")
def three_shards(tmp_path_factory) -> dict[str, Path]:
    """The mini project with a third audience, built once whole and once in 3 shards."""
    base = tmp_path_factory.mktemp("merge")
    root = Path(shutil.copytree(MINI, base / "mini"))
    audiences = root / "findings" / "audiences.yaml"
    audiences.write_text(audiences.read_text("utf-8") + EXTRA_AUDIENCE, "utf-8")
    networks = root / "findings" / "networks.yaml"
    text = networks.read_text("utf-8")
    marker = "          - Join a supplier network near you.\n"
    assert marker in text
    networks.write_text(text.replace(marker, marker + EXTRA_RELEVANCE, 1), "utf-8")

    project = Project.at(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", "1700000000")  # built_at, as CI sets it from the commit
    try:
        build(project, BuildOptions(out_dir=base / "whole"))
        for k in (1, 2, 3):
            build(project, BuildOptions(out_dir=base / f"shard{k}", shard=(k, 3)))
    finally:
        mp.undo()
    return {"root": root, "base": base}


def _shards(base: Path) -> list[Path]:
    return [base / f"shard{k}" for k in (1, 2, 3)]


def _copy_shards(base: Path, into: Path) -> list[Path]:
    return [Path(shutil.copytree(s, into / s.name)) for s in _shards(base)]


def test_merged_shards_equal_one_build_byte_for_byte(three_shards, tmp_path):
    base = three_shards["base"]
    shard_slugs = [
        set(json.loads((s / "manifest.json").read_text("utf-8"))["briefs"]) for s in _shards(base)
    ]
    # Sorted by slug (extra, federal, sme, sme-supplier-networks), every third.
    assert shard_slugs == [{"extra", EDITION}, {"federal"}, {"sme"}]

    report = merge(_shards(base), tmp_path / "merged")
    whole, merged = base / "whole", tmp_path / "merged"
    assert report.briefs == ["federal", "sme", "extra", EDITION] and report.shards == 3
    for slug in report.briefs:
        for fmt in ("pdf", "html"):
            assert (merged / f"{slug}.{fmt}").read_bytes() == (whole / f"{slug}.{fmt}").read_bytes()
    # The whole manifest: brief entries, the request record, tool and environment.
    assert (merged / "manifest.json").read_text("utf-8") == (whole / "manifest.json").read_text(
        "utf-8"
    )
    for name in ("CHANGES.md", "changes.json"):
        assert (merged / name).read_text("utf-8") == (whole / name).read_text("utf-8")
    assert sorted(p.name for p in merged.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in whole.iterdir() if not p.name.startswith(".")
    )


def test_a_build_of_the_whole_on_the_merged_folder_has_nothing_to_do(three_shards, tmp_path):
    merge(_shards(three_shards["base"]), tmp_path / "merged")
    report = build(Project.at(three_shards["root"]), BuildOptions(out_dir=tmp_path / "merged"))
    assert report.up_to_date and report.kept == ["federal", "sme", "extra", EDITION]


def test_the_cli_merges_into_the_project_output(three_shards, cli, tmp_path):
    root = Path(shutil.copytree(three_shards["root"], tmp_path / "project"))
    result = cli("merge", *_shards(three_shards["base"]), "--project", root)
    assert result.exit_code == 0, result.stderr
    assert "merged 4 briefs from 3 shards" in result.stderr
    assert (root / "output" / "manifest.json").is_file()


def test_a_missing_shard_is_refused(three_shards, tmp_path):
    with pytest.raises(MergeError, match=r"shard 2/3 missing: pass the output folders of all 3"):
        merge([three_shards["base"] / "shard1", three_shards["base"] / "shard3"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_the_same_shard_twice_is_refused(three_shards, tmp_path):
    first = three_shards["base"] / "shard1"
    copy = Path(shutil.copytree(first, tmp_path / "again"))
    with pytest.raises(MergeError, match="are the same shard"):
        merge([first, copy, *_shards(three_shards["base"])[1:]], tmp_path / "m")


def test_a_file_changed_since_its_shard_built_it_is_refused(three_shards, tmp_path):
    shards = _copy_shards(three_shards["base"], tmp_path)
    (pdf,) = shards[1].glob("*.pdf")
    pdf.write_bytes(pdf.read_bytes() + b"\n% tampered")
    with pytest.raises(MergeError, match=rf"shard 2/3\): .*{pdf.name} changed since it was built"):
        merge(shards, tmp_path / "m")
    assert not (tmp_path / "m").exists(), "nothing is written"


def test_shards_of_different_inputs_are_refused(three_shards, tmp_path):
    root = Path(shutil.copytree(three_shards["root"], tmp_path / "edited"))
    strategy = root / "findings" / "strategy.yaml"
    strategy.write_text(strategy.read_text("utf-8").replace("did not deliver", "fell short"))
    build(Project.at(root), BuildOptions(out_dir=tmp_path / "other2", shard=(2, 3)))
    shards = _shards(three_shards["base"])
    with pytest.raises(MergeError, match="different inputs or software"):
        merge([shards[0], tmp_path / "other2", shards[2]], tmp_path / "m")


def test_shards_of_different_requests_are_refused(three_shards, tmp_path):
    root = three_shards["root"]
    build(
        Project.at(root), BuildOptions(out_dir=tmp_path / "html2", shard=(2, 3), formats=("html",))
    )
    shards = _shards(three_shards["base"])
    with pytest.raises(MergeError, match="a different request"):
        merge([shards[0], tmp_path / "html2", shards[2]], tmp_path / "m")


def test_overlapping_briefs_with_different_bytes_are_refused(three_shards, tmp_path):
    shards = _copy_shards(three_shards["base"], tmp_path)
    # Shard 2 claims shard 3's brief too, with other bytes (and a manifest that agrees).
    manifest_path = shards[1] / "manifest.json"
    data = json.loads(manifest_path.read_text("utf-8"))
    third = json.loads((shards[2] / "manifest.json").read_text("utf-8"))
    (slug,) = third["briefs"]
    entry = third["briefs"][slug]
    for record in entry["files"].values():
        content = (shards[2] / record["path"]).read_bytes() + b"\n"
        (shards[1] / record["path"]).write_bytes(content)
        record["sha256"] = hashlib.sha256(content).hexdigest()
        record["bytes"] = len(content)
    data["briefs"][slug] = entry
    (record_data,) = [r for r in data["requests"].values() if "whole" in r]
    record_data["briefs"].insert(0, slug)
    manifest_path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(MergeError, match=f"brief {slug} is in .* with different bytes"):
        merge(shards, tmp_path / "m")


def test_a_folder_that_is_no_shard_is_refused(three_shards, tmp_path):
    shards = _shards(three_shards["base"])
    with pytest.raises(MergeError, match="not the output of one `briefs build --shard K/N`"):
        merge([three_shards["base"] / "whole", *shards[1:]], tmp_path / "m")
    with pytest.raises(MergeError, match="no such folder"):
        merge([tmp_path / "nowhere", *shards[1:]], tmp_path / "m")


def test_cli_refusal_is_a_clear_error_not_a_traceback(three_shards, cli, tmp_path):
    result = cli("merge", three_shards["base"] / "shard1", "--out", tmp_path / "m")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: shard 2/3, 3/3 missing")
