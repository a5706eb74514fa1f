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
import sys
import time
import types
import warnings

import numpy as np

from . import keys, model_spec
from .cases import random_array
from .compare import CheatingError, MismatchError, TimeLimitError, assert_matches, describe_call
from .compare import (assert_accuracy, assert_architecture, assert_cpu_budget, assert_inverted_dropout,
                      assert_model_facts, assert_random_choices, resolve_reference)
from .compare import time_limit
from .cases import as_case
from .static import NUMPY_FORBIDDEN, TORCH_FORBIDDEN, matches

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
            if module is None or not matches(module_name, forbidden):
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

    Args:
        func: the student's function or class.
        forbidden (sequence of str): module names (``static.NUMPY_FORBIDDEN``, ``static.TORCH_FORBIDDEN``).

    Returns:
        list of str: what was found, sorted; empty when nothing was.

    Example:
        >>> import cnnlab.reference
        >>> def honest(x):
        ...     return np.maximum(x, 0)
        >>> def shortcut(x):
        ...     return cnnlab.reference.relu(x)
        >>> find_forbidden(honest), find_forbidden(shortcut, forbidden=("cnnlab.reference",))
        ([], ['shortcut uses cnnlab.reference'])
        >>> find_forbidden(shortcut)  # NUMPY_FORBIDDEN: the whole package
        ['shortcut -> cnnlab comes from cnnlab']
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
        if matches(owner, forbidden):
            problems.append(f"{where} comes from {owner}")
            return True
        if isinstance(obj, type):
            for base in obj.__mro__[1:]:
                if matches(base.__module__, forbidden):
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
                    if matches(current_import, forbidden):
                        problems.append(f"{where} imports {current_import}")
                elif instr.opname == "IMPORT_FROM" and current_import:
                    full = f"{current_import}.{instr.argval}"
                    if matches(full, forbidden) and not matches(current_import, forbidden):
                        problems.append(f"{where} imports {full}")
                elif instr.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(instr.argval, str):
                    name = instr.argval
                    if name in home:
                        value = home[name]
                        if isinstance(value, types.ModuleType) and not matches(value.__name__, forbidden):
                            # `cnnlab.reference.conv2d(...)` through the parent package
                            for f in forbidden:
                                if f.startswith(value.__name__ + "."):
                                    child = f[len(value.__name__) + 1 :].split(".")[0]
                                    if child in names:
                                        problems.append(f"{where} uses {value.__name__}.{child}")
                        visit_object(value, f"{where} -> {name}", home)
            for const in co.co_consts:
                if isinstance(const, str) and matches(const, forbidden) and " " not in const:
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

    Args:
        forbidden (sequence of str): module names (``static.NUMPY_FORBIDDEN``, ``static.TORCH_FORBIDDEN``).

    Example:
        >>> import cnnlab.reference
        >>> relu = cnnlab.reference.relu  # an alias taken before: the static check cannot see it
        >>> with tripwires():
        ...     relu(np.ones(2))
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.CheatingError: your code called cnnlab.reference.activations.relu; this exercise ...
        >>> relu(np.ones(2))  # restored
        array([1., 1.])
    """
    forbidden = tuple(forbidden)
    restore = []
    try:
        for module_name, module in list(sys.modules.items()):
            if (module is None or not module_name.startswith("cnnlab") or not matches(module_name, forbidden)
                    or matches(module_name, _NEVER_PATCHED)):
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
            if module is None or not matches(module_name, forbidden):
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
                if any(matches(w, forbidden) for w in wanted):
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


def call_student(func, *args, forbidden=NUMPY_FORBIDDEN, seconds=10, name=None, guard=True, **kwargs):
    """Call the student's ``func(*args, **kwargs)`` after the static check, under tripwires and a time limit.

    Args:
        func: the student's function.
        *args, **kwargs: its arguments.
        forbidden (sequence of str): modules it may not use (``CheatingError``).
        seconds (float): how long it may run (``TimeLimitError``).
        name (str): names it in messages (default: its ``__name__``).
        guard (bool): False where the cell grades another function that needs this one's result:
            then ``func``'s shortcuts are not looked for here (they cost its own test's points), as
            while grading.

    Returns:
        what ``func`` returned.

    Example:
        >>> call_student(lambda x: x * 2, np.arange(3))
        array([0, 2, 4])
    """
    name = name or getattr(func, "__name__", "your function")
    if not callable(func):
        raise TypeError(f"{name} must be a function, got {type(func).__name__}")
    if not guard:
        with time_limit(seconds, name):
            return func(*args, **kwargs)
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

    The expected value is computed first, outside the tripwires; both functions get their own
    deep copy of the arguments (so modifying an input in place cannot hide a bug). The first
    mismatch raises ``MismatchError`` naming the case; a forbidden call raises ``CheatingError``;
    the release's ``raise NotImplementedError()`` stub raises ``NotWrittenError``.

    Args:
        student: the student's function.
        reference: the answer key, a function or its dotted name (``"cnnlab.reference.conv2d"``).
        cases: an iterable of argument tuples, kwargs dicts or ``(args, kwargs)`` pairs.
        name (str): names the function in messages (default: its ``__name__``).
        rtol, atol, check_dtype: as in :func:`~cnnlab.grading.compare.assert_matches`.
        forbidden (sequence of str): modules the student's function may not use.
        seconds (float): how long one call may run.
        quiet (bool): print nothing when every case matches.

    Example:
        >>> def relu(x):
        ...     return np.where(x > 0, x, 0.0)
        >>> check(relu, "cnnlab.reference.relu", [(np.array([-1.0, 2.0]),), (np.zeros((2, 2)),)])
        relu: all 2 cases match the answer key
        >>> check(lambda x: np.abs(x), "cnnlab.reference.relu", [(np.array([-1.0, 2.0]),)], name="relu")
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: relu(float64 (2,)): 1 of 2 values differ (rtol=1e-05, atol=1e-08). ...
        >>> check(lambda x: x[5], "cnnlab.reference.relu", [(np.array([-1.0, 2.0]),)], name="relu")
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: relu(float64 (2,)) raised IndexError: index 5 is out of bounds for axis 0 with size 2
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
            except (CheatingError, TimeLimitError, MismatchError):
                raise
            except Exception as error:  # a crash in the student's code: say on which case (its traceback stays above)
                raise MismatchError(f"{label} raised {type(error).__name__}: {error}") from error
        assert_matches(actual, expected, label, rtol=rtol, atol=atol, check_dtype=check_dtype)
    if not quiet:
        print(f"{name}: all {len(cases)} cases match the answer key")


def expect_error(student, args, kwargs=None, errors=(ValueError, TypeError), name=None,
                 forbidden=NUMPY_FORBIDDEN, seconds=10):
    """Check that ``student(*args, **kwargs)`` raises one of ``errors`` (bad input).

    Args:
        student: the student's function.
        args (tuple): the bad positional arguments.
        kwargs (dict): the bad keyword arguments.
        errors (tuple of exception types): what it may raise.
        name, forbidden, seconds: as in :func:`check`.

    Example:
        >>> def output_size(n, kernel_size):
        ...     if kernel_size > n:
        ...         raise ValueError(f"kernel_size={kernel_size} is larger than the input size {n}")
        ...     return n - kernel_size + 1
        >>> expect_error(output_size, (3, 5))
        >>> expect_error(output_size, (5, 3))
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: output_size(5, 3) should raise ValueError or TypeError, but returned normally
    """
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

    Calls the student's function twice per ``p`` with the same seed and once with another, then
    once in evaluation mode, and checks what must hold (``compare.assert_inverted_dropout``): shapes and
    dtype, mask
    values 0 or 1/(1-p), out = x * mask, the fraction dropped close to p, the same seed giving the
    same mask, another seed a different one, and evaluation mode being the identity.

    Args:
        dropout: the student's ``dropout(x, p, training, rng)``.
        p_values (sequence of float): the drop probabilities tried.
        dtype, shape: of the input x (seeded normal values).
        seed (int): seeds x; the rng handed to ``dropout`` is seeded with ``seed + 1``.
        forbidden (sequence of str): modules it may not use.

    Example (a function that drops nothing; the docstrings of ``cnnlab.grading`` never show an answer):
        >>> def keep_everything(x, p=0.5, training=True, rng=None):
        ...     return x, np.ones_like(x)
        >>> check_dropout(keep_everything, p_values=(0.5,), shape=(50, 50))
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: dropout(x=float64 (50, 50), p=0.5, training=True): mask values must be 0 or 1/(1-p) = 2; mask(0, 0) = 1
    """
    x = random_array(np.random.default_rng(seed), shape, dtype)

    def result_of(p, training, other_seed):
        rng = np.random.default_rng(seed + (2 if other_seed else 1)) if training else None
        return call_student(dropout, x.copy(), p, training, rng, forbidden=forbidden, name="dropout")

    assert_inverted_dropout(x, p_values, result_of)


def check_random_augmentation(student, candidates, label, calls=200, seed=0, forbidden=NUMPY_FORBIDDEN):
    """Call ``student(rng)`` many times: every output must be one of ``candidates`` (list of arrays),
    more than one candidate must occur, and none may take more than 3/4 of the calls (unless
    there is only one). The rng is seeded, so the outcome is reproducible.

    Args:
        student: the student's ``f(rng)`` (e.g. a random flip of a fixed image).
        candidates (list of np.ndarray): the allowed results.
        label (str): names the function in messages.
        calls (int): how many calls.
        seed (int): seeds the one rng all calls share.
        forbidden (sequence of str): modules it may not use.

    Example:
        >>> image = np.arange(6.0).reshape(2, 3)
        >>> def random_flip(rng):
        ...     return image[:, ::-1] if rng.random() < 0.5 else image
        >>> check_random_augmentation(random_flip, [image, image[:, ::-1]], "random_flip", calls=50)
        random_flip: 50 calls, 2 different results, all allowed
    """
    runs = []
    for rng in (np.random.default_rng(seed), np.random.default_rng(seed + 1)):  # the second: another seed
        runs.append([call_student(student, rng, forbidden=forbidden, name=label) for _ in range(calls)])
    assert_random_choices(runs[0], candidates, label, other_seed_results=runs[1])


# ---------------------------------------------------------------------------------------------
# PyTorch exercises (07, 08): torch is allowed there, the course's models and training loop are not
# ---------------------------------------------------------------------------------------------

def _torch():
    import torch as pytorch  # the real PyTorch (this module is not inside cnnlab.torchops)

    return pytorch


def check_cnn(model, input_shape=(5, 1, 28, 28), num_classes=10, min_convs=2, max_params=1_000_000):
    """Architecture checks for exercise 07: an nn.Sequential of standard layers with convolutions,
    pooling, the right output shape and a sensible size (``compare.assert_architecture``).

    As when grading, the facts are those of the network rebuilt from the model's layers and weights
    (``model_spec``): a model that cannot be described that way, or that computes something other
    than its layers (a hook, a replaced ``forward``), is refused here already.

    Args:
        model (torch.nn.Module): what the student's ``build_model()`` returned.
        input_shape (tuple of int): the zeros the model is run on.
        num_classes (int): the logits per image.
        min_convs (int): at least this many ``nn.Conv2d``.
        max_params (int): at most this many parameters.

    Example:
        >>> from torch import nn
        >>> check_cnn(nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.Flatten(),
        ...                         nn.Linear(8 * 11 * 11, 10)))  # 28 -> 26 -> 13 -> 11
        architecture: 2 conv layers, 1 pooling layers, 10,026 parameters, output (5, 10)
    """
    pytorch = _torch()
    nn = pytorch.nn
    if not isinstance(model, nn.Module):
        raise MismatchError(f"build_model() should return a torch.nn.Module, got {type(model).__name__}")
    network = model_spec.rebuild(*model_spec.layer_spec(model), input_shape=tuple(input_shape[1:]))
    x = pytorch.rand(input_shape, generator=pytorch.Generator().manual_seed(0))  # leaves the global seed alone
    model.eval()
    with pytorch.no_grad():
        theirs, rebuilt = model(x), network(x)
    if not (isinstance(theirs, pytorch.Tensor) and theirs.shape == rebuilt.shape
            and pytorch.allclose(theirs.float(), rebuilt, rtol=1e-4, atol=1e-5)):
        raise MismatchError("your model computes something other than its layers (a hook, or a forward of its "
                            "own?): the grader rebuilds the network from its layers and weights and grades that")
    assert_architecture(*model_spec.architecture_facts(network, input_shape), input_shape, num_classes,
                        min_convs, max_params)


def check_model(student, reference, cases, name=None, forbidden=TORCH_FORBIDDEN, seconds=60, input_size=None):
    """Build ``student(**case)`` and ``reference(**case)`` (classes or functions returning modules) and
    compare the parameter count and the output shape on a random batch.

    Cases with ``image_size`` >= 128 are built on the "meta" device (no memory, no time), where
    only the parameter count is compared.

    Args:
        student: the student's class or function.
        reference: the answer key's, or its dotted name (``"cnnlab.models.VGG"``).
        cases (list of dict): keyword arguments of both.
        name (str): names the function in messages.
        forbidden (sequence of str): modules it may not use.
        seconds (float): how long building or running one model may take.
        input_size (int): the batch's height and width when a case has no ``image_size`` (default 32).

    Example (a model of no exercise, checked against itself):
        >>> from torch import nn
        >>> def two_convs(channels):
        ...     return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1))
        >>> check_model(two_convs, two_convs, [{"channels": 4}], input_size=8)
        two_convs: all 1 models have the right number of parameters and output shape
    """
    pytorch = _torch()
    reference = resolve_reference(reference)
    name = name or getattr(student, "__name__", "your model")
    _static_check(student, forbidden, name)
    for case in cases:
        case = dict(case)
        label = describe_call(name, (), case)
        expected_model = keys.reference_model(reference, case)
        with keys.model_device(case), time_limit(seconds, label), tripwires(forbidden):
            model = student(**copy.deepcopy(case))
        is_module = isinstance(model, pytorch.nn.Module)
        facts = {"module": is_module, "type": type(model).__name__,
                 "params": keys.count_params(model) if is_module else None}
        expected_params = keys.count_params(expected_model)
        assert_model_facts(label, facts, expected_params)  # the size first: it says more than a failing forward
        if keys.full_size(case):
            continue
        size = case.get("image_size", input_size or 32)
        x = pytorch.randn(2, case.get("in_channels", 3), size, size)
        model.eval()
        expected_model.eval()
        with pytorch.no_grad(), time_limit(seconds, label), tripwires(forbidden):
            facts["out_shape"] = list(model(x).shape)
        with pytorch.no_grad():
            expected_shape = tuple(expected_model(x).shape)
        assert_model_facts(label, facts, expected_params, tuple(x.shape), expected_shape)
    print(f"{name}: all {len(cases)} models have the right number of parameters and output shape")


def check_accuracy(model, images, labels, threshold):
    """The model's accuracy on held-out images, measured by the grader, must reach ``threshold``.

    Returns nothing on purpose: nbgrader would read a number shown by a test cell as partial credit.

    Args:
        model (torch.nn.Module): the student's trained model.
        images (torch.Tensor): the held-out images.
        labels (torch.Tensor): their labels.
        threshold (float): the fraction required.
    """
    assert_accuracy(keys.accuracy_of(model, images, labels), threshold)


def fashion_mnist_tensors(train=3000, test=1000):
    """The grader's Fashion-MNIST tensors (``keys.fashion_mnist_tensors``); starts the CPU clock of
    ``check_cpu_budget``, as the grader's clock starts when it hands the data in.

    Args:
        train (int): how many training images.
        test (int): how many held-out images.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)`` (float32 images in [0, 1], int64 labels).
    """
    global _cpu_mark
    _cpu_mark = time.process_time()
    return keys.fashion_mnist_tensors(train=train, test=test)


_cpu_mark = None


def check_cpu_budget(budget, cpu_seconds=None):
    """Training must fit in ``budget`` seconds of CPU time (all threads), counted from the moment
    ``fashion_mnist_tensors`` handed the data in (the grader measures the same, from outside).

    Args:
        budget (float): the CPU seconds allowed.
        cpu_seconds (float): the time to judge (default: this process's CPU time since the data came).

    Example:
        >>> check_cpu_budget(60, cpu_seconds=12.5)
        training took 12.5 s of CPU time (budget 60 s)
    """
    if cpu_seconds is None:
        if _cpu_mark is None:
            raise MismatchError("no CPU time measured: run the training cell (fashion_mnist_tensors) first")
        cpu_seconds = time.process_time() - _cpu_mark
    assert_cpu_budget(cpu_seconds, budget)


def observe(value, label="value"):
    """The value as the student's code left it (in the sandbox it is recorded; here it is itself).

    Example:
        >>> observe([1, 2], "the input after the call")
        [1, 2]
    """
    return value
