"""A 3-D picture of one multi-channel convolution step (chapter 3): input volume C x H x W, one
C x f x f filter, and the single output value it produces at one position.

:func:`volume_layout` computes which voxels to draw (and is what the tests check);
:func:`multichannel_conv_figure` draws them with ``mpl_toolkits.mplot3d`` voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from cnnlab.checks import as_int

__all__ = ["VolumeLayout", "volume_layout", "multichannel_conv_figure"]


@dataclass(frozen=True)
class VolumeLayout:
    """Boolean voxel grids of shape (X, Y, Z) = (width axis, channel axis, height axis), all the same size."""

    input: np.ndarray  # the C x H x W input volume
    window: np.ndarray  # the part of the input under the filter (C x f x f)
    filter: np.ndarray  # the filter, drawn beside the input
    output: np.ndarray  # the 1 x OH x OW output map
    value: np.ndarray  # the one output value computed from the window
    out_size: tuple  # (OH, OW)


def volume_layout(channels=3, height=6, width=6, kernel_size=3, position=(1, 2), gap=2):
    """Voxel grids for one valid (no padding, stride 1) convolution step.

    Args:
        channels, height, width: the input volume C x H x W.
        kernel_size: f, the filter is C x f x f.
        position: output pixel (i, j); the window is rows i..i+f-1, columns j..j+f-1.
        gap: empty voxels between the three volumes.

    Shape:
        every grid is (W + gap + f + gap + OW, C, H) with OH = H - f + 1, OW = W - f + 1;
        image row r is drawn at height H - 1 - r so that row 0 is at the top.

    Example:
        >>> layout = volume_layout(3, 6, 6, 3, (1, 2))
        >>> int(layout.window.sum()), int(layout.output.sum()), layout.out_size
        (27, 15, (4, 4))
    """
    C, H, W = (as_int(v, n) for v, n in [(channels, "channels"), (height, "height"), (width, "width")])
    f, gap = as_int(kernel_size, "kernel_size"), as_int(gap, "gap")
    i, j = (as_int(p, "position") for p in position)
    if min(C, H, W, f) < 1 or gap < 0:
        raise ValueError(f"channels, height, width and kernel_size must be >= 1 and gap >= 0; got "
                         f"{(C, H, W)}, kernel_size {f}, gap {gap}")
    if f > min(H, W):
        raise ValueError(f"kernel_size {f} is larger than the input {H} x {W}")
    OH, OW = H - f + 1, W - f + 1
    if not (0 <= i < OH and 0 <= j < OW):
        raise ValueError(f"position {(i, j)} is outside the {OH} x {OW} output")
    X = W + gap + f + gap + OW
    grids = {name: np.zeros((X, C, H), dtype=bool) for name in ["input", "window", "filter", "output", "value"]}

    def z(rows):  # image rows -> heights, row 0 on top
        return slice(H - rows.stop, H - rows.start)

    grids["input"][:W, :, :] = True
    grids["window"][j : j + f, :, z(range(i, i + f))] = True
    filter_x = W + gap
    grids["filter"][filter_x : filter_x + f, :, z(range(i, i + f))] = True
    out_x = filter_x + f + gap
    grids["output"][out_x : out_x + OW, 0, z(range(0, OH))] = True
    grids["value"][out_x + j, 0, H - 1 - i] = True
    grids["input"] &= ~grids["window"]
    grids["output"] &= ~grids["value"]
    return VolumeLayout(out_size=(OH, OW), **grids)


def multichannel_conv_figure(channels=3, height=6, width=6, kernel_size=3, position=(1, 2)):
    """Draw :func:`volume_layout` in 3-D: grey input, orange window and filter, red output value.

    Returns the matplotlib Figure (one ``Axes3D``).

    Returns:
        the Figure.
    """
    layout = volume_layout(channels, height, width, kernel_size, position)
    fig = plt.figure(figsize=(11, 5.2))
    ax = fig.add_subplot(projection="3d")
    # one voxels call per part: a call draws only the faces between its filled and empty voxels,
    # so the window inside the input needs its own call to get all six faces
    for grid, rgba in [(layout.input, (0.75, 0.80, 0.90, 0.10)), (layout.window, (1.0, 0.55, 0.1, 0.9)),
                       (layout.filter, (1.0, 0.55, 0.1, 0.95)), (layout.output, (0.95, 0.75, 0.75, 0.3)),
                       (layout.value, (0.8, 0.05, 0.05, 1.0))]:
        ax.voxels(grid, facecolors=rgba, edgecolor=(0.3, 0.3, 0.3, 0.35), linewidth=0.4)
    filled = layout.input
    X, C, H = filled.shape
    f, (i, j) = kernel_size, position
    OH, OW = layout.out_size
    ax.text(width / 2, -0.8, -2.2, f"input {channels}x{height}x{width}", ha="center")
    ax.text(width + 2 + f / 2, -0.8, -2.2, f"filter {channels}x{f}x{f}", ha="center", color="darkorange")
    ax.text(X - OW / 2, -0.8, -2.2, f"output {OH}x{OW}: one value", ha="center", color="darkred")
    ax.set_box_aspect((X, C * 1.6, H), zoom=1.35)
    ax.set_xlabel("width")
    ax.set_ylabel("channels")
    ax.set_zlabel("height")
    ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
    ax.set_proj_type("ortho")
    ax.view_init(elev=24, azim=-58)
    ax.set_title(f"output ({i}, {j}) = sum of the {channels * f * f} products of the orange window and the filter")
    return fig
