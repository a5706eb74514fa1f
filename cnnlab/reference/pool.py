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
The ``*_naive`` versions loop over windows and are the ones to read first.
"""

import numpy as np

from cnnlab.checks import as_float_array, check_same_shape, pool_geometry
from cnnlab.reference.padding import pad_constant

__all__ = [
    "POOL_MODES",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool2d_naive",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_pool2d_naive",
    "min_pool2d",
    "min_pool2d_backward",
    "min_pool2d_naive",
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


# ---------------------------------------------------------------- max / min pooling


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


def max_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Largest value in each window (padding counts as -inf). x (N, C, H, W) -> out (N, C, OH, OW),
    OH = floor((H + 2 ph - KH) / sh) + 1, OW = floor((W + 2 pw - KW) / sw) + 1; stride None = kernel_size.
    """
    return _extreme_pool(x, kernel_size, stride, padding, -np.inf, np.maximum)


def max_pool2d_backward(dout, x, kernel_size=2, stride=None, padding=0):
    """dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W).

    Each window's gradient goes to the first maximum in that window (ties: the earliest
    in row-major order, as PyTorch); overlapping windows add up.
    """
    return _extreme_pool_backward(dout, x, kernel_size, stride, padding, -np.inf, np.maximum, np.greater)


def min_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Smallest value in each window (equals ``-max_pool2d(-x)``). x (N, C, H, W) -> out (N, C, OH, OW),
    OH = floor((H + 2 ph - KH) / sh) + 1, OW = floor((W + 2 pw - KW) / sw) + 1; stride None = kernel_size.
    """
    return _extreme_pool(x, kernel_size, stride, padding, np.inf, np.minimum)


def min_pool2d_backward(dout, x, kernel_size=2, stride=None, padding=0):
    """dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W); gradient to the first minimum."""
    return _extreme_pool_backward(dout, x, kernel_size, stride, padding, np.inf, np.minimum, np.less)


# ---------------------------------------------------------------- average pooling


def avg_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Mean of each window, padded zeros included (PyTorch's default). x (N, C, H, W) -> out (N, C, OH, OW),
    OH = floor((H + 2 ph - KH) / sh) + 1, OW = floor((W + 2 pw - KW) / sw) + 1; stride None = kernel_size.
    """
    x, x_padded, kernel, stride, _, out_size = _prepare(x, kernel_size, stride, padding, 0.0)
    out = _reduce(x_padded, kernel, stride, out_size, np.add)
    out /= kernel[0] * kernel[1]
    return out


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None, padding=0):
    """dout (N, C, OH, OW), x (N, C, H, W) -> dx (N, C, H, W).

    Every element of a window receives dout / (KH * KW); overlapping windows add up.
    """
    x, x_padded, kernel, stride, (ph, pw), out_size = _prepare(x, kernel_size, stride, padding, 0.0)
    dout = _check_dout(dout, x, out_size) / (kernel[0] * kernel[1])
    dx_padded = np.zeros_like(x_padded)
    for index in _offset_slices(kernel, stride, out_size):
        dx_padded[index] += dout
    H, W = x.shape[2:]
    return dx_padded[:, :, ph : ph + H, pw : pw + W]


# ---------------------------------------------------------------- loop versions


def _pool_naive(x, kernel_size, stride, padding, fill, reduce):
    x, x_padded, (KH, KW), (sh, sw), _, (OH, OW) = _prepare(x, kernel_size, stride, padding, fill)
    out = np.empty((*x.shape[:2], OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            window = x_padded[:, :, i * sh : i * sh + KH, j * sw : j * sw + KW]  # (N, C, KH, KW)
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def max_pool2d_naive(x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`max_pool2d`: one window at a time."""
    return _pool_naive(x, kernel_size, stride, padding, -np.inf, np.max)


def min_pool2d_naive(x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`min_pool2d`: one window at a time."""
    return _pool_naive(x, kernel_size, stride, padding, np.inf, np.min)


def avg_pool2d_naive(x, kernel_size=2, stride=None, padding=0):
    """Loop version of :func:`avg_pool2d`: one window at a time (padded zeros counted)."""
    return _pool_naive(x, kernel_size, stride, padding, 0.0, np.mean)


# The pooling modes by name: widgets, figures and chapters look a mode up here, so a mode means one thing.
POOL_MODES = {"max": max_pool2d, "avg": avg_pool2d, "min": min_pool2d}
