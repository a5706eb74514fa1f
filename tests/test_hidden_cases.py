"""The hidden tests' inputs are drawn at grading time (issue 18, item 1), graded by a real `nbgrader autograde`.

A student who has read the course can compute, at home and with the course's own answer key, the
answers for every seed printed in a test cell. The attack here submits exactly that: no
implementation, only a table of the answers for the seeds the notebook shows (the visible tests'
seeds and the labels ``k`` of ``grading.hidden_seed(k)``, which is all a student can know). With
fixed hidden seeds it scored full marks; now the hidden cells draw their seeds from a secret the
sandbox never sees, so the table has nothing to look up and the hidden cells score 0.

The same run shows the other side: the solution and an independent implementation (given to
three students, so three different draws) keep full marks, a regrade of the same submission draws
the same seeds and gives the same score, a changed submission draws new ones, no drawn seed is
printed in the autograded notebook or the feedback, and the secret is nowhere the sandbox can look.
"""

import base64
import hashlib
import importlib.util
import inspect
import io
import json
import os
import re
import shutil

import numpy as np
import pytest

from course_copy import (INDEPENDENT_02, cell_timeout, copy_course, insert_code_cell, load_grade_script, read_nb,
                         set_source, write_nb)

from cnnlab.grading import cases as case_generators
from cnnlab.grading import compare, hidden

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"),
]

grade = load_grade_script("cnnlab_grade_script_hidden_cases")
NAME = "02_convolution"
HIDDEN_CELLS = ("test_corr2d_hidden", "test_conv2d_hidden")
INDEPENDENT_STUDENTS = ("ivy", "jon", "kim")


def input_key(arrays):
    """What the table is keyed on: shapes, dtypes and bytes of the input arrays (None left out)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is not None:
            array = np.ascontiguousarray(array)
            digest.update(repr((array.shape, array.dtype.str)).encode() + array.tobytes())
    return digest.hexdigest()


class Tabulate:
    """``grading`` for a student at home: runs a test cell's source with the public seeds and the
    answer key, and keeps every answer under the key of its inputs."""

    def __init__(self):
        self.table = {}

    def __getattr__(self, name):  # the case generators and hidden_seed(k) = k: all a student can know
        return getattr(case_generators, name)

    def check(self, student, reference, cases, **options):
        answer_key = compare.resolve_reference(reference)
        for args, kwargs in (case_generators.as_case(c) for c in cases):
            arrays = list(args) + [kwargs[n] for n in ("x", "w", "b") if n in kwargs]
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(answer_key(*args, **kwargs)), allow_pickle=False)
            self.table[input_key(arrays)] = base64.b64encode(buffer.getvalue()).decode()

    def expect_error(self, *args, **kwargs):
        """The answer to bad input is an error; the table submission raises it itself."""


def answer_table(solution):
    """The answers of every test cell of ``solution`` for the seeds it prints."""
    tabulate = Tabulate()
    for cell in solution["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            exec("".join(cell["source"]), {"np": np, "grading": tabulate, "corr2d": None, "conv2d": None})  # noqa: S102
    return tabulate.table


TABLE_SUBMISSION = '''
import base64
import hashlib
import io

import numpy as np

TABLE = {table!r}


{input_key}

def look_up(arrays, shape):
    hit = TABLE.get(input_key(arrays))
    if hit is None:
        return np.zeros(shape, dtype=arrays[0].dtype)
    return np.load(io.BytesIO(base64.b64decode(hit)), allow_pickle=False)


def corr2d(x, k):
    return look_up([x, k], (x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))
'''

TABLE_CONV = '''
def conv2d(x, w, b=None):
    if x.shape[1] != w.shape[1]:
        raise ValueError("channels differ")
    return look_up([x, w, b], (x.shape[0], w.shape[0], x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1))
'''

# Looks for the grader's secret wherever a kernel can: its environment, its files, the course's path.
SECRET_HUNT = '''
import os
found = {{"environment": sorted(os.environ)}}
for path in ({secret_file!r}, os.path.expanduser("~/.grading_secret"), ".grading_secret"):
    try:
        with open(path) as f:
            found[path] = f.read()
    except OSError as error:
        found[path] = type(error).__name__
found["files"] = sorted(os.path.join(base, n) for folder in (os.getcwd(), os.path.expanduser("~"), "/tmp")
                        for base, _, names in os.walk(folder) for n in names)[:500]
print(found)
'''


def seeds_of(root, student):
    with open(os.path.join(root, "grading_seeds", NAME, student, NAME + ".json"), encoding="utf-8") as f:
        return json.load(f)


def autograded(root, student):
    return json.dumps(read_nb(os.path.join(root, "autograded", student, NAME, NAME + ".ipynb")))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = copy_course(str(tmp_path_factory.mktemp("hidden_cases")), assignments=[NAME])
    solution = read_nb(os.path.join(root, "solutions", NAME, NAME + ".ipynb"))
    with cell_timeout(30):
        grade.generate(root, None, quiet=True)
        submissions = {"sol": solution}
        table = set_source(read_nb(os.path.join(root, "solutions", NAME, NAME + ".ipynb")), "corr2d",
                           TABLE_SUBMISSION.format(table=answer_table(solution), input_key=inspect.getsource(input_key)))
        submissions["tab"] = set_source(table, "conv2d", TABLE_CONV)
        for student in INDEPENDENT_STUDENTS:
            independent = read_nb(os.path.join(root, "solutions", NAME, NAME + ".ipynb"))
            for grade_id, code in INDEPENDENT_02.items():
                set_source(independent, grade_id, code)
            submissions[student] = independent
        submissions["hunt"] = insert_code_cell(read_nb(os.path.join(root, "solutions", NAME, NAME + ".ipynb")), 2,
                                               SECRET_HUNT.format(secret_file=os.path.join(root, ".grading_secret")))
        for student, nb in submissions.items():
            write_nb(nb, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))
        first = grade.nbgrader(root, "autograde", NAME, "--force", check=False, quiet=True)
        scores = grade.scores(root, NAME)
        seeds = {student: seeds_of(root, student) for student in submissions}
        autograded_first = {student: autograded(root, student) for student in submissions}
        # A regrade: "sol" as it was, "ivy" changed by one comment.
        changed = submissions["ivy"]
        changed["cells"][2]["source"] = "# checked my work twice\n" + "".join(changed["cells"][2]["source"])
        write_nb(changed, os.path.join(root, "submitted", "ivy", NAME, NAME + ".ipynb"))
        for student in ("sol", "ivy"):
            grade.nbgrader(root, "autograde", NAME, f"--student={student}", "--force", check=False, quiet=True)
        regraded = grade.scores(root, NAME)
        regraded_seeds = {student: seeds_of(root, student) for student in ("sol", "ivy")}
        grade.nbgrader(root, "generate_feedback", NAME, "--force", check=False, quiet=True)
    with open(os.path.join(root, ".grading_secret"), encoding="utf-8") as f:
        secret = f.read().strip()
    yield {"root": root, "scores": scores, "seeds": seeds, "autograded": autograded_first, "regraded": regraded,
           "regraded_seeds": regraded_seeds, "secret": secret, "log": first.stdout + first.stderr}


def test_an_answer_table_for_the_printed_seeds_scores_zero_on_the_hidden_tests(course):
    row = course["scores"]["tab"]
    assert not row["failed"], course["log"][-3000:]
    assert all(row["cells"][cell] == 0 for cell in HIDDEN_CELLS), row["cells"]
    assert "MismatchError" in course["autograded"]["tab"]


@pytest.mark.parametrize("student", ("sol",) + INDEPENDENT_STUDENTS)
def test_correct_implementations_keep_full_marks_on_every_draw(course, student):
    row = course["scores"][student]
    assert not row["failed"], course["log"][-3000:]
    assert row["auto"] == row["auto_max"] > 0, row["cells"]


def test_every_submission_draws_its_own_seeds(course):
    draws = [json.dumps(course["seeds"][s]["seeds"], sort_keys=True) for s in ("sol",) + INDEPENDENT_STUDENTS]
    assert len(set(draws)) == len(draws)
    assert set(course["seeds"]["sol"]["seeds"]) == set(HIDDEN_CELLS)
    assert course["seeds"]["sol"]["seeds"]["test_corr2d_hidden"].keys() == {"21", "22", "25", "26", "27"}


def test_a_regrade_reproduces_the_draw_and_the_verdict_and_a_change_draws_anew(course):
    assert course["regraded_seeds"]["sol"] == course["seeds"]["sol"]
    assert course["regraded"]["sol"]["cells"] == course["scores"]["sol"]["cells"]
    assert course["regraded_seeds"]["ivy"]["submission_sha256"] != course["seeds"]["ivy"]["submission_sha256"]
    assert course["regraded_seeds"]["ivy"]["seeds"] != course["seeds"]["ivy"]["seeds"]
    assert course["regraded"]["ivy"]["auto"] == course["regraded"]["ivy"]["auto_max"]


def test_no_drawn_seed_is_shown_in_the_autograded_notebook_or_the_feedback(course):
    feedback = {}
    for student in course["seeds"]:
        path = os.path.join(course["root"], "feedback", student, NAME, NAME + ".html")
        with open(path, encoding="utf-8") as f:
            feedback[student] = re.sub(r"<[^>]+>", "", f.read())  # the text a student reads
    assert "hidden_seed(21)" in feedback["sol"]  # the hidden tests' source is shown, with labels only
    for student, record in course["seeds"].items():
        for cell in record["seeds"].values():
            for seed in cell.values():
                assert str(seed) not in course["autograded"][student], (student, seed)
                assert str(seed) not in feedback[student], (student, seed)
    assert "values differ" in feedback["tab"] and "First wrong value" in feedback["tab"]  # what was wrong


def test_the_secret_and_the_seed_store_stay_outside_the_sandbox(course):
    secret_file = os.path.join(course["root"], ".grading_secret")
    assert os.stat(secret_file).st_mode & 0o777 == 0o600
    assert len(course["secret"]) >= 32
    text = course["autograded"]["hunt"]
    assert course["secret"] not in text
    assert "CNNLAB_GRADING_SECRET" not in text and "grading_seeds" not in text
    assert re.search(re.escape(repr(secret_file)) + r": '(FileNotFoundError|PermissionError)'", text)  # not there
    assert course["scores"]["hunt"]["auto"] == course["scores"]["hunt"]["auto_max"]
    for record in course["seeds"].values():
        assert hidden.SECRET_VARIABLE not in json.dumps(record)
