"""Scratch copies of the course for the grading tests, and the notebook surgery they do on them.

The end-to-end grading tests (test_assignments, test_sandbox_attacks, test_sandbox,
test_grade_parallel, test_gradebook_postgres) grade forged submissions in a temporary copy of the
course directory, never in the repository. This module holds what they share: reading and writing
notebooks, finding and replacing a cell by its nbgrader ``grade_id``, copying the course, setting
the per-cell timeout for a block, and loading ``scripts/grade.py`` as a module.
"""

import contextlib
import importlib.util
import json
import os
import shutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE_FOLDERS = ("solutions", "exercises")

# An independent correct implementation (sliding windows + einsum, not the solution's loops) and a
# mutant (true convolution: the kernel flipped) of 02.
INDEPENDENT_02 = {
    "corr2d": '''
import numpy as np


def corr2d(x, k):
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape)
    return np.einsum("ijkl,kl->ij", windows, k)
''',
    "conv2d": '''
def conv2d(x, w, b=None):
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels, w expects {w.shape[1]}")
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))
    out = np.einsum("nchwij,fcij->nfhw", windows, w)
    if b is not None:
        out = out + b[None, :, None, None]
    return out.astype(x.dtype, copy=False)
''',
}
MUTANT_02_CONV = INDEPENDENT_02["conv2d"].replace("windows, w)", "windows, w[:, :, ::-1, ::-1])")


def load_grade_script(module_name="cnnlab_grade_script"):
    """``scripts/grade.py`` imported as a module named ``module_name`` (it is a script, not in a package)."""
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(REPO, "scripts", "grade.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_nb(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_nb(nb, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1)


def cell_index(nb, grade_id):
    """Index of the cell whose nbgrader metadata has ``grade_id``; KeyError when there is none."""
    for i, cell in enumerate(nb["cells"]):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def set_source(nb, grade_id, source):
    """Replace the source of the cell ``grade_id`` (in place); returns ``nb``."""
    nb["cells"][cell_index(nb, grade_id)]["source"] = source
    return nb


def insert_code_cell(nb, position, source):
    """Insert a code cell that nbgrader does not manage at ``position`` (in place); returns ``nb``."""
    nb["cells"].insert(position, {"cell_type": "code", "execution_count": None, "id": f"extra-{position}",
                                  "metadata": {}, "outputs": [], "source": source})
    return nb


def copy_course(root, assignments=None, folders=COURSE_FOLDERS):
    """Copy nbgrader_config.py and ``folders`` of the repository (every assignment, or ``assignments``) into ``root``."""
    os.makedirs(root, exist_ok=True)
    shutil.copy(os.path.join(REPO, "nbgrader_config.py"), root)
    for folder in folders:
        if assignments is None:
            shutil.copytree(os.path.join(REPO, folder), os.path.join(root, folder))
            continue
        for name in assignments:
            shutil.copytree(os.path.join(REPO, folder, name), os.path.join(root, folder, name))
    return str(root)


def shrink_07(path, cpu_budget):
    """Make 07's solution notebook at ``path`` cheap to grade: 256 training and 200 held-out images, a
    threshold of 10 % and ``cpu_budget`` CPU seconds (in place)."""
    nb = read_nb(path)
    small = [("grading.fashion_mnist_tensors(train=3000, test=1000)", "grading.fashion_mnist_tensors(train=256, test=200)"),
             ("grading.check_cpu_budget(budget=120)", f"grading.check_cpu_budget(budget={cpu_budget})"),
             ("threshold=0.75", "threshold=0.10")]
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        for old, new in small:
            text = text.replace(old, new)
        cell["source"] = text
    write_nb(nb, path)


def recorded_then_trusted(tmp_path, monkeypatch, cell, forge=None):
    """``cell(grading)`` run as the sandbox runs it (``record``: results to an outbox), then on the trusted
    side on the decoded records; ``forge(records)`` may edit them in between. Returns the trusted side's
    MismatchError, or None when the cell passes."""
    from cnnlab.grading import boundary, record, trusted
    from cnnlab.grading.compare import MismatchError

    outbox = tmp_path / f"outbox{len(list(tmp_path.iterdir()))}"
    outbox.mkdir()
    monkeypatch.setattr(record, "OUTBOX", str(outbox))
    try:
        cell(record)
    except Exception:  # noqa: BLE001 - the student's error was recorded; the verdict comes below
        pass
    records = boundary.read_records(str(outbox))
    if forge is not None:
        forge(records)
    checker = trusted.TrustedGrading({"cell": records}, tainted={})
    checker.begin_cell("cell")
    try:
        cell(checker)
    except MismatchError as error:
        return error
    return None


@contextlib.contextmanager
def cell_timeout(seconds):
    """``CNNLAB_CELL_TIMEOUT`` (read by nbgrader_config.py in every nbgrader process) for the block, then as before."""
    old = os.environ.get("CNNLAB_CELL_TIMEOUT")
    os.environ["CNNLAB_CELL_TIMEOUT"] = str(seconds)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CNNLAB_CELL_TIMEOUT", None)
        else:
            os.environ["CNNLAB_CELL_TIMEOUT"] = old
