"""Batch normalisation: cnnlab.reference and cnnlab.torchops against torch.nn.functional.batch_norm
(forward, running statistics, evaluation mode), autograd and finite differences; loop versions
against the vectorised ones; bad arguments."""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import reference as R
from cnnlab import torchops as ct
from cnnlab.gradcheck import numerical_gradient, rel_error

F = torch.nn.functional
SEEDS = range(24)


def random_case(seed):
    """Seeded random shapes (M = N*H*W >= 2), shifted and scaled inputs, parameters and running stats."""
    rng = np.random.default_rng(seed)
    while True:
        N, C, H, W = (int(v) for v in rng.integers(1, 6, size=4))
        if N * H * W >= 2:
            break
    x = rng.normal(rng.normal(0, 3), rng.uniform(0.2, 4), size=(N, C, H, W))
    gamma, beta = rng.normal(size=C), rng.normal(size=C)
    running_mean, running_var = rng.normal(size=C), rng.uniform(0.5, 2.0, size=C)
    momentum = float(rng.uniform(0.0, 1.0))
    eps = float(10.0 ** rng.uniform(-6, -2))
    return x, gamma, beta, running_mean, running_var, momentum, eps, rng


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("seed", SEEDS)
def test_training_forward_and_running_stats_match_torch(seed):
    x, gamma, beta, rm, rv, momentum, eps, _ = random_case(seed)
    rm_t, rv_t = t(rm), t(rv)
    expected = F.batch_norm(t(x), rm_t, rv_t, t(gamma), t(beta), training=True, momentum=momentum, eps=eps)
    for forward in (R.batch_norm2d, R.batch_norm2d_naive):
        rm_ours, rv_ours = rm.copy(), rv.copy()
        out = forward(x, gamma, beta, rm_ours, rv_ours, training=True, momentum=momentum, eps=eps)
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-12)
        # updated in place, with the unbiased variance, exactly as torch updates its buffers
        np.testing.assert_allclose(rm_ours, rm_t.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(rv_ours, rv_t.numpy(), rtol=1e-12, atol=1e-14)
    rm_c, rv_c = t(rm), t(rv)
    out_t = ct.batch_norm2d(t(x), t(gamma), t(beta), rm_c, rv_c, training=True, momentum=momentum, eps=eps)
    torch.testing.assert_close(out_t, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(rm_c, rm_t, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(rv_c, rv_t, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_evaluation_mode_uses_the_running_stats_and_leaves_them_alone(seed):
    x, gamma, beta, rm, rv, momentum, eps, _ = random_case(seed)
    expected = F.batch_norm(t(x), t(rm), t(rv), t(gamma), t(beta), training=False, momentum=momentum, eps=eps)
    for forward in (R.batch_norm2d, R.batch_norm2d_naive):
        rm_ours, rv_ours = rm.copy(), rv.copy()
        out = forward(x, gamma, beta, rm_ours, rv_ours, training=False, momentum=momentum, eps=eps)
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-12)
        assert np.array_equal(rm_ours, rm) and np.array_equal(rv_ours, rv)
    rm_c, rv_c = t(rm), t(rv)
    out_t = ct.batch_norm2d(t(x), t(gamma), t(beta), rm_c, rv_c, training=False, eps=eps)
    torch.testing.assert_close(out_t, expected, rtol=1e-10, atol=1e-12)
    assert torch.equal(rm_c, t(rm)) and torch.equal(rv_c, t(rv))


@pytest.mark.parametrize("seed", SEEDS)
def test_backward_matches_autograd_of_torch(seed):
    x, gamma, beta, _, _, _, eps, rng = random_case(seed)
    dout = rng.normal(size=x.shape)
    xt, gt, bt = t(x, True), t(gamma, True), t(beta, True)
    F.batch_norm(xt, None, None, gt, bt, training=True, eps=eps).backward(t(dout))
    for backward in (R.batch_norm2d_backward, R.batch_norm2d_backward_naive):
        dx, dgamma, dbeta = backward(dout, x, gamma, eps=eps)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=1e-10, atol=1e-12)
    # cnnlab.torchops's autograd gradients agree too
    xc, gc, bc = t(x, True), t(gamma, True), t(beta, True)
    ct.batch_norm2d(xc, gc, bc, training=True, eps=eps).backward(t(dout))
    torch.testing.assert_close(xc.grad, xt.grad, rtol=1e-7, atol=1e-10)
    torch.testing.assert_close(gc.grad, gt.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bc.grad, bt.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_backward_matches_finite_differences(seed):
    x, gamma, beta, _, _, _, _, rng = random_case(seed)
    eps = 1e-5
    dout = rng.normal(size=x.shape)
    dx, dgamma, dbeta = R.batch_norm2d_backward(dout, x, gamma, eps=eps)
    assert rel_error(dx, numerical_gradient(lambda v: R.batch_norm2d(v, gamma, beta, eps=eps), x, dout)) < 1e-6
    assert rel_error(dgamma, numerical_gradient(lambda g: R.batch_norm2d(x, g, beta, eps=eps), gamma.copy(), dout)) < 1e-7
    assert rel_error(dbeta, numerical_gradient(lambda b: R.batch_norm2d(x, gamma, b, eps=eps), beta.copy(), dout)) < 1e-7


def test_normalised_channels_have_zero_mean_and_unit_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(16, 3, 6, 6))
    out = R.batch_norm2d(x, None, None)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-5)
    # and a constant added to a channel has no gradient: dx sums to zero per channel
    dx, _, _ = R.batch_norm2d_backward(rng.normal(size=x.shape), x, rng.normal(size=3))
    np.testing.assert_allclose(dx.sum(axis=(0, 2, 3)), 0.0, atol=1e-10)


def test_float32_is_kept_and_close_to_torch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 5, 5)).astype(np.float32)
    gamma, beta = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    out = R.batch_norm2d(x, gamma, beta, rm, rv)
    assert out.dtype == np.float32 and rm.dtype == np.float32
    expected = F.batch_norm(torch.from_numpy(x), torch.zeros(3), torch.ones(3), torch.from_numpy(gamma),
                            torch.from_numpy(beta), training=True)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-5)
    dx, dgamma, dbeta = R.batch_norm2d_backward(np.ones_like(x), x, gamma)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == np.float32


def test_nn_batchnorm2d_module_agrees_over_several_steps():
    """Three training steps then evaluation, against nn.BatchNorm2d's buffers."""
    torch.manual_seed(0)
    layer = torch.nn.BatchNorm2d(4).double()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
    rm, rv = np.zeros(4), np.ones(4)
    gamma, beta = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    for step in range(3):
        x = torch.randn(5, 4, 3, 3, dtype=torch.float64) * (step + 1) + step
        np.testing.assert_allclose(R.batch_norm2d(x.numpy(), gamma, beta, rm, rv), layer(x).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(rm, layer.running_mean.numpy(), atol=1e-14)
    np.testing.assert_allclose(rv, layer.running_var.numpy(), atol=1e-14)
    layer.eval()
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    np.testing.assert_allclose(R.batch_norm2d(x.numpy(), gamma, beta, rm, rv, training=False),
                               layer(x).detach().numpy(), atol=1e-12)


# ---------------------------------------------------------------- bad arguments


def test_bad_shapes_name_the_argument_and_the_shapes():
    x = np.zeros((2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"x must have 4 dimensions .*\(2, 3, 4\)"):
        R.batch_norm2d(np.zeros((2, 3, 4)), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(3,\).*\(2, 3, 4, 4\).*\(4,\)"):
        R.batch_norm2d(x, np.ones(4), np.zeros(3))
    with pytest.raises(ValueError, match=r"beta must have shape .*\(3, 1\)"):
        R.batch_norm2d(x, np.ones(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"running_var must have shape .*\(2,\)"):
        R.batch_norm2d(x, None, None, np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="given together"):
        R.batch_norm2d(x, None, None, np.zeros(3), None)
    with pytest.raises(ValueError, match="training=False .*running_mean and running_var"):
        R.batch_norm2d(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"more than one value per channel.*1 \* 1 \* 1 = 1"):
        R.batch_norm2d(np.zeros((1, 3, 1, 1)), None, None)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 4, 5\) but x has shape \(2, 3, 4, 4\)"):
        R.batch_norm2d_backward(np.zeros((2, 3, 4, 5)), x, np.ones(3))
    with pytest.raises(ValueError, match=r"gamma must have shape .*\(5,\)"):
        R.batch_norm2d_backward(x, x, np.ones(5))


def test_bad_types_and_values():
    x = np.zeros((2, 3, 4, 4))
    with pytest.raises(TypeError, match="running_mean is updated in place.*list"):
        R.batch_norm2d(x, None, None, [0.0, 0.0, 0.0], np.ones(3))
    with pytest.raises(TypeError, match="running_var .*int64"):
        R.batch_norm2d(x, None, None, np.zeros(3), np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match="training must be a bool"):
        R.batch_norm2d(x, None, None, training="yes")
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        R.batch_norm2d(x, None, None, momentum=1.5)
    with pytest.raises(TypeError, match="momentum must be a number"):
        R.batch_norm2d(x, None, None, momentum="0.1")
    with pytest.raises(ValueError, match="eps must be positive"):
        R.batch_norm2d(x, None, None, eps=0.0)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        R.batch_norm2d(np.zeros((2, 3, 4, 4), dtype=complex), None, None)


def test_torch_version_bad_arguments():
    x = torch.zeros(2, 3, 4, 4)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        ct.batch_norm2d(np.zeros((2, 3, 4, 4)), None, None)
    with pytest.raises(TypeError, match="gamma .*dtype torch.float64"):
        ct.batch_norm2d(x, torch.ones(3, dtype=torch.float64), None)
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(3,\).*\(4,\)"):
        ct.batch_norm2d(x, torch.ones(4), torch.zeros(3))
    with pytest.raises(ValueError, match="training=False"):
        ct.batch_norm2d(x, None, None, training=False)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_version_on_cuda_matches_functional():
    device = cnnlab.device() if cnnlab.device().type == "cuda" else torch.device("cuda")
    x, gamma, beta, rm, rv, momentum, eps, rng = random_case(3)
    args = [torch.tensor(a, dtype=torch.float32, device=device) for a in (x, gamma, beta, rm, rv)]
    ref = [a.clone() for a in args]
    args[0].requires_grad_(True)
    ref[0].requires_grad_(True)
    out = ct.batch_norm2d(args[0], args[1], args[2], args[3], args[4], momentum=momentum, eps=eps)
    expected = F.batch_norm(ref[0], ref[3], ref[4], ref[1], ref[2], training=True, momentum=momentum, eps=eps)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(args[3], ref[3])
    torch.testing.assert_close(args[4], ref[4])
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(args[0].grad, ref[0].grad, rtol=1e-3, atol=1e-4)
