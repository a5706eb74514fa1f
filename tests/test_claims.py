"""cnnlab.course.claims and scripts/check_claims.py: asserted claims are recorded, and the robustness run reads them."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnlab.course.claims import ClaimFailed, claim, points

ROOT = Path(__file__).resolve().parent.parent


def test_a_failing_claim_raises_unless_the_run_keeps_going(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("CNNLAB_CLAIMS_LOG", str(log))
    monkeypatch.delenv("CNNLAB_CLAIMS_KEEP_GOING", raising=False)
    assert claim("holds", True, "1 > 0")
    with pytest.raises(ClaimFailed, match="'fails' does not hold: 0 > 1"):
        claim("fails", False, "0 > 1")
    monkeypatch.setenv("CNNLAB_CLAIMS_KEEP_GOING", "1")
    assert claim("fails again", 0 > 1, "kept going") is False
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["claim"], r["holds"]) for r in rows] == [("holds", True), ("fails", False), ("fails again", False)]
    with pytest.raises(TypeError, match="name"):
        claim("", True)


def test_points_prints_one_decimal_of_percentage_points():
    assert points({"mean": -0.0363, "low": -0.0453, "high": -0.0274}) == "-3.6 points (95% interval -4.5 to -2.7)"


def write_chapter(folder, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, folder / name)


@pytest.mark.slow
def test_check_claims_runs_chapters_per_setting_and_tabulates(tmp_path):
    """Two tiny chapters: one claim that depends on the seed offset, one that holds; a third chapter errors."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_claims", ROOT / "scripts" / "check_claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    book = tmp_path / "book"
    book.mkdir()
    write_chapter(book, "01_a.ipynb", ["import os\nfrom cnnlab.course.claims import claim",
                                       "claim('offset is small', int(os.environ['CNNLAB_SEED_OFFSET']) < 5, "
                                       "os.environ['CNNLAB_SEED_OFFSET'])",
                                       "claim('threads are set', os.environ['OMP_NUM_THREADS'] in '12', 'ok')"])
    write_chapter(book, "02_b.ipynb", ["from cnnlab.course.claims import claim\nclaim('always', True)", "1 / 0"])
    write_chapter(book, "03_none.ipynb", ["print('no claims here')"])
    module.BOOK = book
    out = tmp_path / "results.json"
    status = module.main(["--offsets", "0", "7", "--threads", "1", "--cuda", "no", "--out", str(out)])
    assert status == 1  # a failing claim and a chapter that did not run to the end
    results = json.loads(out.read_text())
    assert sorted({r["chapter"] for r in results}) == ["01_a", "02_b"]  # 03 asserts nothing: not run
    by = {(r["chapter"], r["setting"]): r for r in results}
    offset_claim = lambda setting: [c for c in by[("01_a", setting)]["claims"] if c["claim"] == "offset is small"][0]
    assert offset_claim("offset 0, 1 thread")["holds"] and not offset_claim("offset 7, 1 thread")["holds"]
    assert by[("01_a", "offset 7, 1 thread")]["status"] == "ran"  # kept going past the failed claim
    assert by[("02_b", "offset 0, 1 thread")]["status"].startswith("error")
