"""Argument checks shared by ``cnnlab.reference`` (NumPy) and ``cnnlab.torchops`` (PyTorch).

Everything here works on plain Python ints and shape tuples, so both backends can
call it before touching any data: pass ``x.shape`` / ``w.shape`` (a NumPy shape or a
``torch.Size``, both are tuples of ints). Only :func:`as_float_array` and :func:`as_rng` touch NumPy.

Every failure is a ``ValueError`` or ``TypeError`` whose message names the argument
and shows the shapes involved, so that a learner never meets an ``IndexError`` from
deep inside a layer.

Helpers
-------
as_int(value, name)                       an int (Python or NumPy), never a bool or a float
positive_int(value, name)                 the same, and >= 1
as_rng(rng)                               a np.random.Generator from a Generator, a seed or None
pair(value, name)                         int or (a, b) -> (a, b)
padding4(padding)                         int, (ph, pw) or (top, bottom, left, right) -> four ints
check_rank(shape, rank, name)             len(shape) == rank
check_same_shape(shape, expected, name)   e.g. ``dout`` in a backward pass
output_size(n, kernel_size, stride, padding)        floor((n + 2p - f) / s) + 1
same_padding(kernel_size)                 (before, after), torch's rule for padding="same"
conv_geometry(x_shape, w_shape, stride, padding, b_shape=None) -> ConvGeometry
patch_geometry(x_shape, kernel_size, stride, padding) -> (ConvGeometry, (KH, KW)), for im2col
pool_geometry(x_shape, kernel_size, stride, padding) -> PoolGeometry
conv_transpose_geometry(x_shape, w_shape, stride, padding, output_padding) -> ConvTransposeGeometry
check_dilation(dilation), dilated_size(kernel_size, dilation)   (dh, dw) >= 1; d (k - 1) + 1
check_probability(p, name)                0 <= p < 1
batch_norm_shapes(x_shape, gamma_shape, ...) (N, C, H, W) and per-channel (C,) parameters
as_float_array(x, name)                   NumPy: keep float dtypes, promote ints/bools to float64
"""

import operator
from collections import namedtuple

import numpy as np

__all__ = [
    "PAD_MODES",
    "check_pad_mode",
    "padding4",
    "as_int",
    "positive_int",
    "as_rng",
    "pair",
    "check_rank",
    "check_same_shape",
    "output_size",
    "same_padding",
    "ConvGeometry",
    "PoolGeometry",
    "conv_geometry",
    "patch_geometry",
    "pool_geometry",
    "check_probability",
    "as_float_array",
    "batch_norm_shapes",
    "check_dilation",
    "dilated_size",
    "ConvTransposeGeometry",
    "conv_transpose_geometry",
]

ConvGeometry = namedtuple("ConvGeometry", "stride padding out_size")
ConvGeometry.__doc__ = """Normalised convolution settings, as :func:`conv_geometry` returns them.

Args:
    stride: (sh, sw).
    padding: (top, bottom, left, right), the rows/columns of zeros added to x.
    out_size: (OH, OW).

Shape:
    OH = floor((H + top + bottom - KH) / sh) + 1, likewise OW.

Example:
    >>> stride, padding, out_size = conv_geometry((1, 1, 5, 5), (1, 1, 3, 3))
    >>> out_size
    (3, 3)
"""

PoolGeometry = namedtuple("PoolGeometry", "kernel_size stride padding out_size")
PoolGeometry.__doc__ = """Normalised pooling settings, as :func:`pool_geometry` returns them.

Args:
    kernel_size: (KH, KW).
    stride: (sh, sw).
    padding: (ph, pw), added on both sides.
    out_size: (OH, OW).

Shape:
    OH = floor((H + 2 ph - KH) / sh) + 1, likewise OW.

Example:
    >>> pool_geometry((1, 1, 5, 5), 3, stride=1, padding=1).out_size
    (5, 5)
"""


def as_int(value, name):
    """``value`` as a Python int; TypeError naming ``name`` for floats, bools and other types.

    Args:
        value: a Python or NumPy integer (``2.0`` and ``True`` are refused).
        name: the argument's name, for the error message.

    Shape:
        A scalar in, a Python int out.

    Example:
        >>> as_int(np.int64(3), "stride")
        3
        >>> as_int(2.0, "stride")
        Traceback (most recent call last):
        ...
        TypeError: stride must be an int, got float 2.0
    """
    # operator.index accepts Python and NumPy integers but refuses floats like 2.0;
    # bools are ints to Python but never a sensible size.
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None


def positive_int(value, name):
    """``value`` as an int >= 1: TypeError if it is not an int, ValueError if it is below 1.

    Args:
        value: a Python or NumPy integer. name: the argument's name, for the error message.

    Shape:
        A scalar in, a Python int >= 1 out.

    Example:
        >>> positive_int(16, "channels")
        16
        >>> positive_int(0, "channels")
        Traceback (most recent call last):
        ...
        ValueError: channels must be a positive int, got 0
    """
    value = as_int(value, name)
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def as_rng(rng):
    """A ``np.random.Generator`` from a Generator, an int seed, or None.

    None draws the seed from NumPy's global generator, so ``cnnlab.seed_everything()`` makes it repeatable.

    Args:
        rng: a ``np.random.Generator`` (returned as is), an int seed, or None.

    Shape:
        Returns a ``np.random.Generator``.

    Example:
        >>> bool(as_rng(0).integers(10) == as_rng(0).integers(10))
        True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a np.random.Generator, an int seed or None, got {type(rng).__name__}")


def pair(value, name):
    """Return ``(a, b)`` from an int ``a`` (meaning ``(a, a)``) or a pair of ints.

    Args:
        value: an int or a tuple/list of two ints. name: the argument's name, for the error message.

    Shape:
        Returns a tuple of two Python ints.

    Example:
        >>> pair(3, "stride"), pair((1, 2), "stride")
        ((3, 3), (1, 2))
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r} (length {len(value)})")
        return (as_int(value[0], name), as_int(value[1], name))
    v = as_int(value, name)
    return (v, v)


# The border fillings both backends' pad2d know ("zeros" and "edge"; torch calls them "constant", "replicate").
PAD_MODES = ("zeros", "edge")


def check_pad_mode(mode):
    """``mode`` if it is one of ``PAD_MODES``, else a ValueError naming it.

    Example:
        >>> check_pad_mode("edge")
        'edge'
    """
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    return mode


def padding4(padding):
    """Normalise ``padding`` to four non-negative ints ``(top, bottom, left, right)``.

    Args:
        padding: an int (the same on all sides), (ph, pw) (ph rows above and below, pw columns left
            and right) or (top, bottom, left, right).

    Shape:
        Returns a tuple of four ints.

    Example:
        >>> padding4(1), padding4((1, 2)), padding4((0, 1, 2, 3))
        ((1, 1, 1, 1), (1, 1, 2, 2), (0, 1, 2, 3))
    """
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
    """Raise ValueError unless ``len(shape) == rank``.

    Args:
        shape: a shape (tuple, ``np.ndarray.shape`` or ``torch.Size``). rank: the number of dimensions.
        name: the argument's name. layout: e.g. "(N, C, H, W)", shown in the message.

    Shape:
        Returns ``shape`` as a tuple.

    Example:
        >>> check_rank((2, 3, 8, 8), 4, "x", "(N, C, H, W)")
        (2, 3, 8, 8)
        >>> check_rank((3, 8, 8), 4, "x", "(N, C, H, W)")
        Traceback (most recent call last):
        ...
        ValueError: x must have 4 dimensions (N, C, H, W), got shape (3, 8, 8) (3 dimensions)
    """
    shape = tuple(shape)
    if len(shape) != rank:
        expected = layout or f"{rank} dimensions"
        raise ValueError(f"{name} must have {rank} dimensions {expected}, got shape {shape} ({len(shape)} dimensions)")
    return shape


def check_same_shape(shape, expected, name, expected_name="the forward output"):
    """Raise ValueError unless ``shape == expected`` (no silent broadcasting), e.g. ``dout`` in a backward pass.

    Args:
        shape, expected: shapes. name: what ``shape`` belongs to. expected_name: what ``expected`` belongs to.

    Shape:
        Returns ``shape`` as a tuple.

    Example:
        >>> check_same_shape((2, 4), (2, 3), "dout", "linear's output")
        Traceback (most recent call last):
        ...
        ValueError: dout has shape (2, 4) but linear's output has shape (2, 3)
    """
    shape, expected = tuple(shape), tuple(expected)
    if shape != expected:
        raise ValueError(f"{name} has shape {shape} but {expected_name} has shape {expected}")
    return shape


def _pair_at_least(value, name, lowest):
    """``pair(value, name)``, each entry checked to be >= ``lowest`` (ValueError naming ``name``)."""
    values = pair(value, name)
    if min(values) < lowest:
        condition = "non-negative" if lowest == 0 else f"at least {lowest}"
        raise ValueError(f"{name} must be {condition}, got {values}")
    return values


def _check_stride(stride):
    return _pair_at_least(stride, "stride", 1)


def _check_padding(padding):
    return _pair_at_least(padding, "padding", 0)


def output_size(n, kernel_size, stride=1, padding=0):
    """Length of a conv/pool output along one axis.

    .. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - f}{s} \\right\\rfloor + 1

    Args:
        n: input length. kernel_size: f >= 1. stride: s >= 1. padding: p >= 0 on each side.

    Shape:
        Returns an int; ValueError when the kernel does not fit in the padded input (f > n + 2p).

    Example:
        >>> output_size(32, 3, stride=2, padding=1), output_size(7, 3, stride=2)
        (16, 3)
    """
    n, f = as_int(n, "n"), as_int(kernel_size, "kernel_size")
    s, p = as_int(stride, "stride"), as_int(padding, "padding")
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

    Args:
        kernel_size: f, an int >= 1.

    Shape:
        Returns two ints that add up to f - 1; then output_size(n, f, 1, ...) = n.

    Example:
        >>> same_padding(3), same_padding(4)
        ((1, 1), (1, 2))
    """
    total = as_int(kernel_size, "kernel_size") - 1
    return (total // 2, total - total // 2)


def _filter_bank_shapes(x_shape, w_shape, b_shape, transposed):
    """Ranks, channels and bias of a convolution (w: (F, C, KH, KW)) or a transposed one (w: (C_in, C_out, KH, KW))."""
    in_name, out_name = ("C_in", "C_out") if transposed else ("C", "F")
    w_layout = "(C_in, C_out, KH, KW)" if transposed else "(F, C, KH, KW)"
    x_shape = check_rank(x_shape, 4, "x", f"(N, {in_name}, H, W)")
    w_shape = check_rank(w_shape, 4, "w", w_layout)
    in_axis = 0 if transposed else 1  # the axis of w that meets x's channels
    C, Cw, n_out = x_shape[1], w_shape[in_axis], w_shape[1 - in_axis]
    if C != Cw:
        raise ValueError(f"channel mismatch: x has {in_name}={C} channels (shape {x_shape}) but w of shape "
                         f"{w_shape} {w_layout} expects {in_name}={Cw}")
    if b_shape is not None and tuple(b_shape) != (n_out,):
        raise ValueError(f"b must have shape ({out_name},) = ({n_out},) to match w of shape {w_shape}, "
                         f"got shape {tuple(b_shape)}")
    return x_shape, w_shape


def conv_geometry(x_shape, w_shape, stride=1, padding=0, b_shape=None):
    """Check a convolution's arguments and return a :class:`ConvGeometry`.

    Args:
        x_shape: (N, C, H, W). w_shape: (F, C, KH, KW). b_shape: (F,) or None.
        stride: int or (sh, sw), each >= 1.
        padding: int, (ph, pw), "valid" (= 0) or "same" (stride 1 only; odd or even kernels).

    Shape:
        out_size (OH, OW) with OH = floor((H + top + bottom - KH) / sh) + 1, likewise OW.

    Example:
        >>> conv_geometry((2, 3, 32, 32), (8, 3, 3, 3), stride=2, padding=1)
        ConvGeometry(stride=(2, 2), padding=(1, 1, 1, 1), out_size=(16, 16))
        >>> conv_geometry((1, 1, 6, 6), (1, 1, 4, 4), padding="same").padding  # even kernel: extra zeros after
        (1, 2, 1, 2)
    """
    x_shape, w_shape = _filter_bank_shapes(x_shape, w_shape, b_shape, transposed=False)
    _, _, H, W = x_shape
    KH, KW = w_shape[2:]
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


def patch_geometry(x_shape, kernel_size, stride=1, padding=0, name="x"):
    """Check im2col's arguments: the windows of ``kernel_size`` that a convolution visits in ``x_shape``.

    Args:
        x_shape: (N, C, H, W). kernel_size: int or (KH, KW), each >= 1.
        stride, padding: as in :func:`conv_geometry` (padding may be "valid" or "same").
        name: what to call ``x_shape`` in error messages.

    Shape:
        Returns ``(ConvGeometry, (KH, KW))``; the geometry's ``out_size`` is (OH, OW) with
        OH = floor((H + top + bottom - KH) / sh) + 1, likewise OW.

    Example:
        >>> patch_geometry((2, 3, 5, 5), 3, padding=1)
        (ConvGeometry(stride=(1, 1), padding=(1, 1, 1, 1), out_size=(5, 5)), (3, 3))
    """
    x_shape = check_rank(x_shape, 4, name, "(N, C, H, W)")
    kernel = _pair_at_least(kernel_size, "kernel_size", 1)
    return conv_geometry(x_shape, (1, x_shape[1], *kernel), stride, padding), kernel


def pool_geometry(x_shape, kernel_size=2, stride=None, padding=0):
    """Check a pooling layer's arguments and return a :class:`PoolGeometry`.

    As in torch, padding may be at most half the kernel (so no window lies entirely in padding).

    Args:
        x_shape: (N, C, H, W). kernel_size: int or (KH, KW), each >= 1.
        stride: int, (sh, sw) or None (= kernel_size: windows side by side). padding: int or (ph, pw).

    Shape:
        out_size (OH, OW) with OH = floor((H + 2 ph - KH) / sh) + 1, likewise OW.

    Example:
        >>> pool_geometry((1, 3, 7, 6), 2)
        PoolGeometry(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), out_size=(3, 3))
    """
    x_shape = check_rank(x_shape, 4, "x", "(N, C, H, W)")
    KH, KW = _pair_at_least(kernel_size, "kernel_size", 1)
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
    """Raise unless ``0 <= p < 1`` (a drop probability of 1 would divide by zero).

    Args:
        p: a number. name: the argument's name, for the error message.

    Shape:
        Returns ``p`` as a float.

    Example:
        >>> check_probability(0.25)
        0.25
        >>> check_probability(1.0)
        Traceback (most recent call last):
        ...
        ValueError: p must be in [0, 1), got 1.0
    """
    if isinstance(p, (bool, str)):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(p).__name__} {p!r}")
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(p).__name__} {p!r}") from None
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p}")
    return p


def check_dilation(dilation):
    """Return ``(dh, dw)`` from an int or a pair; each must be at least 1 (1 is an ordinary convolution).

    Args:
        dilation: an int or a pair of ints.

    Shape:
        Returns a tuple of two ints >= 1.

    Example:
        >>> check_dilation(2), check_dilation((1, 3))
        ((2, 2), (1, 3))
    """
    return _pair_at_least(dilation, "dilation", 1)


def dilated_size(kernel_size, dilation):
    """Span of a kernel of ``kernel_size`` taps with ``dilation - 1`` gaps between them.

    Args:
        kernel_size: k, the number of taps along one axis. dilation: d, the spacing of the taps.

    Shape:
        Returns the int d (k - 1) + 1.

    Example:
        >>> dilated_size(3, 2)  # taps at 0, 2, 4
        5
    """
    return as_int(dilation, "dilation") * (as_int(kernel_size, "kernel_size") - 1) + 1


ConvTransposeGeometry = namedtuple("ConvTransposeGeometry", "stride padding output_padding out_size")
ConvTransposeGeometry.__doc__ = """Normalised transposed-convolution settings, as :func:`conv_transpose_geometry` returns them.

Args:
    stride: (sh, sw), the spacing of the input pixels on the output canvas.
    padding: (ph, pw), rows/columns removed from each side of the full output.
    output_padding: (oph, opw), extra rows/columns kept at the bottom/right.
    out_size: (OH, OW).

Shape:
    OH = (H - 1) sh - 2 ph + KH + oph, likewise OW.

Example:
    >>> conv_transpose_geometry((1, 1, 3, 3), (1, 1, 3, 3), stride=2).out_size
    (7, 7)
"""


def conv_transpose_geometry(x_shape, w_shape, stride=1, padding=0, output_padding=0, b_shape=None):
    """Check a transposed convolution's arguments and return a :class:`ConvTransposeGeometry`.

    As in torch, output_padding must be smaller than the stride.

    Args:
        x_shape: (N, C_in, H, W). w_shape: (C_in, C_out, KH, KW) (torch's layout for conv_transpose2d).
        stride: int or (sh, sw). padding: int or (ph, pw). output_padding: int or (oph, opw).
        b_shape: (C_out,) or None.

    Shape:
        out_size (OH, OW) with OH = (H - 1) sh - 2 ph + KH + oph, likewise OW.

    Example:
        >>> conv_transpose_geometry((1, 4, 3, 3), (4, 2, 3, 3), stride=2, padding=1, output_padding=1).out_size
        (6, 6)
    """
    x_shape, w_shape = _filter_bank_shapes(x_shape, w_shape, b_shape, transposed=True)
    _, _, H, W = x_shape
    KH, KW = w_shape[2:]
    (sh, sw), (ph, pw) = _check_stride(stride), _check_padding(padding)
    oph, opw = pair(output_padding, "output_padding")
    if min(oph, opw) < 0 or oph >= sh or opw >= sw:
        raise ValueError(f"output_padding must be non-negative and smaller than the stride {(sh, sw)}, "
                         f"got {(oph, opw)}")
    out_size = ((H - 1) * sh - 2 * ph + KH + oph, (W - 1) * sw - 2 * pw + KW + opw)
    if min(out_size) < 1:
        raise ValueError(
            f"padding {(ph, pw)} removes the whole output: (H - 1) sh - 2 ph + KH + oph = {out_size} "
            f"for x of shape {x_shape} and w of shape {w_shape}"
        )
    return ConvTransposeGeometry((sh, sw), (ph, pw), (oph, opw), out_size)


def as_float_array(x, name):
    """NumPy array view of ``x`` with a floating dtype.

    float16/32/64 arrays are returned unchanged (the dtype is kept); integer and bool
    inputs are promoted to float64, since a layer's output and gradients are real-valued.
    Complex, string and object inputs raise TypeError.

    Args:
        x: anything ``np.asarray`` takes. name: the argument's name, for the error message.

    Shape:
        The shape of ``x``; a float dtype.

    Example:
        >>> as_float_array(np.ones(2, dtype=np.float32), "x").dtype, as_float_array([1, 2], "x").dtype
        (dtype('float32'), dtype('float64'))
    """
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return arr.astype(np.float64)
    raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} (shape {arr.shape})")


def batch_norm_shapes(x_shape, gamma_shape=None, beta_shape=None, running_mean_shape=None,
                      running_var_shape=None, training=True, momentum=0.1, eps=1e-5):
    """Check a 2-D batch normalisation's arguments; return ``(C, M)`` with ``M = N * H * W``.

    Evaluation (``training=False``) needs both running statistics; training needs more than one
    value per channel (``M > 1``), as in torch, because the variance of one value is 0.

    Args:
        x_shape: (N, C, H, W).
        gamma_shape, beta_shape, running_mean_shape, running_var_shape: (C,) each, or None.
        training: a bool. momentum: in [0, 1]. eps: > 0.

    Shape:
        Returns the channel count C and the number M = N * H * W of values per channel.

    Example:
        >>> batch_norm_shapes((8, 3, 4, 4), (3,), (3,))
        (3, 128)
    """
    x_shape = check_rank(x_shape, 4, "x", "(N, C, H, W)")
    N, C, H, W = x_shape
    for name, shape in (("gamma", gamma_shape), ("beta", beta_shape), ("running_mean", running_mean_shape),
                        ("running_var", running_var_shape)):
        if shape is not None and tuple(shape) != (C,):
            raise ValueError(f"{name} must have shape (C,) = ({C},) to match x of shape {x_shape}, "
                             f"got shape {tuple(shape)}")
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, got {type(training).__name__} {training!r}")
    if (running_mean_shape is None) != (running_var_shape is None):
        raise ValueError("running_mean and running_var must be given together (both None or both of shape "
                         f"(C,) = ({C},)), got shapes {running_mean_shape and tuple(running_mean_shape)} and "
                         f"{running_var_shape and tuple(running_var_shape)}")
    if not training and running_mean_shape is None:
        raise ValueError(f"training=False normalises with running_mean and running_var, but both are None "
                         f"(x of shape {x_shape})")
    M = N * H * W
    if training and M < 2:
        raise ValueError(f"training needs more than one value per channel, got N * H * W = {N} * {H} * {W} = {M} "
                         f"(x of shape {x_shape})")
    for name, value in (("momentum", momentum), ("eps", eps)):
        # NumPy scalars have __float__; bools and strings are never a sensible rate or epsilon
        if isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
            raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    if not float(eps) > 0.0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    return C, M
