"""Figures for the chapter "Convolution arithmetic": where a kernel reads (dilation, 1x1) and
where a transposed convolution writes (stride spacing, overlaps, checkerboards).

The arithmetic itself lives in the layers (``cnnlab.reference.conv2d_dilated``,
``cnnlab.reference.conv_transpose2d``); these functions only draw what they compute.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from cnnlab.reference.conv import conv_transpose2d, dilate2d

__all__ = ["dilated_taps", "taps_figure", "transposed_paint_figure", "overlap_counts", "checkerboard_figure"]


def dilated_taps(kernel_size=3, dilation=1, canvas=7):
    """A ``canvas`` x ``canvas`` grid with 1 where a centred k x k kernel with this dilation reads, else 0.

    Example:
        >>> dilated_taps(3, 2, canvas=5)[0], int(dilated_taps(3, 2, canvas=5).sum())
        (array([1., 0., 1., 0., 1.]), 9)
    """
    taps = dilate2d(np.ones((kernel_size, kernel_size)), dilation)
    if taps.shape[0] > canvas:
        raise ValueError(f"a {kernel_size}x{kernel_size} kernel with dilation {dilation} spans {taps.shape[0]} "
                         f"pixels, more than canvas={canvas}")
    grid = np.zeros((canvas, canvas))
    start = (canvas - taps.shape[0]) // 2
    grid[start : start + taps.shape[0], start : start + taps.shape[1]] = taps
    return grid


def taps_figure(dilations=(1, 2, 3), kernel_size=3, canvas=7):
    """One panel per dilation: the pixels a 3x3 kernel reads (9 weights each time, a wider span).

    Returns:
        the Figure.
    """
    fig, axes = plt.subplots(1, len(dilations), figsize=(2.5 * len(dilations), 2.7))
    for ax, d in zip(np.atleast_1d(axes), dilations):
        ax.imshow(dilated_taps(kernel_size, d, canvas), cmap="Blues", vmin=0, vmax=1.3)
        ax.set_xticks(np.arange(-0.5, canvas), minor=True)
        ax.set_yticks(np.arange(-0.5, canvas), minor=True)
        ax.grid(which="minor", color="0.7", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        span = d * (kernel_size - 1) + 1
        ax.set_title(f"dilation {d}: {kernel_size * kernel_size} taps, span {span}", fontsize=9)
    fig.tight_layout()
    return fig


def transposed_paint_figure(x, w, stride=2):
    """A transposed convolution, one input pixel at a time: each paints x[i, j] * w at (i s, j s).

    x: (H, W) single-channel input; w: (KH, KW) kernel. The last panel is the sum, which equals
    ``conv_transpose2d``; the figure's numbers are taken from it.

    Returns:
        the Figure.
    """
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    H, W = x.shape
    out = conv_transpose2d(x[None, None], w[None, None], stride=stride)[0, 0]
    panels = []
    for i in range(H):
        for j in range(W):
            alone = np.zeros_like(x)
            alone[i, j] = x[i, j]
            panels.append((f"x[{i},{j}] = {x[i, j]:g} paints", conv_transpose2d(alone[None, None], w[None, None],
                                                                                stride=stride)[0, 0]))
    panels.append(("sum = conv_transpose2d", out))
    vmax = np.abs(out).max()
    fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 2.5))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img, cmap="viridis", vmin=0, vmax=vmax)
        for (r, c), v in np.ndenumerate(img):
            ax.text(c, r, f"{v:g}", ha="center", va="center", color="white", fontsize=7)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{H}x{W} input, {w.shape[0]}x{w.shape[1]} kernel, stride {stride} -> {out.shape[0]}x{out.shape[1]}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def overlap_counts(kernel_size, stride, n=8):
    """How many kernel copies cover each output pixel: conv_transpose2d of ones with a kernel of ones.

    Shape:
        (n - 1) * stride + kernel_size on each side.

    Example:
        >>> overlap_counts(3, 2, n=3)[0]  # stride 2 does not divide 3: some pixels get two copies, some one
        array([1., 1., 2., 1., 2., 1., 1.])
    """
    return conv_transpose2d(np.ones((1, 1, n, n)), np.ones((1, 1, kernel_size, kernel_size)), stride=stride)[0, 0]


def checkerboard_figure(settings=((3, 2), (4, 2)), n=8):
    """Overlap counts for each (kernel_size, stride): uneven (a checkerboard) unless s divides k.

    Returns:
        the Figure.
    """
    fig, axes = plt.subplots(1, len(settings), figsize=(3.3 * len(settings), 3.2))
    for ax, (k, s) in zip(np.atleast_1d(axes), settings):
        counts = overlap_counts(k, s, n)
        ax.imshow(counts, cmap="magma", vmin=0, vmax=counts.max())
        ax.set_title(f"kernel {k}, stride {s}: copies per pixel {counts.min():.0f}..{counts.max():.0f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
