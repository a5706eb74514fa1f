"""Assignment 09_batchnorm graded end to end in a scratch copy of the course (sandbox, hidden seeds,
trusted verdict), with ``cnnlab.grading.batch.grade_assignment``.

Seven submissions: the solution and an independent implementation (channels as rows of a (C, M)
matrix, float64 inside, the running statistics updated through ``r[:] = r + momentum * (stat - r)``,
and CS231n's staged backward graph walked step by step) get full marks; three mutants lose exactly
the cells of the contract they break (the momentum as the weight of the *old* value, as in Keras; the
running variance left biased; a backward pass that forgets that the mean depends on every value);
the untouched release scores 0; a shortcut through ``cnnlab.reference`` gets a CheatingError and 0 on
every cell that calls it, while its honest backward pass keeps its points.
"""

import copy
import importlib.util
import json
import os
import shutil

import pytest

from course_copy import REPO, cell_index, cell_timeout, copy_course, read_nb, set_source, write_nb

NAME = "09_batchnorm"
CELL_TIMEOUT = 20  # seconds per cell: every test cell of 09 takes well under one

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"),
]

FORWARD_CELLS = ("test_batch_norm2d", "test_batch_norm2d_running", "test_batch_norm2d_hidden")
RUNNING_CELLS = ("test_batch_norm2d_running", "test_batch_norm2d_hidden")  # the running statistics are checked here
BACKWARD_CELLS = ("test_batch_norm2d_backward", "test_batch_norm2d_backward_hidden")
FLOAT32_CELL = "test_batch_norm2d_float32"  # the output of batch_norm2d and the three gradients, in float32

INDEPENDENT_09 = {
    "batch_norm2d": '''
def _channels_as_rows(a):
    """(N, C, H, W) -> (C, N*H*W): one row of M values per channel."""
    return a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)


def batch_norm2d(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    rows = _channels_as_rows(x).astype(np.float64)
    count = rows.shape[1]
    if training:
        mu = np.sum(rows, axis=1) / count
        centred = rows - mu[:, None]
        squares = np.sum(centred * centred, axis=1)
        sigma2 = squares / count
        running_mean[:] = running_mean + momentum * (mu - running_mean)
        running_var[:] = running_var + momentum * (squares / (count - 1) - running_var)
    else:
        mu = np.asarray(running_mean, dtype=np.float64)
        sigma2 = np.asarray(running_var, dtype=np.float64)
        centred = rows - mu[:, None]
    normed = centred / np.sqrt(sigma2 + eps)[:, None]
    y = normed * np.asarray(gamma, dtype=np.float64)[:, None] + np.asarray(beta, dtype=np.float64)[:, None]
    n, c, h, w = x.shape
    return y.reshape(c, n, h, w).transpose(1, 0, 2, 3).astype(x.dtype)
''',
    "batch_norm2d_backward": '''
def batch_norm2d_backward(dout, x, gamma, eps=1e-5):
    # CS231n's staged graph, walked backwards one node at a time, on (C, M) rows in float64
    rows, drows = _channels_as_rows(x).astype(np.float64), _channels_as_rows(dout).astype(np.float64)
    count = rows.shape[1]
    mu = rows.mean(axis=1, keepdims=True)
    xmu = rows - mu
    var = (xmu ** 2).mean(axis=1, keepdims=True)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    dbeta = drows.sum(axis=1)
    dgamma = (drows * xhat).sum(axis=1)
    dxhat = drows * np.asarray(gamma, dtype=np.float64)[:, None]
    divar = (dxhat * xmu).sum(axis=1, keepdims=True)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar ** 2
    dvar = 0.5 * dsqrtvar / sqrtvar
    dsq = dvar * np.ones_like(rows) / count
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -dx1.sum(axis=1, keepdims=True)
    dx2 = dmu * np.ones_like(rows) / count
    n, c, h, w = x.shape
    dx = (dx1 + dx2).reshape(c, n, h, w).transpose(1, 0, 2, 3)
    return dx.astype(x.dtype), dgamma.astype(x.dtype), dbeta.astype(x.dtype)
''',
}

CHEAT_REFERENCE_09 = '''
from cnnlab.reference import batch_norm2d as fast_batch_norm2d


def batch_norm2d(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    return fast_batch_norm2d(x, gamma, beta, running_mean, running_var, training, momentum, eps)
'''


def source_nb():
    return read_nb(os.path.join(REPO, "solutions", NAME, NAME + ".ipynb"))


def cell_source(nb, grade_id):
    return "".join(nb["cells"][cell_index(nb, grade_id)]["source"])


def replaced(nb, grade_id, old, new):
    """``nb`` with ``old`` replaced by ``new`` in the cell ``grade_id`` (``old`` must be there)."""
    source = cell_source(nb, grade_id)
    assert old in source, f"{grade_id}: {old!r} is not in the solution any more"
    return set_source(copy.deepcopy(nb), grade_id, source.replace(old, new))


def swapped_momentum(solved):
    """The solution with Keras's convention: ``momentum`` weighs the old running value."""
    nb = solved
    for stat, new in (("running_mean", "mean"), ("running_var", "var")):
        nb = replaced(nb, "batch_norm2d", f"{stat} *= 1 - momentum\n        {stat} += momentum * {new}",
                      f"{stat} *= momentum\n        {stat} += (1 - momentum) * {new}")
    return nb


def points():
    """{grade_id: points} of the autograded cells, from the source notebook's metadata."""
    return {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"]["points"])
            for c in source_nb()["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c["cell_type"] == "code"}


def submissions():
    """{student: (notebook, the cells it must lose)}."""
    solved = source_nb()
    release = read_nb(os.path.join(REPO, "exercises", NAME, NAME + ".ipynb"))
    independent = copy.deepcopy(solved)
    for grade_id, source in INDEPENDENT_09.items():
        set_source(independent, grade_id, source)
    return {
        "solution": (solved, ()),
        "independent": (independent, ()),
        # Keras's convention: momentum weighs the old running value
        "momentum_swapped": (swapped_momentum(solved), RUNNING_CELLS),
        # the running variance gets the biased batch variance (no M / (M - 1))
        "biased_running_var": (replaced(solved, "batch_norm2d", "momentum * var * m / (m - 1)", "momentum * var"),
                               RUNNING_CELLS),
        # dx without the path through the mean (the term sum(dxhat) is gone)
        "backward_no_mean": (replaced(solved, "batch_norm2d_backward",
                                      "m * dxhat - dxhat.sum(axis=axes, keepdims=True)\n", "m * dxhat\n"),
                             BACKWARD_CELLS + (FLOAT32_CELL,)),
        "release": (release, tuple(points())),
        # the answer key's forward pass: every cell that calls batch_norm2d scores 0, the backward keeps its points
        "cheat_reference": (set_source(copy.deepcopy(solved), "batch_norm2d", CHEAT_REFERENCE_09),
                            FORWARD_CELLS + (FLOAT32_CELL,)),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from cnnlab.grading import batch

    root = copy_course(str(tmp_path_factory.mktemp("course09")), [NAME])
    subs = submissions()
    for student, (nb, _) in subs.items():
        write_nb(nb, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))
    with cell_timeout(CELL_TIMEOUT):
        report = batch.grade_assignment(root, NAME, jobs=2, progress=False)
    url = batch.course_db_url(root)
    cells = {s: batch.recorded_scores(url, NAME, s)[NAME] for s in subs}
    return {"root": root, "subs": subs, "report": report, "cells": cells}


def autograded_text(graded, student):
    return json.dumps(read_nb(os.path.join(graded["root"], "autograded", student, NAME, NAME + ".ipynb")))


def test_the_points_are_as_the_readme_says():
    assert points() == {"test_batch_norm2d": 2, "test_batch_norm2d_running": 2, "test_batch_norm2d_hidden": 3,
                        "test_batch_norm2d_backward": 3, "test_batch_norm2d_backward_hidden": 3,
                        "test_batch_norm2d_float32": 1}
    assert sum(points().values()) == 14


def test_the_mutants_change_the_solution():
    solved = source_nb()
    for student, (nb, lost) in submissions().items():
        if student in ("solution", "release"):
            continue
        changed = [g for g in ("batch_norm2d", "batch_norm2d_backward") if cell_source(nb, g) != cell_source(solved, g)]
        assert changed, student


def test_every_submission_is_graded(graded):
    report = graded["report"]
    assert report["failed"] == 0, [(r["student"], r["reason"]) for r in report["results"] if r["status"] != "ok"]
    assert set(report["table"]) == set(graded["subs"])


@pytest.mark.parametrize("student", ["solution", "independent", "momentum_swapped", "biased_running_var",
                                     "backward_no_mean", "release", "cheat_reference"])
def test_each_submission_loses_exactly_the_cells_of_what_it_breaks(graded, student):
    expected = {g: (0.0 if g in graded["subs"][student][1] else p) for g, p in points().items()}
    assert {g: graded["cells"][student][g] for g in expected} == expected, student
    row = graded["report"]["table"][student]
    assert row["auto"] == sum(expected.values()) and row["auto_max"] == 14


def test_full_partial_and_zero_marks(graded):
    table = graded["report"]["table"]
    assert table["solution"]["auto"] == table["independent"]["auto"] == 14
    for mutant in ("momentum_swapped", "biased_running_var", "backward_no_mean", "cheat_reference"):
        assert 0 < table[mutant]["auto"] < 14, mutant
    assert table["release"]["auto"] == 0


def test_the_shortcut_is_named_a_cheating_error(graded):
    text = autograded_text(graded, "cheat_reference")
    assert "CheatingError" in text and "batch_norm2d must do the work itself" in text
    assert "CheatingError" not in autograded_text(graded, "solution")


def test_a_wrong_running_statistic_is_named_in_the_feedback(graded):
    """The running-statistics cell says which of the returned values is wrong: [1] running_mean, [2] running_var."""
    assert "momentum=0.1, eps=1e-05)[1]" in autograded_text(graded, "momentum_swapped")
    assert "momentum=0.1, eps=1e-05)[2]" in autograded_text(graded, "biased_running_var")


def test_no_course_cell_of_the_solution_fails_while_grading(graded):
    """The demonstration of the two modes runs in the sandbox; the gradient check, which needs the course's
    numerical_gradient, says in one line that it is not run while grading."""
    from cnnlab.grading.nbgrader_glue import NOT_GRADED_MARK, NOT_GRADED_TEXT

    path = os.path.join(graded["root"], "autograded", "solution", NAME, NAME + ".ipynb")
    marked, shown = 0, ""
    for cell in read_nb(path)["cells"]:
        if cell["cell_type"] != "code" or cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == [], "".join(cell["source"])[:80]
        texts = ["".join(o.get("text", "")) for o in cell.get("outputs", [])]
        if NOT_GRADED_MARK in "".join(cell["source"]):
            marked += 1
            assert texts == [NOT_GRADED_TEXT]
        shown += "".join(texts)
    assert marked == 1
    assert "training=True: image 0's output moved" in shown
    assert "training=False: image 0's output moved by up to 0.000" in shown
