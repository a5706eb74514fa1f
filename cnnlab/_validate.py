"""Argument checks shared by ``cnnlab.reference`` (NumPy) and ``cnnlab.torch`` (PyTorch).

Everything here works on plain Python ints and shape tuples, so both backends can
call it before touching any data: pass ``x.shape`` / ``w.shape`` (a NumPy shape or a
``torch.Size``, both are tuples of ints). Only :func:`as_float_array` touches NumPy.

Every failure is a ``ValueError`` or ``TypeError`` whose message names the argument
and shows the shapes involved, so that a learner never meets an ``IndexError`` from
deep inside a layer.

Helpers
-------
as_int(value, name)                       an int (Python or NumPy), never a bool or a float
pair(value, name)                         int or (a, b) -> (a, b)
check_rank(shape, rank, name)             len(shape) == rank
check_same_shape(shape, expected, name)   e.g. ``dout`` in a backward pass
output_size(n, kernel_size, stride, padding)        floor((n + 2p - f) / s) + 1
same_padding(kernel_size)                 (before, after), torch's rule for padding="same"
conv_geometry(x_shape, w_shape, stride, padding, b_shape=None) -> ConvGeometry
pool_geometry(x_shape, kernel_size, stride, padding) -> PoolGeometry
check_probability(p, name)                0 <= p < 1
as_float_array(x, name)                   NumPy: keep float dtypes, promote ints/bools to float64
"""

import operator
from collections import namedtuple

__all__ = [
    "padding4",
    "as_int",
    "pair",
    "check_rank",
    "check_same_shape",
    "output_size",
    "same_padding",
    "ConvGeometry",
    "PoolGeometry",
    "conv_geometry",
    "pool_geometry",
    "check_probability",
    "as_float_array",
]

ConvGeometry = namedtuple("ConvGeometry", "stride padding out_size")
ConvGeometry.__doc__ = """Normalised convolution settings.

stride:   (sh, sw)
padding:  (top, bottom, left, right), the rows/columns of zeros added to x
out_size: (OH, OW)
"""

PoolGeometry = namedtuple("PoolGeometry", "kernel_size stride padding out_size")
PoolGeometry.__doc__ = """Normalised pooling settings.

kernel_size: (KH, KW)
stride:      (sh, sw)
padding:     (ph, pw), added on both sides
out_size:    (OH, OW)
"""


def _int(value, name):
    # operator.index accepts Python and NumPy integers but refuses floats like 2.0;
    # bools are ints to Python but never a sensible size.
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None


as_int = _int  # public name; ``_int`` stays for code that already imports it


def pair(value, name):
    """Return ``(a, b)`` from an int ``a`` (meaning ``(a, a)``) or a pair of ints.

    >>> pair(3, "stride"), pair((1, 2), "stride")
    ((3, 3), (1, 2))
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r} (length {len(value)})")
        return (_int(value[0], name), _int(value[1], name))
    v = _int(value, name)
    return (v, v)


def padding4(padding):
    """Normalise ``padding`` (int, (ph, pw) or (top, bottom, left, right)) to four non-negative ints."""
    # int -> same on all sides; (ph, pw) -> symmetric; (top, bottom, left, right) as given.
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = tuple(pair(p, "padding")[0] for p in padding)
    else:
        ph, pw = pair(padding, "padding")
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return pads

def check_rank(shape, rank, name, layout=None):
    """Raise ValueError unless ``len(shape) == rank``; ``layout`` (e.g. "(N, C, H, W)") goes in the message."""
    shape = tuple(shape)
    if len(shape) != rank:
        expected = layout or f"{rank} dimensions"
        raise ValueError(f"{name} must have {rank} dimensions {expected}, got shape {shape} ({len(shape)} dimensions)")
    return shape


def check_same_shape(shape, expected, name, expected_name="the forward output"):
    """Raise ValueError unless ``shape == expected`` (no silent broadcasting)."""
    shape, expected = tuple(shape), tuple(expected)
    if shape != expected:
        raise ValueError(f"{name} has shape {shape} but {expected_name} has shape {expected}")
    return shape


def _check_stride(stride):
    stride = pair(stride, "stride")
    if min(stride) < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    return stride


def _check_padding(padding):
    padding = pair(padding, "padding")
    if min(padding) < 0:
        raise ValueError(f"padding must be non-negative, got {padding}")
    return padding


def output_size(n, kernel_size, stride=1, padding=0):
    """Length of a conv/pool output along one axis.

    .. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - f}{s} \\right\\rfloor + 1

    n: input length; kernel_size f; stride s >= 1; padding p >= 0 on each side.
    Raises ValueError when the kernel does not fit in the padded input.
    """
    n, f = _int(n, "n"), _int(kernel_size, "kernel_size")
    s, p = _int(stride, "stride"), _int(padding, "padding")
    if s < 1:
        raise ValueError(f"stride must be at least 1, got {s}")
    if p < 0:
        raise ValueError(f"padding must be non-negative, got {p}")
    if f < 1:
        raise ValueError(f"kernel_size must be at least 1, got {f}")
    if f > n + 2 * p:
        raise ValueError(f"kernel_size {f} is larger than the padded input n + 2p = {n} + 2*{p} = {n + 2 * p}")
    return (n + 2 * p - f) // s + 1


def same_padding(kernel_size):
    """Padding ``(before, after)`` that keeps the length with stride 1, as torch's padding="same".

    The total is ``f - 1``; for an even kernel the odd extra row/column goes *after*
    (right/bottom), exactly like ``torch.nn.functional.conv2d(..., padding="same")``.
    """
    total = _int(kernel_size, "kernel_size") - 1
    return (total // 2, total - total // 2)


def conv_geometry(x_shape, w_shape, stride=1, padding=0, b_shape=None):
    """Check a convolution's arguments and return a :class:`ConvGeometry`.

    x_shape: (N, C, H, W); w_shape: (F, C, KH, KW); b_shape: (F,) or None.
    stride: int or (sh, sw), each >= 1.
    padding: int, (ph, pw), "valid" (= 0) or "same" (stride 1 only; odd or even kernels).
    Output: OH = floor((H + top + bottom - KH) / sh) + 1, likewise OW.
    """
    x_shape = check_rank(x_shape, 4, "x", "(N, C, H, W)")
    w_shape = check_rank(w_shape, 4, "w", "(F, C, KH, KW)")
    _, C, H, W = x_shape
    F, Cw, KH, KW = w_shape
    if C != Cw:
        raise ValueError(
            f"channel mismatch: x has C={C} channels (shape {x_shape}) but w expects C={Cw} (shape {w_shape})"
        )
    if b_shape is not None and tuple(b_shape) != (F,):
        raise ValueError(f"b must have shape (F,) = ({F},) to match w of shape {w_shape}, got shape {tuple(b_shape)}")
    sh, sw = _check_stride(stride)
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if (sh, sw) != (1, 1):
                raise ValueError(f'padding="same" needs stride 1 (as in torch), got stride {(sh, sw)}')
            pads = same_padding(KH) + same_padding(KW)
        else:
            raise ValueError(f'padding must be an int, a pair, "valid" or "same", got {padding!r}')
    else:
        ph, pw = _check_padding(padding)
        pads = (ph, ph, pw, pw)
    top, bottom, left, right = pads
    Hp, Wp = H + top + bottom, W + left + right
    if KH > Hp or KW > Wp:
        raise ValueError(
            f"kernel (KH, KW) = {(KH, KW)} from w of shape {w_shape} is larger than the padded input "
            f"{(Hp, Wp)} (x of shape {x_shape}, padding {pads} as top, bottom, left, right)"
        )
    out_size = ((Hp - KH) // sh + 1, (Wp - KW) // sw + 1)
    return ConvGeometry((sh, sw), pads, out_size)


def pool_geometry(x_shape, kernel_size=2, stride=None, padding=0):
    """Check a pooling layer's arguments and return a :class:`PoolGeometry`.

    x_shape: (N, C, H, W). kernel_size, stride, padding: int or pair; stride None means kernel_size.
    As in torch, padding may be at most half the kernel (so no window lies entirely in padding).
    Output: OH = floor((H + 2 ph - KH) / sh) + 1, likewise OW.
    """
    x_shape = check_rank(x_shape, 4, "x", "(N, C, H, W)")
    KH, KW = pair(kernel_size, "kernel_size")
    if min(KH, KW) < 1:
        raise ValueError(f"kernel_size must be at least 1, got {(KH, KW)}")
    sh, sw = _check_stride((KH, KW) if stride is None else stride)
    ph, pw = _check_padding(padding)
    if 2 * ph > KH or 2 * pw > KW:
        raise ValueError(f"padding {(ph, pw)} must be at most half of kernel_size {(KH, KW)} (as in torch)")
    H, W = x_shape[2], x_shape[3]
    if KH > H + 2 * ph or KW > W + 2 * pw:
        raise ValueError(
            f"kernel_size {(KH, KW)} is larger than the padded input {(H + 2 * ph, W + 2 * pw)} "
            f"(x of shape {x_shape}, padding {(ph, pw)})"
        )
    out_size = ((H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1)
    return PoolGeometry((KH, KW), (sh, sw), (ph, pw), out_size)


def check_probability(p, name="p"):
    """Raise unless ``0 <= p < 1`` (a drop probability of 1 would divide by zero)."""
    if isinstance(p, (bool, str)):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(p).__name__} {p!r}")
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(p).__name__} {p!r}") from None
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")
    return p


def as_float_array(x, name):
    """NumPy array view of ``x`` with a floating dtype.

    float16/32/64 arrays are returned unchanged (the dtype is kept); integer and bool
    inputs are promoted to float64, since a layer's output and gradients are real-valued.
    Complex, string and object inputs raise TypeError.
    """
    import numpy as np

    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} (shape {arr.shape})")
