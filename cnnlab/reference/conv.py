"""2-D convolution (really cross-correlation, as in every deep-learning library).

Forward and backward side by side, CS231n style:

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

``conv2d`` is the vectorised default (im2col: copy every window into a column of a
matrix, then one matrix multiply per image; images go in cache-sized batches).
``conv2d_naive`` loops over output positions and is the version to read first; the
tests prove both agree, and agree with PyTorch.
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
)
from cnnlab.reference.padding import pad_constant

__all__ = [
    "conv2d",
    "conv2d_naive",
    "conv2d_backward",
    "corr2d",
    "dilate2d",
    "conv2d_dilated",
    "conv_transpose2d",
    "conv_transpose2d_naive",
]


def _prepare(x, w, b, stride, padding):
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    b = None if b is None else as_float_array(b, "b")
    geometry = conv_geometry(x.shape, w.shape, stride, padding, None if b is None else b.shape)
    # One dtype for all: float32 inputs stay float32; mixing float32 and float64 gives float64.
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    b = None if b is None else b.astype(dtype, copy=False)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b, geometry


# im2col in batches of about this many bytes: the columns are still in the CPU cache when
# the matrix multiply reads them, which is ~25% faster than one huge matrix and much smaller.
CHUNK_BYTES = 1 << 20


def _windows(x_padded, kernel_size, stride, out_size):
    """Read-only view (N, C, OH, OW, KH, KW) of every window the kernel visits; no copy."""
    (sh, sw), (OH, OW) = stride, out_size
    view = sliding_window_view(x_padded, kernel_size, axis=(2, 3))
    return view[:, :, : (OH - 1) * sh + 1 : sh, : (OW - 1) * sw + 1 : sw]


def _im2col(windows):
    """Columns (n, C*KH*KW, OH*OW) from a windows view: column p of image i is the window under output pixel p."""
    n, C, OH, OW, KH, KW = windows.shape
    # The copy: axes ordered so that w.reshape(F, C*KH*KW) @ columns is already NCHW.
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, C * KH * KW, OH * OW)


def _batches(N, columns_per_image, itemsize):
    """Slices of the batch axis whose im2col columns take about CHUNK_BYTES (at least one image)."""
    per = max(1, CHUNK_BYTES // (columns_per_image * itemsize))
    return [slice(start, start + per) for start in range(0, N, per)]


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolve a batch of images with a bank of filters.

    Parameters
    ----------
    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None.
    stride:  int or (sh, sw), each >= 1.
    padding: int or (ph, pw) zeros on each side, "valid" (no padding) or "same"
             (stride 1 only; keeps H and W; for even kernels the extra row/column of
             zeros goes at the bottom/right, as in PyTorch).

    Returns
    -------
    out: (N, F, OH, OW) with OH = floor((H + 2 ph - KH) / sh) + 1, OW likewise, and
    out[n, f, i, j] = b[f] + sum_{c, u, v} x_padded[n, c, i*sh + u, j*sw + v] * w[f, c, u, v].
    The dtype follows the inputs (float32 stays float32; integers become float64).
    """
    x, w, b, (stride, pads, out_size) = _prepare(x, w, b, stride, padding)
    N, F = x.shape[0], w.shape[0]
    w_rows = w.reshape(F, -1)  # (F, C*KH*KW)
    windows = _windows(pad_constant(x, pads), w.shape[2:], stride, out_size)
    out = np.empty((N, F, out_size[0] * out_size[1]), dtype=x.dtype)
    for batch in _batches(N, w_rows.shape[1] * out.shape[2], x.itemsize):
        np.matmul(w_rows, _im2col(windows[batch]), out=out[batch])  # (F, CKK) @ (n, CKK, P)
    if b is not None:
        out += b[:, None]
    return out.reshape(N, F, *out_size)


def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of ``conv2d`` given the upstream gradient ``dout``.

    Shapes: dout (N, F, OH, OW), x (N, C, H, W), w (F, C, KH, KW) ->
    dx (N, C, H, W), dw (F, C, KH, KW), db (F,).

    db sums dout; dw correlates dout with the input windows (columns);
    dx scatters each window's gradient ``w^T dout`` back onto the pixels it came from (col2im).
    With stride 1 (and at least SHIFT_MIN_CHANNELS input channels) dx is what it also is, a
    convolution of the zero-padded dout with the kernel flipped in both directions and its F
    and C axes swapped, done by shift and matmul (_input_gradient_by_shifts): no col2im scatter.
    """
    x, w, _, (stride, pads, out_size) = _prepare(x, w, None, stride, padding)
    N, C, H, W = x.shape
    F = w.shape[0]
    dout = as_float_array(dout, "dout")
    check_same_shape(dout.shape, (N, F, *out_size), "dout", "conv2d's output")
    dout = dout.astype(x.dtype, copy=False).reshape(N, F, -1)

    db = dout.sum(axis=(0, 2))
    w_rows = w.reshape(F, -1)
    windows = _windows(pad_constant(x, pads), w.shape[2:], stride, out_size)
    dw_rows = np.zeros_like(w_rows)
    padded_shape = (N, C, H + pads[0] + pads[1], W + pads[2] + pads[3])
    dx_by_shifts = stride == (1, 1) and C >= SHIFT_MIN_CHANNELS
    dx_padded = None if dx_by_shifts else np.zeros(padded_shape, dtype=x.dtype)
    for batch in _batches(N, w_rows.shape[1] * dout.shape[2], x.itemsize):
        columns = _im2col(windows[batch])  # (n, CKK, P)
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


def conv2d_naive(x, w, b=None, stride=1, padding=0):
    """Loop version of :func:`conv2d` (same arguments, same result): one window at a time.

    for every output row i and column j:
        window = x_padded[:, :, i*sh : i*sh + KH, j*sw : j*sw + KW]          # (N, C, KH, KW)
        out[:, :, i, j] = sum over (C, KH, KW) of window * w  (+ b)        # (N, F)
    """
    x, w, b, ((sh, sw), pads, (OH, OW)) = _prepare(x, w, b, stride, padding)
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


def corr2d(x, k):
    """2-D cross-correlation of one single-channel array with one kernel ("valid": no padding).

    x: (H, W); k: (KH, KW) -> out: (H - KH + 1, W - KW + 1), with
    out[i, j] = sum_{u, v} x[i + u, j + v] * k[u, v].
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
    """
    x, w, b, geometry = _prepare_transpose(x, w, b, stride, padding, output_padding)
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
    x, w, b, geometry = _prepare_transpose(x, w, b, stride, padding, output_padding)
    (ph, pw), (oph, opw), (OH, OW) = geometry.padding, geometry.output_padding, geometry.out_size
    KH, KW = w.shape[2:]
    spread = dilate2d(x, geometry.stride)
    # full convolution: KH - 1 zeros above and below (plus output_padding below), likewise columns
    full_input = pad_constant(spread, (KH - 1, KH - 1 + oph, KW - 1, KW - 1 + opw))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C_out, C_in, KH, KW)
    full = conv2d(full_input, flipped)  # (N, C_out, (H-1) sh + KH + oph, (W-1) sw + KW + opw)
    out = full[:, :, ph : ph + OH, pw : pw + OW]
    return out if b is None else out + b[:, None, None]


def _prepare_transpose(x, w, b, stride, padding, output_padding):
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    b = None if b is None else as_float_array(b, "b")
    geometry = conv_transpose_geometry(x.shape, w.shape, stride, padding, output_padding,
                                       None if b is None else b.shape)
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    b = None if b is None else b.astype(dtype, copy=False)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b, geometry
