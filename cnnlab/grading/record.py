"""The grading functions as they run inside the sandbox: call the student's code, record, judge nothing.

Inside the grading sandbox, ``from cnnlab import grading`` imports this module (through a small
generated ``cnnlab`` package that holds no answer key). Every function has the same signature as
its learner and trusted counterparts. It draws the same seeded inputs, calls the student's
function (with a time limit) and writes what came back to the outbox as plain data
(``boundary.write_record``). It never knows the expected values, so it cannot be fooled into
accepting anything: the verdict is computed later, outside the sandbox, by ``cnnlab.grading.trusted``.
"""

import contextlib
import copy
import itertools
import json
import os

import numpy as np

from . import boundary, model_spec
from .cases import *  # noqa: F401,F403 - the same seeded inputs as the trusted side
from .cases import __all__ as _cases_all
from .compare import CheatingError, MismatchError, TimeLimitError, describe, describe_call  # noqa: F401
from .compare import time_limit  # noqa: F401 - used by the recorder and public here
from .cases import as_case  # not in cases.__all__: the star import above leaves it out
from .static import NUMPY_FORBIDDEN, TORCH_FORBIDDEN  # noqa: F401 - one list, shared with the trusted side

OUTBOX = os.environ.get("CNNLAB_OUTBOX", "")
INBOX = os.environ.get("CNNLAB_INBOX", "")
_counter = itertools.count()

__all__ = list(_cases_all) + [
    "NUMPY_FORBIDDEN", "TORCH_FORBIDDEN", "CheatingError", "MismatchError", "TimeLimitError", "describe",
    "check", "expect_error", "call_student", "observe", "assert_matches", "check_dropout",
    "check_random_augmentation", "check_cnn", "check_model", "check_losses", "check_accuracy",
    "check_cpu_budget", "fashion_mnist_tensors", "answers", "reference_vgg_features", "accuracy_of",
    "count_params", "time_limit",
]


class AnswerKeyUnavailable(RuntimeError):
    """Raised by the answer key's placeholders inside the grading sandbox."""


def _unavailable(*args, **kwargs):
    raise AnswerKeyUnavailable("the answer key is not available while grading: write it yourself")


def _nothing(*args, **kwargs):
    """What an answer key gives inside the sandbox: nothing (test cells pass it on unused)."""
    return None


class _Placeholders:
    """``grading.answers.<anything>``: the answer key is outside the sandbox. Test cells that compute
    candidates with it (``check_random_augmentation``) get None here; only the trusted side uses them."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _nothing


answers = _Placeholders()
reference_vgg_features = accuracy_of = count_params = _unavailable


def hidden_seed(k, inbox=None):
    """The seed the trusted side drew for case set ``k`` of the test cell that runs now (from the inbox).

    The grader writes ``{k: seed}`` of a cell into the inbox right before the cell runs; the secret
    it drew them from stays outside. Without a seed for ``k`` the cell stops: its cases would
    otherwise differ from the ones the trusted side checks.

    Example:
        >>> import tempfile
        >>> inbox = tempfile.mkdtemp()
        >>> with open(os.path.join(inbox, boundary.HIDDEN_SEEDS_FILE), "w") as f:
        ...     json.dump({"21": 1234567}, f)
        >>> hidden_seed(21, inbox=inbox)
        1234567
    """
    folder = INBOX if inbox is None else inbox
    try:
        with open(os.path.join(folder, boundary.HIDDEN_SEEDS_FILE), encoding="utf-8") as f:
            seeds = json.load(f)
        return int(seeds[str(int(k))])
    except (OSError, ValueError, KeyError, TypeError):
        raise AnswerKeyUnavailable(f"the grader did not hand in the hidden seed {k!r} for this cell") from None


def hidden_rng(k):
    """``np.random.default_rng(hidden_seed(k))``, with the seed the grader handed in."""
    return np.random.default_rng(hidden_seed(k))


def _save(label, status, value=None, error=None):
    k = next(_counter)
    if not OUTBOX:
        return
    arrays = []
    record = {"label": str(label)[:500], "status": status, "value": boundary.encode(value, arrays)}
    if error is not None:
        record["error"] = {"type": type(error).__name__, "message": str(error)[:2000]}
    try:
        boundary.write_record(OUTBOX, k, record, arrays)
    except OSError:  # a full disk or the file-size limit: the trusted side sees no record
        pass


def _run(func, args, kwargs, label, seconds):
    """Call ``func``; record what it returned or raised. Returns (ok, value_or_error)."""
    try:
        with time_limit(seconds, label):
            value = func(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the student's error is part of the result
        _save(label, "raised", error=error)
        return False, error
    _save(label, "ok", value)
    return True, value


def check(student, reference, cases, name=None, rtol=1e-5, atol=1e-8, check_dtype=True, forbidden=None,
          seconds=10, quiet=False):
    """Call ``student`` on every case (a deep copy each) and record the results.

    The arguments are those of :func:`cnnlab.grading.learner.check`; ``reference`` and the
    tolerances are used on the trusted side only. A case whose call raises stops the cell, as there.

    Example:
        >>> check(lambda x: x + 1, "cnnlab.reference.relu", [(np.zeros(2),)], name="shift")
        shift: results recorded; the grader compares them outside the sandbox
    """
    name = name or getattr(student, "__name__", "your function")
    for args, kwargs in (as_case(c) for c in cases):
        ok, value = _run(student, copy.deepcopy(args), copy.deepcopy(kwargs), describe_call(name, args, kwargs), seconds)
        if not ok:
            raise value
    print(f"{name}: results recorded; the grader compares them outside the sandbox")


def expect_error(student, args, kwargs=None, errors=(ValueError, TypeError), name=None, forbidden=None, seconds=10):
    """Call ``student`` on bad input and record the error it raised (or what it returned).

    The arguments are those of :func:`cnnlab.grading.learner.expect_error`; the error is judged on
    the trusted side, so nothing is raised here.

    Example:
        >>> expect_error(lambda n: n // 0, (3,))
    """
    kwargs = kwargs or {}
    _run(student, args, kwargs, describe_call(name or getattr(student, "__name__", "f"), args, kwargs), seconds)


def call_student(func, *args, forbidden=None, seconds=10, name=None, guard=True, **kwargs):
    """Call the student's function, record its result and return it (its error is raised again).

    ``forbidden`` and ``guard`` are the trusted side's business (the shortcuts are judged there).

    Example:
        >>> call_student(lambda x, y: x * y, 3, y=4)
        12
    """
    label = describe_call(name or getattr(func, "__name__", "your function"), args, kwargs)
    ok, value = _run(func, args, kwargs, label, seconds)
    if not ok:
        raise value
    return value


def observe(value, label="value"):
    """Record ``value`` as the student's code left it (e.g. an input that must not change).

    Example:
        >>> observe([1, 2], "the input after the call")
        [1, 2]
    """
    _save(label, "ok", value)
    return value


def assert_matches(*args, **kwargs):
    """Comparisons happen outside the sandbox."""


def check_losses(*args, **kwargs):
    """Judged outside the sandbox (the losses were recorded by ``call_student``)."""


def check_cpu_budget(*args, **kwargs):
    """The CPU time is measured from outside the sandbox."""


def check_dropout(dropout, p_values=(0.2, 0.5, 0.8), dtype=np.float64, shape=(200, 300), seed=0, forbidden=None):
    """The calls of the trusted ``check_dropout``, in the same order, recorded: per ``p`` two calls
    with the rng seeded ``seed + 1`` and one with ``seed + 2``, then one in evaluation mode (arguments as
    in the learner's)."""
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype)  # noqa: F405
    for p in p_values:
        for rng_seed in (seed + 1, seed + 1, seed + 2):  # the order compare.assert_inverted_dropout reads them
            ok, value = _run(dropout, (x.copy(), p, True, np.random.default_rng(rng_seed)), {}, f"dropout(p={p})", 10)
            if not ok:
                raise value
    ok, value = _run(dropout, (x.copy(), 0.5, False, None), {}, "dropout(training=False)", 10)
    if not ok:
        raise value


def check_random_augmentation(student, candidates, label, calls=200, seed=0, forbidden=None):
    """Call ``student(rng)`` ``calls`` times with one rng seeded ``seed``, then ``calls`` times with one seeded
    ``seed + 1``; record each run as one list (the second under ``label + " (another seed)"``)."""
    for key, rng in ((label, np.random.default_rng(seed)),
                     (label + " (another seed)", np.random.default_rng(seed + 1))):
        results = []
        try:
            with time_limit(10 + calls * 0.05, label):
                for _ in range(calls):
                    results.append(student(rng))
        except Exception as error:  # noqa: BLE001
            _save(key, "raised", error=error)
            raise
        _save(key, "ok", results)


def _model_as_data(model):
    """The model as layers and weights (``model_spec.layer_spec``): what the trusted side rebuilds and grades."""
    spec, arrays = model_spec.layer_spec(model)
    return {"spec": spec, "arrays": arrays}


def check_cnn(model, input_shape=(5, 1, 28, 28), num_classes=10, min_convs=2, max_params=1_000_000):
    """Record the model as data (its standard layers and their weights); the trusted side rebuilds it and
    takes every architecture fact from the rebuilt network. A model that is not an ``nn.Sequential`` of
    standard layers raises here, with the message naming the allowed layers."""
    ok, value = _run(_model_as_data, (model,), {}, "the model as layers", 60)
    if not ok:
        raise value


def check_model(student, reference, cases, name=None, forbidden=None, seconds=60, input_size=None):
    """Build ``student(**case)``; record its parameter count and its output shape on a random batch."""
    import torch

    name = name or getattr(student, "__name__", "your model")
    for case in cases:
        case = dict(case)
        big = case.get("image_size", 0) >= 128

        def facts():
            with (torch.device("meta") if big else contextlib.nullcontext()):
                torch.manual_seed(0)
                model = student(**copy.deepcopy(case))
            if not isinstance(model, torch.nn.Module):
                return {"module": False, "type": type(model).__name__}
            result = {"module": True, "params": int(sum(p.numel() for p in model.parameters()))}
            if not big:
                size = case.get("image_size", input_size or 32)
                model.eval()
                with torch.no_grad():
                    result["out_shape"] = list(model(torch.randn(2, case.get("in_channels", 3), size, size)).shape)
            return result

        ok, value = _run(facts, (), {}, describe_call(name, (), case), seconds)
        if not ok:
            raise value


def fashion_mnist_tensors(train=3000, test=1000):
    """The training images and labels and the held-out images the grader put in; no held-out labels (None)."""
    import torch

    folder = os.path.join(INBOX, f"fashion_mnist_{int(train)}_{int(test)}")
    if not os.path.isdir(folder):
        raise AnswerKeyUnavailable("the grader did not hand in the data for this cell")
    arrays = [np.load(os.path.join(folder, f + ".npy"), allow_pickle=False) for f in ("x_train", "y_train", "x_test")]
    x_train, y_train, x_test = (torch.from_numpy(a) for a in arrays)
    return x_train, y_train, x_test, None


def check_accuracy(model, images, labels, threshold):
    """Record the trained model as data (layers and weights): the trusted side rebuilds it and computes the
    logits on the held-out images itself (their labels stay outside the sandbox)."""
    ok, value = _run(_model_as_data, (model,), {}, "the trained model as layers", 120)
    if not ok:
        raise value
