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
import importlib
import io
import math
import time

import numpy as np

from . import cases as case_generators
from . import keys
from .boundary import ModelSummary
from .compare import CheatingError, MismatchError, TimeLimitError, assert_matches, describe, describe_call
from .compare import resolve_reference
from .cases import as_case
from .static import NUMPY_FORBIDDEN, TORCH_FORBIDDEN

__all__ = ["StudentFunction", "TrustedGrading", "run_test_cell"]


class StudentFunction:
    """Stands for a function or class of the submission on the trusted side. It cannot be called."""

    def __init__(self, name):
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.__name__} is the student's code: it runs only inside the sandbox")

    def __repr__(self):
        return f"<student's {self.__name__}>"


def _pair(result, label):
    if not isinstance(result, tuple) or len(result) != 2:
        raise MismatchError(f"{label}: should return a pair (out, mask), got {describe(result)}")
    return result


def _fmt(value):
    return f"{float(value):.6g}" if isinstance(value, (float, np.floating)) else repr(value)


class TrustedGrading:
    """``grading`` as the trusted side's test cells see it (one per graded notebook).

    Args:
        records: {grade_id: {k: record}} the sandbox wrote, per test cell (``boundary.read_records``).
        tainted: {function name: [findings]} from the static check of the submission (``static``).
        forbidden: the modules the exercise forbids (for the CheatingError message).
        cpu_seconds: CPU time of the sandbox since the training data was handed in (exercise 07), or None.
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

    def __init__(self, records, tainted, forbidden=NUMPY_FORBIDDEN, cpu_seconds=None):
        for name in case_generators.__all__:
            setattr(self, name, getattr(case_generators, name))
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

    def call_student(self, func, *args, forbidden=None, seconds=10, name=None, **kwargs):
        """The recorded result of the student's call (plain data; a model arrives as a ModelSummary)."""
        name = name or getattr(func, "__name__", "your function")
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
        rng = np.random.default_rng(seed)
        x = case_generators.random_array(rng, shape, dtype)
        for p in p_values:
            label = f"dropout(x={describe(x)}, p={p}, training=True)"
            out, mask = _pair(self._value(f"dropout(p={p})"), label)
            for what, value in (("out", out), ("mask", mask)):
                if type(value) is not np.ndarray or value.shape != x.shape:
                    raise MismatchError(f"{label}: {what} should be an array of shape {x.shape}, got {describe(value)}")
                if value.dtype != x.dtype:
                    raise MismatchError(f"{label}: {what} has dtype {value.dtype}, expected {x.dtype} (keep x's dtype)")
            scale = 1.0 / (1.0 - p)
            bad = ~(np.isclose(mask, 0) | np.isclose(mask, scale, rtol=1e-5))
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                raise MismatchError(f"{label}: mask values must be 0 or 1/(1-p) = {scale:.6g}; "
                                    f"mask{index} = {_fmt(mask[index])}")
            assert_matches(out, x * mask, f"{label}: out (should be x * mask)", rtol=1e-5, atol=1e-6)
            dropped = float(np.mean(mask == 0))
            if abs(dropped - p) > 0.02:
                raise MismatchError(f"{label}: dropped a fraction {dropped:.3f} of the values, expected about p = {p}")
            _, mask_again = _pair(self._value(f"dropout(p={p})"), label)
            assert_matches(mask_again, mask, f"{label}: the same rng seed should give the same mask "
                           "(draw every random number from rng)")
        label = f"dropout(x={describe(x)}, p=0.5, training=False)"
        out, mask = _pair(self._value("dropout(training=False)"), label)
        assert_matches(out, x, f"{label}: out (evaluation mode is the identity)")
        assert_matches(mask, np.ones_like(x), f"{label}: mask (all ones in evaluation mode)")
        print(f"dropout: behaves like inverted dropout for p in {list(p_values)} ({np.dtype(dtype).name})")

    def check_random_augmentation(self, student, candidates, label, calls=200, seed=0, forbidden=None):
        """Every recorded ``student(rng)`` result is one of ``candidates``; more than one occurs."""
        self._guard(student, label)
        results = self._value(label)
        if not isinstance(results, list) or len(results) != calls:
            raise MismatchError(f"{label}: expected {calls} results, got {describe(results)}")
        counts = np.zeros(len(candidates), dtype=int)
        for out in results:
            if type(out) is not np.ndarray or out.shape != candidates[0].shape:
                raise MismatchError(f"{label}: expected an array of shape {candidates[0].shape}, got {describe(out)}")
            hits = [i for i, c in enumerate(candidates) if np.array_equal(out, c)]
            if not hits:
                raise MismatchError(f"{label}: returned an image that is not one of the {len(candidates)} allowed results")
            counts[hits[0]] += 1
        if len(candidates) > 1:
            used = int(np.count_nonzero(counts))
            if used < 2 or counts.max() > 0.75 * calls:
                raise MismatchError(f"{label}: not random enough: in {calls} calls the most frequent result came "
                                    f"{counts.max()} times and only {used} different results appeared")
        print(f"{label}: {calls} calls, {int(np.count_nonzero(counts))} different results, all allowed")

    def check_cnn(self, model, input_shape=(5, 1, 28, 28), num_classes=10, min_convs=2, max_params=1_000_000):
        """Architecture of exercise 07 from the recorded model summary and its output on zeros."""
        if not isinstance(model, ModelSummary):
            raise MismatchError(f"build_model() should return a torch.nn.Module, got {describe(model)}")
        facts = self._value("the model on zeros")
        if not isinstance(facts, dict) or not isinstance(facts.get("out_shape"), list):
            raise MismatchError("the model's output on zeros did not come back from the sandbox")
        convs = [layer for layer in model.layers if "Conv2d" in layer[1]]
        pools = [layer for layer in model.layers
                 if {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"} & set(layer[1])]
        strides = facts.get("conv_strides") or []
        if len(convs) < min_convs:
            raise MismatchError(f"the model has {len(convs)} nn.Conv2d layers, at least {min_convs} are asked for")
        if not pools and not any(isinstance(s, list) and s and max(s) > 1 for s in strides):
            raise MismatchError("the model never shrinks the feature maps: add nn.MaxPool2d (or a strided convolution)")
        params = model.count_parameters()
        if params > max_params:
            raise MismatchError(f"the model has {params:,} parameters; keep it under {max_params:,}")
        out_shape = tuple(facts["out_shape"])
        if out_shape != (input_shape[0], num_classes):
            raise MismatchError(f"input {tuple(input_shape)} gave output {out_shape}, expected "
                                f"{(input_shape[0], num_classes)} (one logit per class)")
        print(f"architecture: {len(convs)} conv layers, {len(pools)} pooling layers, {params:,} parameters, "
              f"output {out_shape}")

    def check_model(self, student, reference, cases, name=None, forbidden=None, seconds=60, input_size=None):
        """Parameter count and output shape of the recorded student models against the reference models."""
        import torch

        reference = resolve_reference(reference)
        name = name or getattr(student, "__name__", "your model")
        self._guard(student, name)
        for case in cases:
            case = dict(case)
            label = describe_call(name, (), case)
            big = case.get("image_size", 0) >= 128
            with (torch.device("meta") if big else contextlib.nullcontext()):
                torch.manual_seed(0)
                expected_model = reference(**copy.deepcopy(case))
            facts = self._value(label)
            if not isinstance(facts, dict) or facts.get("module") is not True:
                got = facts.get("type", "?") if isinstance(facts, dict) else describe(facts)
                raise MismatchError(f"{label}: should give a torch.nn.Module, got {got}")
            got, want = facts.get("params"), keys.count_params(expected_model)
            if type(got) is not int or got != want:
                difference = f" (difference {got - want:+,})" if type(got) is int else ""
                raise MismatchError(f"{label}: {got:,} parameters, expected {want:,}{difference}"
                                    if type(got) is int else f"{label}: no parameter count came back")
            if big:
                continue
            size = case.get("image_size", input_size or 32)
            expected_model.eval()
            with torch.no_grad():
                expected_shape = tuple(expected_model(torch.randn(2, case.get("in_channels", 3), size, size)).shape)
            out_shape = facts.get("out_shape")
            if not isinstance(out_shape, list) or tuple(out_shape) != expected_shape:
                raise MismatchError(f"{label}: input {(2, case.get('in_channels', 3), size, size)} gave output "
                                    f"{tuple(out_shape) if isinstance(out_shape, list) else out_shape}, "
                                    f"expected {expected_shape}")
        print(f"{name}: all {len(cases)} models have the right number of parameters and output shape")

    def check_losses(self, losses, epochs=None):
        """``train_model`` returned one finite mean loss per epoch, the last below the first."""
        if hasattr(losses, "tolist"):
            losses = losses.tolist()
        if not isinstance(losses, (list, tuple)) or not losses:
            raise MismatchError(f"train_model should return a list of per-epoch losses, got {describe(losses)}")
        try:
            values = [float(v) for v in losses]
        except (TypeError, ValueError):
            raise MismatchError(f"train_model should return numbers, got {describe(losses)}") from None
        if epochs is not None and len(values) != epochs:
            raise MismatchError(f"train_model returned {len(values)} losses for {epochs} epochs (one per epoch)")
        if not all(np.isfinite(values)):
            raise MismatchError(f"the training loss is not finite: {values} (learning rate too high?)")
        if len(values) > 1 and not values[-1] < values[0]:
            raise MismatchError(f"the training loss did not go down: {[round(v, 4) for v in values]}")
        print("training loss per epoch:", [round(v, 4) for v in values])

    def check_accuracy(self, model, images, labels, threshold):
        """Accuracy of the recorded logits on the held-out images, against labels that never left this side."""
        logits = self._value("logits on the held-out images")
        if hasattr(logits, "numpy") and type(logits).__module__.startswith("torch"):
            logits = logits.numpy()
        labels = np.asarray(labels)
        if type(logits) is not np.ndarray or logits.dtype.kind != "f" or logits.ndim != 2 \
                or logits.shape[0] != len(labels):
            raise MismatchError(f"the model should give float logits of shape ({len(labels)}, classes), "
                                f"got {describe(logits)}")
        acc = float(np.mean(np.argmax(logits, axis=1) == labels))
        if acc < threshold:
            raise MismatchError(f"held-out accuracy {acc:.1%} is below the required {threshold:.0%}")
        print(f"held-out accuracy {acc:.1%} (required: {threshold:.0%})")

    def check_cpu_budget(self, budget, cpu_seconds=None):
        """The sandbox's CPU time since the training data was handed in, measured from outside, fits ``budget``."""
        used = self.cpu_seconds
        if not self._trained:
            raise MismatchError("the training did not finish, so there is no training time to check")
        if used is None:
            raise MismatchError("no CPU time was measured: the training cell did not run in the sandbox")
        if used > budget:
            raise MismatchError(f"training took {used:.1f} s of CPU time, the budget is {budget:g} s "
                                "(fewer epochs, a smaller model or bigger batches)")
        print(f"training took {used:.1f} s of CPU time (budget {budget:g} s, measured outside the sandbox)")


def _student_names(tree_names, namespace):
    return [n for n in tree_names if n not in namespace and not hasattr(builtins, n)]


def run_test_cell(source, namespace, grading, grade_id, sandbox_error=""):
    """Execute one test cell's (trusted) source on the trusted side; returns nbformat outputs."""
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
    """What a test cell finds defined on the trusted side: np, grading, time, math (torch, nn)."""
    namespace = {"__builtins__": builtins, "__name__": "__trusted_test_cells__", "np": np, "grading": grading,
                 "time": time, "math": math}
    if allow_torch:
        import torch

        namespace.update(torch=torch, nn=torch.nn)
    return namespace
