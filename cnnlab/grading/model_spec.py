"""A torch model as plain data: its layers (standard ``torch.nn`` types and their arguments) and weights.

Exercise 07's network crosses the sandbox boundary as data, never as code. Inside the sandbox
:func:`layer_spec` turns the student's ``nn.Sequential`` into a JSON-able list of
``{"type", "args"}`` and a list of NumPy arrays (its weights and buffers); on the trusted side
:func:`rebuild` validates that description strictly and builds the network again with ``torch.nn``
alone. What is graded is the rebuilt network: a forward method of the student's own (a lookup
table of the public test labels, say) has nothing to attach to, and the architecture facts
(convolutions, pooling, parameters, output shape) are those of the rebuilt layers.

The arrays come in this order: for each layer (nested ``nn.Sequential`` flattened), the tensors of
its ``state_dict()`` in their order (Conv2d and Linear: weight, bias; BatchNorm: weight, bias,
running_mean, running_var, num_batches_tracked). Floating-point tensors travel as float32.

This module is copied into the sandbox; it imports NumPy and ``compare`` (torch lazily), no answer key.
"""

import math
import numbers

import numpy as np

from .compare import MismatchError

__all__ = ["LAYERS", "POOLING", "ALLOWED_TEXT", "layer_spec", "rebuild", "architecture_facts"]

MAX_LAYERS = 200  # layers after flattening
MAX_INT = 100_000  # channels, features, kernel sizes, padding ...
MAX_DIM = 8  # |dim| of Flatten, Softmax, LogSoftmax
MAX_NUMBERS = 10_000_000  # all weights and buffers together (the exercise's own limit, 1,000,000, is checked later)
MAX_ACTIVATION = 2_000_000  # numbers in one layer's output, per image
MAX_MACS = 200_000_000  # multiply-adds of the whole network, per image: the trusted side's evaluation stays cheap

# Argument kinds: (what it is, how it is checked); see _checked.
_COUNT = ("a positive int", "count")
_BOOL = ("True or False", "bool")
_PAIR1 = ("a positive int or a pair of them", "pair1")
_PAIR0 = ("an int >= 0 or a pair of them", "pair0")
_PADDING = ("an int >= 0, a pair of them, 'same' or 'valid'", "padding")
_REAL = ("a finite number", "real")
_POSITIVE = ("a positive finite number", "positive")
_PROB = ("a number between 0 and 1", "prob")
_OPT_PROB = ("None or a number between 0 and 1", "opt_prob")
_OPT_COUNT = ("None or a positive int", "opt_count")
_DIM = (f"an int between -{MAX_DIM} and {MAX_DIM}", "dim")


def _choice(*values):
    return ("one of " + ", ".join(repr(v) for v in values), ("choice",) + values)


_BATCHNORM = {"num_features": _COUNT, "eps": _POSITIVE, "momentum": _OPT_PROB, "affine": _BOOL,
              "track_running_stats": _BOOL}
_POOL = {"kernel_size": _PAIR1, "stride": _PAIR1, "padding": _PAIR0, "ceil_mode": _BOOL}

# The standard layers the grader rebuilds: {type: {argument: kind}}; each argument is an attribute
# of the layer of the same name, except ``bias`` (whether the layer has one).
LAYERS = {
    "Conv2d": {"in_channels": _COUNT, "out_channels": _COUNT, "kernel_size": _PAIR1, "stride": _PAIR1,
               "padding": _PADDING, "dilation": _PAIR1, "groups": _COUNT, "bias": _BOOL,
               "padding_mode": _choice("zeros", "reflect", "replicate", "circular")},
    "MaxPool2d": {**_POOL, "dilation": _PAIR1},
    "AvgPool2d": {**_POOL, "count_include_pad": _BOOL, "divisor_override": _OPT_COUNT},
    "AdaptiveAvgPool2d": {"output_size": _PAIR1},
    "AdaptiveMaxPool2d": {"output_size": _PAIR1},
    "ReLU": {}, "LeakyReLU": {"negative_slope": _REAL}, "ELU": {"alpha": _REAL},
    "GELU": {"approximate": _choice("none", "tanh")}, "SiLU": {}, "Tanh": {}, "Sigmoid": {},
    "Softmax": {"dim": _DIM}, "LogSoftmax": {"dim": _DIM},
    "Dropout": {"p": _PROB}, "Dropout2d": {"p": _PROB},
    "BatchNorm1d": _BATCHNORM, "BatchNorm2d": _BATCHNORM,
    "Flatten": {"start_dim": _DIM, "end_dim": _DIM},
    "Linear": {"in_features": _COUNT, "out_features": _COUNT, "bias": _BOOL},
    "Identity": {},
}
_REQUIRED = {"Conv2d": ("in_channels", "out_channels", "kernel_size"), "MaxPool2d": ("kernel_size",),
             "AvgPool2d": ("kernel_size",), "AdaptiveAvgPool2d": ("output_size",),
             "AdaptiveMaxPool2d": ("output_size",), "BatchNorm1d": ("num_features",),
             "BatchNorm2d": ("num_features",), "Linear": ("in_features", "out_features")}
POOLING = ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
ALLOWED_TEXT = ", ".join("nn." + name for name in LAYERS)


def _torch():
    import torch

    return torch


def _fail(where, message):
    raise MismatchError(f"{where}: {message}")


def _is_int(value):
    return type(value) is int


def _is_real(value):
    return type(value) in (int, float) and math.isfinite(value)


def _checked(kind, value, where):
    """``value`` checked against an argument kind and normalised (a pair becomes a tuple); raises MismatchError."""
    text, rule = kind
    ok = False
    if rule == "count":
        ok = _is_int(value) and 1 <= value <= MAX_INT
    elif rule == "bool":
        ok = type(value) is bool
    elif rule in ("pair1", "pair0", "padding"):
        low = 0 if rule != "pair1" else 1
        if rule == "padding" and value in ("same", "valid"):
            return value
        if type(value) in (tuple, list) and len(value) == 2:
            value = tuple(value)
            ok = all(_is_int(v) and low <= v <= MAX_INT for v in value)
        else:
            ok = _is_int(value) and low <= value <= MAX_INT
    elif rule == "real":
        ok = _is_real(value) and abs(value) <= 1e6
    elif rule == "positive":
        ok = _is_real(value) and 0 < value <= 1e6
    elif rule == "prob":
        ok = _is_real(value) and 0 <= value <= 1
    elif rule == "opt_prob":
        ok = value is None or (_is_real(value) and 0 <= value <= 1)
    elif rule == "opt_count":
        ok = value is None or (_is_int(value) and 1 <= value <= MAX_INT)
    elif rule == "dim":
        ok = _is_int(value) and -MAX_DIM <= value <= MAX_DIM
    elif rule[0] == "choice":
        ok = type(value) is str and value in rule[1:]
    if not ok:
        _fail(where, f"should be {text}, got {_shown(value)}")
    return value


def _shown(value):
    text = repr(value) if type(value) in (int, float, bool, str, tuple, list, type(None)) else type(value).__name__
    return text if len(text) <= 80 else text[:80] + "..."


# ---------------------------------------------------------------------------------------------
# Sandbox (and learner) side
# ---------------------------------------------------------------------------------------------


def _plain(value):
    """Python numbers and tuples for what a layer stores (NumPy ints, lists); the check comes after."""
    if type(value) is bool or value is None or type(value) is str:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if type(value) in (tuple, list):
        return tuple(_plain(v) for v in value)
    return value


def _not_expressible(what):
    return (f"{what}. The grader rebuilds your network from its layers and weights, so build_model() must "
            f"return an nn.Sequential of standard layers (nested nn.Sequential is fine), without a forward "
            f"method of your own. Allowed layers: {ALLOWED_TEXT}.")


def _leaves(module, nn, depth=0):
    if depth > 20:
        raise MismatchError(_not_expressible("nn.Sequential nested more than 20 deep"))
    for child in module.children():
        if type(child) is nn.Sequential:
            yield from _leaves(child, nn, depth + 1)
        else:
            yield child


def layer_spec(model):
    """The model as plain data: a list of ``{"type", "args"}`` and a list of arrays (its weights).

    Args:
        model (torch.nn.Sequential): standard layers (``LAYERS``), nested ``nn.Sequential`` allowed.

    Returns:
        tuple: ``(spec, arrays)``; ``spec`` is JSON-able, ``arrays`` are ``np.ndarray`` in the order
        of the module docstring.

    Raises:
        MismatchError: the model is not an ``nn.Sequential``, or a layer is not one of ``LAYERS``
        (exactly that class: a subclass may compute something else), or an argument is out of bounds.

    Example:
        >>> from torch import nn
        >>> spec, arrays = layer_spec(nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(),
        ...                                         nn.Sequential(nn.Flatten(), nn.Linear(2 * 26 * 26, 10))))
        >>> [layer["type"] for layer in spec], [a.shape for a in arrays]
        (['Conv2d', 'ReLU', 'Flatten', 'Linear'], [(2, 1, 3, 3), (10, 1352), (10,)])
        >>> spec[0]["args"]["kernel_size"], spec[0]["args"]["bias"]
        ((3, 3), False)
        >>> class Net(nn.Module):
        ...     def forward(self, x):
        ...         return x
        >>> layer_spec(Net())
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: build_model() returned a Net, not an nn.Sequential. The grader ...
    """
    torch = _torch()
    nn = torch.nn
    if type(model) is not nn.Sequential:
        raise MismatchError(_not_expressible(f"build_model() returned a {type(model).__name__}, not an nn.Sequential"))
    spec, arrays = [], []
    for i, layer in enumerate(_leaves(model, nn)):
        name = type(layer).__name__
        if name not in LAYERS or type(layer) is not getattr(nn, name, None):
            raise MismatchError(_not_expressible(f"layer {i} is a {name}, not one of the standard layers"))
        if getattr(layer, "return_indices", False):
            _fail(f"layer {i} ({name})", "return_indices=True gives a tuple, not a tensor; leave it False")
        args = {}
        for arg, kind in LAYERS[name].items():
            value = getattr(layer, arg, None) is not None if arg == "bias" else _plain(getattr(layer, arg))
            args[arg] = _checked(kind, value, f"layer {i} ({name}), argument {arg}")
        spec.append({"type": name, "args": args})
        for tensor in layer.state_dict().values():
            tensor = tensor.detach().to("cpu")
            tensor = tensor.to(torch.float32) if tensor.is_floating_point() else tensor.to(torch.int64)
            arrays.append(np.array(tensor.numpy(), copy=True))
        if len(spec) > MAX_LAYERS:
            _fail("the model", f"more than {MAX_LAYERS} layers")
    return spec, arrays


# ---------------------------------------------------------------------------------------------
# Trusted side
# ---------------------------------------------------------------------------------------------


def _checked_layer(item, i):
    if type(item) is not dict or set(item) != {"type", "args"}:
        _fail(f"layer {i}", 'should be {"type": ..., "args": {...}} and nothing else')
    name, args = item["type"], item["args"]
    if type(name) is not str or name not in LAYERS:
        raise MismatchError(f"layer {i}: {_shown(name)} is not one of the standard layers; allowed: {ALLOWED_TEXT}")
    if type(args) is not dict or not all(type(k) is str for k in args):
        _fail(f"layer {i} ({name})", "its arguments should be a dict of names")
    unknown = sorted(set(args) - set(LAYERS[name]))
    if unknown:
        allowed = ", ".join(LAYERS[name]) or "none"
        _fail(f"layer {i} ({name})", f"unknown argument {_shown(unknown[0])}; allowed: {allowed}")
    missing = [arg for arg in _REQUIRED.get(name, ()) if arg not in args]
    if missing:
        _fail(f"layer {i} ({name})", f"argument {missing[0]} is missing")
    return name, {arg: _checked(LAYERS[name][arg], value, f"layer {i} ({name}), argument {arg}")
                  for arg, value in args.items()}


def _cost(layer, x, out):
    """Multiply-adds of one layer on one image (an upper bound for the cheap ones)."""
    name = type(layer).__name__
    if name == "Conv2d":
        kh, kw = layer.kernel_size
        return out.numel() * (layer.in_channels // layer.groups) * kh * kw
    if name == "Linear":
        return out.numel() * layer.in_features
    if name in ("MaxPool2d", "AvgPool2d"):
        kh, kw = (layer.kernel_size,) * 2 if type(layer.kernel_size) is int else layer.kernel_size
        return out.numel() * kh * kw
    if name in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):  # each window at most ceil(in / out) + 1 wide
        h, w = x.shape[-2:]
        oh, ow = out.shape[-2:]
        return out.numel() * (math.ceil(h / max(oh, 1)) + 1) * (math.ceil(w / max(ow, 1)) + 1)
    return max(x.numel(), out.numel())


def _bounded(layers, input_shape, torch):
    """Run the layers on one meta image (shapes only, no memory): each must work, and the cost stays bounded."""
    x = torch.zeros((1,) + tuple(input_shape), device="meta")
    macs = 0
    for i, layer in enumerate(layers):
        name = type(layer).__name__
        try:
            out = layer(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            _fail(f"layer {i} ({name})", f"fails on its input of shape {tuple(x.shape)}: {message}")
        if out.numel() > MAX_ACTIVATION:
            _fail(f"layer {i} ({name})", f"its output {tuple(out.shape)} has more than {MAX_ACTIVATION:,} "
                                         "numbers per image")
        macs += _cost(layer, x, out)
        if macs > MAX_MACS:
            _fail("the model", f"needs more than {MAX_MACS:,} multiply-adds per image (far more than trains "
                               "within the CPU budget)")
        x = out


def rebuild(spec, arrays, input_shape=(1, 28, 28)):
    """The network described by ``spec`` and ``arrays`` (see :func:`layer_spec`), built with ``torch.nn`` alone.

    Nothing of the description is trusted: every layer type must be one of ``LAYERS``, every
    argument known, of its kind and bounded (``MAX_INT``), every array a plain ``np.ndarray`` with
    exactly the shape of the freshly built layer's tensor. The layers are built on the "meta"
    device first (no memory) and run there on one image of ``input_shape``: each must accept the
    previous one's output, no output may exceed ``MAX_ACTIVATION`` numbers and the whole network
    ``MAX_MACS`` multiply-adds, and the weights together ``MAX_NUMBERS`` numbers.

    Args:
        spec (list of dict): ``[{"type": "Conv2d", "args": {...}}, ...]``.
        arrays (list of np.ndarray): the weights and buffers, in the order of the module docstring.
        input_shape (tuple of int): one image (C, H, W) the network must accept.

    Returns:
        torch.nn.Sequential: the network, its weights loaded, in evaluation mode.

    Raises:
        MismatchError: anything in the description that is not as above (the message says what).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0) and None
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        ...                       nn.Linear(4 * 13 * 13, 10))
        >>> network = rebuild(*layer_spec(model))
        >>> x = torch.rand(2, 1, 28, 28)
        >>> bool(torch.equal(network(x), model(x)))
        True
        >>> rebuild([{"type": "Lookup", "args": {}}], [])
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: layer 0: 'Lookup' is not one of the standard layers; allowed: ...
        >>> linear = {"type": "Linear", "args": {"in_features": 784, "out_features": 10}}
        >>> rebuild([linear], [np.zeros((10, 5)), np.zeros(10)])
        Traceback (most recent call last):
        ...
        cnnlab.grading.compare.MismatchError: layer 0 (Linear): weight should have shape (10, 784), got (10, 5)
    """
    torch = _torch()
    nn = torch.nn
    if type(spec) not in (list, tuple) or not 1 <= len(spec) <= MAX_LAYERS:
        _fail("the model", f"should be a list of 1 to {MAX_LAYERS} layers, got {_shown(spec)}")
    if type(arrays) not in (list, tuple):
        _fail("the model's weights", f"should be a list of arrays, got {_shown(arrays)}")
    layers = []
    with torch.device("meta"):  # shapes only: nothing is allocated or initialised yet
        for i, item in enumerate(spec):
            name, args = _checked_layer(item, i)
            try:
                layers.append(getattr(nn, name)(**args).eval())  # eval: the meta run below changes no statistics
            except (TypeError, ValueError, RuntimeError) as error:
                _fail(f"layer {i} ({name})", str(error)[:300])
    expected = [(i, key, tensor) for i, layer in enumerate(layers) for key, tensor in layer.state_dict().items()]
    total = sum(tensor.numel() for _, _, tensor in expected)
    if total > MAX_NUMBERS:
        _fail("the model", f"has {total:,} weights and buffers, more than {MAX_NUMBERS:,}")
    if len(arrays) != len(expected):
        _fail("the model's weights", f"{len(expected)} arrays expected for these layers, got {len(arrays)}")
    for (i, key, tensor), array in zip(expected, arrays):
        where = f"layer {i} ({type(layers[i]).__name__})"
        if type(array) is not np.ndarray:
            _fail(where, f"{key} should be a plain array, got {_shown(array)}")
        if array.shape != tuple(tensor.shape):
            _fail(where, f"{key} should have shape {tuple(tensor.shape)}, got {array.shape}")
        if array.dtype.kind not in ("f" if tensor.is_floating_point() else "iu"):
            _fail(where, f"{key} should be {'floating point' if tensor.is_floating_point() else 'integer'}, "
                         f"got {array.dtype}")
    _bounded(layers, input_shape, torch)
    network = nn.Sequential(*layers).to_empty(device="cpu")
    state = {f"{i}.{key}": torch.from_numpy(np.require(array, requirements=["C", "W"]))
             for (i, key, _), array in zip(expected, arrays)}
    network.load_state_dict(state, strict=True)  # copies into the layers' own float32 tensors
    return network.eval()


def architecture_facts(network, input_shape=(5, 1, 28, 28)):
    """What exercise 07's architecture check needs, measured on a (rebuilt) network.

    Args:
        network (torch.nn.Sequential): from :func:`rebuild`.
        input_shape (tuple of int): the zeros the network is run on.

    Returns:
        tuple: ``(convs, pools, conv_strides, params, out_shape)``, the arguments of
        ``compare.assert_architecture``.

    Example:
        >>> from torch import nn
        >>> architecture_facts(nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Flatten(), nn.Linear(2 * 13 * 13, 10)))
        (1, 0, [[2, 2]], 3410, (5, 10))
    """
    torch = _torch()
    layers = [m for m in network.modules() if type(m).__name__ in LAYERS]
    convs = [m for m in layers if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in layers if type(m).__name__ in POOLING]
    network.eval()
    with torch.no_grad():
        out = network(torch.zeros(input_shape))
    params = int(sum(p.numel() for p in network.parameters()))
    return len(convs), len(pools), [list(c.stride) for c in convs], params, tuple(out.shape)
