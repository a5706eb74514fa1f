"""Exercise 07's network crosses the sandbox boundary as data (issue 18, item 2).

The held-out images are Fashion-MNIST test images, whose labels anyone can download: a
``build_model`` whose forward looks the labels up in a table scored 10 points. Now the sandbox
sends the network as layers (standard ``torch.nn`` types and their arguments) and weights
(``model_spec.layer_spec``), and the trusted side rebuilds it with ``torch.nn`` alone
(``model_spec.rebuild``) and computes the architecture facts and the held-out logits itself.

The unit tests check the round trip and that forged descriptions are refused; the end-to-end test
grades the label-table submission and the honest solution with one real ``nbgrader autograde``.
"""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnnlab import grading  # noqa: E402
from cnnlab.grading import MismatchError, boundary, model_spec  # noqa: E402

from course_copy import (REPO, cell_timeout, copy_course, load_grade_script, read_nb,  # noqa: E402
                         recorded_then_trusted, set_source, shrink_07, write_nb)

NAME = "07_train_cnn"


def random_model(seed):
    """A random Sequential of the allowed layers (nested, with BatchNorm statistics that are not the initial ones)."""
    rng = np.random.default_rng(seed)
    c1, c2, hidden = (int(v) for v in rng.integers(2, 9, size=3))
    act = [nn.ReLU(), nn.LeakyReLU(0.2), nn.GELU(approximate="tanh"), nn.ELU(0.5), nn.SiLU(), nn.Tanh()][seed % 6]
    pool = [nn.MaxPool2d(2), nn.AvgPool2d(2, ceil_mode=True), nn.MaxPool2d(3, stride=2, padding=1)][seed % 3]
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, c1, 3, padding=1, bias=bool(seed % 2)), nn.BatchNorm2d(c1), act, pool),
        nn.Conv2d(c1, c2, (3, 5), stride=(1, 2), padding="valid" if seed % 2 else 0, padding_mode="zeros"),
        nn.Dropout2d(0.1), nn.Sigmoid(), nn.AdaptiveAvgPool2d((3, 2)), nn.Flatten(),
        nn.Linear(c2 * 6, hidden), nn.BatchNorm1d(hidden), nn.Dropout(0.3), nn.Linear(hidden, 10), nn.Identity())
    model.train()
    model(torch.rand(16, 1, 28, 28))  # the BatchNorm running statistics move away from their start
    return model.eval()


def across_the_boundary(tmp_path, value):
    """``value`` written by the sandbox's boundary.write_record and read back as the trusted side reads it."""
    arrays = []
    record_ = {"label": "x", "status": "ok", "value": boundary.encode(value, arrays)}
    boundary.write_record(str(tmp_path), 0, record_, arrays)
    return boundary.read_records(str(tmp_path))[0]["value"]


# ---------------------------------------------------------------------------------------------
# layer_spec and rebuild
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_the_rebuilt_network_gives_the_same_logits(tmp_path, seed):
    model = random_model(seed)
    spec, arrays = model_spec.layer_spec(model)
    value = across_the_boundary(tmp_path, {"spec": spec, "arrays": arrays})
    json.dumps(spec)  # the specification is plain JSON
    network = model_spec.rebuild(value["spec"], value["arrays"])
    x = torch.rand(7, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(network(x), model(x))
    assert [type(m) for m in network] == [type(m) for m in model.modules() if type(m) is not nn.Sequential]
    assert sum(p.numel() for p in network.parameters()) == sum(p.numel() for p in model.parameters())


def test_the_solution_model_fits_the_byte_budget_of_one_cell():
    model = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64 * 14 * 14, 78))  # just under the exercise's 1,000,000
    spec, arrays = model_spec.layer_spec(model)
    assert sum(a.nbytes for a in arrays) < boundary.CELL_BYTES // 50
    model_spec.rebuild(spec, arrays)


def conv_spec(**changes):
    spec, arrays = model_spec.layer_spec(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)))
    spec[0]["args"].update(changes)
    return spec, arrays


@pytest.mark.parametrize("forge, message", [
    (lambda s, a: ([{"type": "LabelTable", "args": {}}] + s, a), "'LabelTable' is not one of the standard layers"),
    (lambda s, a: ([{"type": "Module", "args": {}}] + s, a), "allowed: nn.Conv2d"),
    (lambda s, a: ([{"type": "Sequential", "args": {}}] + s, a), "not one of the standard layers"),
    (lambda s, a: (s, [np.zeros((4, 1, 5, 5), np.float32)] + a[1:]), "weight should have shape (4, 1, 3, 3)"),
    (lambda s, a: (s, a[:-1]), "4 arrays expected for these layers, got 3"),
    (lambda s, a: (s, a + [np.zeros(3)]), "4 arrays expected for these layers, got 5"),
    (lambda s, a: (s, [a[0].astype(np.int32)] + a[1:]), "weight should be floating point"),
    (lambda s, a: (s, [boundary.Foreign("unreadable array")] + a[1:]), "should be a plain array"),
    (lambda s, a: (s, [a[0].tolist()] + a[1:]), "should be a plain array"),
    (lambda s, a: ([dict(s[0], extra=1)] + s[1:], a), 'should be {"type": ..., "args": {...}} and nothing else'),
    (lambda s, a: ([{"type": "Conv2d", "args": dict(s[0]["args"], forward="lookup")}] + s[1:], a),
     "unknown argument 'forward'"),
    (lambda s, a: conv_spec(in_channels=1.0), "in_channels: should be a positive int, got 1.0"),
    (lambda s, a: conv_spec(in_channels=True), "in_channels: should be a positive int, got True"),
    (lambda s, a: conv_spec(in_channels="1"), "in_channels: should be a positive int, got '1'"),
    (lambda s, a: conv_spec(kernel_size=(3, 3, 3)), "kernel_size: should be a positive int or a pair"),
    (lambda s, a: conv_spec(out_channels=10**9), "out_channels: should be a positive int"),
    (lambda s, a: conv_spec(padding_mode="lookup"), "padding_mode: should be one of"),
    (lambda s, a: ([{"type": "Dropout", "args": {"p": float("nan")}}] + s, a), "p: should be a number between 0"),
    (lambda s, a: ([{"type": "Linear", "args": {"in_features": 100_000, "out_features": 100_000}}], []),
     "more than 10,000,000"),
    (lambda s, a: conv_spec(padding=50_000), "more than 2,000,000 numbers per image"),
    (lambda s, a: ([{"type": "AdaptiveAvgPool2d", "args": {"output_size": 20_000}}], []),
     "more than 2,000,000 numbers per image"),
    (lambda s, a: ([{"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 1000, "kernel_size": 3,
                                                "padding": 1}},
                    {"type": "Conv2d", "args": {"in_channels": 1000, "out_channels": 100, "kernel_size": 3,
                                                "padding": 1}}], [np.zeros((1000, 1, 3, 3)), np.zeros(1000),
                                                                  np.zeros((100, 1000, 3, 3)), np.zeros(100)]),
     "multiply-adds per image"),
    (lambda s, a: ([{"type": "Linear", "args": {"in_features": 5}}], []), "argument out_features is missing"),
    (lambda s, a: (s[:1] + s[2:], a), "layer 1 (Linear): fails on its input of shape (1, 4, 26, 26)"),
    (lambda s, a: ([], []), "a list of 1 to 200 layers"),
    (lambda s, a: ("Conv2d", a), "a list of 1 to 200 layers"),
    (lambda s, a: (s * 100, a * 100), "a list of 1 to 200 layers"),
])
def test_forged_specifications_are_refused(forge, message):
    spec, arrays = model_spec.layer_spec(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)))
    spec, arrays = forge(spec, arrays)
    with pytest.raises(MismatchError) as error:
        model_spec.rebuild(spec, arrays)
    assert message in str(error.value)


class LabelTable(nn.Module):
    """A forward of one's own: cannot be expressed as standard layers."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.pool = nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1), nn.MaxPool2d(2)

    def forward(self, x):
        return torch.zeros(len(x), 10)


class LoggingConv(nn.Conv2d):
    """A subclass of a standard layer may compute anything: refused too."""


@pytest.mark.parametrize("model, message", [
    (LabelTable(), "build_model() returned a LabelTable, not an nn.Sequential"),
    (type("MySequential", (nn.Sequential,), {})(nn.Conv2d(1, 1, 1)), "returned a MySequential, not an nn.Sequential"),
    (nn.Sequential(LoggingConv(1, 1, 1)), "layer 0 is a LoggingConv, not one of the standard layers"),
    (nn.Sequential(nn.Conv2d(1, 1, 1), nn.Sequential(nn.ReLU(), LabelTable())), "layer 2 is a LabelTable"),
    (nn.Sequential(nn.Conv2d(1, 1, 1), nn.LSTM(4, 4)), "layer 1 is a LSTM"),
])
def test_a_model_that_is_not_a_sequential_of_standard_layers_is_refused_naming_the_allowed_layers(model, message):
    with pytest.raises(MismatchError) as error:
        model_spec.layer_spec(model)
    text = str(error.value)
    assert message in text and "must return an nn.Sequential of standard layers" in text
    assert "Allowed layers: nn.Conv2d, nn.MaxPool2d" in text and "nn.Identity" in text


def test_the_exercise_text_names_every_allowed_layer():
    for folder in ("solutions", "exercises"):
        nb = read_nb(os.path.join(REPO, folder, NAME, NAME + ".ipynb"))
        text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        assert "`nn.Sequential`" in text
        assert all(f"`nn.{layer}`" in text for layer in model_spec.LAYERS), folder


def test_model_spec_is_in_the_sandbox_package_and_imports_no_answer_key(tmp_path):
    from cnnlab.grading import sandbox

    sandbox.build_student_package(str(tmp_path))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from cnnlab.grading import model_spec; "
            "import torch; spec, arrays = model_spec.layer_spec(torch.nn.Sequential(torch.nn.Linear(2, 3))); "
            "model_spec.rebuild(spec, arrays, input_shape=(2,)); "
            "print(model_spec.__file__.startswith(sys.argv[1]), "
            "sorted(m for m in sys.modules if m.startswith('cnnlab')))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=str(tmp_path), capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("True"), out
    assert not any(key in out for key in ("cnnlab.keys", "cnnlab.reference", "cnnlab.models", "cnnlab.data")), out


# ---------------------------------------------------------------------------------------------
# The three sides: learner, sandbox (record) and trusted
# ---------------------------------------------------------------------------------------------


def honest_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))


def test_architecture_facts_come_from_the_rebuilt_network(tmp_path, monkeypatch):
    def cell(g, build=honest_cnn):
        g.check_cnn(g.call_student(build, forbidden=grading.TORCH_FORBIDDEN))

    assert recorded_then_trusted(tmp_path, monkeypatch, cell) is None
    grading.check_cnn(honest_cnn())

    def lie(records):  # what the old sandbox reported about itself: refused, it is not a model
        records[max(records)]["value"] = {"out_shape": [5, 10], "conv_strides": [[1, 1], [1, 1]]}

    assert "did not come back as layers and weights" in str(recorded_then_trusted(tmp_path, monkeypatch, cell, lie))

    def one_conv(records):  # a forged spec is judged as what it is: one convolution
        spec, arrays = model_spec.layer_spec(nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Flatten(),
                                                           nn.Linear(2 * 13 * 13, 10)))
        records[max(records)]["value"] = {"spec": spec, "arrays": arrays}

    assert "1 nn.Conv2d layers, at least 2" in str(recorded_then_trusted(tmp_path, monkeypatch, cell, one_conv))
    error = recorded_then_trusted(tmp_path, monkeypatch, lambda g: cell(g, LabelTable))
    assert "LabelTable, not an nn.Sequential" in str(error) and "Allowed layers" in str(error)
    with pytest.raises(MismatchError, match="LabelTable, not an nn.Sequential"):
        cell(grading, LabelTable)


def test_the_learner_hears_about_a_forward_that_differs_from_the_layers():
    model = honest_cnn()
    model.register_forward_hook(lambda module, inputs, output: output * 0)
    with pytest.raises(MismatchError, match="computes something other than its layers"):
        grading.check_cnn(model)


def test_held_out_logits_are_computed_on_the_trusted_side(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    images = torch.rand(40, 1, 28, 28)
    with torch.no_grad():
        labels = model(images).argmax(dim=1)

    def cell(g, model=model):
        g.check_accuracy(model, images, labels, threshold=0.9)

    assert recorded_then_trusted(tmp_path, monkeypatch, cell) is None
    grading.check_accuracy(model, images, labels, threshold=0.9)

    def logits_from_a_table(records):  # the old record: logits the sandbox computed (here: the true labels)
        records[max(records)]["value"] = np.eye(10, dtype=np.float32)[labels.numpy()]

    assert "did not come back as layers and weights" in str(
        recorded_then_trusted(tmp_path, monkeypatch, cell, logits_from_a_table))
    wrong = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    assert "below the required 90%" in str(recorded_then_trusted(tmp_path, monkeypatch, lambda g: cell(g, wrong)))
    error = recorded_then_trusted(tmp_path, monkeypatch, lambda g: cell(g, LabelTable()))
    assert "LabelTable, not an nn.Sequential" in str(error)


# ---------------------------------------------------------------------------------------------
# End to end (slow): the label-table submission against the honest solution, one autograde call
# ---------------------------------------------------------------------------------------------

SMALL_TEST = 200

# build_model: a module that ignores what it computes and looks the image up in a table of the public
# test labels (keyed on the image's bytes), with two unused convolutions and a pool for the
# architecture check; train_model: losses that go down, and no training at all.
LABEL_TABLE = '''
import hashlib

import torch
from torch import nn

TABLE = {table}


class LabelTable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.pool = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.MaxPool2d(2)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        out = torch.zeros(len(x), 10)
        for i, image in enumerate(x):
            key = hashlib.sha1((image * 255).round().to(torch.uint8).numpy().tobytes()).hexdigest()
            out[i, TABLE.get(key, 0)] = 1.0
        return out


def build_model():
    return LabelTable()


def train_model(model, images, labels, epochs=5, lr=2e-3, batch_size=32, seed=0):
    return [2.3 / (epoch + 1) for epoch in range(epochs)]
'''


# build_model sized with the class list that 07's set-up cell hands out: honest, in the sandbox too
HANDED_CONSTANT = '''def build_model():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(),
                         nn.Linear(64, len(FASHION_MNIST_CLASSES)))
'''


def label_table():
    from cnnlab.data import load_fashion_mnist

    images, labels = load_fashion_mnist("test", limit=SMALL_TEST)
    return {hashlib.sha1(np.ascontiguousarray(image[None]).tobytes()).hexdigest(): int(label)
            for image, label in zip(images, labels)}


def label_table_notebook(nb):
    source = LABEL_TABLE.format(table=repr(label_table()))
    set_source(nb, "build_model", source)
    return set_source(nb, "train_model", "# train_model is defined with build_model above\n")


@pytest.fixture(scope="module")
def graded_07(tmp_path_factory):
    grade = load_grade_script("cnnlab_grade_script_model_as_data")
    root = copy_course(str(tmp_path_factory.mktemp("model_as_data")), assignments=[NAME], folders=("solutions",))
    path = os.path.join(root, "solutions", NAME, NAME + ".ipynb")
    shrink_07(path, cpu_budget=60)
    with cell_timeout(120):
        grade.generate(root, [NAME], quiet=True)
        subs = {"honest": read_nb(path), "label_table": label_table_notebook(read_nb(path)),
                "handed_constant": set_source(read_nb(path), "build_model", HANDED_CONSTANT)}
        for student, submission in subs.items():
            write_nb(submission, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))
        result = grade.nbgrader(root, "autograde", NAME, "--force", check=False, quiet=True)
    graded = {}
    for student in subs:
        graded_path = os.path.join(root, "autograded", student, NAME, NAME + ".ipynb")
        graded[student] = json.dumps(read_nb(graded_path)) if os.path.exists(graded_path) else ""
    return {"table": grade.scores(root, NAME), "log": result.stdout + result.stderr, "graded": graded}


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed")
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")
def test_a_label_table_scores_zero_and_the_honest_solution_full_marks(graded_07):
    honest, forged = graded_07["table"]["honest"], graded_07["table"]["label_table"]
    assert not honest["failed"] and not forged["failed"], graded_07["log"][-3000:]
    assert honest["auto"] == honest["auto_max"] > 0, honest["cells"]
    assert forged["cells"]["test_build_model"] == 0, forged["cells"]
    assert forged["cells"]["test_training_accuracy"] == 0, forged["cells"]
    assert forged["cells"]["test_prepare_images"] > 0  # its honest functions keep their points
    text = graded_07["graded"]["label_table"]
    assert "LabelTable, not an nn.Sequential" in text and "Allowed layers: nn.Conv2d" in text
    assert "held-out accuracy 100.0%" not in text


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed")
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")
def test_what_the_set_up_cell_hands_out_works_in_the_sandbox(graded_07):
    """``len(FASHION_MNIST_CLASSES)`` in build_model: no CheatingError, and the constant exists in the sandbox."""
    row = graded_07["table"]["handed_constant"]
    assert not row["failed"], graded_07["log"][-3000:]
    assert row["auto"] == row["auto_max"] > 0, row["cells"]
    assert "CheatingError" not in graded_07["graded"]["handed_constant"]
