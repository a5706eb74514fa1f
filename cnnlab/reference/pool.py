"""Max, average and min pooling over 2-D windows, forward and backward side by side.

    out = max_pool2d(x, kernel_size, stride, padding)
    dx  = max_pool2d_backward(dout, x, kernel_size, stride, padding)

Shapes (PyTorch's ``nn.MaxPool2d`` / ``nn.AvgPool2d`` conventions)
------
x:   (N, C, H, W)  ->  out: (N, C, OH, OW), each channel pooled on its own

    OH = floor((H + 2 * ph - KH) / sh) + 1
    OW = floor((W + 2 * pw - KW) / sw) + 1

kernel_size, stride, padding: int or pair; ``stride=None`` means ``stride = kernel_size``
(non-overlapping windows). Padding is at most half the kernel, as in PyTorch.
Max pooling pads with -inf and min pooling with +inf, so padding is never picked;
average pooling pads with zeros and *counts* them (PyTorch's ``count_include_pad=True``).

The vectorised versions visit the KH*KW kernel offsets instead of the OH*OW windows:
offset (u, v) of every window at once is the strided slice
``x_padded[:, :, u::sh, v::sw]``, so each step is one fast whole-array operation.
The ``*_naive`` versions loop over windows and are the ones to read first; each sits
directly above the vectorised function it explains.
"""

import numpy as np

from cnnlab.checks import as_float_array, check_same_shape, pool_geometry
from cnnlab.reference.padding import pad_constant

__all__ = [
    "POOL_MODES",
    "max_pool2d_naive",
    "max_pool2d",
    "max_pool2d_backward_naive",
    "max_pool2d_backward",
    "min_pool2d_naive",
    "min_pool2d",
    "min_pool2d_backward",
    "avg_pool2d_naive",
    "avg_pool2d",
    "avg_pool2d_backward",
]


def _prepare(x, kernel_size, stride, padding, fill):
    x = as_float_array(x, "x")
    kernel, stride, (ph, pw), out_size = pool_geometry(x.shape, kernel_size, stride, padding)
    x_padded = pad_constant(x, (ph, ph, pw, pw), fill)
    return x, x_padded, kernel, stride, (ph, pw), out_size


def _offset_slices(kernel, stride, out_size):
    """Indices, one per kernel offset (u, v) in row-major order; x_padded[index] is (N, C, OH, OW):
    element (u, v) of every window at once."""
    (KH, KW), (sh, sw), (OH, OW) = kernel, stride, out_size
    return [
        (Ellipsis, slice(u, u + (OH - 1) * sh + 1, sh), slice(v, v + (OW - 1) * sw + 1, sw))
        for u in range(KH)
        for v in range(KW)
    ]


def _reduce(x_padded, kernel, stride, out_size, combine):
    out = None
    for index in _offset_slices(kernel, stride, out_size):
        out = x_padded[index].copy() if out is None else combine(out, x_padded[index], out=out)
    return out


def _check_dout(dout, x, out_size):
    dout = as_float_array(dout, "dout")
    check_same_shape(dout.shape, (*x.shape[:2], *out_size), "dout", "the pooling output")
    return dout.astype(x.dtype, copy=False)


def _pool_naive(x, kernel_size, stride, padding, fill, reduce):
    x, x_padded, (KH, KW), (sh, sw), _, (OH, OW) = _prepare(x, kernel_size, stride, padding, fill)
    out = np.empty((*x.shape[:2], OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            window = x_padded[:, :, i * sh : i * sh + KH, j * sw : j * sw + KW]  # (N, C, KH, KW)
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def _extreme_pool(x, kernel_size, stride, padding, fill, combine):
    x, x_padded, kernel, stride, _, out_size = _prepare(x, kernel_size, stride, padding, fill)
    return _reduce(x_padded, kernel, stride, out_size, combine)


def _extreme_pool_backward(dout, x, kernel_size, stride, padding, fill, combine, better):
    """Route each window's gradient to its FIRST extreme element (row-major), like PyTorch.

    Pass 1 finds, for every window, the kernel offset k that holds the extreme: offset k
    takes over only where ``better(candidate, best)`` is strictly true, so ties keep the
    earliest; as k only grows, ``winner = max(winner, k * wins)`` records the last take-over.
    A NaN always takes over, as in PyTorch. Pass 2 adds dout to offset ``winner`` of each window.
    """
    x, x_padded, kernel, stride, (ph, pw), out_size = _prepare(x, kernel_size, stride, padding, fill)
    dout = _check_dout(dout, x, out_size)
    offsets = _offset_slices(kernel, stride, out_size)
    best = x_padded[offsets[0]].copy()
    winner = np.zeros(best.shape, dtype=np.min_scalar_type(len(offsets) - 1))
    has_nan = np.isnan(x).any()
    for k, index in enumerate(offsets[1:], start=1):
        candidate = x_padded[index]
        wins = better(candidate, best)
        if has_nan:
            wins |= np.isnan(candidate)
        combine(best, candidate, out=best)
        np.maximum(winner, wins * winner.dtype.type(k), out=winner)
    # Multiplying by a boolean mask is ~10x faster than np.where, but inf * 0 would be NaN.
    finite = np.isfinite(dout).all()
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]  # windows never overlap: assign, no add
    dx_padded = np.zeros_like(x_padded)
    for k, index in enumerate(offsets):
        hit = winner == k
        grad = dout * hit if finite else np.where(hit, dout, 0)
        if disjoint:
            dx_padded[index] = grad
        else:
            dx_padded[index] += grad
    H, W = x.shape[2:]
    return dx_padded[:, :, ph : ph + H, pw : pw + W]


# ---------------------------------------------------------------- max pooling


def max_pool2d_naive(x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`max_pool2d` (same arguments, same result): one window at a time.

        for every output row i and column j:
            out[:, :, i, j] = max of x_padded[:, :, i*sh : i*sh + KH, j*sw : j*sw + KW]

    Args:
        x, kernel_size, stride, padding: as in :func:`max_pool2d`.

    Shape:
        x (N, C, H, W) -> out (N, C, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, likewise OW.

    Example:
        >>> max_pool2d_naive(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    return _pool_naive(x, kernel_size, stride, padding, -np.inf, np.max)


def max_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Largest value in each window; padding counts as -inf, so it is never picked.

    Args:
        x: (N, C, H, W); each channel is pooled on its own.
        kernel_size: int or (KH, KW). stride: int, (sh, sw) or None (= kernel_size).
        padding: int or (ph, pw) on both sides, at most half the kernel (as in torch).

    Shape:
        out: (N, C, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, OW = floor((W + 2 pw - KW) / sw) + 1.

    Equals ``torch.nn.functional.max_pool2d(x, kernel_size, stride, padding)``.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(2, 3, 7, 6))
        >>> out = max_pool2d(x, 3, stride=2, padding=1)
        >>> out.shape, bool(np.array_equal(out, max_pool2d_naive(x, 3, stride=2, padding=1)))
        ((2, 3, 4, 3), True)
    """
    return _extreme_pool(x, kernel_size, stride, padding, -np.inf, np.maximum)


def max_pool2d_backward_naive(dout, x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`max_pool2d_backward` (same arguments, same result): one window at a time.

    for every output row i and column j:
        window = x_padded[:, :, i*sh : i*sh + KH, j*sw : j*sw + KW]           # (N, C, KH, KW)
        (u, v) = position of the first maximum of each window (row-major)       # (N, C) each
        dx_padded[n, c, i*sh + u, j*sw + v] += dout[n, c, i, j]
    A NaN beats every number and a later NaN beats an earlier one, as in PyTorch.

    Args:
        dout: upstream gradient (N, C, OH, OW). x, kernel_size, stride, padding: the forward pass's.

    Shape:
        dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W).

    Example:
        >>> x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])  # a tie: the first 3 gets the gradient
        >>> max_pool2d_backward_naive(np.array([[[[5.0]]]]), x)[0, 0]
        array([[0., 5.],
               [0., 0.]])
    """
    x, x_padded, (KH, KW), (sh, sw), (ph, pw), (OH, OW) = _prepare(x, kernel_size, stride, padding, -np.inf)
    dout = _check_dout(dout, x, (OH, OW))
    N, C, H, W = x.shape
    n, c = np.indices((N, C))  # with (u, v) below: one pixel per image and channel, never repeated
    dx_padded = np.zeros_like(x_padded)
    for i in range(OH):
        for j in range(OW):
            window = x_padded[:, :, i * sh : i * sh + KH, j * sw : j * sw + KW].reshape(N, C, KH * KW)
            winner = window.argmax(axis=2)  # the first maximum (np.argmax also stops at the first NaN)
            nan = np.isnan(window)
            if nan.any():  # torch lets every NaN take over, so the last NaN of a window wins
                last_nan = KH * KW - 1 - nan[:, :, ::-1].argmax(axis=2)
                winner = np.where(nan.any(axis=2), last_nan, winner)
            u, v = np.divmod(winner, KW)
            dx_padded[n, c, i * sh + u, j * sw + v] += dout[:, :, i, j]
    return dx_padded[:, :, ph : ph + H, pw : pw + W]


def max_pool2d_backward(dout, x, kernel_size=2, stride=None, padding=0):
    """Gradient of :func:`max_pool2d` with respect to x, given the upstream gradient ``dout``.

    Each window's gradient goes to the first maximum in that window (ties: the earliest
    in row-major order, as PyTorch); overlapping windows add up.

    Args:
        dout: upstream gradient, the shape of max_pool2d's output.
        x, kernel_size, stride, padding: those of the forward pass.

    Shape:
        dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, dout = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(2, 3, 3, 2))
        >>> dx = max_pool2d_backward(dout, x, 3, stride=2)
        >>> dx.shape, bool(np.allclose(dx, max_pool2d_backward_naive(dout, x, 3, stride=2)))
        ((2, 3, 7, 6), True)
    """
    return _extreme_pool_backward(dout, x, kernel_size, stride, padding, -np.inf, np.maximum, np.greater)


# ---------------------------------------------------------------- min pooling


def min_pool2d_naive(x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`min_pool2d`: the loop of :func:`max_pool2d_naive`, taking each window's min.

    Args:
        x, kernel_size, stride, padding: those of :func:`min_pool2d` (padding is +inf).

    Shape:
        The output of min_pool2d, (N, C, OH, OW).

    Example:
        >>> min_pool2d_naive(-np.eye(3).reshape(1, 1, 3, 3), 2, stride=1)[0, 0]
        array([[-1., -1.],
               [-1., -1.]])
    """
    return _pool_naive(x, kernel_size, stride, padding, np.inf, np.min)


def min_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Smallest value in each window (equals ``-max_pool2d(-x)``); padding counts as +inf.

    Args:
        x: (N, C, H, W). kernel_size, stride, padding: as in :func:`max_pool2d`.

    Shape:
        out: (N, C, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, OW = floor((W + 2 pw - KW) / sw) + 1.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(1, 2, 5, 5))
        >>> bool(np.array_equal(min_pool2d(x, 2, stride=1), -max_pool2d(-x, 2, stride=1)))
        True
    """
    return _extreme_pool(x, kernel_size, stride, padding, np.inf, np.minimum)


def min_pool2d_backward(dout, x, kernel_size=2, stride=None, padding=0):
    """Gradient of :func:`min_pool2d`: each window's gradient goes to its first minimum.

    Args:
        dout: upstream gradient (N, C, OH, OW). x, kernel_size, stride, padding: the forward pass's.

    Shape:
        dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W).

    Example:
        >>> min_pool2d_backward(np.array([[[[5.0]]]]), np.array([[[[2.0, 1.0], [1.0, 3.0]]]]))[0, 0]
        array([[0., 5.],
               [0., 0.]])
    """
    return _extreme_pool_backward(dout, x, kernel_size, stride, padding, np.inf, np.minimum, np.less)


# ---------------------------------------------------------------- average pooling


def avg_pool2d_naive(x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`avg_pool2d`: the loop of :func:`max_pool2d_naive`, taking each window's mean
    (padded zeros counted).

    Args:
        x, kernel_size, stride, padding: as for avg_pool2d, whose result it returns.

    Shape:
        (N, C, H, W) in, (N, C, OH, OW) out.

    Example:
        >>> avg_pool2d_naive(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    return _pool_naive(x, kernel_size, stride, padding, 0.0, np.mean)


def avg_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Mean of each window, padded zeros included (PyTorch's default ``count_include_pad=True``).

    Args:
        x: (N, C, H, W). kernel_size, stride, padding: as in :func:`max_pool2d`.

    Shape:
        out: (N, C, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, OW = floor((W + 2 pw - KW) / sw) + 1.

    Equals ``torch.nn.functional.avg_pool2d(x, kernel_size, stride, padding)``.

    Example:
        >>> avg_pool2d(np.ones((1, 1, 2, 2)), 2, padding=1)[0, 0]  # each window holds one 1 and three zeros
        array([[0.25, 0.25],
               [0.25, 0.25]])
    """
    x, x_padded, kernel, stride, _, out_size = _prepare(x, kernel_size, stride, padding, 0.0)
    out = _reduce(x_padded, kernel, stride, out_size, np.add)
    out /= kernel[0] * kernel[1]
    return out


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None, padding=0):
    """Gradient of :func:`avg_pool2d`: every element of a window receives dout / (KH * KW).

    Overlapping windows add up; the share of padded cells is dropped.

    Args:
        dout: upstream gradient (N, C, OH, OW). x, kernel_size, stride, padding: the forward pass's.

    Shape:
        dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W).

    Example:
        >>> avg_pool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), 2, stride=1)[0, 0]
        array([[0.25, 0.5 , 0.25],
               [0.5 , 1.  , 0.5 ],
               [0.25, 0.5 , 0.25]])
    """
    x, x_padded, kernel, stride, (ph, pw), out_size = _prepare(x, kernel_size, stride, padding, 0.0)
    dout = _check_dout(dout, x, out_size) / (kernel[0] * kernel[1])
    dx_padded = np.zeros_like(x_padded)
    for index in _offset_slices(kernel, stride, out_size):
        dx_padded[index] += dout
    H, W = x.shape[2:]
    return dx_padded[:, :, ph : ph + H, pw : pw + W]


# The pooling modes by name: widgets, figures and chapters look a mode up here, so a mode means one thing.
POOL_MODES = {"max": max_pool2d, "avg": avg_pool2d, "min": min_pool2d}
