"""Shortcuts score zero: a static check of the submitted *source*, on the trusted side.

No student code runs here: the notebook's code cells are parsed (``ast``), never executed. A
top-level function or class is *tainted* when its body imports a forbidden module, names one in a
string (``importlib.import_module("torch")``), uses a name the notebook bound to a forbidden module
(``import scipy.signal as ss`` ... ``ss.correlate2d``), reaches a forbidden module through an
attribute chain (``cnnlab.reference.conv2d``), or uses another tainted function or class of the
notebook. Test cells that check a tainted function give ``CheatingError`` (0 points for them).

Inside the sandbox the big shortcuts are physically absent as well (PyTorch, SciPy, scikit-image
in a NumPy exercise; the whole answer key always), so an obfuscated import cannot find them.
"""

import ast
import importlib.util
import re

__all__ = ["NUMPY_FORBIDDEN", "TORCH_FORBIDDEN", "forbidden_functions", "forbidden_imports", "handed_names", "matches"]

NUMPY_FORBIDDEN = ("cnnlab", "torch", "torchvision", "scipy", "skimage", "sklearn", "cv2", "PIL", "tensorflow", "jax")
TORCH_FORBIDDEN = ("cnnlab.models", "cnnlab.train", "cnnlab.data", "cnnlab.augment", "cnnlab.numpy_net",
                   "cnnlab.reference", "cnnlab.torchops", "cnnlab.visualize", "cnnlab.course",
                   "cnnlab.grading", "torchvision", "timm", "lightning", "pytorch_lightning", "skorch", "sklearn")
_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def matches(module_name, forbidden):
    """True when ``module_name`` is one of ``forbidden`` or inside one of them.

    Example:
        >>> matches("scipy.signal", ("scipy",)), matches("scipyx", ("scipy",)), matches("", ("scipy",))
        (True, False, False)
    """
    return bool(module_name) and any(module_name == f or module_name.startswith(f + ".") for f in forbidden)


def is_handed(path, handed):
    """True when ``path`` is one of the ``handed`` objects or an attribute of one.

    Example:
        >>> handed = {"cnnlab.data.FASHION_MNIST_CLASSES"}
        >>> is_handed("cnnlab.data.FASHION_MNIST_CLASSES.index", handed), is_handed("cnnlab.data.load", handed)
        (True, False)
    """
    return any(path == h or path.startswith(h + ".") for h in handed)


def is_module(path):
    """True when ``path`` names an importable module (``torch.nn``), False for an object in one."""
    try:
        return importlib.util.find_spec(path) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def handed_names(sources):
    """Dotted paths of the objects that the course's own cells import for the student.

    A constant or a loader that a locked set-up cell binds (``from cnnlab.data import
    FASHION_MNIST_CLASSES``) is part of the exercise, not a shortcut. A module bound there
    (``from cnnlab import grading``) is not handed: the student's functions still may not use it.

    Args:
        sources: the source of each course-provided code cell (as the gradebook has it).

    Example:
        >>> sorted(handed_names(["from cnnlab import grading\\nfrom cnnlab.data import FASHION_MNIST_CLASSES"]))
        ['cnnlab.data.FASHION_MNIST_CLASSES']
    """
    handed = set()
    for source in sources:
        tree = _parse(source)
        for stmt in tree.body if tree is not None else ():
            if isinstance(stmt, ast.ImportFrom):
                handed.update(path for _, path in _imports(stmt) if not is_module(path))
    return handed


def _parse(source):
    try:
        return ast.parse(source)
    except SyntaxError:
        try:
            return ast.parse(_MAGIC.sub("pass", source))  # IPython magics and shell escapes
        except SyntaxError:
            return None


def _dotted(node):
    """'a.b.c' for an attribute chain rooted at a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def _imports(node):
    """(bound name, full module path) pairs of an Import/ImportFrom statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield (alias.asname or alias.name.split(".")[0]), (alias.name if alias.asname else alias.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            yield (alias.asname or alias.name), f"{node.module}.{alias.name}"


def forbidden_functions(sources, forbidden, handed=()):
    """{name: [findings]} of the notebook's top-level functions and classes that use forbidden modules.

    Taint flows to every function that calls a tainted one, graded or not: a function whose work a
    shortcut does, directly or through another function, has taken the shortcut.

    Args:
        sources: the source of each code cell of the submission (test cells left out).
        forbidden: module names (``"torch"``, ``"cnnlab.reference"``, ...).
        handed: dotted paths the course's own cells hand the student (:func:`handed_names`): allowed.

    Example::

        >>> forbidden_functions(["import torch\\ndef f(x):\\n    return torch.relu(x)"], ("torch",))
        {'f': ['f uses torch (bound to torch)']}
    """
    forbidden, handed = tuple(forbidden), set(handed)
    modules = {}  # top-level name -> module path it is bound to (by an import)
    definitions = {}  # top-level function/class name -> node
    for source in sources:
        tree = _parse(source)
        if tree is None:
            continue
        for stmt in tree.body:
            for name, path in _imports(stmt):
                modules[name] = path
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions[stmt.name] = stmt
                modules.pop(stmt.name, None)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        if isinstance(stmt.value, ast.Lambda):
                            definitions[target.id] = stmt.value
                            continue
                        chain = _dotted(stmt.value)
                        root = chain.split(".")[0] if chain else None
                        if root in modules:  # alias = module.sub
                            modules[target.id] = modules[root] + chain[len(root):]
                        else:
                            modules.pop(target.id, None)
                            definitions.pop(target.id, None)

    direct, uses = {}, {}
    for name, node in definitions.items():
        found, used = [], set()
        for sub in ast.walk(node):
            for _, path in _imports(sub):
                if matches(path, forbidden):
                    found.append(f"{name} imports {path}")
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and " " not in sub.value \
                    and matches(sub.value, forbidden):
                found.append(f"{name} names the module {sub.value!r}")
            if isinstance(sub, ast.Attribute):
                chain = _dotted(sub)
                root = chain.split(".")[0] if chain else None
                if root in modules and matches(modules[root] + chain[len(root):], forbidden) \
                        and not matches(modules[root], forbidden) and not is_handed(modules[root] + chain[len(root):], handed):
                    found.append(f"{name} uses {modules[root] + chain[len(root):]}")
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id in modules and matches(modules[sub.id], forbidden) and not is_handed(modules[sub.id], handed):
                    found.append(f"{name} uses {modules[sub.id]} (bound to {sub.id})")
                if sub.id in definitions and sub.id != name:
                    used.add(sub.id)
        direct[name] = sorted(set(found))
        uses[name] = used

    tainted = {name: list(found) for name, found in direct.items() if found}
    changed = True
    while changed:  # a helper cannot hide the call: taint flows to every caller
        changed = False
        for name, used in uses.items():
            bad = sorted(u for u in used if u in tainted)
            if bad and name not in tainted:
                tainted[name] = [f"{name} calls {b}, which uses a forbidden module" for b in bad]
                changed = True
    return tainted


def forbidden_imports(sources, forbidden, handed=()):
    """{name: [finding]} of top-level ``from <forbidden> import name`` bindings still in force.

    ``from cnnlab.models import VGG`` hands in the answer key under the exercise's own name. What the
    course's own cells import (``handed``, :func:`handed_names`) is left out.

    Example::

        >>> forbidden_imports(["from cnnlab.models import VGG"], ("cnnlab.models",))
        {'VGG': ['VGG is cnnlab.models.VGG']}
    """
    bound = {}
    for source in sources:
        tree = _parse(source)
        if tree is None:
            continue
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom):
                for name, path in _imports(stmt):
                    bound[name] = path
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.pop(stmt.name, None)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        bound.pop(target.id, None)
    return {name: [f"{name} is {path}"] for name, path in bound.items()
            if matches(path, tuple(forbidden)) and not is_handed(path, set(handed))}
