"""What crosses the sandbox boundary: plain data only (``.npy`` without pickle, and JSON).

The sandbox side (``record``) *encodes* each result of a student call into ``<k>.json`` plus
``<k>_<j>.npy`` files in the outbox. The trusted side *decodes* them strictly: ``np.load`` with
``allow_pickle=False``, every array exactly ``np.ndarray`` with a numeric dtype, every other value
a JSON scalar, list or dict. Anything else the student returned (an object with a lying
``__eq__``, an ndarray subclass, a generator) arrives as a :class:`Foreign` marker that equals
nothing. This module is copied into the sandbox; it imports NumPy only (torch lazily).
"""

import json
import math
import os
import stat

import numpy as np

__all__ = ["Foreign", "ModelSummary", "LoadBudget", "encode", "write_record", "read_records", "read_plain_file"]

MAX_ITEMS = 100_000
MAX_TEXT = 2_000
CELL_BYTES = 256 * 2**20  # most bytes the trusted side loads for one test cell's records
SUBMISSION_BYTES = 1 * 2**30  # ... and for a whole submission
MAX_JSON_BYTES = 50_000_000
HIDDEN_SEEDS_FILE = "hidden_seeds.json"  # in the inbox: {k: seed} of the test cell that runs now (trusted -> sandbox)


class Foreign:
    """A value that cannot cross the boundary as plain data; it equals nothing.

    Args:
        type_name (str): what it was (its class name, or why it could not be read).
        text (str): more about it, for messages.

    Example:
        >>> lying = Foreign("AlwaysEqual")
        >>> lying == lying, lying
        (False, <AlwaysEqual>)
    """

    def __init__(self, type_name, text=""):
        self.type_name = str(type_name)[:200]
        self.text = str(text)[:MAX_TEXT]

    def __eq__(self, other):
        return False

    __hash__ = None

    def __repr__(self):
        return f"<{self.type_name}>"


class ModelSummary:
    """What the trusted side learns about a student's torch model: class name, parameter shapes, layers.

    Args:
        type_name (str): the model's class name.
        param_shapes (list of list of int): the shape of each parameter.
        layers (list of (str, list of str)): each module's class name and its kinds (``LAYER_KINDS``).

    Example:
        >>> summary = ModelSummary("Net", [[4, 1, 3, 3], [4]], [("Net", []), ("Conv2d", ["Conv2d"])])
        >>> summary.count_parameters(), summary
        (40, <Net model, 40 parameters>)
    """

    def __init__(self, type_name, param_shapes, layers):
        self.type_name = str(type_name)[:200]
        self.param_shapes = [tuple(int(d) for d in shape) for shape in param_shapes]
        self.layers = [(str(name)[:200], [str(k)[:50] for k in kinds]) for name, kinds in layers]

    def count_parameters(self):
        """The number of scalar parameters (the product of each shape, summed)."""
        return int(sum(math.prod(shape) for shape in self.param_shapes))

    def __repr__(self):
        return f"<{self.type_name} model, {self.count_parameters():,} parameters>"


# Layer kinds a model summary reports (isinstance checks done inside the sandbox).
LAYER_KINDS = ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Linear",
               "BatchNorm2d", "Dropout", "ReLU", "Sequential")


# ---------------------------------------------------------------------------------------------
# Sandbox side
# ---------------------------------------------------------------------------------------------


def _is_torch(value, name):
    return type(value).__module__.startswith("torch") and type(value).__name__ == name


def encode(value, arrays, depth=0):
    """JSON-able description of ``value``; arrays are appended to ``arrays`` (saved as .npy).

    Args:
        value: what the student's code returned.
        arrays (list): receives the arrays; the description names them by index.
        depth (int): nesting so far (deeper than 20 is foreign).

    Returns:
        dict: ``{"t": kind, ...}``; anything that is not plain data is ``{"t": "foreign", "type": ...}``.

    Example:
        >>> arrays = []
        >>> encode((np.zeros(2), 3, "ok"), arrays)
        {'t': 'tuple', 'items': [{'t': 'array', 'i': 0, 'cls': 'ndarray'}, {'t': 'int', 'v': 3}, {'t': 'str', 'v': 'ok'}]}
        >>> encode(np.zeros(2).view(np.matrix), arrays)["cls"], encode(object(), arrays)
        ('matrix', {'t': 'foreign', 'type': 'object'})
    """
    if depth > 20:
        return {"t": "foreign", "type": "nesting too deep"}
    if value is None:
        return {"t": "none"}
    if type(value) is bool:
        return {"t": "bool", "v": value}
    if type(value) is int:
        return {"t": "int", "v": value} if abs(value) < 2**62 else {"t": "float", "v": float(value)}
    if type(value) is float:
        return {"t": "float", "v": value}
    if type(value) is str:
        return {"t": "str", "v": value[:MAX_TEXT]}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy" and value.dtype.kind in "biuf":
        return {"t": "npscalar", "dtype": value.dtype.str, "v": value.item()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return {"t": "foreign", "type": f"array of dtype {value.dtype}"}
        arrays.append(np.array(value, copy=True).view(np.ndarray))
        return {"t": "array", "i": len(arrays) - 1, "cls": type(value).__name__}
    if _is_torch(value, "Tensor") or _is_torch(value, "Parameter"):
        data = value.detach().cpu()
        arrays.append(np.array(data.numpy(), copy=True))
        return {"t": "tensor", "i": len(arrays) - 1, "dtype": str(value.dtype), "cls": type(value).__name__}
    if type(value) in (tuple, list):
        if len(value) > MAX_ITEMS:
            return {"t": "foreign", "type": f"{type(value).__name__} of {len(value)} items"}
        return {"t": type(value).__name__, "items": [encode(v, arrays, depth + 1) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"t": "dict", "items": {k: encode(v, arrays, depth + 1) for k, v in value.items()}}
    module_type = _torch_module_type()
    if module_type is not None and isinstance(value, module_type):
        return {"t": "model", **model_summary(value)}
    return {"t": "foreign", "type": type(value).__name__}


def _torch_module_type():
    import sys

    torch = sys.modules.get("torch")
    return getattr(getattr(torch, "nn", None), "Module", None) if torch is not None else None


def model_summary(model):
    """{"type", "param_shapes", "layers"} of a torch model (computed in the sandbox).

    Example:
        >>> import torch
        >>> summary = model_summary(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))
        >>> summary["param_shapes"], summary["layers"][1]
        ([[2, 1, 3, 3], [2]], ('Conv2d', ['Conv2d']))
    """
    import torch

    layers = []
    for module in model.modules():
        kinds = [k for k in LAYER_KINDS if isinstance(module, getattr(torch.nn, k))]
        layers.append((type(module).__name__, kinds))
    return {"type": type(model).__name__, "param_shapes": [list(p.shape) for p in model.parameters()],
            "layers": layers}


def write_record(outbox, k, record, arrays):
    """Write record ``k``: the .npy files first, then the JSON (renamed into place last).

    A reader never sees a half-written record: :func:`read_records` reads only finished JSON files.

    Args:
        outbox (str): the folder.
        k (int): the record's number (its order within the test cell).
        record (dict): ``{"label", "status", "value"}`` and, for an error, ``"error"``.
        arrays (list of np.ndarray): the arrays ``record["value"]`` names by index.

    Example:
        >>> import tempfile
        >>> arrays = []
        >>> record = {"label": "f(x)", "status": "ok", "value": encode(np.ones(3), arrays)}
        >>> with tempfile.TemporaryDirectory() as outbox:
        ...     write_record(outbox, 0, record, arrays)
        ...     print(read_records(outbox)[0]["value"])
        [1. 1. 1.]
    """
    for j, array in enumerate(arrays):
        np.save(os.path.join(outbox, f"{k:06d}_{j}.npy"), array, allow_pickle=False)
    tmp = os.path.join(outbox, f".{k:06d}.json.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.replace(tmp, os.path.join(outbox, f"{k:06d}.json"))


# ---------------------------------------------------------------------------------------------
# Trusted side
# ---------------------------------------------------------------------------------------------


class LoadBudget:
    """A byte budget for what the trusted side loads from the sandbox's records; it never grows.

    Args:
        limit (int): bytes in all.
        parent (LoadBudget or None): a larger budget (the submission's) that is charged as well.

    Example:
        >>> submission = LoadBudget(100)
        >>> cell = LoadBudget(80, parent=submission)
        >>> cell.take(60), cell.take(30), submission.left
        (True, False, 40)
    """

    def __init__(self, limit, parent=None):
        self.left = int(limit)
        self.parent = parent

    def take(self, n):
        """Charge ``n`` bytes; False (and nothing charged) when they do not fit here or in the parent."""
        n = int(n)
        if n > self.left or (self.parent is not None and n > self.parent.left):
            return False
        self.left -= n
        if self.parent is not None:
            self.parent.left -= n
        return True


def read_plain_file(path, budget=None, max_bytes=None):
    """The bytes of ``path``, opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked by ``fstat`` to be a regular file.

    A symlink, a FIFO, a tty or ``/dev/zero`` raises ``OSError`` at once instead of being followed,
    blocking or read forever. The file's size is charged to ``budget`` before it is read.

    Args:
        path (str): a record's file.
        budget (LoadBudget or None): charged with the file's size.
        max_bytes (int or None): larger files are refused.

    Returns:
        bytes: the content.

    Example:
        >>> read_plain_file("/dev/zero")
        Traceback (most recent call last):
        ...
        OSError: /dev/zero: not a regular file
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise OSError(f"{path}: larger than {max_bytes} bytes")
        if budget is not None and not budget.take(info.st_size):
            raise OSError(f"{path}: over the byte budget of the records")
        data = f.read(info.st_size + 1)
    if len(data) != info.st_size:
        raise OSError(f"{path}: changed while it was read")
    return data


class _Arrays:
    """The arrays of one outbox folder, each file loaded at most once and charged to a budget."""

    def __init__(self, folder, budget):
        self.folder, self.budget, self.loaded = folder, budget, {}

    def load(self, k, i):
        key = (int(k), int(i))
        if key not in self.loaded:
            self.loaded[key] = self._read(*key)
        return self.loaded[key]

    def _read(self, k, i):
        import io

        path = os.path.join(self.folder, f"{k:06d}_{i}.npy")
        try:
            data = read_plain_file(path, self.budget)
            stream = io.BytesIO(data)
            version = np.lib.format.read_magic(stream)
            header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in header:
                return Foreign("unreadable array", f".npy format version {version}")
            shape, _, dtype = header[version](stream)
            if dtype.hasobject or math.prod(shape) * dtype.itemsize > len(data):
                return Foreign("unreadable array", "its header promises more data than the file holds")
            stream.seek(0)
            array = np.load(stream, allow_pickle=False)
        except (OSError, ValueError, TypeError) as error:
            return Foreign("unreadable array", error)
        if type(array) is not np.ndarray or array.dtype.kind not in "biufc":
            return Foreign(f"array of dtype {getattr(array, 'dtype', '?')}")
        return array


def decode(description, folder, k, depth=0):
    """The plain value described by ``description`` (see :func:`encode`), loaded strictly.

    Args:
        description (dict): one value of a record, as :func:`encode` wrote it.
        folder (str or _Arrays): the outbox the record's arrays are in (or its loader).
        k (int): the record's number.
        depth (int): nesting so far (deeper than 20 is foreign).

    Returns:
        None, bool, int, float, str, a NumPy scalar, ``np.ndarray`` (a torch tensor when it was
        one and torch is there), tuple, list, dict, :class:`ModelSummary` or :class:`Foreign`.

    Example:
        >>> decode({"t": "list", "items": [{"t": "int", "v": 2}, {"t": "bool", "v": "yes"}]}, ".", 0)
        [2, <unknown value>]
    """
    if not isinstance(description, dict) or depth > 20:
        return Foreign("malformed record")
    if not isinstance(folder, _Arrays):
        folder = _Arrays(folder, LoadBudget(CELL_BYTES))
    kind = description.get("t")
    value = description.get("v")
    if kind == "none":
        return None
    if kind == "bool" and type(value) is bool:
        return value
    if kind == "int" and type(value) is int:
        return value
    if kind == "float" and type(value) in (int, float):
        return float(value)
    if kind == "str" and type(value) is str:
        return value
    if kind == "npscalar" and type(value) in (bool, int, float):
        try:
            dtype = np.dtype(str(description.get("dtype")))
        except TypeError:
            return Foreign("numpy scalar of unknown dtype")
        if dtype.kind not in "biuf":
            return Foreign("numpy scalar")
        return dtype.type(value)
    if kind == "array":
        array = _load_index(folder, k, description.get("i", -1))
        if description.get("cls") != "ndarray" and not isinstance(array, Foreign):
            return Foreign(str(description.get("cls")), "a subclass of np.ndarray")
        return array
    if kind == "tensor":
        array = _load_index(folder, k, description.get("i", -1))
        if isinstance(array, Foreign):
            return array
        try:
            import torch
        except ImportError:
            return array
        return torch.from_numpy(array)
    if kind in ("tuple", "list") and isinstance(description.get("items"), list):
        items = [decode(item, folder, k, depth + 1) for item in description["items"][:MAX_ITEMS]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(description.get("items"), dict):
        return {str(key): decode(item, folder, k, depth + 1) for key, item in description["items"].items()}
    if kind == "model":
        try:
            return ModelSummary(description["type"], description["param_shapes"], description["layers"])
        except (KeyError, TypeError, ValueError):
            return Foreign("malformed model summary")
    return Foreign(str(description.get("type", "unknown value")))


def _load_index(arrays, k, i):
    if type(i) is not int or i < 0:
        return Foreign("malformed record")
    return arrays.load(k, i)


def read_records(folder, budget=None):
    """{k: record} of the finished records in ``folder`` (values decoded, plain data only).

    Every file is opened with :func:`read_plain_file` (no symlink, FIFO or device is followed),
    each ``.npy`` is loaded once however often the records name it, and everything loaded counts
    against ``CELL_BYTES`` and ``budget``. Past the budget, values arrive as :class:`Foreign`.

    Args:
        folder (str): an outbox (a missing folder has no records).
        budget (LoadBudget or None): the submission's budget, shared by all its test cells.

    Returns:
        dict: ``{k: {"status", "label", "error_type", "error_message", "value"}}``.

    Example:
        >>> read_records("/nonexistent/outbox")
        {}
    """
    records = {}
    if not os.path.isdir(folder):
        return records
    cell_budget = LoadBudget(CELL_BYTES, parent=budget)
    arrays = _Arrays(folder, cell_budget)
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json") or name.startswith("."):
            continue
        try:
            k = int(name[: -len(".json")])
            raw = json.loads(read_plain_file(os.path.join(folder, name), cell_budget, MAX_JSON_BYTES))
        except (ValueError, OSError, RecursionError):
            continue
        if not isinstance(raw, dict):
            continue
        record = {"status": str(raw.get("status", "")), "label": str(raw.get("label", ""))[:MAX_TEXT]}
        error = raw.get("error") if isinstance(raw.get("error"), dict) else {}
        record["error_type"] = str(error.get("type", ""))[:200]
        record["error_message"] = str(error.get("message", ""))[:MAX_TEXT]
        record["value"] = decode(raw.get("value", {"t": "none"}), arrays, k)
        records[k] = record
    return records
