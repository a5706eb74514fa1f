"""A shortcut costs only the points of the function that takes it, and the learner hears the verdict at once.

07's set-up cell hands the student FASHION_MNIST_CLASSES and load_fashion_mnist: a ``build_model``
that sizes its last layer with ``len(FASHION_MNIST_CLASSES)`` is honest. A ``build_model`` that does
take a shortcut (the course's own models) loses test_build_model's points, and the training cells,
which grade ``train_model`` on the model it builds, are judged on their own. The visible test in the
learner's kernel (``cnnlab.grading.call_student``) gives the same verdict as the trusted side.
"""

import copy
import os

import nbformat
import pytest

from cnnlab import grading as learner_grading
from cnnlab.grading import nbgrader_glue
from course_copy import REPO, cell_index

ASSIGNMENT = "07_train_cnn"
HONEST = "nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 11 * 11, 10))"
BUILDERS = {
    "honest": (f"def build_model():\n    return {HONEST}\n", False),
    "handed constant": ("def build_model():\n    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3),\n"
                        "                         nn.ReLU(), nn.Flatten(), nn.Linear(8 * 11 * 11, len(FASHION_MNIST_CLASSES)))\n", False),
    "course model": ("def build_model():\n    from cnnlab.models import fashion_cnn\n    return fashion_cnn()\n", True),
    "course model via a helper": ("import cnnlab.models\n\ndef make():\n    return cnnlab.models.small_cnn()\n\n"
                                  "def build_model():\n    return make()\n", True),
}
TRAINING_CELLS = ("test_functions_hidden", "test_training_runs")


def source_notebook():
    return nbformat.read(os.path.join(REPO, "solutions", ASSIGNMENT, ASSIGNMENT + ".ipynb"), as_version=4)


def trusted_verdicts(builder):
    """{grade_id: ename or None} of every test cell, graded on the trusted side (no records came back)."""
    nb = source_notebook()
    nb.cells[cell_index(nb, "build_model")].source = builder
    tests = nbgrader_glue.instructor_test_cells({}, nb)
    graded = nbgrader_glue.grade_notebook(copy.deepcopy(nb), tests, records={}, allow_torch=True,
                                          setup_cells=nbgrader_glue.instructor_setup_cells({}, nb))
    verdicts = {}
    for cell in graded.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in tests:
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            verdicts[grade_id] = errors[0]["ename"] if errors else None
    return verdicts


def learner_verdict(builder):
    """The CheatingError (or None) of 07's visible build_model test in a learner's kernel."""
    nb = source_notebook()
    setup = nb.cells[cell_index(nb, "setup")].source
    imports = "\n".join(line for line in setup.splitlines() if line.startswith(("import", "from")))
    namespace = {"__name__": "__main__"}
    exec(compile(imports + "\n" + builder, "<student>", "exec"), namespace)
    try:
        learner_grading.call_student(namespace["build_model"], forbidden=learner_grading.TORCH_FORBIDDEN)
    except learner_grading.CheatingError as error:
        return error
    return None


def test_the_set_up_cell_is_locked_so_grading_knows_what_it_hands_out():
    nb = source_notebook()
    meta = nb.cells[cell_index(nb, "setup")].metadata.nbgrader
    assert meta["locked"] and not meta["grade"] and not meta["solution"]
    provided = nbgrader_glue.instructor_setup_cells({}, nb)
    assert len(provided) == 1 and "FASHION_MNIST_CLASSES" in provided[0]
    assert not any("def build_model" in source for source in provided)  # solution cells are not the course's


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_shortcut_costs_build_models_points_only_and_the_learner_hears_it_first(kind):
    builder, is_shortcut = BUILDERS[kind]
    verdicts = trusted_verdicts(builder)
    assert (verdicts["test_build_model"] == "CheatingError") == is_shortcut, verdicts
    for grade_id in TRAINING_CELLS:  # judged on train_model: here "no result came back" (no sandbox ran)
        assert verdicts[grade_id] == "MismatchError", (grade_id, verdicts)
    assert (learner_verdict(builder) is not None) == is_shortcut
