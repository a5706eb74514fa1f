"""cnnlab.reference.pool against torch.nn.functional (forward and autograd backward, ties included),
published vectors (CS231n, d2l) and its own loop versions."""

import numpy as np
import pytest

from cnnlab import reference as R
from cnnlab.gradcheck import rel_error

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_min_pool2d(x, kernel_size, stride, padding):
    return -F.max_pool2d(-x, kernel_size, stride, padding)


OPS = {
    "max": (R.max_pool2d, R.max_pool2d_backward, R.max_pool2d_naive, F.max_pool2d),
    "avg": (R.avg_pool2d, R.avg_pool2d_backward, R.avg_pool2d_naive, F.avg_pool2d),
    "min": (R.min_pool2d, R.min_pool2d_backward, R.min_pool2d_naive, torch_min_pool2d),
}


def random_pool_case(seed, ties=False):
    """Seeded random pooling problem; with ties=True the values come from {0, 1, 2} so windows tie often."""
    rng = np.random.default_rng(seed)
    while True:
        KH, KW = (int(k) for k in rng.integers(1, 5, size=2))
        stride = None if rng.random() < 0.3 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = (int(rng.integers(0, KH // 2 + 1)), int(rng.integers(0, KW // 2 + 1)))
        N, C = (int(v) for v in rng.integers(1, 4, size=2))
        H, W = (int(v) for v in rng.integers(1, 10, size=2))
        if KH <= H + 2 * padding[0] and KW <= W + 2 * padding[1]:
            break
    shape = (N, C, H, W)
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else rng.standard_normal(shape)
    return x, (KH, KW), stride, padding, rng


def torch_pool(op, x, kernel_size, stride, padding, dout):
    xt = torch.tensor(x, requires_grad=True)
    out = op(xt, kernel_size, stride, padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("kind", ["max", "avg", "min"])
@pytest.mark.parametrize("seed", range(20))
def test_pool_matches_torch_float64(seed, kind, ties):
    forward, backward, _, torch_op = OPS[kind]
    x, kernel, stride, padding, rng = random_pool_case(seed, ties)
    out = forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    out_t, dx_t = torch_pool(torch_op, x, kernel, stride, padding, dout)
    assert out.shape == out_t.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, out_t, rtol=1e-7, atol=1e-12)
    dx = backward(dout, x, kernel, stride, padding)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, dx_t, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg", "min"])
@pytest.mark.parametrize("seed", range(200, 205))
def test_pool_matches_torch_float32(seed, kind):
    forward, backward, _, torch_op = OPS[kind]
    x, kernel, stride, padding, rng = random_pool_case(seed)
    x = x.astype(np.float32)
    out = forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    out_t, dx_t = torch_pool(torch_op, x, kernel, stride, padding, dout)
    dx = backward(dout, x, kernel, stride, padding)
    assert out.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(out, out_t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-5, atol=1e-6)


def test_max_pool_backward_picks_first_maximum_of_a_tie():
    x = np.ones((1, 1, 2, 2))  # one window, four equal maxima
    dx = R.max_pool2d_backward(np.array([[[[5.0]]]]), x)
    np.testing.assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.full((1, 1, 1, 1), 5.0, dtype=torch.float64))
    np.testing.assert_array_equal(dx, xt.grad.numpy())


@pytest.mark.parametrize("kind", ["max", "avg", "min"])
@pytest.mark.parametrize("seed", range(8))
def test_naive_pool_equals_vectorised(seed, kind):
    forward, _, naive, _ = OPS[kind]
    x, kernel, stride, padding, _ = random_pool_case(seed)
    np.testing.assert_allclose(naive(x, kernel, stride, padding), forward(x, kernel, stride, padding), rtol=1e-12, atol=1e-12)


def test_cs231n_max_pool_forward_naive_vector():
    # CS231n assignment 2's published expected output (ConvolutionalNetworks.ipynb).
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    correct_out = np.array(
        [[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
          [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
          [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
         [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
          [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
          [[0.32631579, 0.34105263], [0.38526316, 0.4]]]]
    )
    for pool in (R.max_pool2d, R.max_pool2d_naive):
        assert rel_error(pool(x, kernel_size=2, stride=2), correct_out) < 1e-7


def test_d2l_pooling_vectors():
    X = np.arange(9.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(R.max_pool2d(X, 2, stride=1)[0, 0], [[4.0, 5.0], [7.0, 8.0]])
    np.testing.assert_array_equal(R.avg_pool2d(X, 2, stride=1)[0, 0], [[2.0, 3.0], [5.0, 6.0]])


def test_stride_defaults_to_kernel_size():
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6))
    assert R.max_pool2d(x, 3).shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(R.max_pool2d(x, 3), R.max_pool2d(x, 3, stride=3))


def test_max_pool_propagates_nan_like_torch():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    assert np.isnan(R.max_pool2d(x)[0, 0, 0, 0])
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.ones(1, 1, 1, 1, dtype=torch.float64))
    np.testing.assert_array_equal(R.max_pool2d_backward(np.ones((1, 1, 1, 1)), x), xt.grad.numpy())


def test_max_pool_backward_with_infinite_upstream_gradient_matches_torch():
    # the fast path multiplies dout by a 0/1 mask; inf * 0 would make NaN, so infinities take np.where
    x = np.random.default_rng(4).standard_normal((1, 2, 4, 4))
    dout = np.array([np.inf, -1.0, 2.0, -np.inf] * 2).reshape(1, 2, 2, 2)
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.tensor(dout))
    np.testing.assert_array_equal(R.max_pool2d_backward(dout, x), xt.grad.numpy())
