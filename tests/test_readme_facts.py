"""README's facts about the assignments are read from the source notebooks, so they cannot drift."""

import glob
import json
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def notebook_points():
    """{assignment: (autograded points, written points)} from solutions/<a>/<a>.ipynb's nbgrader metadata."""
    points = {}
    for path in sorted(glob.glob(os.path.join(REPO, "solutions", "*", "*.ipynb"))):
        auto = written = 0.0
        for cell in json.load(open(path, encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") or meta.get("task"):
                if cell["cell_type"] == "code":
                    auto += float(meta["points"])
                else:
                    written += float(meta["points"])
        points[os.path.basename(os.path.dirname(path))] = (auto, written)
    return points


def readme():
    return open(os.path.join(REPO, "README.md"), encoding="utf-8").read()


def test_the_assignment_table_lists_every_assignment_with_its_points():
    table = {}
    for name, auto, written in re.findall(r"^\| `(\d\d_\w+)` \|.*\| (\d+) \+ (\d+) \|$", readme(), re.M):
        table[name] = (float(auto), float(written))
    assert table == notebook_points()


def test_the_sentence_on_points_gives_the_real_range():
    points = notebook_points()
    autos = [a for a, _ in points.values()]
    totals = [a + w for a, w in points.values()]
    match = re.search(r"Each assignment has (\d+) to (\d+) autograded points.*?(\d+) to (\d+) in all", readme(), re.S)
    assert match, "README: the sentence on the points per assignment is missing"
    low, high, low_total, high_total = map(float, match.groups())
    assert (low, high) == (min(autos), max(autos))
    assert (low_total, high_total) == (min(totals), max(totals))
    written = {w for _, w in points.values()}
    assert written == {2.0}, "README says: one written answer of 2 points"
