"""Helpers for the autograded exercises: compare with the answer key, explain failures, catch shortcuts.

Every test cell of an assignment (``exercises/<name>/<name>.ipynb``) is one or two lines::

    grading.check(conv2d, "cnnlab.reference.conv2d", grading.conv_cases(seed=1))

``check`` does three things, in this order:

1. **Static check** (``find_forbidden``): the student's function, the notebook functions and classes
   it uses, its default arguments and closures must not refer to a forbidden module
   (``cnnlab.reference``, ``torch``, ... ; which ones depends on the exercise). A reference found
   raises ``CheatingError`` before anything runs.
2. **Expected values**: computed from the answer key (``cnnlab.reference`` and friends) *outside*
   any tripwire, on a copy of the inputs.
3. **Student call under tripwires** (``tripwires``): while the student's function runs, the functions
   of the forbidden ``cnnlab`` modules raise ``CheatingError`` when called (their code objects are
   swapped, so aliases are caught too), key torch entry points (``torch.from_numpy``,
   ``torch.nn.functional.conv2d``, ...) are replaced, and importing a forbidden module fails.
   A time limit (SIGALRM) turns an endless loop into a ``TimeLimitError`` after a few seconds.

Mismatches raise ``MismatchError`` (an ``AssertionError``) whose message names the case, the shape,
the dtype, the first wrong index and the largest error, e.g.::

    MismatchError: conv2d(x=float64 (2, 3, 7, 5), w=float64 (4, 3, 3, 3), stride=2):
    12 of 96 values differ (rtol=1e-05, atol=1e-08). First wrong value at index (0, 1, 0, 2):
    got 0.1234, expected 0.5678. Largest error 1.2 at index (1, 3, 2, 0).
"""

import builtins
import contextlib
import copy
import dis
import functools
import importlib
import signal
import sys
import threading
import types
import warnings

import numpy as np

__all__ = [
    # errors
    "CheatingError",
    "MismatchError",
    "TimeLimitError",
    # comparing and checking
    "assert_matches",
    "check",
    "expect_error",
    "check_dropout",
    "check_random_augmentation",
    "check_cnn",
    "check_model",
    "check_losses",
    "check_accuracy",
    "check_cpu_budget",
    "accuracy_of",
    "count_params",
    # cheat detection
    "NUMPY_FORBIDDEN",
    "TORCH_FORBIDDEN",
    "find_forbidden",
    "tripwires",
    "call_student",
    "forbid",
    "time_limit",
    # test cases and answer keys
    "describe",
    "random_array",
    "corr2d_cases",
    "conv_cases",
    "pool_cases",
    "pad_cases",
    "image_cases",
    "gradient_cases",
    "shift_cases",
    "answers",
    "reference_vgg_features",
    "fashion_mnist_tensors",
]

# What a NumPy exercise may not use: everything of the course package (the answer key lives there)
# and the libraries that would do the work in one call.
NUMPY_FORBIDDEN = ("cnnlab", "torch", "torchvision", "scipy", "skimage", "sklearn", "cv2", "PIL", "tensorflow", "jax")

# torch entry points replaced by tripwires while a NumPy exercise runs (module attributes; aliases
# taken before the call are caught by the static check instead).
_TORCH_ENTRY_POINTS = {
    "torch": ("from_numpy", "tensor", "as_tensor", "asarray", "conv2d", "conv_transpose2d", "max_pool2d",
              "avg_pool2d", "dropout", "relu", "flip", "roll", "rot90", "einsum"),
    "torch.nn.functional": ("conv1d", "conv2d", "conv_transpose2d", "unfold", "fold", "max_pool2d",
                            "max_pool2d_with_indices", "avg_pool2d", "lp_pool2d", "adaptive_max_pool2d",
                            "adaptive_avg_pool2d", "pad", "dropout", "dropout2d", "relu", "linear",
                            "interpolate", "grid_sample", "affine_grid"),
    "torch.nn.grad": ("conv2d_input", "conv2d_weight"),
    "torch.autograd": ("grad", "backward"),
}

# Never swapped (the grader itself runs while tripwires are armed).
_NEVER_PATCHED = ("cnnlab.grading",)


class CheatingError(Exception):
    """The student's function used a module that does the work the exercise asks for."""


class MismatchError(AssertionError):
    """The student's result differs from the answer key (the message says where and by how much)."""


class TimeLimitError(Exception):
    """The student's function ran longer than the exercise allows (an endless loop?)."""


# ---------------------------------------------------------------------------------------------
# Describing values and comparing them
# ---------------------------------------------------------------------------------------------


def _to_numpy(value):
    """torch tensors -> NumPy (for comparison only); anything else unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def describe(value):
    """Short description of an argument: arrays as 'dtype (shape)', the rest as repr."""
    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {tuple(value.shape)}"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe_call(name, args, kwargs):
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
    actual = _to_numpy(actual)
    expected = _to_numpy(expected)
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
    if not isinstance(actual, np.ndarray):
        raise MismatchError(
            f"{name}: expected a NumPy array of shape {expected.shape}, got {type(actual).__name__}"
            + (" (use np.asarray / np.array)" if isinstance(actual, (list, tuple)) else "")
        )
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


# ---------------------------------------------------------------------------------------------
# Cheat detection: the static check
# ---------------------------------------------------------------------------------------------


def _matches(module_name, forbidden):
    """True when ``module_name`` is one of ``forbidden`` or inside one of them."""
    if not module_name:
        return False
    return any(module_name == f or module_name.startswith(f + ".") for f in forbidden)


def _owner_module(obj):
    """The module an object comes from ('' when unknown)."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, functools.partial):
        return _owner_module(obj.func)
    module = getattr(obj, "__module__", None)
    if isinstance(module, str):
        return module
    self_ = getattr(obj, "__self__", None)  # builtin methods of a module
    if isinstance(self_, types.ModuleType):
        return self_.__name__
    return ""


_BUILTIN_IDS_CACHE = {}


def _forbidden_builtin_ids(forbidden):
    """ids of C functions living in forbidden modules whose ``__module__`` does not say so."""
    key = (forbidden, len(sys.modules))
    if key in _BUILTIN_IDS_CACHE:
        return _BUILTIN_IDS_CACHE[key]
    ids = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some torch attributes warn when touched
        for module_name, module in list(sys.modules.items()):
            if module is None or not _matches(module_name, forbidden):
                continue
            for attr, value in list(vars(module).items()):
                if isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)) and not _owner_module(value):
                    ids[id(value)] = f"{module_name}.{attr}"
    _BUILTIN_IDS_CACHE.clear()
    _BUILTIN_IDS_CACHE[key] = ids
    return ids


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def find_forbidden(func, forbidden=NUMPY_FORBIDDEN):
    """List what in ``func`` refers to a forbidden module (empty list: nothing found).

    Looks at: import statements inside the function (also nested functions and lambdas), string
    constants naming a forbidden module (``importlib.import_module("torch")``), every global name
    the code uses (modules, functions, classes, instances; ``cnnlab.reference.conv2d`` through a
    parent module is caught too), default arguments and closure cells. Functions and classes
    defined in the same notebook are followed recursively, so a helper cannot hide the call.
    """
    forbidden = tuple(forbidden)
    builtin_ids = _forbidden_builtin_ids(forbidden)
    problems = []
    seen = set()

    def flag_object(obj, where):
        if id(obj) in builtin_ids:
            problems.append(f"{where} is {builtin_ids[id(obj)]}")
            return True
        owner = _owner_module(obj)
        if not isinstance(obj, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                                functools.partial)) and not callable(obj):
            owner = type(obj).__module__  # an instance, e.g. a prebuilt model
        if _matches(owner, forbidden):
            problems.append(f"{where} comes from {owner}")
            return True
        if isinstance(obj, type):
            for base in obj.__mro__[1:]:
                if _matches(base.__module__, forbidden):
                    problems.append(f"{where} subclasses {base.__module__}.{base.__qualname__}")
                    return True
        return False

    def visit_object(obj, where, home_globals):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if flag_object(obj, where):
            return
        if isinstance(obj, functools.partial):
            visit_object(obj.func, where, home_globals)
            for arg in list(obj.args) + list(obj.keywords.values()):
                visit_object(arg, where, home_globals)
        elif isinstance(obj, types.MethodType):
            visit_object(obj.__func__, where, home_globals)
        elif isinstance(obj, types.FunctionType) and obj.__globals__ is home_globals:
            visit_function(obj)
        elif isinstance(obj, type) and obj.__module__ == home_globals.get("__name__"):
            for attr, value in vars(obj).items():
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if isinstance(value, property):
                    value = value.fget
                if isinstance(value, types.FunctionType):
                    visit_object(value, f"{obj.__name__}.{attr}", home_globals)

    def visit_function(func):
        code = func.__code__
        home = func.__globals__
        where = f"{func.__qualname__}"
        for co in _code_objects(code):
            current_import = None
            names = set(co.co_names)
            for instr in dis.get_instructions(co):
                if instr.opname == "IMPORT_NAME":
                    current_import = instr.argval
                    if _matches(current_import, forbidden):
                        problems.append(f"{where} imports {current_import}")
                elif instr.opname == "IMPORT_FROM" and current_import:
                    full = f"{current_import}.{instr.argval}"
                    if _matches(full, forbidden) and not _matches(current_import, forbidden):
                        problems.append(f"{where} imports {full}")
                elif instr.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(instr.argval, str):
                    name = instr.argval
                    if name in home:
                        value = home[name]
                        if isinstance(value, types.ModuleType) and not _matches(value.__name__, forbidden):
                            # `cnnlab.reference.conv2d(...)` through the parent package
                            for f in forbidden:
                                if f.startswith(value.__name__ + "."):
                                    child = f[len(value.__name__) + 1 :].split(".")[0]
                                    if child in names:
                                        problems.append(f"{where} uses {value.__name__}.{child}")
                        visit_object(value, f"{where} -> {name}", home)
            for const in co.co_consts:
                if isinstance(const, str) and _matches(const, forbidden) and " " not in const:
                    problems.append(f"{where} names the module {const!r}")
        for value in list(func.__defaults__ or ()) + list((func.__kwdefaults__ or {}).values()):
            visit_object(value, f"{where} (default argument)", home)
        for cell in func.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # empty cell
                continue
            visit_object(value, f"{where} (closure)", home)

    if isinstance(func, types.FunctionType):
        seen.add(id(func))
        visit_function(func)
    elif isinstance(func, type):
        home = sys.modules.get(func.__module__)
        visit_object(func, func.__name__, vars(home) if home else {})
    else:
        flag_object(func, getattr(func, "__name__", repr(func)))
    return sorted(set(problems))


# ---------------------------------------------------------------------------------------------
# Cheat detection: tripwires while the student's code runs
# ---------------------------------------------------------------------------------------------


def _tripwire_template(*args, **kwargs):
    # Runs with the globals of the function it replaced, hence __import__ instead of a global name.
    sys_module = __import__("sys")  # `import cnnlab.grading` would trip the import guard itself
    code = sys_module._getframe(0).f_code
    raise sys_module.modules["cnnlab.grading"].CheatingError(
        f"your code called {code.co_filename}.{code.co_name}; this exercise asks you to write it yourself"
    )


def _tripwire_code(module_name, qualname):
    return _tripwire_template.__code__.replace(co_name=qualname, co_filename=module_name)


def _make_tripwire(label):
    def tripwire(*args, **kwargs):
        raise CheatingError(f"your code called {label}; this exercise asks you to write it yourself")

    tripwire.__name__ = label.rsplit(".", 1)[-1]
    return tripwire


@contextlib.contextmanager
def tripwires(forbidden=NUMPY_FORBIDDEN):
    """While active, calling into a forbidden module raises ``CheatingError``.

    - Python functions defined in forbidden ``cnnlab`` modules get a tripwire code object (so an
      alias such as ``from cnnlab.reference import conv2d as c`` trips too); Python classes
      defined there get a tripwire ``__init__``.
    - The torch entry points in ``_TORCH_ENTRY_POINTS`` are replaced when torch is forbidden.
    - ``import`` of a forbidden module raises.
    Everything is restored on exit, also after an exception.
    """
    forbidden = tuple(forbidden)
    restore = []
    try:
        for module_name, module in list(sys.modules.items()):
            if (module is None or not module_name.startswith("cnnlab") or not _matches(module_name, forbidden)
                    or _matches(module_name, _NEVER_PATCHED)):
                continue
            for attr, value in list(vars(module).items()):
                if isinstance(value, types.FunctionType) and value.__module__ == module_name and not value.__closure__:
                    original = value.__code__
                    value.__code__ = _tripwire_code(module_name, value.__qualname__)
                    restore.append(functools.partial(setattr, value, "__code__", original))
                elif isinstance(value, type) and value.__module__ == module_name and not issubclass(value, BaseException):
                    had_own = "__init__" in vars(value)
                    original = vars(value).get("__init__")
                    try:
                        setattr(value, "__init__", _make_tripwire(f"{module_name}.{value.__qualname__}"))
                    except (TypeError, AttributeError):  # e.g. a C extension type
                        continue
                    if had_own:
                        restore.append(functools.partial(setattr, value, "__init__", original))
                    else:
                        restore.append(functools.partial(delattr, value, "__init__"))
        for module_name, attrs in _TORCH_ENTRY_POINTS.items():
            module = sys.modules.get(module_name)
            if module is None or not _matches(module_name, forbidden):
                continue
            for attr in attrs:
                if attr in vars(module):
                    original = vars(module)[attr]
                    setattr(module, attr, _make_tripwire(f"{module_name}.{attr}"))
                    restore.append(functools.partial(setattr, module, attr, original))
        original_import = builtins.__import__

        def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
            if level == 0:
                wanted = [name] + [f"{name}.{f}" for f in (fromlist or ()) if isinstance(f, str)]
                if any(_matches(w, forbidden) for w in wanted):
                    raise CheatingError(f"your code imports {name}; this exercise asks you to write it yourself")
            return original_import(name, globals, locals, fromlist, level)

        builtins.__import__ = guarded_import
        restore.append(functools.partial(setattr, builtins, "__import__", original_import))
        yield
    finally:
        for undo in reversed(restore):
            undo()


@contextlib.contextmanager
def time_limit(seconds, what="your function"):
    """Raise ``TimeLimitError`` inside the block after ``seconds`` (main thread, POSIX only)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
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


def _static_check(func, forbidden, name):
    problems = find_forbidden(func, forbidden)
    if problems:
        raise CheatingError(
            f"{name} must do the work itself, without {', '.join(forbidden[:3])}"
            f"{', ...' if len(forbidden) > 3 else ''}; found: " + "; ".join(problems)
        )


def call_student(func, *args, forbidden=NUMPY_FORBIDDEN, seconds=10, name=None, **kwargs):
    """Call the student's ``func(*args, **kwargs)`` after the static check, under tripwires and a time limit."""
    name = name or getattr(func, "__name__", "your function")
    if not callable(func):
        raise TypeError(f"{name} must be a function, got {type(func).__name__}")
    _static_check(func, forbidden, name)
    with time_limit(seconds, name), tripwires(forbidden):
        return func(*args, **kwargs)


def forbid(func, modules=NUMPY_FORBIDDEN, seconds=10):
    """Wrap ``func`` so that every call is checked (static check, tripwires, time limit) first."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        return call_student(func, *args, forbidden=modules, seconds=seconds, **kwargs)

    return guarded


# ---------------------------------------------------------------------------------------------
# The one-line test: compare the student's function with the answer key on many cases
# ---------------------------------------------------------------------------------------------


def _resolve(reference):
    if isinstance(reference, str):
        module_name, _, attr = reference.rpartition(".")
        return getattr(importlib.import_module(module_name), attr)
    return reference


def _as_case(case):
    if isinstance(case, dict):
        return (), dict(case)
    if isinstance(case, tuple) and len(case) == 2 and isinstance(case[0], tuple) and isinstance(case[1], dict):
        return case
    return tuple(case) if isinstance(case, (tuple, list)) else (case,), {}


def check(student, reference, cases, name=None, rtol=1e-5, atol=1e-8, check_dtype=True,
          forbidden=NUMPY_FORBIDDEN, seconds=10, quiet=False):
    """Compare ``student(*args, **kwargs)`` with ``reference(*args, **kwargs)`` on every case.

    reference: a function or its dotted name (``"cnnlab.reference.conv2d"``).
    cases:     an iterable of argument tuples, kwargs dicts or ``(args, kwargs)`` pairs.
    The expected value is computed first, outside the tripwires; both functions get their own
    deep copy of the arguments (so modifying an input in place cannot hide a bug). The first
    mismatch raises ``MismatchError`` naming the case; a forbidden call raises ``CheatingError``.
    """
    reference = _resolve(reference)
    name = name or getattr(student, "__name__", None) or reference.__name__
    if not callable(student):
        raise TypeError(f"{name} must be a function, got {type(student).__name__}")
    _static_check(student, forbidden, name)
    cases = [_as_case(c) for c in cases]
    for args, kwargs in cases:
        expected = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        label = _describe_call(name, args, kwargs)
        with time_limit(seconds, label), tripwires(forbidden):
            actual = student(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        assert_matches(actual, expected, label, rtol=rtol, atol=atol, check_dtype=check_dtype)
    if not quiet:
        print(f"{name}: all {len(cases)} cases match the answer key")


def expect_error(student, args, kwargs=None, errors=(ValueError, TypeError), name=None,
                 forbidden=NUMPY_FORBIDDEN, seconds=10):
    """Check that ``student(*args, **kwargs)`` raises one of ``errors`` (bad input)."""
    kwargs = kwargs or {}
    name = name or getattr(student, "__name__", "your function")
    label = _describe_call(name, args, kwargs)
    try:
        call_student(student, *args, forbidden=forbidden, seconds=seconds, name=name, **kwargs)
    except errors:
        return
    except CheatingError:
        raise
    except Exception as exc:  # noqa: BLE001 - the message says which error came instead
        raise MismatchError(
            f"{label} should raise {' or '.join(e.__name__ for e in errors)}, but raised {type(exc).__name__}: {exc}"
        ) from None
    raise MismatchError(f"{label} should raise {' or '.join(e.__name__ for e in errors)}, but returned normally")


# ---------------------------------------------------------------------------------------------
# Random test cases (seeded: a failing case can be reproduced)
# ---------------------------------------------------------------------------------------------


def random_array(rng, shape, dtype=np.float64):
    """Standard-normal values of ``dtype`` (integers: 0..255)."""
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 256, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def corr2d_cases(seed=0, n=4, square=True, dtype=np.float64):
    """(x, k) pairs: 2-D input and kernel, kernel no larger than the input."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        h = int(rng.integers(3, 9))
        w = h if square else int(rng.integers(3, 9))
        kh = int(rng.integers(1, h + 1))
        kw = kh if square else int(rng.integers(1, w + 1))
        if square:
            kh = kw = min(kh, w)
        cases.append((random_array(rng, (h, w), dtype), random_array(rng, (kh, kw), dtype)))
    return cases


def conv_cases(seed=0, n=4, stride=(1,), padding=(0,), bias=(True, False), square=True, dtype=np.float64,
               backward=False, max_size=9):
    """Random conv2d cases: dicts with x (N,C,H,W), w (F,C,KH,KW), b, stride, padding.

    stride/padding: tuples of values to draw from (a padding value may be "same" or "valid").
    backward=True gives dout, x, w, stride, padding for conv2d_backward instead.
    Sizes are small so that a loop-based solution stays fast.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        s = stride[i % len(stride)]
        p = padding[i % len(padding)]
        N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
        kh = int(rng.integers(1, 4))
        kw = kh if square else int(rng.integers(1, 5))
        if p == "same":
            s = 1
        h = int(rng.integers(max(kh, 3), max_size))
        w = h if square else int(rng.integers(max(kw, 3), max_size))
        x = random_array(rng, (N, C, h, w), dtype)
        wt = random_array(rng, (F, C, kh, kw), dtype)
        b = random_array(rng, (F,), dtype) if bias[i % len(bias)] else None
        if backward:
            from cnnlab.reference import conv2d as reference_conv2d  # only for the output shape

            out_shape = reference_conv2d(x, wt, None, stride=s, padding=p).shape
            cases.append({"dout": random_array(rng, out_shape, dtype), "x": x, "w": wt, "stride": s, "padding": p})
        else:
            case = {"x": x, "w": wt, "b": b}
            if not (s == 1 and p == 0):
                case.update(stride=s, padding=p)
            cases.append(case)
    return cases


def pool_cases(seed=0, n=4, kernel_size=(2,), stride=(None,), padding=(0,), square=True, dtype=np.float64,
               backward=False, ties=False):
    """Random pooling cases: dicts with x (and dout for backward), kernel_size, stride, padding.

    ties=True draws small integers so that windows contain equal values (the gradient of max/min
    pooling must go to the FIRST extreme value in each window, like PyTorch).
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        k = kernel_size[i % len(kernel_size)]
        s = stride[i % len(stride)]
        p = padding[i % len(padding)]
        kh, kw = (k, k) if isinstance(k, int) else k
        N, C = (int(v) for v in rng.integers(1, 4, size=2))
        h = int(rng.integers(kh + 1, kh + 7))
        w = h if square else int(rng.integers(kw + 1, kw + 7))
        if ties:
            x = rng.integers(0, 3, size=(N, C, h, w)).astype(dtype)
        else:
            x = random_array(rng, (N, C, h, w), dtype)
        case = {"x": x, "kernel_size": k, "stride": s, "padding": p}
        if backward:
            from cnnlab.reference import max_pool2d as reference_max_pool2d  # only for the output shape

            out_shape = reference_max_pool2d(x, k, s, p).shape
            case = {"dout": random_array(rng, out_shape, dtype), **case}
        cases.append(case)
    return cases


def pad_cases(seed=0, n=4, padding=(1,), mode=("zeros",), square=True, dtype=np.float64):
    """Random pad2d cases: dicts with x (N,C,H,W), padding, mode."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        N, C = (int(v) for v in rng.integers(1, 4, size=2))
        h = int(rng.integers(2, 7))
        w = h if square else int(rng.integers(2, 7))
        cases.append({"x": random_array(rng, (N, C, h, w), dtype), "padding": padding[i % len(padding)],
                      "mode": mode[i % len(mode)]})
    return cases


def image_cases(seed=0, n=4, layout="NHWC", dtype=np.uint8, channels=(3,), square=True):
    """Random image batches: layout "NHWC", "NCHW", "NHW" (grayscale) or "HWC" (one image)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        c = channels[i % len(channels)]
        N = int(rng.integers(1, 5))
        h = int(rng.integers(2, 9))
        w = h if square else int(rng.integers(2, 9))
        shape = {"NHWC": (N, h, w, c), "NCHW": (N, c, h, w), "NHW": (N, h, w), "HWC": (h, w, c)}[layout]
        images = random_array(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            images = rng.random(shape).astype(dtype)  # images in [0, 1]
        cases.append((images,))
    return cases


def gradient_cases(seed=0, n=3, dtype=np.float64):
    """numerical_gradient cases: smooth functions (array-valued with dout, or scalar without)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 4))))
        x = random_array(rng, shape, dtype)
        weights = random_array(rng, shape, dtype)
        if i % 2 == 0:
            cases.append({"f": functools.partial(_smooth_array_function, weights=weights), "x": x,
                          "dout": random_array(rng, shape, dtype)})
        else:
            cases.append({"f": functools.partial(_smooth_scalar_function, weights=weights), "x": x})
    return cases


def _smooth_array_function(x, weights):
    return np.tanh(x) * weights + x**2


def _smooth_scalar_function(x, weights):
    return float(np.sum(np.sin(x) * weights))


class answers:
    """Answer keys for exercise functions that have no counterpart in the package."""

    @staticmethod
    def image_layout(images, layout="NHWC"):
        """(N, C, H, W) of a 4-D batch stored as NHWC or NCHW."""
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"images must be a 4-D batch, got shape {images.shape}")
        if layout == "NHWC":
            n, h, w, c = images.shape
        elif layout == "NCHW":
            n, c, h, w = images.shape
        else:
            raise ValueError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}")
        return (n, c, h, w)

    @staticmethod
    def to_grayscale(images):
        """Luma with ITU-R BT.601 weights: (..., 3) -> (...), dtype kept."""
        weights = np.array([0.299, 0.587, 0.114], dtype=images.dtype)
        return images @ weights

    @staticmethod
    def flip_image(img, horizontal=True):
        return np.flip(img, axis=1 if horizontal else 0).copy()

    @staticmethod
    def shift_image(img, dy, dx):
        """Move the content dy rows down and dx columns right; uncovered pixels are 0."""
        out = np.zeros_like(img)
        h, w = img.shape[:2]
        if abs(dy) >= h or abs(dx) >= w:
            return out
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
            max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
        ]
        return out

    @staticmethod
    def conv_params(in_channels, out_channels, kernel_size=3, bias=True):
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        return out_channels * in_channels * kh * kw + (out_channels if bias else 0)

    @staticmethod
    def feature_shapes(cfg, in_channels=3, image_size=224):
        """(C, H, W) after each item of a VGG cfg (3x3 convs with padding 1, 2x2 max pools)."""
        from cnnlab.reference import output_size

        shapes, c, size = [], in_channels, image_size
        for item in cfg:
            if item == "M":
                size = output_size(size, 2, 2)
            else:
                c = item
            shapes.append((c, size, size))
        return shapes


def shift_cases(seed=0, n=4, channels=(None, 3), max_shift=3):
    """shift_image cases: one image (H, W) or (H, W, C) and integer shifts, some negative."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        c = channels[i % len(channels)]
        h, w = (int(v) for v in rng.integers(3, 9, size=2))
        shape = (h, w) if c is None else (h, w, c)
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
        cases.append((random_array(rng, shape), dy, dx))
    return cases


def check_dropout(dropout, p_values=(0.2, 0.5, 0.8), dtype=np.float64, shape=(200, 300), seed=0,
                  forbidden=NUMPY_FORBIDDEN):
    """Property checks of an inverted-dropout forward ``dropout(x, p, training, rng) -> (out, mask)``.

    Random numbers cannot be compared with the answer key one by one (there are many correct ways
    to draw them), so this checks what must hold: shapes and dtype, mask values 0 or 1/(1-p),
    out = x * mask, the fraction dropped close to p, the same seed giving the same mask, and
    evaluation mode being the identity.
    """
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype)
    for p in p_values:
        label = f"dropout(x={describe(x)}, p={p}, training=True)"
        out, mask = _pair(call_student(dropout, x.copy(), p, True, np.random.default_rng(seed + 1),
                                       forbidden=forbidden, name="dropout"), label)
        for what, value in (("out", out), ("mask", mask)):
            if not isinstance(value, np.ndarray) or value.shape != x.shape:
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
        _, mask_again = _pair(call_student(dropout, x.copy(), p, True, np.random.default_rng(seed + 1),
                                           forbidden=forbidden, name="dropout"), label)
        assert_matches(mask_again, mask, f"{label}: the same rng seed should give the same mask "
                       "(draw every random number from rng)")
    label = f"dropout(x={describe(x)}, p=0.5, training=False)"
    out, mask = _pair(call_student(dropout, x.copy(), 0.5, False, None, forbidden=forbidden, name="dropout"), label)
    assert_matches(out, x, f"{label}: out (evaluation mode is the identity)")
    assert_matches(mask, np.ones_like(x), f"{label}: mask (all ones in evaluation mode)")
    print(f"dropout: behaves like inverted dropout for p in {list(p_values)} ({np.dtype(dtype).name})")


def _pair(result, label):
    if not isinstance(result, tuple) or len(result) != 2:
        raise MismatchError(f"{label}: should return a pair (out, mask), got {describe(result)}")
    return result


def check_random_augmentation(student, candidates, label, calls=200, seed=0, forbidden=NUMPY_FORBIDDEN):
    """Call ``student(rng)`` many times: every output must be one of ``candidates`` (list of arrays),
    more than one candidate must occur, and none may take more than 3/4 of the calls (unless
    there is only one). The rng is seeded, so the outcome is reproducible."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(candidates), dtype=int)
    for _ in range(calls):
        out = call_student(student, rng, forbidden=forbidden, name=label)
        out = _to_numpy(out)
        if not isinstance(out, np.ndarray) or out.shape != candidates[0].shape:
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


# ---------------------------------------------------------------------------------------------
# PyTorch exercises (07, 08): torch is allowed there, the course's models and training loop are not
# ---------------------------------------------------------------------------------------------

TORCH_FORBIDDEN = ("cnnlab.models", "cnnlab.train", "cnnlab.data", "cnnlab.augment", "cnnlab.numpy_net",
                   "cnnlab.reference", "cnnlab.torch", "cnnlab.visualize", "cnnlab.experiments",
                   "cnnlab.grading", "torchvision", "timm", "lightning", "pytorch_lightning", "skorch", "sklearn")


def _torch():
    import torch as pytorch  # the real PyTorch (this module is not inside cnnlab.torch)

    return pytorch


def count_params(model):
    """Number of scalar parameters (``cnnlab.models.count_parameters``; called outside the tripwires)."""
    from cnnlab.models import count_parameters

    return count_parameters(model)


def check_cnn(model, input_shape=(5, 1, 28, 28), num_classes=10, min_convs=2, max_params=1_000_000):
    """Architecture checks for exercise 07: an nn.Module with convolutions, pooling, the right
    output shape and a sensible size."""
    pytorch = _torch()
    nn = pytorch.nn
    if not isinstance(model, nn.Module):
        raise MismatchError(f"build_model() should return a torch.nn.Module, got {type(model).__name__}")
    layers = list(model.modules())
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    pools = [m for m in layers if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))]
    if len(convs) < min_convs:
        raise MismatchError(f"the model has {len(convs)} nn.Conv2d layers, at least {min_convs} are asked for")
    if not pools and not any(max(c.stride) > 1 for c in convs):
        raise MismatchError("the model never shrinks the feature maps: add nn.MaxPool2d (or a strided convolution)")
    params = count_params(model)
    if params > max_params:
        raise MismatchError(f"the model has {params:,} parameters; keep it under {max_params:,}")
    model.eval()
    with pytorch.no_grad():
        out = model(pytorch.zeros(input_shape))
    if tuple(out.shape) != (input_shape[0], num_classes):
        raise MismatchError(f"input {tuple(input_shape)} gave output {tuple(out.shape)}, expected "
                            f"{(input_shape[0], num_classes)} (one logit per class)")
    print(f"architecture: {len(convs)} conv layers, {len(pools)} pooling layers, {params:,} parameters, "
          f"output {tuple(out.shape)}")


def accuracy_of(model, images, labels, batch_size=500):
    """The grader's accuracy: fraction of argmax(logits) == labels, in eval mode, no gradients."""
    pytorch = _torch()
    model.eval()
    correct = 0
    with pytorch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(images[start : start + batch_size])
            correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def check_model(student, reference, cases, name=None, forbidden=TORCH_FORBIDDEN, seconds=60, input_size=None):
    """Build ``student(**case)`` and ``reference(**case)`` (classes or functions returning modules) and
    compare the parameter count and the output shape on a random batch.

    Cases with ``image_size`` >= 128 are built on the "meta" device (no memory, no time), where
    only the parameter count is compared.
    """
    pytorch = _torch()
    reference = _resolve(reference)
    name = name or getattr(student, "__name__", "your model")
    _static_check(student, forbidden, name)
    for case in cases:
        case = dict(case)
        label = _describe_call(name, (), case)
        big = case.get("image_size", 0) >= 128
        with (pytorch.device("meta") if big else contextlib.nullcontext()):
            pytorch.manual_seed(0)
            expected_model = reference(**copy.deepcopy(case))
            with time_limit(seconds, label), tripwires(forbidden):
                model = student(**copy.deepcopy(case))
        if not isinstance(model, pytorch.nn.Module):
            raise MismatchError(f"{label}: should give a torch.nn.Module, got {type(model).__name__}")
        got, want = count_params(model), count_params(expected_model)
        if got != want:
            raise MismatchError(f"{label}: {got:,} parameters, expected {want:,} (difference {got - want:+,})")
        if big:
            continue
        size = case.get("image_size", input_size or 32)
        x = pytorch.randn(2, case.get("in_channels", 3), size, size)
        model.eval()
        expected_model.eval()
        with pytorch.no_grad(), time_limit(seconds, label), tripwires(forbidden):
            out = model(x)
        with pytorch.no_grad():
            expected_out = expected_model(x)
        if tuple(out.shape) != tuple(expected_out.shape):
            raise MismatchError(f"{label}: input {tuple(x.shape)} gave output {tuple(out.shape)}, "
                                f"expected {tuple(expected_out.shape)}")
    print(f"{name}: all {len(cases)} models have the right number of parameters and output shape")


def reference_vgg_features(cfg, in_channels=3, batch_norm=False):
    """The answer key for ``make_features``: the ``features`` part of ``cnnlab.models.VGG``."""
    from cnnlab.models import VGG

    pools = sum(1 for item in cfg if item == "M")
    return VGG(cfg, num_classes=2, in_channels=in_channels, image_size=max(2**pools, 1), batch_norm=batch_norm,
               hidden=2).features


def fashion_mnist_tensors(train=3000, test=1000):
    """Float32 (N, 1, 28, 28) tensors in [0, 1] and int64 labels: the first ``train`` training and
    ``test`` test images of Fashion-MNIST (the grader's own conversion, independent of the student's)."""
    pytorch = _torch()
    from cnnlab.data import load_fashion_mnist

    tensors = []
    for split, limit in (("train", train), ("test", test)):
        images, labels = load_fashion_mnist(split, limit=limit)
        tensors.append(pytorch.from_numpy(images[:, None].astype(np.float32) / np.float32(255.0)))
        tensors.append(pytorch.from_numpy(labels.astype(np.int64)))
    return tuple(tensors)


def check_losses(losses, epochs=None):
    """``train_model`` returns one mean training loss per epoch, finite, and the last below the first."""
    if hasattr(losses, "tolist"):
        losses = losses.tolist()
    if not isinstance(losses, (list, tuple)) or not losses:
        raise MismatchError(f"train_model should return a list of per-epoch losses, got {describe(losses)}")
    values = [float(v) for v in losses]
    if epochs is not None and len(values) != epochs:
        raise MismatchError(f"train_model returned {len(values)} losses for {epochs} epochs (one per epoch)")
    if not all(np.isfinite(values)):
        raise MismatchError(f"the training loss is not finite: {values} (learning rate too high?)")
    if len(values) > 1 and not values[-1] < values[0]:
        raise MismatchError(f"the training loss did not go down: {[round(v, 4) for v in values]}")
    print("training loss per epoch:", [round(v, 4) for v in values])


def check_accuracy(model, images, labels, threshold):
    """The model's accuracy on held-out images, measured by the grader, must reach ``threshold``.

    Returns nothing on purpose: nbgrader would read a number shown by a test cell as partial credit.
    """
    acc = accuracy_of(model, images, labels)
    if acc < threshold:
        raise MismatchError(f"held-out accuracy {acc:.1%} is below the required {threshold:.0%}")
    print(f"held-out accuracy {acc:.1%} (required: {threshold:.0%})")


def check_cpu_budget(cpu_seconds, budget):
    """Training must fit in ``budget`` seconds of CPU time (all threads of the process together)."""
    if cpu_seconds > budget:
        raise MismatchError(f"training took {cpu_seconds:.1f} s of CPU time, the budget is {budget:g} s "
                            "(fewer epochs, a smaller model or bigger batches)")
    print(f"training took {cpu_seconds:.1f} s of CPU time (budget {budget:g} s)")
