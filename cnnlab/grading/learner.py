"""The grading functions in a learner's own kernel: today's checks, messages and warnings.

While a student works in JupyterLab, ``from cnnlab import grading`` gives these functions: they
compute the expected values with the answer key, call the student's function and explain any
mismatch (case, shape, first wrong index, largest error). A function that calls the answer key or
a forbidden library hears it at once (``CheatingError``): a static look at the function's code
and tripwires while it runs. No score depends on any of this: the recorded score comes from the
sandbox (``record``) and the trusted checker (``trusted``), see ``nbgrader_glue``.
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
import time
import types
import warnings

import numpy as np

from . import keys
from .cases import random_array
from .compare import CheatingError, MismatchError, TimeLimitError, to_numpy, assert_matches, describe, describe_call
from .compare import resolve_reference, time_limit  # noqa: F401 - time_limit is public here too
from .cases import as_case
from .static import NUMPY_FORBIDDEN, TORCH_FORBIDDEN

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


# ---------------------------------------------------------------------------------------------
# The one-line test: compare the student's function with the answer key on many cases
# ---------------------------------------------------------------------------------------------


class NotWrittenError(NotImplementedError):
    """The student's function is still the release's ``raise NotImplementedError()`` stub."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: an unwritten stub is not a bug to debug.
        return [f"{type(self).__name__}: {self}"]


def check(student, reference, cases, name=None, rtol=1e-5, atol=1e-8, check_dtype=True,
          forbidden=NUMPY_FORBIDDEN, seconds=10, quiet=False):
    """Compare ``student(*args, **kwargs)`` with ``reference(*args, **kwargs)`` on every case.

    reference: a function or its dotted name (``"cnnlab.reference.conv2d"``).
    cases:     an iterable of argument tuples, kwargs dicts or ``(args, kwargs)`` pairs.
    The expected value is computed first, outside the tripwires; both functions get their own
    deep copy of the arguments (so modifying an input in place cannot hide a bug). The first
    mismatch raises ``MismatchError`` naming the case; a forbidden call raises ``CheatingError``.
    """
    reference = resolve_reference(reference)
    name = name or getattr(student, "__name__", None) or reference.__name__
    if not callable(student):
        raise TypeError(f"{name} must be a function, got {type(student).__name__}")
    _static_check(student, forbidden, name)
    cases = [as_case(c) for c in cases]
    for args, kwargs in cases:
        expected = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        label = describe_call(name, args, kwargs)
        with time_limit(seconds, label), tripwires(forbidden):
            try:
                actual = student(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            except NotImplementedError:
                raise NotWrittenError(f"{name} is not written yet: replace `raise NotImplementedError()` in its "
                                      "cell with your code, run that cell, then this test again.") from None
        assert_matches(actual, expected, label, rtol=rtol, atol=atol, check_dtype=check_dtype)
    if not quiet:
        print(f"{name}: all {len(cases)} cases match the answer key")


def expect_error(student, args, kwargs=None, errors=(ValueError, TypeError), name=None,
                 forbidden=NUMPY_FORBIDDEN, seconds=10):
    """Check that ``student(*args, **kwargs)`` raises one of ``errors`` (bad input)."""
    kwargs = kwargs or {}
    name = name or getattr(student, "__name__", "your function")
    label = describe_call(name, args, kwargs)
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
                                f"mask{index} = {float(mask[index]):.6g}")
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
        out = to_numpy(out)
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

def _torch():
    import torch as pytorch  # the real PyTorch (this module is not inside cnnlab.torchops)

    return pytorch


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
    params = keys.count_params(model)
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


def check_model(student, reference, cases, name=None, forbidden=TORCH_FORBIDDEN, seconds=60, input_size=None):
    """Build ``student(**case)`` and ``reference(**case)`` (classes or functions returning modules) and
    compare the parameter count and the output shape on a random batch.

    Cases with ``image_size`` >= 128 are built on the "meta" device (no memory, no time), where
    only the parameter count is compared.
    """
    pytorch = _torch()
    reference = resolve_reference(reference)
    name = name or getattr(student, "__name__", "your model")
    _static_check(student, forbidden, name)
    for case in cases:
        case = dict(case)
        label = describe_call(name, (), case)
        big = case.get("image_size", 0) >= 128
        with (pytorch.device("meta") if big else contextlib.nullcontext()):
            pytorch.manual_seed(0)
            expected_model = reference(**copy.deepcopy(case))
            with time_limit(seconds, label), tripwires(forbidden):
                model = student(**copy.deepcopy(case))
        if not isinstance(model, pytorch.nn.Module):
            raise MismatchError(f"{label}: should give a torch.nn.Module, got {type(model).__name__}")
        got, want = keys.count_params(model), keys.count_params(expected_model)
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
    acc = keys.accuracy_of(model, images, labels)
    if acc < threshold:
        raise MismatchError(f"held-out accuracy {acc:.1%} is below the required {threshold:.0%}")
    print(f"held-out accuracy {acc:.1%} (required: {threshold:.0%})")


def fashion_mnist_tensors(train=3000, test=1000):
    """The grader's Fashion-MNIST tensors (``keys.fashion_mnist_tensors``); starts the CPU clock of
    ``check_cpu_budget``, as the grader's clock starts when it hands the data in."""
    global _cpu_mark
    _cpu_mark = time.process_time()
    return keys.fashion_mnist_tensors(train=train, test=test)


_cpu_mark = None


def check_cpu_budget(budget, cpu_seconds=None):
    """Training must fit in ``budget`` seconds of CPU time (all threads), counted from the moment
    ``fashion_mnist_tensors`` handed the data in (the grader measures the same, from outside)."""
    if cpu_seconds is None:
        if _cpu_mark is None:
            raise MismatchError("no CPU time measured: run the training cell (fashion_mnist_tensors) first")
        cpu_seconds = time.process_time() - _cpu_mark
    if cpu_seconds > budget:
        raise MismatchError(f"training took {cpu_seconds:.1f} s of CPU time, the budget is {budget:g} s "
                            "(fewer epochs, a smaller model or bigger batches)")
    print(f"training took {cpu_seconds:.1f} s of CPU time (budget {budget:g} s)")


def observe(value, label="value"):
    """The value as the student's code left it (in the sandbox it is recorded; here it is itself)."""
    return value
