"""The loop versions of the backward passes (conv2d_backward_naive, max_pool2d_backward_naive) against the
vectorised ones, on random shapes (non-square, strides, paddings), and against torch autograd."""

import numpy as np
import pytest

from cnnlab import reference as R
from cnnlab.checks import conv_geometry, pool_geometry

torch = pytest.importorskip("torch")
F = torch.nn.functional


def random_conv_case(seed):
    """Seeded conv problem with non-square images and kernels, strides and paddings that fit."""
    rng = np.random.default_rng(seed)
    while True:
        N, C, Fo = (int(v) for v in rng.integers(1, 4, size=3))
        H, W = (int(v) for v in rng.integers(1, 10, size=2))
        KH, KW = (int(v) for v in rng.integers(1, 5, size=2))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = [int(rng.integers(0, 3)), (int(rng.integers(0, 3)), int(rng.integers(0, 3))), "valid"][seed % 3]
        try:
            out_size = conv_geometry((N, C, H, W), (Fo, C, KH, KW), stride, padding).out_size
        except ValueError:
            continue  # kernel larger than the padded input: draw again
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((Fo, C, KH, KW))
        return x, w, rng.standard_normal((N, Fo, *out_size)), stride, padding


def random_pool_case(seed, ties):
    """Seeded max-pool problem; with ties the values come from {0, 1, 2}, so windows tie often."""
    rng = np.random.default_rng(seed)
    while True:
        kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        stride = None if seed % 4 == 0 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = (int(rng.integers(0, kernel[0] // 2 + 1)), int(rng.integers(0, kernel[1] // 2 + 1)))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 10)), int(rng.integers(1, 10)))
        try:
            out_size = pool_geometry(shape, kernel, stride, padding).out_size
        except ValueError:
            continue
        x = rng.integers(0, 3, size=shape).astype(float) if ties else rng.standard_normal(shape)
        return x, rng.standard_normal((*shape[:2], *out_size)), kernel, stride, padding


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_backward_naive_equals_fast_and_torch_autograd(seed):
    x, w, dout, stride, padding = random_conv_case(seed)
    naive = R.conv2d_backward_naive(dout, x, w, stride, padding)
    fast = R.conv2d_backward(dout, x, w, stride, padding)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    F.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(torch.tensor(dout))
    for name, loop, vectorised, autograd in zip(("dx", "dw", "db"), naive, fast, (xt.grad, wt.grad, bt.grad)):
        assert loop.shape == vectorised.shape, name
        np.testing.assert_allclose(loop, vectorised, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(loop, autograd.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_conv2d_backward_naive_keeps_float32_and_checks_dout():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 4)).astype(np.float32), rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    dx, dw, db = R.conv2d_backward_naive(np.ones((2, 2, 4, 3), np.float32), x, w)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    with pytest.raises(ValueError, match=r"dout has shape \(2, 2, 3, 3\).*\(2, 2, 4, 3\)"):
        R.conv2d_backward_naive(np.ones((2, 2, 3, 3)), x, w)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", range(12))
def test_max_pool2d_backward_naive_equals_fast_and_torch_autograd(seed, ties):
    x, dout, kernel, stride, padding = random_pool_case(seed, ties)
    naive = R.max_pool2d_backward_naive(dout, x, kernel, stride, padding)
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, kernel, stride, padding).backward(torch.tensor(dout))
    assert naive.shape == x.shape
    np.testing.assert_allclose(naive, R.max_pool2d_backward(dout, x, kernel, stride, padding), rtol=1e-12, atol=0)
    np.testing.assert_allclose(naive, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_max_pool2d_backward_naive_sends_a_nan_windows_gradient_where_torch_does():
    # two NaNs in one window, one in another: torch lets each NaN take over, so the last one wins
    x = np.array([[[[np.nan, 1.0, 5.0, 4.0], [2.0, np.nan, 3.0, np.nan]]]])
    dout = np.array([[[[2.0, 3.0]]]])
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.tensor(dout))
    naive = R.max_pool2d_backward_naive(dout, x)
    np.testing.assert_array_equal(naive, xt.grad.numpy())
    np.testing.assert_array_equal(naive, R.max_pool2d_backward(dout, x))
