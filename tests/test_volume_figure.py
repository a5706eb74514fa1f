"""Tests for cnnlab.course.volume_figure: the voxels drawn are exactly the window a convolution reads."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.course import volume_figure as vf


@pytest.mark.parametrize("C,H,W,f,pos", [(3, 6, 6, 3, (1, 2)), (2, 5, 7, 2, (3, 0)), (4, 4, 4, 4, (0, 0))])
def test_window_is_what_the_convolution_reads(C, H, W, f, pos):
    layout = vf.volume_layout(C, H, W, f, pos)
    OH, OW = H - f + 1, W - f + 1
    assert layout.out_size == (OH, OW)
    assert layout.window.sum() == C * f * f and layout.filter.sum() == C * f * f
    assert layout.value.sum() == 1 and layout.output.sum() + layout.value.sum() == OH * OW
    assert layout.input.sum() + layout.window.sum() == C * H * W
    # autograd: the inputs that output pos depends on, mapped to voxel coordinates (x = column, z = H-1-row)
    x = torch.randn(1, C, H, W, requires_grad=True)
    F.conv2d(x, torch.rand(1, C, f, f) + 0.1)[0, 0, pos[0], pos[1]].backward()
    read = x.grad[0].numpy() != 0  # (C, H, W)
    expected = np.zeros_like(layout.window)
    for c, row, col in zip(*np.nonzero(read)):
        expected[col, c, H - 1 - row] = True
    assert np.array_equal(layout.window, expected)


def test_figure_is_3d():
    fig = vf.multichannel_conv_figure()
    assert fig.axes[0].name == "3d"
    matplotlib.pyplot.close(fig)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="outside"):
        vf.volume_layout(3, 6, 6, 3, (4, 0))
    with pytest.raises(ValueError, match="larger"):
        vf.volume_layout(3, 4, 6, 5)
    with pytest.raises(TypeError, match="kernel_size"):
        vf.volume_layout(3, 6, 6, 2.0)
    with pytest.raises(ValueError, match=">= 1"):
        vf.volume_layout(0, 6, 6, 3)
