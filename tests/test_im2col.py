"""Tests for cnnlab.course.im2col: the patch matrix against torch.nn.functional.unfold, the matrix-product
convolution against torch.nn.functional.conv2d, the memory count against the arrays' real nbytes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.course import im2col as ic


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_case(rng):
    n, c = rng.integers(1, 4, size=2)
    kh, kw = rng.integers(1, 5, size=2)
    h, w = rng.integers(max(kh, kw), 12, size=2)
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    return rng.normal(size=(n, c, h, w)), (int(kh), int(kw)), stride, padding


@pytest.mark.parametrize("trial", range(8))
def test_im2col_equals_torch_unfold_and_the_loop(rng, trial):
    for _ in range(trial + 1):
        x, kernel, stride, padding = random_case(rng)
    ours = ic.im2col(x, kernel, stride, padding)
    theirs = F.unfold(torch.from_numpy(x), kernel, padding=padding, stride=stride).numpy()
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)
    assert np.array_equal(ours, ic.im2col_naive(x, kernel, stride, padding))


@pytest.mark.parametrize("trial", range(8))
def test_conv_by_im2col_equals_torch_conv2d(rng, trial):
    for _ in range(trial + 1):
        x, kernel, stride, padding = random_case(rng)
    w = rng.normal(size=(3, x.shape[1], *kernel))
    b = rng.normal(size=3)
    ours = ic.conv2d_im2col(x, w, b, stride, padding)
    theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, padding).numpy()
    assert ours.shape == theirs.shape
    assert np.allclose(ours, theirs, atol=1e-12)


def test_same_padding_and_float32_kept(rng):
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 4, 3)).astype(np.float32)
    ours = ic.conv2d_im2col(x, w, padding="same")
    theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding="same").numpy()
    assert ours.dtype == np.float32 and np.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("shape,kernel,stride,padding", [((2, 3, 9, 11), 3, 1, 1), ((1, 4, 16, 16), 5, 2, 0),
                                                         ((3, 1, 8, 7), (2, 3), (1, 2), (1, 0))])
def test_memory_counts_the_real_arrays(rng, shape, kernel, stride, padding):
    x = rng.normal(size=shape).astype(np.float32)
    columns = ic.im2col(x, kernel, stride, padding)
    cost = ic.im2col_memory(shape, kernel, stride, padding, itemsize=4)
    assert cost.columns_shape == columns.shape
    assert cost.columns_bytes == columns.nbytes and cost.input_bytes == x.nbytes
    assert cost.blowup == pytest.approx(columns.nbytes / x.nbytes)


def test_blowup_tends_to_kernel_area_over_stride_area():
    assert ic.im2col_memory((1, 3, 1000, 1000), 3, padding=1).blowup == pytest.approx(9.0)
    assert ic.im2col_memory((1, 3, 1000, 1000), 4, stride=2, padding=1).blowup == pytest.approx(4.0, rel=1e-2)


def test_figure_draws_the_windows(rng):
    fig = ic.im2col_figure(np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4), 3)
    assert len(fig.axes) == 3
    assert len(fig.axes[-1].patches) == 3  # three highlighted columns
    matplotlib.pyplot.close(fig)


def test_bad_input_is_refused(rng):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ic.im2col(np.zeros((3, 5, 5)), 3)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ic.im2col(np.zeros((1, 1, 3, 3)), 4)
    with pytest.raises(TypeError, match="kernel_size"):
        ic.im2col(np.zeros((1, 1, 5, 5)), 2.5)
    with pytest.raises(ValueError, match="kernel_size"):
        ic.im2col(np.zeros((1, 1, 5, 5)), 0)
    with pytest.raises(ValueError, match="channel mismatch"):
        ic.conv2d_im2col(np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3)))
    with pytest.raises(TypeError, match="itemsize"):
        ic.im2col_memory((1, 1, 5, 5), 3, itemsize=2.0)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        ic.im2col_figure(np.zeros((1, 1, 4, 4)), 3)
