"""im2col: convolution as one matrix product (chapter 3), with its shapes and its memory cost.

Every window the kernel visits is copied into one column of a matrix; the filter bank, flattened to
one row per filter, multiplies that matrix; the product, reshaped, is the convolution's output:

    x        (N, C, H, W)
    columns  (N, C*KH*KW, OH*OW)       column p of image n = the window under output pixel p
    w_rows   (F, C*KH*KW)              w.reshape(F, -1)
    out      (N, F, OH, OW)            (w_rows @ columns).reshape(N, F, OH, OW)

The price is memory: each input value is copied once for every window that contains it, up to
KH*KW times (fewer at the borders and with stride > 1). :func:`im2col_memory` counts it.
The column order is that of ``torch.nn.functional.unfold``: channel, then kernel row, then kernel column.
:func:`im2col` and its loop version :func:`im2col_naive` are :mod:`cnnlab.reference.conv`'s, the ones
``cnnlab.reference.conv2d`` computes with.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from cnnlab.checks import as_float_array, conv_geometry, patch_geometry, positive_int
from cnnlab.reference.conv import im2col, im2col_naive  # the patch matrix has one home: the reference layers

__all__ = ["im2col_naive", "im2col", "conv2d_im2col", "Im2colMemory", "im2col_memory", "im2col_figure"]


def conv2d_im2col(x, w, b=None, stride=1, padding=0):
    """Convolution (cross-correlation) as ``w.reshape(F, -1) @ im2col(x)``.

    Args:
        x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None; stride and padding as in :func:`im2col`.

    Shape:
        out: (N, F, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, OW likewise.

    Example:
        >>> conv2d_im2col(np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3))).shape
        (1, 3, 2, 2)
    """
    x, w = as_float_array(x, "x"), as_float_array(w, "w")
    (_, _, out_size) = conv_geometry(x.shape, w.shape, stride, padding, None if b is None else np.shape(b))
    columns = im2col(x, w.shape[2:], stride, padding)  # (N, C*KH*KW, OH*OW)
    out = w.reshape(w.shape[0], -1) @ columns  # (F, C*KH*KW) @ (N, C*KH*KW, P) -> (N, F, P)
    if b is not None:
        out = out + as_float_array(b, "b")[:, None]
    return out.reshape(x.shape[0], w.shape[0], *out_size)


@dataclass(frozen=True)
class Im2colMemory:
    """What the patch matrix of one convolution costs, for a given number of bytes per value.

    Args:
        columns_shape: (N, C*KH*KW, OH*OW), the shape of :func:`im2col`'s result.
        input_bytes: bytes of the input x (N, C, H, W).
        columns_bytes: bytes of the patch matrix.

    Shape:
        ``blowup = columns_bytes / input_bytes``, about KH*KW / (sh*sw) for large images.

    Example:
        >>> Im2colMemory((1, 9, 4), 36, 144).blowup
        4.0
    """

    columns_shape: tuple  # (N, C*KH*KW, OH*OW)
    input_bytes: int
    columns_bytes: int

    @property
    def blowup(self) -> float:
        """How many times larger the patch matrix is than the input."""
        return self.columns_bytes / self.input_bytes


def im2col_memory(x_shape, kernel_size, stride=1, padding=0, itemsize=4):
    """Bytes of the input and of its im2col matrix (``itemsize`` 4 for float32, 8 for float64).

    Args:
        x_shape: (N, C, H, W). kernel_size, stride, padding: as in :func:`im2col`.
        itemsize: bytes per value, a positive int.

    Shape:
        ``columns_shape`` = (N, C*KH*KW, OH*OW); ``columns_bytes`` = itemsize * N * C*KH*KW * OH*OW;
        ``blowup`` tends to KH*KW / (sh*sw) for large images.

    Example:
        >>> round(im2col_memory((1, 3, 224, 224), 3, padding=1).blowup, 3)
        9.0
    """
    x_shape = tuple(int(s) for s in x_shape)
    (_, _, (OH, OW)), (KH, KW) = patch_geometry(x_shape, kernel_size, stride, padding, name="x_shape")
    N, C, H, W = x_shape
    itemsize = positive_int(itemsize, "itemsize")
    shape = (N, C * KH * KW, OH * OW)
    return Im2colMemory(shape, itemsize * N * C * H * W, itemsize * int(np.prod(shape)))


def im2col_figure(x, kernel_size, stride=1, highlight=None):
    """Draw one image (C, H, W) beside its im2col matrix, with a few windows and their columns in colour.

    Args:
        x: one image (C, H, W) (small: every value is written in its cell).
        kernel_size: int or (KH, KW). stride: int or (sh, sw); no padding.
        highlight: output positions (column indices) to colour; by default the first two and the last.

    Shape:
        One panel per channel (H x W) and the patch matrix (C*KH*KW, OH*OW), OH = floor((H - KH) / sh) + 1,
        OW likewise. Returns the matplotlib Figure (not shown).

    Example:
        >>> fig = im2col_figure(np.arange(18.0).reshape(2, 3, 3), 2)
        >>> len(fig.axes), len(fig.axes[-1].patches)  # two channels and the matrix; three columns outlined
        (3, 3)
        >>> plt.close(fig)
    """
    x = as_float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be one image (C, H, W), got shape {x.shape}")
    C, H, W = x.shape
    columns = im2col(x[None], kernel_size, stride)[0]
    ((sh, sw), _, (OH, OW)), (KH, KW) = patch_geometry((1, C, H, W), kernel_size, stride)
    if highlight is None:
        highlight = (0, 1, OH * OW - 1)
    if any(not 0 <= p < OH * OW for p in highlight):
        raise ValueError(f"highlight {highlight} must list output positions in [0, {OH * OW})")
    colours = plt.cm.tab10(np.arange(len(highlight)))
    fig, axes = plt.subplots(1, C + 1, figsize=(2.6 * C + 0.35 * columns.shape[1] + 1.5, 3.8),
                             gridspec_kw={"width_ratios": [W] * C + [max(columns.shape[1], 0.3 * columns.shape[0])]})
    for c in range(C):
        ax = axes[c]
        ax.imshow(x[c], cmap="Greys", vmin=x.min(), vmax=x.max() * 1.6)
        for (i, j), value in np.ndenumerate(x[c]):
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8)
        for colour, p in zip(colours, highlight):
            i, j = divmod(p, OW)
            ax.add_patch(plt.Rectangle((j * sw - 0.45, i * sh - 0.45), KW - 0.1, KH - 0.1, fill=False,
                                       edgecolor=colour, linewidth=2.2))
        ax.set_title(f"input channel {c} ({H}x{W})", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    ax = axes[-1]
    ax.imshow(columns, cmap="Greys", vmin=x.min(), vmax=x.max() * 1.6, aspect="auto")
    for (r, p), value in np.ndenumerate(columns):
        ax.text(p, r, f"{value:g}", ha="center", va="center", fontsize=6)
    for colour, p in zip(colours, highlight):
        ax.add_patch(plt.Rectangle((p - 0.5, -0.5), 1, columns.shape[0], fill=False, edgecolor=colour, linewidth=2.2))
    for c in range(1, C):
        ax.axhline(c * KH * KW - 0.5, color="black", linewidth=1)
    ax.set_title(f"im2col: {columns.shape[0]} x {columns.shape[1]}", fontsize=9)
    ax.set_xlabel("one column per window")
    ax.set_ylabel("(channel, kernel row, kernel column)")
    ax.set_xticks(range(columns.shape[1]))
    ax.set_yticks([])
    fig.tight_layout()
    return fig
