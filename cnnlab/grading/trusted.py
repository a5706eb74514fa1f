"""The trusted checker: the verdict on recorded results, computed where no student code runs.

After a submission ran in the sandbox, each of its test cells (the instructor's source, restored
from the gradebook) is executed again here with a :class:`TrustedGrading` as ``grading``. Every
function has the signature of its learner and sandbox counterparts; instead of calling the
student's function it takes the next result the sandbox recorded for that cell (decoded strictly
by ``boundary``), computes the expected value with the answer key on the same seeded inputs, and
compares (``compare.assert_matches``). Names of the student's functions are bound to
:class:`StudentFunction` placeholders, which cannot be called: student code never runs here.
"""

import builtins
import contextlib
import copy
import io
import math
import time

import numpy as np

from . import cases as case_generators
from . import keys, model_spec
from .boundary import ModelSummary
from .compare import CheatingError, MismatchError, TimeLimitError, assert_matches, describe, describe_call
from .compare import (assert_accuracy, assert_architecture, assert_cpu_budget, assert_inverted_dropout,
                      assert_model_facts, assert_random_choices, check_losses, resolve_reference)
from .cases import as_case
from .static import NUMPY_FORBIDDEN, TORCH_FORBIDDEN

__all__ = ["StudentFunction", "TrustedGrading", "run_test_cell"]


class StudentFunction:
    """Stands for a function or class of the submission on the trusted side. It cannot be called.

    Example:
        >>> conv2d = StudentFunction("conv2d")
        >>> conv2d
        <student's conv2d>
        >>> conv2d(1)
        Traceback (most recent call last):
        ...
        RuntimeError: conv2d is the student's code: it runs only inside the sandbox
    """

    def __init__(self, name):
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.__name__} is the student's code: it runs only inside the sandbox")

    def __repr__(self):
        return f"<student's {self.__name__}>"


class TrustedGrading:
    """``grading`` as the trusted side's test cells see it (one per graded notebook).

    Args:
        records: {grade_id: {k: record}} the sandbox wrote, per test cell (``boundary.read_records``).
        tainted: {function name: [findings]} from the static check of the submission (``static``).
        forbidden: the modules the exercise forbids (for the CheatingError message).
        cpu_seconds: CPU time of the sandbox since the training data was handed in (exercise 07), or None.
        hidden_seeds: {grade_id: {k: seed}} the grader drew for this submission (``hidden.draw_hidden_seeds``),
            the same the sandbox got; None: the preview seeds (``k`` itself), as in a learner's kernel.
    """

    NUMPY_FORBIDDEN = NUMPY_FORBIDDEN
    TORCH_FORBIDDEN = TORCH_FORBIDDEN
    CheatingError = CheatingError
    MismatchError = MismatchError
    TimeLimitError = TimeLimitError
    answers = keys.answers
    count_params = staticmethod(keys.count_params)
    accuracy_of = staticmethod(keys.accuracy_of)
    reference_vgg_features = staticmethod(keys.reference_vgg_features)
    assert_matches = staticmethod(assert_matches)
    describe = staticmethod(describe)
    check_losses = staticmethod(check_losses)

    def __init__(self, records, tainted, forbidden=NUMPY_FORBIDDEN, cpu_seconds=None, hidden_seeds=None):
        for name in case_generators.__all__:
            if not hasattr(type(self), name):  # hidden_seed and hidden_rng are this side's own
                setattr(self, name, getattr(case_generators, name))
        self._hidden_seeds = hidden_seeds
        self._records = records
        self._tainted = tainted
        self._forbidden = tuple(forbidden)
        self.cpu_seconds = cpu_seconds
        self._queue = []
        self._sandbox_error = ""
        self._cell = None
        self._data_cell = None  # the test cell the training data went into (07)
        self._trained = False  # that cell passed: the training ran and its losses are fine

    # -- the records of one test cell ---------------------------------------------------------

    def begin_cell(self, grade_id, sandbox_error=""):
        """Before a test cell: its records, in the order the sandbox wrote them, are what comes next.

        Args:
            grade_id (str): the test cell.
            sandbox_error (str): the error the cell stopped with in the sandbox (shown when a record is missing).
        """
        self._cell = grade_id
        cell = self._records.get(grade_id, {})
        self._queue = [cell[k] for k in sorted(cell)]
        self._sandbox_error = sandbox_error

    def end_cell(self, passed):
        """After a test cell: the training counts as done when the cell that got the data passed."""
        if passed and self._cell is not None and self._cell == self._data_cell:
            self._trained = True

    def _next(self, label):
        if not self._queue:
            why = f" In the sandbox the cell stopped with {self._sandbox_error}" if self._sandbox_error else ""
            raise MismatchError(f"{label}: no result came back from the sandbox.{why}")
        return self._queue.pop(0)

    def _value(self, label):
        record = self._next(label)
        if record["status"] == "raised":
            raise MismatchError(f"{label} raised {record['error_type']}: {record['error_message']}")
        if record["status"] != "ok":
            raise MismatchError(f"{label}: no result came back from the sandbox")
        return record["value"]

    def _guard(self, student, name=None):
        """CheatingError when the student's function (or one it uses) is tainted by the static check."""
        names = []
        if isinstance(student, StudentFunction):
            names = [student.__name__]
        elif hasattr(student, "__code__"):  # a lambda of the test cell: the student's names it uses
            names = [n for n in student.__code__.co_names
                     if isinstance(student.__globals__.get(n), StudentFunction)]
        for student_name in names:
            if student_name in self._tainted:
                shown = ", ".join(self._forbidden[:3]) + (", ..." if len(self._forbidden) > 3 else "")
                raise CheatingError(f"{name or student_name} must do the work itself, without {shown}; found: "
                                    + "; ".join(self._tainted[student_name]))

    # -- the API of the test cells ------------------------------------------------------------

    def hidden_seed(self, k):
        """The seed drawn for case set ``k`` of the current cell: the one the sandbox was handed."""
        if self._hidden_seeds is None:
            return case_generators.hidden_seed(k)
        try:
            return self._hidden_seeds[self._cell][int(k)]
        except (KeyError, TypeError, ValueError):
            raise MismatchError(f"no hidden seed was drawn for case set {k!r} of this cell") from None

    def hidden_rng(self, k):
        """``np.random.default_rng(hidden_seed(k))`` with the drawn seed."""
        return np.random.default_rng(self.hidden_seed(k))

    def check(self, student, reference, cases, name=None, rtol=1e-5, atol=1e-8, check_dtype=True,
              forbidden=None, seconds=10, quiet=False):
        """Compare the recorded ``student(*args, **kwargs)`` with ``reference(*args, **kwargs)`` on every case."""
        reference = resolve_reference(reference)
        name = name or getattr(student, "__name__", None) or reference.__name__
        self._guard(student, name)
        cases = [as_case(c) for c in cases]
        for args, kwargs in cases:
            expected = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            label = describe_call(name, args, kwargs)
            assert_matches(self._value(label), expected, label, rtol=rtol, atol=atol, check_dtype=check_dtype)
        if not quiet:
            print(f"{name}: all {len(cases)} cases match the answer key")

    def expect_error(self, student, args, kwargs=None, errors=(ValueError, TypeError), name=None, forbidden=None,
                     seconds=10):
        """The recorded call on bad input must have raised one of ``errors``."""
        kwargs = kwargs or {}
        name = name or getattr(student, "__name__", "your function")
        self._guard(student, name)
        label = describe_call(name, args, kwargs)
        record = self._next(label)
        wanted = " or ".join(e.__name__ for e in errors)
        if record["status"] == "raised":
            if record["error_type"] in {e.__name__ for e in errors}:
                return
            raise MismatchError(f"{label} should raise {wanted}, but raised {record['error_type']}: "
                                f"{record['error_message']}")
        raise MismatchError(f"{label} should raise {wanted}, but returned normally")

    def call_student(self, func, *args, forbidden=None, seconds=10, name=None, guard=True, **kwargs):
        """The recorded result of the student's call (plain data; a model arrives as a ModelSummary).

        ``guard=False`` where the cell grades another function that needs this one's result (07's
        training cells build the model with ``build_model``): a shortcut in ``func`` then costs the
        points of its own test, not this cell's.
        """
        name = name or getattr(func, "__name__", "your function")
        if guard:
            self._guard(func, name)
        return self._value(describe_call(name, args, kwargs))

    def fashion_mnist_tensors(self, train=3000, test=1000):
        """The grader's own Fashion-MNIST tensors (the held-out labels stay on this side)."""
        self._data_cell = self._cell
        return keys.fashion_mnist_tensors(train=train, test=test)

    def observe(self, value, label="value"):
        """The value as the student's code left it, recorded in the sandbox."""
        return self._value(label)

    def check_dropout(self, dropout, p_values=(0.2, 0.5, 0.8), dtype=np.float64, shape=(200, 300), seed=0,
                      forbidden=None):
        """Inverted-dropout properties of the recorded calls (see the learner's ``check_dropout``)."""
        self._guard(dropout, "dropout")
        x = case_generators.random_array(np.random.default_rng(seed), shape, dtype)

        def recorded(p, training, other_seed):  # the sandbox's record.check_dropout made the calls in this order
            return self._value(f"dropout(p={p})" if training else "dropout(training=False)")

        assert_inverted_dropout(x, p_values, recorded)

    def check_random_augmentation(self, student, candidates, label, calls=200, seed=0, forbidden=None):
        """Every recorded ``student(rng)`` result is one of ``candidates``; more than one occurs."""
        self._guard(student, label)
        runs = [self._value(label), self._value(label + " (another seed)")]
        for results in runs:
            if not isinstance(results, list) or len(results) != calls:
                raise MismatchError(f"{label}: expected {calls} results, got {describe(results)}")
        assert_random_choices(runs[0], candidates, label, other_seed_results=runs[1])

    def _rebuilt(self, label, image_shape):
        """The network the sandbox recorded as layers and weights, rebuilt here with torch.nn alone."""
        value = self._value(label)
        if type(value) is not dict or set(value) != {"spec", "arrays"}:
            raise MismatchError(f"{label}: the model did not come back as layers and weights, got {describe(value)}")
        return model_spec.rebuild(value["spec"], value["arrays"], input_shape=tuple(image_shape))

    def check_cnn(self, model, input_shape=(5, 1, 28, 28), num_classes=10, min_convs=2, max_params=1_000_000):
        """Architecture of exercise 07, every fact measured on the network rebuilt here from the recorded layers."""
        if not isinstance(model, ModelSummary):
            raise MismatchError(f"build_model() should return a torch.nn.Module, got {describe(model)}")
        network = self._rebuilt("the model as layers", input_shape[1:])
        assert_architecture(*model_spec.architecture_facts(network, input_shape), input_shape, num_classes,
                            min_convs, max_params)

    def check_model(self, student, reference, cases, name=None, forbidden=None, seconds=60, input_size=None):
        """Parameter count and output shape of the recorded student models against the reference models."""
        import torch

        reference = resolve_reference(reference)
        name = name or getattr(student, "__name__", "your model")
        self._guard(student, name)
        for case in cases:
            case = dict(case)
            label = describe_call(name, (), case)
            expected_model = keys.reference_model(reference, case)
            facts = self._value(label)
            expected_params = keys.count_params(expected_model)
            if keys.full_size(case):
                assert_model_facts(label, facts, expected_params)
                continue
            size = case.get("image_size", input_size or 32)
            input_shape = (2, case.get("in_channels", 3), size, size)
            expected_model.eval()
            with torch.no_grad():
                expected_shape = tuple(expected_model(torch.randn(input_shape)).shape)
            assert_model_facts(label, facts, expected_params, input_shape, expected_shape)
        print(f"{name}: all {len(cases)} models have the right number of parameters and output shape")

    def check_accuracy(self, model, images, labels, threshold):
        """Accuracy of the recorded trained network, rebuilt here, on the grader's own held-out images and labels.

        The logits are computed on this side: nothing the sandbox says about its predictions counts.
        """
        import torch

        network = self._rebuilt("the trained model as layers", tuple(images.shape[1:]))
        try:
            with torch.no_grad():
                logits = torch.cat([network(images[i : i + 500]) for i in range(0, len(images), 500)]).numpy()
        except RuntimeError as error:  # e.g. 0-d outputs that cannot be joined: the model's fault, said plainly
            raise MismatchError(f"the trained model fails on the held-out images: {str(error)[:300]}") from None
        labels = np.asarray(labels)
        if logits.dtype.kind != "f" or logits.ndim != 2 or logits.shape[0] != len(labels):
            raise MismatchError(f"the model should give float logits of shape ({len(labels)}, classes), "
                                f"got {describe(logits)}")
        assert_accuracy(float(np.mean(np.argmax(logits, axis=1) == labels)), threshold)

    def check_cpu_budget(self, budget, cpu_seconds=None):
        """The sandbox's CPU time since the training data was handed in, measured from outside, fits ``budget``."""
        used = self.cpu_seconds
        if not self._trained:
            raise MismatchError("the training did not finish, so there is no training time to check")
        if used is None:
            raise MismatchError("no CPU time was measured: the training cell did not run in the sandbox")
        assert_cpu_budget(used, budget, how="measured outside the sandbox")


def _student_names(tree_names, namespace):
    return [n for n in tree_names if n not in namespace and not hasattr(builtins, n)]


def run_test_cell(source, namespace, grading, grade_id, sandbox_error=""):
    """Execute one test cell's (trusted) source on the trusted side; returns nbformat outputs.

    Every name of the source that ``namespace`` and the builtins do not define is the student's: it
    is bound to a :class:`StudentFunction`, so the cell can name it but nothing calls it.

    Args:
        source (str): the instructor's test cell (from the gradebook, not the submission).
        namespace (dict): the globals the test cells share (:func:`trusted_namespace`).
        grading (TrustedGrading): its ``begin_cell`` and ``end_cell`` frame the cell.
        grade_id (str): the cell, the key of its records.
        sandbox_error (str): the error the cell stopped with in the sandbox.

    Returns:
        list of dict: a stdout stream output (if anything was printed) and an error output (if the
        cell raised: its points are lost).

    Example:
        >>> records = {"test_relu": {0: {"status": "ok", "value": np.array([0.0, 2.0])}}}
        >>> grading = TrustedGrading(records, tainted={})
        >>> cell = 'grading.check(relu, "cnnlab.reference.relu", [(np.array([-1.0, 2.0]),)])'
        >>> outputs = run_test_cell(cell, trusted_namespace(grading, allow_torch=False), grading, "test_relu")
        >>> [(o["output_type"], o["text"].strip()) for o in outputs]
        [('stream', 'relu: all 1 cases match the answer key')]
        >>> grading = TrustedGrading({}, tainted={})
        >>> outputs = run_test_cell(cell, trusted_namespace(grading, allow_torch=False), grading, "test_relu")
        >>> outputs[0]["evalue"]
        'relu(float64 (2,)): no result came back from the sandbox.'
    """
    import ast

    names = sorted({node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)})
    for name in _student_names(names, namespace):
        namespace[name] = StudentFunction(name)
    grading.begin_cell(grade_id, sandbox_error)
    stdout = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(stdout):
            exec(compile(source, f"<test cell {grade_id}>", "exec"), namespace)  # noqa: S102 - instructor's code
    except Exception as exc:  # noqa: BLE001 - any failure of a test cell costs its points
        error = exc
    grading.end_cell(error is None)
    outputs = []
    if stdout.getvalue():
        outputs.append({"output_type": "stream", "name": "stdout", "text": stdout.getvalue()[-20_000:]})
    if error is not None:  # the message only: the trusted side's traceback is of no use to the student
        message = f"{type(error).__name__}: {str(error)[:5000]}"
        outputs.append({"output_type": "error", "ename": type(error).__name__, "evalue": str(error)[:5000],
                        "traceback": [message]})
    return outputs


def trusted_namespace(grading, allow_torch):
    """What a test cell finds defined on the trusted side: np, grading, time, math (torch, nn).

    Args:
        grading (TrustedGrading): bound to the name ``grading``.
        allow_torch (bool): a PyTorch exercise: ``torch`` and ``nn`` are defined too.

    Example:
        >>> sorted(k for k in trusted_namespace(TrustedGrading({}, {}), allow_torch=False) if not k.startswith("__"))
        ['grading', 'math', 'np', 'time']
    """
    namespace = {"__builtins__": builtins, "__name__": "__trusted_test_cells__", "np": np, "grading": grading,
                 "time": time, "math": math}
    if allow_torch:
        import torch

        namespace.update(torch=torch, nn=torch.nn)
    return namespace
