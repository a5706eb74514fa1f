"""Tests for cnnlab.course.convolution_demos (the helpers behind book chapters 2-4).

Checked against SciPy, PyTorch's layers and hand counts, never against the helpers themselves.
"""

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.course import convolution_demos as demos
from cnnlab.reference import conv as ref_conv


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("name", sorted(demos.KERNELS))
def test_kernels_are_read_only_and_copies_are_writable(name):
    with pytest.raises(ValueError):
        demos.KERNELS[name][0, 0] = 5.0
    k = demos.kernel(name)
    k[0, 0] = 5.0  # a copy: the shared table is unchanged
    assert demos.KERNELS[name][0, 0] != 5.0


def test_unknown_kernel_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="sobel_x"):
        demos.kernel("sobel_z")


def test_sobel_x_responds_to_vertical_edges_only():
    image = np.zeros((8, 8))
    image[:, 4:] = 1.0  # dark left half, bright right half: one vertical edge
    gx = ref_conv.corr2d(image, demos.kernel("sobel_x", np.float64))
    gy = ref_conv.corr2d(image, demos.kernel("sobel_y", np.float64))
    assert gx.max() == pytest.approx(4.0) and gx.min() == 0.0
    assert np.all(gy == 0.0)


@pytest.mark.parametrize("trial", range(5))
def test_convolve2d_matches_scipy_and_differs_from_correlation(rng, trial):
    h, w = rng.integers(5, 12, size=2)
    kh, kw = rng.integers(1, 5, size=2)
    x = rng.normal(size=(h, w))
    k = rng.normal(size=(kh, kw))
    ours = demos.convolve2d(x, k)
    np.testing.assert_allclose(ours, scipy.signal.convolve2d(x, k, mode="valid"), rtol=1e-10, atol=1e-12)
    if kh * kw > 1:
        assert not np.allclose(ours, scipy.signal.correlate2d(x, k, mode="valid"))


def test_corr2d_is_what_torch_conv2d_computes_and_convolve2d_flips_the_kernel(rng):
    x = rng.normal(size=(9, 11))
    k = demos.kernel("emboss", np.float64)  # not symmetric: flipped and unflipped results differ

    def torch_conv(kernel):
        return F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(kernel.copy())[None, None])[0, 0].numpy()

    np.testing.assert_allclose(ref_conv.corr2d(x, k), torch_conv(k), atol=1e-12)
    np.testing.assert_allclose(demos.convolve2d(x, k), torch_conv(k[::-1, ::-1]), atol=1e-12)
    assert not np.allclose(demos.convolve2d(x, k), torch_conv(k))


def test_flip_kernel_is_a_180_degree_rotation_and_rejects_non_2d():
    k = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(demos.flip_kernel(k), np.rot90(k, 2))
    np.testing.assert_array_equal(demos.flip_kernel(demos.flip_kernel(k)), k)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        demos.flip_kernel(np.ones(3))


def test_filter_bank_acts_on_the_channel_mean(rng):
    x = rng.normal(size=(2, 3, 10, 12)).astype(np.float32)
    names = ["sobel_x", "laplacian", "box_blur"]
    w = demos.filter_bank(names, in_channels=3)
    assert w.shape == (3, 3, 3, 3) and w.dtype == np.float32
    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    grey = x.mean(axis=1)
    for f, name in enumerate(names):
        expected = scipy.signal.correlate2d(grey[1], demos.KERNELS[name], mode="valid")
        np.testing.assert_allclose(out[1, f], expected, rtol=1e-5, atol=1e-5)


def test_filter_bank_bad_input():
    with pytest.raises(TypeError, match="names"):
        demos.filter_bank("sobel_x")
    with pytest.raises(ValueError, match="names"):
        demos.filter_bank([])
    with pytest.raises(ValueError, match="in_channels"):
        demos.filter_bank(["sobel_x"], in_channels=0)


@pytest.mark.parametrize("trial", range(5))
def test_parameter_counts_match_torch_layers(rng, trial):
    h, w = (int(v) for v in rng.integers(4, 20, size=2))
    c_in, n = (int(v) for v in rng.integers(1, 6, size=2))
    k = int(rng.integers(1, 4)) * 2 - 1
    costs = demos.dense_vs_conv_params(h, w, c_in, n, k)

    def count(layer):
        return sum(p.numel() for p in layer.parameters())

    assert costs.inputs == h * w * c_in
    assert costs.dense == count(nn.Linear(h * w * c_in, n))
    assert costs.conv == count(nn.Conv2d(c_in, n, k))
    assert costs.dense_same_output == count(nn.Linear(h * w * c_in, h * w * n))
    assert costs.conv_inputs_per_output == k * k * c_in
    assert costs.ratio == costs.dense / costs.conv
    assert demos.conv_params(c_in, n, k, bias=False) == count(nn.Conv2d(c_in, n, k, bias=False))


def test_lecture_note_examples():
    # 32x32x3 image, 32 units / 32 filters of 3x3
    small = demos.dense_vs_conv_params(32, 32, 3, 32, 3)
    assert (small.dense, small.conv) == (32 * 32 * 3 * 32 + 32, 3 * 3 * 3 * 32 + 32)
    # the conv layer's cost does not depend on the image size
    assert demos.dense_vs_conv_params(150, 150, 3, 32, 3).conv == small.conv


def test_counting_bad_input():
    with pytest.raises(ValueError, match="h"):
        demos.dense_vs_conv_params(0, 32, 3, 32, 3)
    with pytest.raises(TypeError, match="c_in"):
        demos.dense_vs_conv_params(32, 32, 3.0, 32, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        demos.dense_vs_conv_params(4, 4, 3, 8, 5)
    with pytest.raises(TypeError, match="filters"):
        demos.conv_params(3, True, 3)


def test_input_dependence_conv_sees_a_patch_across_all_channels_dense_sees_everything():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    mask = demos.input_dependence(conv, (3, 8, 8), (1, 2, 5)) > 0
    expected = np.zeros((3, 8, 8), dtype=bool)
    expected[:, 2:5, 5:8] = True  # output (2, 5) reads rows 2..4, cols 5..7 of every channel
    np.testing.assert_array_equal(mask, expected)

    dense = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    assert np.all(demos.input_dependence(dense, (3, 8, 8), (2,)) > 0)

    stacked = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 3))
    mask = demos.input_dependence(stacked, (3, 8, 8), (0, 0, 0)) > 0
    assert mask.sum() == 3 * 5 * 5 and mask[:, :5, :5].all()

    with pytest.raises(ValueError, match=r"\(4, 6, 6\)"):
        demos.input_dependence(conv, (3, 8, 8), (0, 6, 0))


def test_input_dependence_with_a_filled_input_sees_through_relus_and_follows_the_layers_dtype():
    stack = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3), nn.ReLU()).double()
    with torch.no_grad():
        for conv in (stack[0], stack[2]):
            conv.weight.fill_(1.0), conv.bias.zero_()
    filled = demos.input_dependence(stack, (1, 9, 9), (0, 2, 2), fill=1.0)[0]
    assert filled.dtype == np.float64
    expected = np.zeros((9, 9), dtype=bool)
    expected[2:7, 2:7] = True  # two 3x3 convolutions: a 5x5 field
    np.testing.assert_array_equal(filled > 0, expected)
    # all-negative input: every ReLU is off and the gradient is zero everywhere
    assert not demos.input_dependence(stack, (1, 9, 9), (0, 2, 2), fill=-1.0).any()
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        demos.input_dependence(stack, (9, 9), (0, 2, 2))


def test_weight_input_dependence_touches_one_channel_at_every_position():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 2, 3)
    mask = demos.weight_input_dependence(conv, (3, 7, 9), (1, 2, 0, 1)) > 0
    expected = np.zeros((3, 7, 9), dtype=bool)
    expected[2, 0:5, 1:8] = True  # (OH, OW) = (5, 7) positions, shifted by (u, v) = (0, 1)
    np.testing.assert_array_equal(mask, expected)
    with pytest.raises(ValueError, match="weight_index"):
        demos.weight_input_dependence(conv, (3, 7, 9), (2, 0, 0, 0))


def test_shift2d_moves_content_and_fills_zeros():
    x = np.arange(1, 13).reshape(1, 3, 4)
    down_right = demos.shift2d(x, 1, 2)
    np.testing.assert_array_equal(down_right[0, 1:, 2:], x[0, :2, :2])
    assert down_right[0, 0].sum() == 0 and down_right[0, :, :2].sum() == 0
    np.testing.assert_array_equal(demos.shift2d(demos.shift2d(x, -1, -1), 1, 1)[0, 1:, 1:], x[0, 1:, 1:])
    with pytest.raises(ValueError, match="shift"):
        demos.shift2d(x, 3, 0)


def test_conv_layer_is_translation_equivariant_away_from_borders(rng):
    x = rng.normal(size=(1, 1, 16, 16))
    w = rng.normal(size=(2, 1, 3, 3))
    out_then_shift = demos.shift2d(ref_conv.conv2d(x, w, padding=1), 2, 3)
    shift_then_out = ref_conv.conv2d(demos.shift2d(x, 2, 3), w, padding=1)
    # equal except near the borders, where zeros came in
    np.testing.assert_allclose(out_then_shift[..., 3:-1, 4:-1], shift_then_out[..., 3:-1, 4:-1], atol=1e-12)


def test_compose_kernels_equals_two_stacked_correlations(rng):
    x = rng.normal(size=(12, 13))
    k1, k2 = rng.normal(size=(3, 3)), rng.normal(size=(2, 4))
    k = demos.compose_kernels(k1, k2)
    assert k.shape == (4, 6)
    np.testing.assert_allclose(k, scipy.signal.convolve2d(k1, k2, mode="full"), atol=1e-12)
    two_layers = scipy.signal.correlate2d(scipy.signal.correlate2d(x, k1, mode="valid"), k2, mode="valid")
    np.testing.assert_allclose(scipy.signal.correlate2d(x, k, mode="valid"), two_layers, atol=1e-10)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        demos.compose_kernels(np.ones(3), k2)
