"""2-D convolution (really cross-correlation, as in every deep-learning library).

Forward and backward, each loop version directly above the vectorised one it explains (CS231n style):

    out        = conv2d(x, w, b, stride, padding)
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)

Shapes (PyTorch's ``nn.Conv2d`` conventions, NCHW)
------
x:    (N, C, H, W)        a batch of N images with C channels
w:    (F, C, KH, KW)      F filters, each spanning all C input channels
b:    (F,)                one bias per filter (optional)
out:  (N, F, OH, OW)

    OH = floor((H + 2 * ph - KH) / sh) + 1
    OW = floor((W + 2 * pw - KW) / sw) + 1

``conv2d`` is the vectorised default (:func:`im2col`: copy every window into a column of a
matrix, then one matrix multiply per image; images go in cache-sized batches).
``conv2d_naive`` loops over output positions and is the version to read first; the
tests prove both agree, and agree with PyTorch. Likewise ``conv2d_backward_naive`` and
``conv2d_backward``, ``im2col_naive`` and ``im2col``, ``conv_transpose2d_naive`` and ``conv_transpose2d``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab.checks import (
    as_float_array,
    check_dilation,
    check_rank,
    check_same_shape,
    conv_geometry,
    conv_transpose_geometry,
    patch_geometry,
)
from cnnlab.reference.padding import pad_constant

__all__ = [
    "im2col_naive",
    "im2col",
    "conv2d_naive",
    "conv2d",
    "conv2d_backward_naive",
    "conv2d_backward",
    "corr2d",
    "dilate2d",
    "conv2d_dilated",
    "conv_transpose2d_naive",
    "conv_transpose2d",
]


def _prepare(x, w, b, geometry, *settings):
    """x, w and b as arrays of one float dtype, and ``geometry(x.shape, w.shape, *settings, b.shape)``."""
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    b = None if b is None else as_float_array(b, "b")
    checked = geometry(x.shape, w.shape, *settings, None if b is None else b.shape)
    # One dtype for all: float32 inputs stay float32; mixing float32 and float64 gives float64.
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    b = None if b is None else b.astype(dtype, copy=False)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b, checked


def _prepare_backward(dout, x, w, stride, padding):
    """The forward pass's checks, and dout checked against conv2d's output shape, in x's dtype."""
    x, w, _, geometry = _prepare(x, w, None, conv_geometry, stride, padding)
    dout = as_float_array(dout, "dout")
    check_same_shape(dout.shape, (x.shape[0], w.shape[0], *geometry.out_size), "dout", "conv2d's output")
    return dout.astype(x.dtype, copy=False), x, w, geometry


# ---------------------------------------------------------------------------------------------
# im2col: every window the kernel visits, copied into one column of a matrix
# ---------------------------------------------------------------------------------------------


def im2col_naive(x, kernel_size, stride=1, padding=0):
    """Loop version of :func:`im2col` (same arguments, same result): one window per output position.

    Args:
        x: (N, C, H, W). kernel_size: int or (KH, KW). stride: int or (sh, sw).
        padding: int, (ph, pw), "valid" or "same" (zeros, as in :func:`conv2d`).

    Shape:
        (N, C, H, W) -> (N, C*KH*KW, OH*OW), OH = floor((H + 2 ph - KH) / sh) + 1, OW likewise.

    Example:
        >>> columns = im2col_naive(np.arange(9.0).reshape(1, 1, 3, 3), 2)
        >>> columns[0, :, 0]  # the window under output pixel (0, 0)
        array([0., 1., 3., 4.])
    """
    x = as_float_array(x, "x")
    ((sh, sw), pads, (OH, OW)), (KH, KW) = patch_geometry(x.shape, kernel_size, stride, padding)
    N, C = x.shape[:2]
    x_padded = pad_constant(x, pads)
    columns = np.empty((N, C * KH * KW, OH * OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            window = x_padded[:, :, i * sh : i * sh + KH, j * sw : j * sw + KW]  # (N, C, KH, KW)
            columns[:, :, i * OW + j] = window.reshape(N, -1)
    return columns


def im2col(x, kernel_size, stride=1, padding=0):
    """Copy every window of a batch into the columns of a matrix (the "patch matrix").

    ``w.reshape(F, -1) @ im2col(x, w.shape[2:], stride, padding)`` is then the whole convolution,
    one matrix product per image: that is how :func:`conv2d` computes it.

    Args:
        x: (N, C, H, W) batch.
        kernel_size: int or (KH, KW), each >= 1.
        stride: int or (sh, sw), each >= 1.
        padding: int, (ph, pw), "valid" or "same" (zeros, as in :func:`conv2d`).

    Shape:
        (N, C, H, W) -> (N, C*KH*KW, OH*OW) with OH = floor((H + 2 ph - KH) / sh) + 1 and OW
        likewise; column ``i * OW + j`` holds the window under output pixel (i, j), flattened in
        (C, KH, KW) order, exactly as ``torch.nn.functional.unfold``. The dtype is kept.

    Example:
        >>> x = np.arange(2 * 3 * 5 * 5.0).reshape(2, 3, 5, 5)
        >>> columns = im2col(x, 3)
        >>> columns.shape, bool(np.array_equal(columns, im2col_naive(x, 3)))
        ((2, 27, 9), True)
    """
    x = as_float_array(x, "x")
    (stride, pads, out_size), kernel = patch_geometry(x.shape, kernel_size, stride, padding)
    windows = _windows(pad_constant(x, pads), kernel, stride, out_size)
    n, C, OH, OW, KH, KW = windows.shape
    # The copy: axes ordered so that rows are (C, KH, KW) and columns (OH, OW).
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, C * KH * KW, OH * OW)


def _windows(x_padded, kernel_size, stride, out_size):
    """Read-only view (N, C, OH, OW, KH, KW) of every window the kernel visits; no copy."""
    (sh, sw), (OH, OW) = stride, out_size
    view = sliding_window_view(x_padded, kernel_size, axis=(2, 3))
    return view[:, :, : (OH - 1) * sh + 1 : sh, : (OW - 1) * sw + 1 : sw]


# im2col in batches of about this many bytes: the columns are still in the CPU cache when
# the matrix multiply reads them, which is ~25% faster than one huge matrix and much smaller.
CHUNK_BYTES = 1 << 20


def _batches(N, columns_per_image, itemsize):
    """Slices of the batch axis whose im2col columns take about CHUNK_BYTES (at least one image)."""
    per = max(1, CHUNK_BYTES // (columns_per_image * itemsize))
    return [slice(start, start + per) for start in range(0, N, per)]


# ---------------------------------------------------------------------------------------------
# Convolution, forward and backward
# ---------------------------------------------------------------------------------------------


def conv2d_naive(x, w, b=None, stride=1, padding=0):
    """Loop version of :func:`conv2d` (same arguments, same result): one window at a time.

    for every output row i and column j:
        window = x_padded[:, :, i*sh : i*sh + KH, j*sw : j*sw + KW]          # (N, C, KH, KW)
        out[:, :, i, j] = sum over (C, KH, KW) of window * w  (+ b)        # (N, F)

    Args:
        x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None.
        stride: int or (sh, sw). padding: int, (ph, pw), "valid" or "same" (stride 1).

    Shape:
        out: (N, F, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, OW likewise.

    Example:
        >>> conv2d_naive(np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2)))[0, 0]
        array([[ 8., 12.],
               [20., 24.]])
    """
    x, w, b, ((sh, sw), pads, (OH, OW)) = _prepare(x, w, b, conv_geometry, stride, padding)
    N, F, KH, KW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    x_padded = pad_constant(x, pads)
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            window = x_padded[:, :, i * sh : i * sh + KH, j * sw : j * sw + KW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b[:, None, None]
    return out


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolve a batch of images with a bank of filters (by :func:`im2col` and one matrix product).

    Args:
        x: images (N, C, H, W).
        w: filters (F, C, KH, KW).
        b: one bias per filter (F,), or None.
        stride: int or (sh, sw), each >= 1.
        padding: int or (ph, pw) zeros on each side, "valid" (no padding) or "same" (stride 1 only;
            keeps H and W; for even kernels the extra row/column of zeros goes at the bottom/right,
            as in PyTorch).

    Shape:
        out: (N, F, OH, OW) with OH = floor((H + 2 ph - KH) / sh) + 1, OW likewise, and
        out[n, f, i, j] = b[f] + sum_{c, u, v} x_padded[n, c, i*sh + u, j*sw + v] * w[f, c, u, v].
        The dtype follows the inputs (float32 stays float32; integers become float64).

    Equals ``torch.nn.functional.conv2d(x, w, b, stride, padding)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2))
        >>> out = conv2d(x, w, stride=2, padding=1)
        >>> out.shape, bool(np.allclose(out, conv2d_naive(x, w, stride=2, padding=1)))
        ((2, 4, 4, 4), True)
    """
    x, w, b, (stride, _, out_size) = _prepare(x, w, b, conv_geometry, stride, padding)
    N, F = x.shape[0], w.shape[0]
    w_rows = w.reshape(F, -1)  # (F, C*KH*KW)
    out = np.empty((N, F, out_size[0] * out_size[1]), dtype=x.dtype)
    for batch in _batches(N, w_rows.shape[1] * out.shape[2], x.itemsize):
        np.matmul(w_rows, im2col(x[batch], w.shape[2:], stride, padding), out=out[batch])  # (F, CKK) @ (n, CKK, P)
    if b is not None:
        out += b[:, None]
    return out.reshape(N, F, *out_size)


def conv2d_backward_naive(dout, x, w, stride=1, padding=0):
    """Loop version of :func:`conv2d_backward` (same arguments, same results): one window at a time.

    Output pixel (i, j) of image n was ``sum(window * w[f]) + b[f]`` for the window at (i, j), so
    its upstream gradient ``g = dout[n, f, i, j]`` adds ``g * window`` to dw[f], ``g * w[f]`` to that
    window's pixels in dx (overlapping windows add up), and ``g`` to db[f]:

    for every output row i and column j:
        g = dout[:, :, i, j]                                                 # (N, F)
        dw += sum over N of g * window                                       # (F, C, KH, KW)
        dx_padded[:, :, i*sh : i*sh + KH, j*sw : j*sw + KW] += sum over F of g * w
    then dx is dx_padded without its padding, and db sums dout over N, OH and OW.

    Args:
        dout: upstream gradient (N, F, OH, OW). x, w, stride, padding: those of the forward pass.

    Shape:
        dx (N, C, H, W), dw (F, C, KH, KW), db (F,).

    Example:
        >>> dx, dw, db = conv2d_backward_naive(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))
        >>> dx[0, 0]  # how many windows cover each pixel
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
        >>> db
        array([4.])
    """
    dout, x, w, ((sh, sw), pads, (OH, OW)) = _prepare_backward(dout, x, w, stride, padding)
    H, W, KH, KW = *x.shape[2:], *w.shape[2:]
    x_padded = pad_constant(x, pads)
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    for i in range(OH):
        for j in range(OW):
            rows, cols = slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW)
            g = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(g, x_padded[:, :, rows, cols], axes=([0], [0]))  # (F, N) . (N, C, KH, KW)
            dx_padded[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))  # (N, F) . (F, C, KH, KW)
    db = dout.sum(axis=(0, 2, 3))
    return dx_padded[:, :, pads[0] : pads[0] + H, pads[2] : pads[2] + W], dw, db


def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of :func:`conv2d` with respect to x, w and b, given the upstream gradient ``dout``.

    db sums dout; dw correlates dout with the input windows (the :func:`im2col` columns);
    dx scatters each window's gradient ``w^T dout`` back onto the pixels it came from (col2im).
    With stride 1 (and at least SHIFT_MIN_CHANNELS input channels) dx is what it also is, a
    convolution of the zero-padded dout with the kernel flipped in both directions and its F
    and C axes swapped, done by shift and matmul (_input_gradient_by_shifts): no col2im scatter.

    Args:
        dout: upstream gradient, the shape of conv2d's output.
        x, w: the forward pass's input and filters. stride, padding: the forward pass's.

    Shape:
        dout (N, F, OH, OW), x (N, C, H, W), w (F, C, KH, KW) ->
        dx (N, C, H, W), dw (F, C, KH, KW), db (F,), in the dtype of x and w.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, w, dout = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=(2, 4, 3, 3))
        >>> fast, loops = conv2d_backward(dout, x, w, 2, 1), conv2d_backward_naive(dout, x, w, 2, 1)
        >>> [a.shape for a in fast], all(np.allclose(a, b) for a, b in zip(fast, loops))
        ([(2, 3, 6, 5), (4, 3, 3, 3), (4,)], True)
    """
    dout, x, w, (stride, pads, out_size) = _prepare_backward(dout, x, w, stride, padding)
    N, C, H, W = x.shape
    F = w.shape[0]
    dout = dout.reshape(N, F, -1)
    db = dout.sum(axis=(0, 2))
    w_rows = w.reshape(F, -1)
    dw_rows = np.zeros_like(w_rows)
    padded_shape = (N, C, H + pads[0] + pads[1], W + pads[2] + pads[3])
    dx_by_shifts = stride == (1, 1) and C >= SHIFT_MIN_CHANNELS
    dx_padded = None if dx_by_shifts else np.zeros(padded_shape, dtype=x.dtype)
    for batch in _batches(N, w_rows.shape[1] * dout.shape[2], x.itemsize):
        columns = im2col(x[batch], w.shape[2:], stride, padding)  # (n, CKK, P)
        dw_rows += np.matmul(dout[batch], columns.transpose(0, 2, 1)).sum(axis=0)  # sum_i (F, P) @ (P, CKK)
        if not dx_by_shifts:
            _col2im_add(dx_padded[batch], np.matmul(w_rows.T, dout[batch]), w.shape[2:], stride, out_size)
    if dx_by_shifts:
        dx_padded = _input_gradient_by_shifts(dout.reshape(N, F, *out_size), w, padded_shape)
    dx = dx_padded[:, :, pads[0] : pads[0] + H, pads[2] : pads[2] + W]
    return dx, dw_rows.reshape(w.shape), db


def _col2im_add(dx_padded, dcolumns, kernel_size, stride, out_size):
    """Adjoint of _im2col: add every window's gradient (n, C*KH*KW, OH*OW) back onto dx_padded (n, C, Hp, Wp).

    One strided slice-add per kernel offset (KH*KW of them) instead of np.add.at,
    which would handle each element separately and is several times slower.
    """
    (KH, KW), (sh, sw), (OH, OW) = kernel_size, stride, out_size
    n, C = dx_padded.shape[:2]
    dcolumns = dcolumns.reshape(n, C, KH, KW, OH, OW)
    for u in range(KH):
        for v in range(KW):
            dx_padded[:, :, u : u + (OH - 1) * sh + 1 : sh, v : v + (OW - 1) * sw + 1 : sw] += dcolumns[:, :, u, v]


# Stride-1 input gradient by "shift and matmul". Lay the padded images end to end as one long
# row per channel: position m = (i*Hp + r)*Wp + c of that flat grid is pixel (r, c) of image i.
# With stride 1, output m read input m + u*Wp + v through w[:, :, u, v], so input m received
#     dx_grid[:, m] = sum_{u, v} w[:, :, u, v].T @ dout_grid[:, m - u*Wp - v]
# that is KH*KW ordinary matrix multiplies, each of a shifted slice of dout_grid (a view, not a
# copy: its rows are contiguous, which BLAS takes as is). No (C*KH*KW, OH*OW) matrix of window
# gradients is made and nothing is scattered. Flat positions that wrap around a row or an image
# edge are harmless: dout_grid is zero there.
# With few channels (C < 16) the (C, F) matrices are too thin for BLAS and col2im is faster.
SHIFT_MIN_CHANNELS = 16


def _input_gradient_by_shifts(dout, w, padded_shape):
    """Stride 1: gradient (N, C, Hp, Wp) with respect to the padded input, given dout (N, F, OH, OW)."""
    (N, F, OH, OW), (_, C, KH, KW), (Hp, Wp) = dout.shape, w.shape, padded_shape[2:]
    M = N * Hp * Wp
    # dout on the flat grid, zero where no output was computed, after `reach` zeros (the largest
    # shift u*Wp + v) so that every shifted slice stays in bounds: flat m - shift is column reach + m - shift.
    reach = (KH - 1) * Wp + KW - 1
    dout_grid = np.zeros((F, reach + M), dtype=dout.dtype)
    dout_grid[:, reach:].reshape(F, N, Hp, Wp)[:, :, :OH, :OW] = dout.transpose(1, 0, 2, 3)
    starts = [reach - (u * Wp + v) for u in range(KH) for v in range(KW)]
    w_t = w.transpose(2, 3, 1, 0).reshape(KH * KW, C, F)  # w[:, :, u, v].T, contiguous, one per offset
    dx_grid = np.empty((C, M), dtype=dout.dtype)
    # Columns in cache-sized blocks: numpy's matmul cannot add into its output, so the KH*KW
    # products are summed by hand, which is cheap only while the running sum is in the cache.
    block = max(1, CHUNK_BYTES // 2 // (C * dout.itemsize))
    for lo in range(0, M, block):
        hi = min(M, lo + block)
        total = np.matmul(w_t[0], dout_grid[:, starts[0] + lo : starts[0] + hi])
        product = np.empty_like(total)
        for w_shift, start in zip(w_t[1:], starts[1:]):
            np.matmul(w_shift, dout_grid[:, start + lo : start + hi], out=product)
            total += product
        dx_grid[:, lo:hi] = total
    return dx_grid.reshape(C, N, Hp, Wp).transpose(1, 0, 2, 3)


def corr2d(x, k):
    """2-D cross-correlation of one single-channel array with one kernel ("valid": no padding).

    Args:
        x: one channel (H, W). k: one kernel (KH, KW), no larger than x.

    Shape:
        out: (H - KH + 1, W - KW + 1), with out[i, j] = sum_{u, v} x[i + u, j + v] * k[u, v].

    Example:
        >>> corr2d(np.arange(9.0).reshape(3, 3), np.array([[0.0, 1.0], [2.0, 3.0]]))  # d2l's example
        array([[19., 25.],
               [37., 43.]])
    """
    x, k = as_float_array(x, "x"), as_float_array(k, "k")
    check_rank(x.shape, 2, "x", "(H, W)")
    check_rank(k.shape, 2, "k", "(KH, KW)")
    if k.shape[0] > x.shape[0] or k.shape[1] > x.shape[1]:
        raise ValueError(f"kernel k of shape {k.shape} is larger than x of shape {x.shape}")
    return np.tensordot(sliding_window_view(x, k.shape), k, axes=2)


# ---------------------------------------------------------------------------------------------
# Dilation and transposed convolution (chapter "Convolution arithmetic")
# ---------------------------------------------------------------------------------------------


def dilate2d(a, dilation):
    """Spread the last two axes apart: ``dilation - 1`` zeros between neighbouring entries.

    Args:
        a: array (..., H, W), e.g. filters (F, C, KH, KW) or an upstream gradient (N, F, OH, OW).
        dilation: int or (dh, dw), each >= 1 (1 returns a copy of ``a``).

    Shape:
        (..., H, W) -> (..., (H - 1) dh + 1, (W - 1) dw + 1), with
        out[..., i * dh, j * dw] = a[..., i, j] and zeros everywhere else.

    Example:
        >>> dilate2d(np.ones((1, 1, 2, 2)), 2)[0, 0]
        array([[1., 0., 1.],
               [0., 0., 0.],
               [1., 0., 1.]])
    """
    a = as_float_array(a, "a")
    if a.ndim < 2:
        raise ValueError(f"a must have at least 2 dimensions (..., H, W), got shape {a.shape}")
    dh, dw = check_dilation(dilation)
    H, W = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + ((H - 1) * dh + 1, (W - 1) * dw + 1), dtype=a.dtype)
    out[..., ::dh, ::dw] = a
    return out


def conv2d_dilated(x, w, b=None, stride=1, padding=0, dilation=1):
    """Dilated ("atrous") convolution: the filter taps are ``dilation`` pixels apart.

    A dilated filter is an ordinary filter with zeros between its taps, so this is
    ``conv2d(x, dilate2d(w, dilation), b, stride, padding)``: the field of view grows to
    d (k - 1) + 1 pixels while the number of weights stays k * k * C. (The zeros are
    multiplied too; that wastes work but keeps the one conv2d the course tests everywhere.)

    Args:
        x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None.
        stride: int or (sh, sw). padding: int, (ph, pw), "valid" or "same" (stride 1).
        dilation: int or (dh, dw), each >= 1.

    Shape:
        out: (N, F, OH, OW) with
        OH = floor((H + 2 ph - dh (KH - 1) - 1) / sh) + 1, likewise OW.

    Equals ``torch.nn.functional.conv2d(x, w, b, stride, padding, dilation)``.

    Example:
        >>> conv2d_dilated(np.ones((1, 1, 7, 7)), np.ones((1, 1, 3, 3)), dilation=2).shape
        (1, 1, 3, 3)
    """
    w = as_float_array(w, "w")
    check_rank(w.shape, 4, "w", "(F, C, KH, KW)")
    return conv2d(x, dilate2d(w, dilation), b, stride, padding)


def conv_transpose2d_naive(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Loop version of :func:`conv_transpose2d`: every input pixel paints a weighted copy of the filter.

    for every input row i and column j:
        canvas[:, :, i*sh : i*sh + KH, j*sw : j*sw + KW] += sum over C_in of x[:, c, i, j] * w[c]
    then the output is the canvas without ``padding`` rows/columns on each side.

    Args:
        x: (N, C_in, H, W); w: (C_in, C_out, KH, KW); b: (C_out,) or None.
        stride, padding, output_padding: as in :func:`conv_transpose2d`.

    Shape:
        out: (N, C_out, OH, OW) with OH = (H - 1) sh - 2 ph + KH + oph, likewise OW.

    Example:
        >>> conv_transpose2d_naive(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))[0, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    x, w, b, geometry = _prepare(x, w, b, conv_transpose_geometry, stride, padding, output_padding)
    (sh, sw), (ph, pw), (OH, OW) = geometry.stride, geometry.padding, geometry.out_size
    N, H, W = x.shape[0], x.shape[2], x.shape[3]
    C_out, KH, KW = w.shape[1:]
    canvas = np.zeros((N, C_out, ph + OH + ph, pw + OW + pw), dtype=x.dtype)
    for i in range(H):
        for j in range(W):
            patch = np.tensordot(x[:, :, i, j], w, axes=([1], [0]))  # (N, C_out, KH, KW)
            canvas[:, :, i * sh : i * sh + KH, j * sw : j * sw + KW] += patch
    out = canvas[:, :, ph : ph + OH, pw : pw + OW]
    return out if b is None else out + b[:, None, None]


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution (sometimes, wrongly, "deconvolution"): upsampling with learned filters.

    It is the adjoint of ``conv2d``: ``conv_transpose2d(dout, w, stride=s, padding=p)`` is the
    gradient of ``conv2d(x, w, stride=s, padding=p)`` with respect to ``x``. Computed as that
    gradient is (chapter "Backpropagation through a convolution"): spread the input apart by the
    stride (:func:`dilate2d`), pad it with KH - 1 zeros on every side (a *full* convolution), and
    convolve with the filters flipped in both spatial directions, their two channel axes swapped.

    Args:
        x: (N, C_in, H, W).
        w: (C_in, C_out, KH, KW), torch's layout for ``conv_transpose2d`` (the layout of the conv2d
            whose adjoint this is, with F = C_in).
        b: (C_out,) or None.
        stride: int or (sh, sw). padding: int or (ph, pw), cropped from each side of the full output.
        output_padding: int or (oph, opw) < stride, extra rows/columns at the bottom/right (which
            of the several input sizes that a strided conv2d maps to this size to produce).

    Shape:
        out: (N, C_out, OH, OW) with OH = (H - 1) sh - 2 ph + KH + oph, likewise OW.

    Equals ``torch.nn.functional.conv_transpose2d(x, w, b, stride, padding, output_padding)``.

    Example:
        >>> conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2).shape
        (1, 1, 7, 7)
    """
    x, w, b, geometry = _prepare(x, w, b, conv_transpose_geometry, stride, padding, output_padding)
    (ph, pw), (oph, opw), (OH, OW) = geometry.padding, geometry.output_padding, geometry.out_size
    KH, KW = w.shape[2:]
    spread = dilate2d(x, geometry.stride)
    # full convolution: KH - 1 zeros above and below (plus output_padding below), likewise columns
    full_input = pad_constant(spread, (KH - 1, KH - 1 + oph, KW - 1, KW - 1 + opw))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C_out, C_in, KH, KW)
    full = conv2d(full_input, flipped)  # (N, C_out, (H-1) sh + KH + oph, (W-1) sw + KW + opw)
    out = full[:, :, ph : ph + OH, pw : pw + OW]
    return out if b is None else out + b[:, None, None]
