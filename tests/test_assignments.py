"""The nbgrader assignments end to end: release up to date, solutions get full marks, blanks zero,
partial work partial marks, cheating zero, hanging and crashing submissions do not stop the run,
edited or deleted test cells are restored.

Everything runs in a temporary copy of the course (nothing lands in the repository). One
``nbgrader autograde "*"`` call grades every student of every assignment, which is much faster
than one call per submission.
"""

import copy
import csv
import importlib.util
import json
import os

import pytest

from course_copy import (REPO, cell_index, cell_timeout, copy_course, insert_code_cell, load_grade_script, read_nb,
                         set_source, write_nb)

ASSIGNMENTS = [
    "01_image_data",
    "02_convolution",
    "03_padding_stride",
    "04_pooling",
    "05_conv_backprop",
    "06_dropout_augmentation",
    "07_train_cnn",
    "08_vgg",
    "09_batchnorm",
]
CELL_TIMEOUT = 10  # seconds per cell in the test course: the hanging submission costs this much

pytestmark = pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed")


grade = load_grade_script()


def source_nb(name):
    return read_nb(os.path.join(REPO, "solutions", name, name + ".ipynb"))


def release_nb(name):
    return read_nb(os.path.join(REPO, "exercises", name, name + ".ipynb"))


HONEST_CORR2D_CONV = "02_convolution"

CHEAT_REFERENCE = '''
from cnnlab.reference import conv2d as fast_conv2d


def conv2d(x, w, b=None):
    return fast_conv2d(x, w, b)
'''

CHEAT_TORCH = '''
def conv2d(x, w, b=None):
    import torch

    bias = None if b is None else torch.from_numpy(b)
    return torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), bias).numpy()
'''

CHEAT_VGG = '''
from cnnlab.models import VGG
'''


def make_submissions(folder):
    """Student notebooks: {(assignment, student): notebook}; the 02 ones go through `collect`."""
    subs = {}
    for name in ASSIGNMENTS:
        subs[(name, "solution")] = source_nb(name)
        subs[(name, "blank")] = release_nb(name)
    conv = HONEST_CORR2D_CONV
    solved = source_nb(conv)
    release = release_nb(conv)
    # partial: corr2d solved, conv2d left as released
    partial = copy.deepcopy(release)
    set_source(partial, "corr2d", solved["cells"][cell_index(solved, "corr2d")]["source"])
    subs[(conv, "partial")] = partial
    # cheaters: corr2d honest, conv2d through the answer key or through PyTorch
    subs[(conv, "cheat_reference")] = set_source(copy.deepcopy(solved), "conv2d", CHEAT_REFERENCE)
    subs[(conv, "cheat_torch")] = set_source(copy.deepcopy(solved), "conv2d", CHEAT_TORCH)
    # an endless loop in a cell of its own, right after the imports
    subs[(conv, "hang")] = insert_code_cell(copy.deepcopy(solved), 3, "while True:\n    pass\n")
    # a cell that kills the kernel
    subs[(conv, "crash")] = insert_code_cell(copy.deepcopy(solved), 3, "import os\nos._exit(1)\n")
    # correct solutions, but one test cell sabotaged and another one deleted: both come back
    edited = set_source(copy.deepcopy(solved), "test_corr2d", "raise AssertionError('edited by the student')\n")
    del edited["cells"][cell_index(edited, "test_conv2d")]
    subs[(conv, "edit")] = edited
    # no solutions, but the visible tests replaced by print(): must not earn points
    faker = copy.deepcopy(release)
    for gid in ("test_corr2d", "test_conv2d"):
        set_source(faker, gid, "print('all good')\n")
    subs[(conv, "fake")] = faker
    # VGG taken from the course package
    subs[("08_vgg", "cheat_models")] = set_source(source_nb("08_vgg"), "vgg", CHEAT_VGG)
    # 05 right in every value, but db in float64 for float32 inputs: only the float32 cell's point is lost
    slip = source_nb("05_conv_backprop")
    backward = "".join(slip["cells"][cell_index(slip, "conv2d_backward")]["source"])
    subs[("05_conv_backprop", "dtype_slip")] = set_source(
        slip, "conv2d_backward", backward.replace("    return dx, dw, db\n", "    return dx, dw, db.astype(np.float64)\n"))

    inbox = os.path.join(folder, "inbox_02")
    for (name, student), nb in subs.items():
        if name == conv:
            # two layouts `collect` understands: DIR/<student>.ipynb and DIR/<student>/<anything>/<name>.ipynb
            if student in ("hang", "fake"):
                write_nb(nb, os.path.join(inbox, student + ".ipynb"))
            else:
                write_nb(nb, os.path.join(inbox, student, "work", name + ".ipynb"))
        else:
            write_nb(nb, os.path.join(folder, "submitted", student, name, name + ".ipynb"))
    return subs, inbox


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    root = copy_course(str(tmp_path_factory.mktemp("course")))
    with cell_timeout(CELL_TIMEOUT):
        subs, inbox = make_submissions(root)
        collected = grade.collect(root, HONEST_CORR2D_CONV, inbox)
        grade.generate(root, None, quiet=True)  # fills the gradebook
        result = grade.nbgrader(root, "autograde", "*", "--force", check=False, quiet=True)
        tables = {name: grade.scores(root, name) for name in ASSIGNMENTS}
        yield {"root": root, "subs": subs, "collected": collected, "tables": tables, "log": result.stderr}


def autograded_text(course, name, student):
    path = os.path.join(course["root"], "autograded", student, name, name + ".ipynb")
    return json.dumps(read_nb(path))


# ---------------------------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------------------------


def test_every_assignment_has_source_release_tests_and_a_written_answer():
    for name in ASSIGNMENTS:
        nb = source_nb(name)
        meta = [c["metadata"].get("nbgrader", {}) for c in nb["cells"]]
        tests = [m for m in meta if m.get("grade") and not m.get("solution")]
        written = [c for c, m in zip(nb["cells"], meta) if m.get("grade") and m.get("solution") and c["cell_type"] == "markdown"]
        assert len(tests) >= 3, f"{name}: only {len(tests)} test cells"
        assert all(m.get("locked") for m in tests), f"{name}: test cells must be read-only (locked)"
        assert any("BEGIN HIDDEN TESTS" in "".join(c["source"]) for c in nb["cells"]), f"{name}: no hidden tests"
        assert len(written) == 1, f"{name}: expected one written answer cell"
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), f"{name}: outputs committed"
        assert os.path.exists(os.path.join(REPO, "exercises", name, name + ".ipynb")), f"{name}: no release"
        release_text = json.dumps(release_nb(name))
        assert "BEGIN SOLUTION" not in release_text and "BEGIN HIDDEN TESTS" not in release_text


@pytest.mark.slow
def test_release_matches_solutions():
    """exercises/ is exactly what `nbgrader generate_assignment` makes from solutions/."""
    assert grade.release_differences(REPO) == []


@pytest.mark.slow
def test_collect_finds_both_layouts(graded_course):
    assert graded_course["collected"] == sorted(
        ["partial", "cheat_reference", "cheat_torch", "hang", "crash", "edit", "fake", "solution", "blank"]
    )
    stamp = os.path.join(graded_course["root"], "submitted", "hang", HONEST_CORR2D_CONV, "timestamp.txt")
    assert os.path.exists(stamp)


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_full_marks_release_zero(graded_course, name):
    table = graded_course["tables"][name]
    solution, blank = table["solution"], table["blank"]
    assert not solution["failed"], f"{name}: the solution could not be graded"
    assert solution["auto_max"] > 0
    assert solution["auto"] == solution["auto_max"], f"{name}: solution cells {solution['cells']}"
    assert not blank["failed"]
    assert blank["auto"] == 0, f"{name}: the untouched release scored {blank['cells']}"
    assert solution["manual_max"] > 0, f"{name}: no written answer"


@pytest.mark.slow
def test_partial_submission_gets_partial_marks(graded_course):
    row = graded_course["tables"][HONEST_CORR2D_CONV]["partial"]
    assert row["cells"]["test_corr2d"] > 0 and row["cells"]["test_corr2d_hidden"] > 0
    assert row["cells"]["test_conv2d"] == 0 and row["cells"]["test_conv2d_hidden"] == 0
    assert 0 < row["auto"] < row["auto_max"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_course_cell_fails_while_grading(graded_course, name):
    """A solved submission shows no error outside the test cells: a course cell that needs the course's
    data or answer key says in one line that it is not run while grading."""
    from cnnlab.grading.nbgrader_glue import NOT_GRADED_MARK, NOT_GRADED_TEXT

    path = os.path.join(graded_course["root"], "autograded", "solution", name, name + ".ipynb")
    marked = 0
    for cell in read_nb(path)["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "code" or meta.get("grade"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == [], f"{name}: {''.join(cell['source'])[:80]!r} failed while grading: {errors[0].get('evalue')}"
        if NOT_GRADED_MARK in "".join(cell["source"]):
            marked += 1
            assert ["".join(o.get("text", "")) for o in cell["outputs"]] == [NOT_GRADED_TEXT]
    assert marked == {"01_image_data": 2, "05_conv_backprop": 1, "06_dropout_augmentation": 1, "07_train_cnn": 2,
                      "09_batchnorm": 1}.get(name, 0)


@pytest.mark.slow
def test_a_dtype_slip_costs_its_own_point_only(graded_course):
    row = graded_course["tables"]["05_conv_backprop"]["dtype_slip"]
    assert not row["failed"]
    lost = {cell: points for cell, points in row["cells"].items()
            if points < graded_course["tables"]["05_conv_backprop"]["solution"]["cells"][cell]}
    assert list(lost) == ["test_conv2d_backward_float32"] and lost["test_conv2d_backward_float32"] == 0
    assert row["auto"] == row["auto_max"] - 1


@pytest.mark.slow
@pytest.mark.parametrize("student", ["cheat_reference", "cheat_torch"])
def test_cheating_scores_zero_on_its_cells(graded_course, student):
    row = graded_course["tables"][HONEST_CORR2D_CONV][student]
    assert not row["failed"]
    assert row["cells"]["test_conv2d"] == 0 and row["cells"]["test_conv2d_hidden"] == 0
    # the honest function keeps its points
    assert row["cells"]["test_corr2d"] > 0 and row["cells"]["test_corr2d_hidden"] > 0
    assert "CheatingError" in autograded_text(graded_course, HONEST_CORR2D_CONV, student)


@pytest.mark.slow
def test_cheating_with_the_course_vgg_scores_zero(graded_course):
    row = graded_course["tables"]["08_vgg"]["cheat_models"]
    assert row["cells"]["test_vgg"] == 0 and row["cells"]["test_vgg_hidden"] == 0
    assert row["cells"]["test_make_features"] > 0 and row["cells"]["test_count_parameters"] > 0
    assert "CheatingError" in autograded_text(graded_course, "08_vgg", "cheat_models")


@pytest.mark.slow
def test_hanging_and_crashing_submissions_do_not_stop_the_run(graded_course):
    table = graded_course["tables"][HONEST_CORR2D_CONV]
    # the endless loop is interrupted after the cell timeout; the rest of that notebook still runs
    assert not table["hang"]["failed"]
    assert table["hang"]["auto"] == table["hang"]["auto_max"]
    assert "CellTimeoutError" in autograded_text(graded_course, HONEST_CORR2D_CONV, "hang")
    # the dead kernel costs that submission only
    assert table["crash"]["failed"] and table["crash"]["auto"] == 0
    # students graded after them (alphabetically) are fine
    for student in ("partial", "solution", "edit"):
        assert not table[student]["failed"], student


@pytest.mark.slow
def test_edited_and_deleted_test_cells_are_restored(graded_course):
    table = graded_course["tables"][HONEST_CORR2D_CONV]
    edited = table["edit"]
    assert edited["auto"] == edited["auto_max"], edited["cells"]
    text = autograded_text(graded_course, HONEST_CORR2D_CONV, "edit")
    assert "edited by the student" not in text
    assert "was missing from the submission" in text
    assert table["fake"]["auto"] == 0, table["fake"]["cells"]


@pytest.mark.slow
def test_feedback_and_export(graded_course):
    root = graded_course["root"]
    grade.feedback(root, "01_image_data")
    html = os.path.join(root, "feedback", "solution", "01_image_data", "01_image_data.html")
    assert os.path.exists(html)
    destination = os.path.join(root, "grades.csv")
    grade.export(root, destination)
    with open(destination, newline="") as f:
        rows = list(csv.DictReader(f))
    by_key = {(r["assignment"], r["student_id"]): r for r in rows}
    assert float(by_key[("02_convolution", "solution")]["raw_score"]) == pytest.approx(
        graded_course["tables"]["02_convolution"]["solution"]["auto"]
    )
    assert float(by_key[("02_convolution", "blank")]["raw_score"]) == 0


@pytest.mark.slow
def test_release_command_writes_a_zip(tmp_path):
    grade.release(REPO, "02_convolution", str(tmp_path), check=False)  # freshness: test above
    assert (tmp_path / "02_convolution" / "02_convolution.ipynb").exists()
    assert (tmp_path / "02_convolution.zip").stat().st_size > 0
