"""Backpropagation through a convolution, written as the chapter derives it (chapter 8b).

For ``out = conv2d(x, w, b, stride=s, padding=p)`` and the upstream gradient ``dout``:

    db = sum of dout over batch and positions
    dw = correlation of the padded input with dout spread apart by the stride        (weight_gradient)
    dx = *full* convolution of dout, spread apart by the stride, with the filters
         flipped in both spatial directions and their F and C axes swapped            (input_gradient)

Each line is one call of the forward ``conv2d``: the backward pass of a convolution is made of
convolutions. ``cnnlab.reference.conv2d_backward`` computes the same gradients another way (im2col
and col2im); the tests and the chapter check that the two, and PyTorch's autograd, agree.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from cnnlab.checks import as_float_array, check_rank, check_same_shape, conv_geometry
from cnnlab.reference.conv import conv2d, dilate2d
from cnnlab.reference.padding import pad2d

__all__ = ["bias_gradient", "weight_gradient", "input_gradient", "backprop_figure"]


def _checked(dout, x_shape, w_shape, stride, padding):
    geometry = conv_geometry(x_shape, w_shape, stride, padding)
    dout = as_float_array(dout, "dout")
    check_same_shape(dout.shape, (x_shape[0], w_shape[0], *geometry.out_size), "dout", "conv2d's output")
    return dout, geometry


def bias_gradient(dout):
    """dL/db: each bias is added to every output position of its filter, so its gradient is their sum.

    Shape: dout (N, F, OH, OW) -> (F,).
    """
    dout = as_float_array(dout, "dout")
    check_rank(dout.shape, 4, "dout", "(N, F, OH, OW)")
    return dout.sum(axis=(0, 2, 3))


def weight_gradient(x, dout, kernel_size, stride=1, padding=0):
    """dL/dw as a correlation: the padded input, read through dout (spread apart by the stride) as the kernel.

    dw[f, c, u, v] = sum_{n, i, j} dout[n, f, i, j] x_pad[n, c, i s_h + u, j s_w + v]

    The batch axis plays the role of the channel axis (it is summed over), so the input goes in as
    (C, N, Hp, Wp) and dout as (F, N, ...) and the correlation returns (C, F, KH', KW').
    With stride s the taps of dout are s pixels apart, hence ``dilate2d(dout, s)``; when the floor
    of the output size drops border pixels, the correlation is a little larger than the kernel and
    only its first KH x KW entries are kernel offsets.

    Args:
        x: (N, C, H, W), the layer's input. dout: (N, F, OH, OW).
        kernel_size: (KH, KW). stride, padding: as for ``conv2d`` (ints or pairs, "valid", "same").

    Shape:
        -> (F, C, KH, KW)

    Example:
        >>> x, dout = np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))
        >>> weight_gradient(x, dout, (3, 3))[0, 0]
        array([[4., 4., 4.],
               [4., 4., 4.],
               [4., 4., 4.]])
    """
    x = as_float_array(x, "x")
    check_rank(x.shape, 4, "x", "(N, C, H, W)")
    KH, KW = kernel_size
    F = np.shape(dout)[1] if np.ndim(dout) == 4 else None
    if F is None:
        raise ValueError(f"dout must have 4 dimensions (N, F, OH, OW), got shape {np.shape(dout)}")
    dout, geometry = _checked(dout, x.shape, (F, x.shape[1], KH, KW), stride, padding)
    x_padded = pad2d(x, geometry.padding)
    spread = dilate2d(dout, geometry.stride)                                      # (N, F, (OH-1)s+1, ...)
    correlation = conv2d(x_padded.transpose(1, 0, 2, 3), spread.transpose(1, 0, 2, 3))  # (C, F, ., .)
    return correlation[:, :, :KH, :KW].transpose(1, 0, 2, 3)


def input_gradient(dout, w, x_shape, stride=1, padding=0):
    """dL/dx as a full convolution of dout (spread apart by the stride) with the flipped filters.

    dx_pad[n, c, p, q] = sum_{f, i, j} dout[n, f, i, j] w[f, c, p - i s_h, q - j s_w]
                       = full correlation of dilate2d(dout, s) with w[:, :, ::-1, ::-1], F <-> C

    "Full": the spread dout is padded with KH - 1 (KW - 1) zeros on every side, so that every input
    pixel that any filter copy touched gets its gradient. Input pixels that no window reached (the
    floor of the output size) get zero, and the padding is cut off at the end.

    Args:
        dout: (N, F, OH, OW). w: (F, C, KH, KW). x_shape: (N, C, H, W) of the layer's input.
        stride, padding: as for ``conv2d``.

    Shape:
        -> x_shape

    Example:
        >>> dout, w = np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))
        >>> input_gradient(dout, w, (1, 1, 4, 4))[0, 0]
        array([[1., 2., 2., 1.],
               [2., 4., 4., 2.],
               [2., 4., 4., 2.],
               [1., 2., 2., 1.]])
    """
    w = as_float_array(w, "w")
    check_rank(w.shape, 4, "w", "(F, C, KH, KW)")
    x_shape = check_rank(tuple(x_shape), 4, "x_shape", "(N, C, H, W)")
    dout, geometry = _checked(dout, x_shape, w.shape, stride, padding)
    N, C, H, W = x_shape
    KH, KW = w.shape[2:]
    top, bottom, left, right = geometry.padding
    spread = dilate2d(dout, geometry.stride)
    full_input = pad2d(spread, (KH - 1, KH - 1, KW - 1, KW - 1))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)                           # (C, F, KH, KW)
    reached = conv2d(full_input, flipped)                                          # (N, C, (OH-1)s+KH, ...)
    dx_padded = np.zeros((N, C, H + top + bottom, W + left + right), dtype=reached.dtype)
    dx_padded[:, :, : reached.shape[2], : reached.shape[3]] = reached
    return dx_padded[:, :, top : top + H, left : left + W]


def _grid(ax, values, title, cmap="coolwarm"):
    limit = max(1.0, float(np.abs(values).max()))
    ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit)
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def backprop_figure(x, w, dout, stride=1):
    """The two gradients of a one-channel convolution as the convolutions that compute them.

    Top row: dout, dout spread by the stride and padded for a full convolution, the flipped kernel,
    and dx. Bottom row: the input, dout spread by the stride (the kernel of the correlation), dw.
    x: (H, W); w: (KH, KW); dout: (OH, OW), the shape of ``conv2d``'s output.

    Returns:
        the Figure.
    """
    x, w, dout = (np.asarray(a, dtype=np.float64) for a in (x, w, dout))
    KH, KW = w.shape
    spread = dilate2d(dout, stride)
    full_input = np.pad(spread, ((KH - 1, KH - 1), (KW - 1, KW - 1)))
    dx = input_gradient(dout[None, None], w[None, None], (1, 1, *x.shape), stride=stride)[0, 0]
    dw = weight_gradient(x[None, None], dout[None, None], w.shape, stride=stride)[0, 0]
    fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
    _grid(axes[0, 0], dout, f"dout {dout.shape[0]}x{dout.shape[1]}")
    _grid(axes[0, 1], full_input, f"dout spread by {stride}, padded by {KH - 1}")
    _grid(axes[0, 2], w[::-1, ::-1], "w flipped")
    _grid(axes[0, 3], dx, "dx = full conv of the two")
    _grid(axes[1, 0], x, f"x {x.shape[0]}x{x.shape[1]}")
    _grid(axes[1, 1], spread, f"dout spread by {stride}")
    _grid(axes[1, 2], w, "w (for reference)")
    _grid(axes[1, 3], dw, "dw = x correlated with spread dout")
    fig.suptitle(f"3x3 convolution, stride {stride}: the backward pass is two more convolutions", fontsize=10)
    fig.tight_layout()
    return fig
