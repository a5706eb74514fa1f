"""relu, softmax, dropout, linear, flatten, softmax_cross_entropy and pad2d against PyTorch."""

import numpy as np
import pytest

from cnnlab import reference as R

torch = pytest.importorskip("torch")
F = torch.nn.functional


def grad_of(torch_fn, *arrays, dout):
    """Output and autograd gradients of torch_fn at the given float arrays."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch_fn(*tensors)
    out.backward(torch.as_tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-7), (np.float32, 1e-5)])
def test_relu_matches_torch(seed, dtype, tol):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 6, size=rng.integers(1, 5)))
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[0] = 0.0  # PyTorch's subgradient at 0 is 0
    dout = rng.standard_normal(shape).astype(dtype)
    out_t, (dx_t,) = grad_of(F.relu, x, dout=dout)
    out, dx = R.relu(x), R.relu_backward(dout, x)
    assert out.dtype == dx.dtype == dtype
    np.testing.assert_allclose(out, out_t, rtol=tol)
    np.testing.assert_allclose(dx, dx_t, rtol=tol)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_matches_torch_and_is_stable(axis):
    x = np.random.default_rng(1).standard_normal((4, 5, 3)) * 10
    np.testing.assert_allclose(R.softmax(x, axis), torch.softmax(torch.tensor(x), dim=axis).numpy(), rtol=1e-7)
    big = np.array([[1000.0, 1001.0, 1002.0]])
    assert np.all(np.isfinite(R.softmax(big)))
    np.testing.assert_allclose(R.softmax(big), R.softmax(big - 1000), rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-7), (np.float32, 1e-5)])
def test_linear_matches_torch(seed, dtype, tol):
    rng = np.random.default_rng(seed)
    lead = tuple(rng.integers(1, 5, size=rng.integers(1, 3)))
    fan_in, fan_out = rng.integers(1, 8, size=2)
    x = rng.standard_normal((*lead, fan_in)).astype(dtype)
    w = rng.standard_normal((fan_out, fan_in)).astype(dtype)
    b = rng.standard_normal(fan_out).astype(dtype)
    dout = rng.standard_normal((*lead, fan_out)).astype(dtype)
    out_t, (dx_t, dw_t, db_t) = grad_of(F.linear, x, w, b, dout=dout)
    out = R.linear(x, w, b)
    dx, dw, db = R.linear_backward(dout, x, w)
    assert out.dtype == dx.dtype == dw.dtype == db.dtype == dtype
    for mine, theirs in [(out, out_t), (dx, dx_t), (dw, dw_t), (db, db_t)]:
        np.testing.assert_allclose(mine, theirs, rtol=tol, atol=tol)
    np.testing.assert_allclose(R.linear(x, w), F.linear(torch.tensor(x), torch.tensor(w)).numpy(), rtol=tol, atol=tol)


def test_flatten_matches_torch():
    x = np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(R.flatten(x), torch.flatten(torch.tensor(x), 1).numpy())
    assert R.flatten(x).shape == (2, 60)


@pytest.mark.parametrize("seed", range(6))
def test_softmax_cross_entropy_matches_torch(seed):
    rng = np.random.default_rng(seed)
    N, K = rng.integers(1, 9), rng.integers(2, 7)
    logits = rng.standard_normal((N, K)) * 3
    labels = rng.integers(0, K, size=N)
    lt = torch.tensor(logits, requires_grad=True)
    loss_t = F.cross_entropy(lt, torch.tensor(labels))
    loss_t.backward()
    loss, dlogits = R.softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-7)
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    loss, dlogits = R.softmax_cross_entropy(np.array([[1e4, 0.0], [0.0, 1e4]]), np.array([1, 1]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(loss, 0.5 * 1e4)


def test_softmax_cross_entropy_float32_keeps_dtype():
    logits = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    loss, dlogits = R.softmax_cross_entropy(logits, np.array([0, 1, 2, 3, 0]))
    assert dlogits.dtype == np.float32
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor([0, 1, 2, 3, 0])).item()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


# ---------------------------------------------------------------- dropout


def test_dropout_statistics():
    x = np.ones((400, 500))
    for p in (0.1, 0.5, 0.8):
        out, mask = R.dropout(x, p, rng=0)
        dropped = np.mean(mask == 0)
        assert abs(dropped - p) < 0.01, (p, dropped)
        assert abs(out.mean() - 1.0) < 0.03, (p, out.mean())  # inverted dropout keeps the mean
        np.testing.assert_allclose(np.unique(mask), [0.0, 1 / (1 - p)])


def test_dropout_eval_and_p0_are_identity():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    out, mask = R.dropout(x, 0.7, training=False)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(mask, np.ones_like(x))
    out, mask = R.dropout(x, 0.0, rng=1)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == mask.dtype == np.float32


def test_dropout_is_reproducible_with_a_seed_or_generator():
    x = np.ones((50, 50))
    a, _ = R.dropout(x, 0.5, rng=42)
    b, _ = R.dropout(x, 0.5, rng=42)
    c, _ = R.dropout(x, 0.5, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, R.dropout(x, 0.5, rng=43)[0])


def test_dropout_backward_matches_torch_with_the_same_mask():
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    out, mask = R.dropout(x, 0.3, rng=rng)
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.tensor(mask)).backward(torch.tensor(dout))
    np.testing.assert_allclose(R.dropout_backward(dout, mask), xt.grad.numpy(), rtol=1e-12)
    # the mask carries the 1/(1-p) scale, like torch's own dropout output on ones
    np.testing.assert_allclose(out[mask != 0], x[mask != 0] / 0.7, rtol=1e-12)


# ---------------------------------------------------------------- padding


@pytest.mark.parametrize("padding,torch_pad", [(1, (1, 1, 1, 1)), ((2, 0), (0, 0, 2, 2)), ((1, 3), (3, 3, 1, 1)),
                                               ((0, 1, 2, 3), (2, 3, 0, 1))])
@pytest.mark.parametrize("mode,torch_mode", [("zeros", "constant"), ("edge", "replicate")])
def test_pad2d_matches_torch(padding, torch_pad, mode, torch_mode):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    expected = F.pad(torch.tensor(x), torch_pad, mode=torch_mode).numpy()
    np.testing.assert_array_equal(R.pad2d(x, padding, mode), expected)


def test_pad2d_keeps_float32():
    assert R.pad2d(np.zeros((1, 1, 2, 2), np.float32), 1).dtype == np.float32
