"""Comparing a student's result with the expected one, and saying clearly what differs.

Pure NumPy (also copied into the grading sandbox, where it only describes values). The checks are
strict on purpose: an array must be exactly ``np.ndarray`` (not a subclass whose comparisons could
lie) with the expected shape and dtype before any value is compared.
"""

import contextlib
import importlib
import signal
import threading

import numpy as np

__all__ = ["CheatingError", "MismatchError", "TimeLimitError", "describe", "describe_call", "assert_matches", "to_numpy"]


class CheatingError(Exception):
    """The student's function used a module that does the work the exercise asks for."""


class MismatchError(AssertionError):
    """The student's result differs from the answer key (the message says where and by how much)."""


class TimeLimitError(Exception):
    """The student's function ran longer than the exercise allows (an endless loop?)."""


def to_numpy(value):
    """torch tensors -> NumPy (for comparison only); anything else unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def describe(value):
    """Short description of an argument: arrays as 'dtype (shape)', the rest as repr."""
    value = to_numpy(value)
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {tuple(value.shape)}"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_call(name, args, kwargs):
    """``name(float64 (2, 3), stride=2)``: how a failing case is named in messages."""
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
    """
    actual = to_numpy(actual)
    expected = to_numpy(expected)
    if type(expected) is np.ndarray and type(actual) is not np.ndarray and hasattr(actual, "__array__") \
            and type(actual).__module__.startswith("torch"):
        actual = np.asarray(actual)
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
    """The answer-key function named by ``reference`` (``"cnnlab.reference.conv2d"``), or ``reference`` itself."""
    if isinstance(reference, str):
        module_name, _, attr = reference.rpartition(".")
        return getattr(importlib.import_module(module_name), attr)
    return reference


@contextlib.contextmanager
def time_limit(seconds, what="your function"):
    """Raise ``TimeLimitError`` inside the block after ``seconds`` (main thread, POSIX only)."""
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
