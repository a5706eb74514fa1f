"""Comparing a student's result with the expected one, and saying clearly what differs.

Pure NumPy (also copied into the grading sandbox, where it only describes values). The checks are
strict on purpose: an array must be exactly ``np.ndarray`` (not a subclass whose comparisons could
lie) with the expected shape and dtype before any value is compared.

Some results cannot be compared with the answer key value by value (dropout's random mask, a
random augmentation, a training run, a model the student designed); for them the property checks
at the end of this module say what must hold. Each one is the single home of its check: the
learner-side checks (``learner``) apply it to what the student's function returned, the trusted
checker (``trusted``) to what the sandbox recorded. None of them needs or holds an answer key.
"""

import contextlib
import importlib
import signal
import threading

import numpy as np

__all__ = ["CheatingError", "MismatchError", "TimeLimitError", "describe", "describe_call", "assert_matches", "to_numpy",
           "resolve_reference", "time_limit", "as_pair", "assert_inverted_dropout", "assert_random_choices",
           "check_losses", "assert_architecture", "assert_model_facts", "assert_accuracy", "assert_cpu_budget"]


class CheatingError(Exception):
    """The student's function used a module that does the work the exercise asks for."""


class MismatchError(AssertionError):
    """The student's result differs from the answer key (the message says where and by how much)."""


class TimeLimitError(Exception):
    """The student's function ran longer than the exercise allows (an endless loop?)."""


def to_numpy(value):
    """torch tensors -> NumPy (for comparison only); anything else unchanged.

    Example:
        >>> import torch
        >>> to_numpy(torch.ones(2)), to_numpy([1, 2])
        (array([1., 1.], dtype=float32), [1, 2])
    """
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def describe(value):
    """Short description of an argument: arrays as 'dtype (shape)', functions by name, the rest as repr.

    Example:
        >>> describe(np.zeros((2, 3))), describe(np.mean), describe("x" * 50)
        ('float64 (2, 3)', 'mean', "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...")
    """
    value = to_numpy(value)
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {tuple(value.shape)}"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_call(name, args, kwargs):
    """``name(float64 (2, 3), stride=2)``: how a failing case is named in messages.

    Args:
        name (str): the function's name.
        args (tuple): its positional arguments.
        kwargs (dict): its keyword arguments.

    Example:
        >>> describe_call("conv2d", (np.zeros((1, 1, 4, 4)),), {"stride": 2})
        'conv2d(float64 (1, 1, 4, 4), stride=2)'
    """
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return repr(value.item() if isinstance(value, np.generic) else value)


def assert_matches(actual, expected, name="result", rtol=1e-5, atol=1e-8, check_dtype=True):
    """Raise ``MismatchError`` unless ``actual`` equals ``expected`` (arrays: within rtol/atol).

    Handles arrays (NumPy or torch), Python/NumPy scalars, and tuples/lists of those (checked
    element by element, e.g. ``(dx, dw, db)``). The message says what differs: the type, the
    length, the shape, the dtype, how many values differ, the first wrong index and the
    largest error with its index.

    Args:
        actual: the student's result.
        expected: the answer key's result.
        name (str): names the result in messages (a case, ``conv2d(float64 (2, 3))``).
        rtol (float): relative tolerance of array and float comparisons.
        atol (float): absolute tolerance.
        check_dtype (bool): an array's dtype must be the expected one.

    Example:
        >>> assert_matches(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
        >>> assert_matches(np.array([1.0, 2.5]), np.array([1.0, 2.0]), "out")
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: out: 1 of 2 values differ (rtol=1e-05, atol=1e-08). First wrong value at ...
        >>> assert_matches(np.zeros(3, dtype=np.float32), np.zeros(3), "out")
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: out: wrong dtype: got float32, expected float64 (keep the input's dtype, ...)
    """
    actual = to_numpy(actual)
    expected = to_numpy(expected)
    if actual is None and expected is not None:
        raise MismatchError(f"{name}: your function returned None (did you forget `return`?)")
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            raise MismatchError(f"{name}: expected a tuple of {len(expected)} values, got {type(actual).__name__}")
        if len(actual) != len(expected):
            raise MismatchError(f"{name}: expected {len(expected)} values, got {len(actual)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_matches(a, e, f"{name}[{i}]", rtol=rtol, atol=atol, check_dtype=check_dtype)
        return
    if not isinstance(expected, np.ndarray):
        _assert_scalar(actual, expected, name, rtol, atol)
        return
    if type(actual) is not np.ndarray:  # exactly ndarray: a subclass could make comparisons lie
        raise MismatchError(
            f"{name}: expected a NumPy array of shape {expected.shape}, got {type(actual).__name__}"
            + (" (use np.asarray / np.array)" if isinstance(actual, (list, tuple)) else "")
            + (" (a subclass of np.ndarray: return a plain np.ndarray)" if isinstance(actual, np.ndarray) else "")
        )
    if actual.dtype.kind not in "biufc":
        raise MismatchError(f"{name}: expected numbers, got an array of dtype {actual.dtype}")
    if actual.shape != expected.shape:
        raise MismatchError(f"{name}: wrong shape: got {actual.shape}, expected {expected.shape}")
    if check_dtype and actual.dtype != expected.dtype:
        raise MismatchError(
            f"{name}: wrong dtype: got {actual.dtype}, expected {expected.dtype} "
            f"(keep the input's dtype, e.g. np.zeros(shape, dtype=x.dtype))"
        )
    if expected.size == 0:
        return
    if expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
        wrong = actual != expected
    else:
        a64 = actual.astype(np.float64)
        e64 = expected.astype(np.float64)
        wrong = ~np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if not wrong.any():
        return
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    with np.errstate(invalid="ignore"):
        error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    error = np.where(np.isnan(error), np.inf, error)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(error), error.shape))
    raise MismatchError(
        f"{name}: {int(wrong.sum())} of {wrong.size} values differ (rtol={rtol:g}, atol={atol:g}). "
        f"First wrong value at index {first}: got {_fmt(actual[first])}, expected {_fmt(expected[first])}. "
        f"Largest error {_fmt(error[worst])} at index {worst}."
    )


def _assert_scalar(actual, expected, name, rtol, atol):
    if isinstance(expected, (bool, np.bool_)) or isinstance(expected, str) or expected is None:
        if actual != expected:
            raise MismatchError(f"{name}: got {actual!r}, expected {expected!r}")
        return
    if isinstance(expected, (int, np.integer)):
        if isinstance(actual, np.ndarray) and actual.ndim == 0:
            actual = actual.item()
        if not isinstance(actual, (int, np.integer)) or isinstance(actual, bool):
            raise MismatchError(f"{name}: expected an int, got {type(actual).__name__} {actual!r}")
        if int(actual) != int(expected):
            raise MismatchError(f"{name}: got {int(actual)}, expected {int(expected)}")
        return
    if isinstance(expected, (float, np.floating)):
        try:
            value = float(actual)
        except (TypeError, ValueError):
            raise MismatchError(f"{name}: expected a number, got {type(actual).__name__}") from None
        if not np.isclose(value, float(expected), rtol=rtol, atol=atol, equal_nan=True):
            raise MismatchError(f"{name}: got {value:.6g}, expected {float(expected):.6g} (error {abs(value - expected):.3g})")
        return
    if actual != expected:
        raise MismatchError(f"{name}: got {actual!r}, expected {expected!r}")


def resolve_reference(reference):
    """The answer-key function named by ``reference`` (``"cnnlab.reference.conv2d"``), or ``reference`` itself.

    Example:
        >>> resolve_reference("cnnlab.reference.conv2d").__name__, resolve_reference(len) is len
        ('conv2d', True)
    """
    if isinstance(reference, str):
        module_name, _, attr = reference.rpartition(".")
        return getattr(importlib.import_module(module_name), attr)
    return reference


@contextlib.contextmanager
def time_limit(seconds, what="your function"):
    """Raise ``TimeLimitError`` inside the block after ``seconds`` (main thread, POSIX only; elsewhere no limit).

    Args:
        seconds (float): the limit (0 or None: none).
        what (str): names what ran too long in the message.

    Example:
        >>> with time_limit(0.05, "spin()"):
        ...     while True:
        ...         pass
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.TimeLimitError: spin() ran longer than 0.05 s; is there an endless loop?
    """
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitError(f"{what} ran longer than {seconds:g} s; is there an endless loop?")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------------------------
# Property checks: what must hold of a result that cannot be compared with the answer key value by
# value. The learner-side checks (``learner``) apply them to what the student's function returned,
# the trusted checker (``trusted``) to what the sandbox recorded; neither needs an answer key here.
# ---------------------------------------------------------------------------------------------


def as_pair(result, label):
    """``result`` if it is a 2-tuple ``(out, mask)``, else ``MismatchError`` naming ``label``.

    Args:
        result: what the student's dropout returned.
        label (str): names the call in the message.

    Returns:
        tuple: ``result``.

    Example:
        >>> as_pair((1, 2), "dropout")
        (1, 2)
        >>> as_pair([1, 2], "dropout")
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: dropout: should return a pair (out, mask), got [1, 2]
    """
    if not isinstance(result, tuple) or len(result) != 2:
        raise MismatchError(f"{label}: should return a pair (out, mask), got {describe(result)}")
    return result


def assert_inverted_dropout(x, p_values, result_of):
    """Check inverted dropout on ``x`` from the results ``result_of(p, training)`` gives, in this order.

    For every ``p``: the first ``(out, mask)`` must have the shape and dtype of ``x``, mask values
    0 or 1/(1-p), out = x * mask and a dropped fraction within 0.02 of ``p``; the second (same rng
    seed) must have the same mask, and the third (another seed) a different one, so that a mask
    which ignores the rng (a fixed pattern) fails. Last, ``result_of(0.5, False)`` (evaluation mode) must be
    ``(x, ones)``. Random numbers cannot be compared with the answer key one by one (there are
    many correct ways to draw them), so these are the properties that must hold.

    Args:
        x (np.ndarray): the input the results were computed from.
        p_values (sequence of float): the drop probabilities, in the order of the results.
        result_of (callable): ``result_of(p, training, other_seed)`` is the next ``(out, mask)`` the
            student's ``dropout(x.copy(), p, training, rng)`` returned (called or recorded), with the rng
            seeded as always, or with ``other_seed`` by another seed.

    Example:
        >>> x = np.ones((100, 100))
        >>> def honest(p, training, other_seed):
        ...     keep = np.random.default_rng(2 if other_seed else 1).random(x.shape) >= p
        ...     mask = keep / (1 - p) if training else np.ones_like(x)
        ...     return x * mask, mask
        >>> assert_inverted_dropout(x, [0.5], honest)
        dropout: behaves like inverted dropout for p in [0.5] (float64)
        >>> assert_inverted_dropout(x, [0.5], lambda p, training, other_seed: (x, np.ones_like(x)))
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: dropout(...): mask values must be 0 or 1/(1-p) = 2; mask(0, 0) = 1
    """
    for p in p_values:
        label = f"dropout(x={describe(x)}, p={p}, training=True)"
        out, mask = as_pair(result_of(p, True, False), label)
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
        _, mask_again = as_pair(result_of(p, True, False), label)
        assert_matches(mask_again, mask, f"{label}: the same rng seed should give the same mask "
                       "(draw every random number from rng)")
        _, mask_other = as_pair(result_of(p, True, True), label)
        if type(mask_other) is not np.ndarray or mask_other.shape != x.shape or np.array_equal(mask_other, mask):
            raise MismatchError(f"{label}: an rng with another seed gave the same mask: the mask must come from "
                                "rng's random numbers, not a fixed pattern")
    label = f"dropout(x={describe(x)}, p=0.5, training=False)"
    out, mask = as_pair(result_of(0.5, False, False), label)
    assert_matches(out, x, f"{label}: out (evaluation mode is the identity)")
    assert_matches(mask, np.ones_like(x), f"{label}: mask (all ones in evaluation mode)")
    print(f"dropout: behaves like inverted dropout for p in {list(p_values)} ({x.dtype.name})")


def _choices(results, candidates, label):
    """Which candidate each result is (its index); MismatchError for a result that is none of them."""
    choices = []
    for out in results:
        out = to_numpy(out)
        if type(out) is not np.ndarray or out.shape != candidates[0].shape:
            raise MismatchError(f"{label}: expected an array of shape {candidates[0].shape}, got {describe(out)}")
        hits = [i for i, c in enumerate(candidates) if np.array_equal(out, c)]
        if not hits:
            raise MismatchError(f"{label}: returned an image that is not one of the {len(candidates)} allowed results")
        choices.append(hits[0])
    return choices


def assert_random_choices(results, candidates, label, other_seed_results=None):
    """Every one of ``results`` is one of ``candidates``, and they are random enough.

    More than one candidate must occur and none may make up more than 3/4 of the results (unless
    there is only one candidate). With ``other_seed_results`` (the same number of calls with an rng
    seeded differently) the two sequences of choices must differ, so that a function which ignores
    the rng (a counter, a fixed pattern) fails.

    Like every property of random results, this can be forged by code that counts its own calls and
    knows the order in which the grader makes them; it stops functions that ignore the rng, not a
    student who has studied the recorder.

    Args:
        results (list): what the student's ``f(rng)`` returned, call after call.
        candidates (list of np.ndarray): the allowed results (e.g. the image and its flip).
        label (str): names the function in messages.
        other_seed_results (list or None): the calls with the other seed, checked the same way.

    Example:
        >>> image = np.arange(4.0).reshape(2, 2)
        >>> flips = [image, image[:, ::-1]]
        >>> assert_random_choices([flips[i % 2] for i in range(10)], flips, "random_flip")
        random_flip: 10 calls, 2 different results, all allowed
        >>> counter = [flips[i % 2] for i in range(10)]   # the same choices whatever the seed
        >>> assert_random_choices(counter, flips, "random_flip", other_seed_results=counter)
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: random_flip: an rng with another seed gave the same 10 choices: ...
        >>> assert_random_choices([image] * 10, flips, "random_flip")
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: random_flip: not random enough: in 10 calls the most ...
    """
    choices = _choices(results, candidates, label)
    counts = np.bincount(choices, minlength=len(candidates))
    calls = len(results)
    if len(candidates) > 1:
        used = int(np.count_nonzero(counts))
        if used < 2 or counts.max() > 0.75 * calls:
            raise MismatchError(f"{label}: not random enough: in {calls} calls the most frequent result came "
                                f"{counts.max()} times and only {used} different results appeared")
        if other_seed_results is not None and _choices(other_seed_results, candidates, label) == choices:
            raise MismatchError(f"{label}: an rng with another seed gave the same {calls} choices: draw them "
                                "from rng's random numbers, not a counter or a fixed pattern")
    print(f"{label}: {calls} calls, {int(np.count_nonzero(counts))} different results, all allowed")


def check_losses(losses, epochs=None):
    """``train_model`` returned one finite mean loss per epoch, the last below the first.

    Args:
        losses (list of float): the per-epoch training losses (a tensor or array works too).
        epochs (int): how many epochs were asked for (None: any number).

    Example:
        >>> check_losses([2.3, 1.1, 0.7], epochs=3)
        training loss per epoch: [2.3, 1.1, 0.7]
        >>> check_losses([1.0, 1.2])
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: the training loss did not go down: [1.0, 1.2]
    """
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


def assert_architecture(convs, pools, strides, params, out_shape, input_shape=(5, 1, 28, 28), num_classes=10,
                        min_convs=2, max_params=1_000_000):
    """Exercise 07's architecture: enough convolutions, the maps shrink, a sensible size, one logit per class.

    Args:
        convs (int): how many ``nn.Conv2d`` layers the model has.
        pools (int): how many pooling layers (max, average, adaptive).
        strides (list of list of int): the stride of each convolution.
        params (int): the number of parameters.
        out_shape (tuple of int): the shape of the output on zeros of ``input_shape``.

    Example:
        >>> assert_architecture(2, 1, [[1, 1], [1, 1]], 12_000, (5, 10))
        architecture: 2 conv layers, 1 pooling layers, 12,000 parameters, output (5, 10)
        >>> assert_architecture(2, 0, [[1, 1], [1, 1]], 12_000, (5, 10))
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: the model never shrinks the feature maps: add nn.MaxPool2d (or ...)
    """
    if convs < min_convs:
        raise MismatchError(f"the model has {convs} nn.Conv2d layers, at least {min_convs} are asked for")
    if not pools and not any(isinstance(s, (list, tuple)) and s and max(s) > 1 for s in strides):
        raise MismatchError("the model never shrinks the feature maps: add nn.MaxPool2d (or a strided convolution)")
    if params > max_params:
        raise MismatchError(f"the model has {params:,} parameters; keep it under {max_params:,}")
    out_shape = tuple(out_shape)
    if out_shape != (input_shape[0], num_classes):
        raise MismatchError(f"input {tuple(input_shape)} gave output {out_shape}, expected "
                            f"{(input_shape[0], num_classes)} (one logit per class)")
    print(f"architecture: {convs} conv layers, {pools} pooling layers, {params:,} parameters, output {out_shape}")


def assert_model_facts(label, facts, expected_params, input_shape=None, expected_shape=None):
    """The student's model is an ``nn.Module`` with ``expected_params`` parameters (and output ``expected_shape``).

    Args:
        label (str): names the call in messages (``vgg(cfg=[64, 'M'])``).
        facts (dict): what was measured of the student's model: ``module`` (bool), ``type`` (its
            class name), ``params`` (int) and, for a shape check, ``out_shape`` (list of int).
        expected_params (int): the reference model's parameter count.
        input_shape (tuple of int): the batch the output was computed on (for the message).
        expected_shape (tuple of int): the reference model's output shape (None: not compared).

    Example:
        >>> facts = {"module": True, "params": 120, "out_shape": [2, 10]}
        >>> assert_model_facts("net()", facts, 120, input_shape=(2, 3, 8, 8), expected_shape=(2, 10))
        >>> assert_model_facts("net()", {"module": True, "params": 100}, 120)
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: net(): 100 parameters, expected 120 (difference -20)
    """
    if not isinstance(facts, dict) or facts.get("module") is not True:
        got = facts.get("type", "?") if isinstance(facts, dict) else describe(facts)
        raise MismatchError(f"{label}: should give a torch.nn.Module, got {got}")
    got = facts.get("params")
    if type(got) is not int:
        raise MismatchError(f"{label}: no parameter count came back")
    if got != expected_params:
        raise MismatchError(f"{label}: {got:,} parameters, expected {expected_params:,} "
                            f"(difference {got - expected_params:+,})")
    if expected_shape is None:
        return
    out_shape = facts.get("out_shape")
    if not isinstance(out_shape, list) or tuple(out_shape) != tuple(expected_shape):
        shown = tuple(out_shape) if isinstance(out_shape, list) else out_shape
        raise MismatchError(f"{label}: input {tuple(input_shape)} gave output {shown}, "
                            f"expected {tuple(expected_shape)}")


def assert_accuracy(accuracy, threshold):
    """The held-out ``accuracy`` (a fraction) reaches ``threshold``.

    Args:
        accuracy (float): the fraction of held-out images classified right.
        threshold (float): the fraction required.

    Example:
        >>> assert_accuracy(0.91, 0.85)
        held-out accuracy 91.0% (required: 85%)
        >>> assert_accuracy(0.5, 0.85)
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: held-out accuracy 50.0% is below the required 85%
    """
    if accuracy < threshold:
        raise MismatchError(f"held-out accuracy {accuracy:.1%} is below the required {threshold:.0%}")
    print(f"held-out accuracy {accuracy:.1%} (required: {threshold:.0%})")


def assert_cpu_budget(seconds, budget, how=""):
    """Training took ``seconds`` of CPU time, at most ``budget``; ``how`` says how it was measured.

    Args:
        seconds (float): the CPU time the training took.
        budget (float): the CPU seconds allowed.
        how (str): shown after the budget in the message (e.g. "measured outside the sandbox").

    Example:
        >>> assert_cpu_budget(12.0, 60, how="measured outside the sandbox")
        training took 12.0 s of CPU time (budget 60 s, measured outside the sandbox)
        >>> assert_cpu_budget(75.0, 60)
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: training took 75.0 s of CPU time, the budget is 60 s (fewer epochs, ...)
    """
    if seconds > budget:
        raise MismatchError(f"training took {seconds:.1f} s of CPU time, the budget is {budget:g} s "
                            "(fewer epochs, a smaller model or bigger batches)")
    print(f"training took {seconds:.1f} s of CPU time (budget {budget:g} s{', ' + how if how else ''})")
