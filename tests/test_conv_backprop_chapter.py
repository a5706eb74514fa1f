"""cnnlab.course.conv_backprop: the backward pass of a convolution written as convolutions
(chapter 8b), against conv2d_backward, PyTorch autograd and finite differences; bad input."""

import numpy as np
import pytest

from cnnlab import reference as R
from cnnlab.course.conv_backprop import backprop_figure, bias_gradient, input_gradient, weight_gradient
from cnnlab.gradcheck import numerical_gradient

torch = pytest.importorskip("torch")
F = torch.nn.functional


def random_layer(seed):
    rng = np.random.default_rng(seed)
    N, C, Fo = (int(v) for v in rng.integers(1, 4, size=3))
    KH, KW = (int(v) for v in rng.integers(1, 5, size=2))
    stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
    padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
    H, W = (int(v) for v in rng.integers(max(KH, KW), 12, size=2))
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((Fo, C, KH, KW))
    dout = rng.standard_normal(R.conv2d(x, w, stride=stride, padding=padding).shape)
    return x, w, dout, stride, padding


@pytest.mark.parametrize("seed", range(30))
def test_formulas_match_conv2d_backward_and_autograd(seed):
    x, w, dout, stride, padding = random_layer(seed)
    dx, dw, db = R.conv2d_backward(dout, x, w, stride=stride, padding=padding)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.conv2d(xt, wt, stride=stride, padding=padding).backward(torch.tensor(dout))
    for ours, reference, autograd in ((input_gradient(dout, w, x.shape, stride, padding), dx, xt.grad),
                                      (weight_gradient(x, dout, w.shape[2:], stride, padding), dw, wt.grad)):
        np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours, autograd.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bias_gradient(dout), db)


def test_same_padding_and_finite_differences():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 2, 3))  # even kernel: uneven padding
    dout = rng.standard_normal(R.conv2d(x, w, padding="same").shape)
    numeric_dx = numerical_gradient(lambda a: R.conv2d(a, w, padding="same"), x.copy(), dout)
    numeric_dw = numerical_gradient(lambda a: R.conv2d(x, a, padding="same"), w.copy(), dout)
    np.testing.assert_allclose(input_gradient(dout, w, x.shape, padding="same"), numeric_dx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(weight_gradient(x, dout, (2, 3), padding="same"), numeric_dw, rtol=1e-6, atol=1e-8)


def test_input_gradient_equals_transposed_convolution():
    x, w, dout, stride, padding = random_layer(3)
    dropped = tuple(n + 2 * p - k - (o - 1) * s for n, p, k, o, s in
                    zip(x.shape[2:], padding, w.shape[2:], dout.shape[2:], stride))
    np.testing.assert_allclose(R.conv_transpose2d(dout, w, stride=stride, padding=padding, output_padding=dropped),
                               input_gradient(dout, w, x.shape, stride, padding), rtol=1e-9, atol=1e-12)


def test_bad_input_names_the_argument_and_shapes():
    x, w = np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"dout has shape \(1, 3, 2, 2\).*\(1, 3, 3, 3\)"):
        input_gradient(np.zeros((1, 3, 2, 2)), w, x.shape)
    with pytest.raises(ValueError, match="channel mismatch"):
        input_gradient(np.zeros((1, 3, 3, 3)), w, (1, 4, 5, 5))
    with pytest.raises(ValueError, match="dout must have 4 dimensions"):
        weight_gradient(x, np.zeros((3, 3)), (3, 3))
    with pytest.raises(ValueError, match="x_shape must have 4 dimensions"):
        input_gradient(np.zeros((1, 3, 3, 3)), w, (5, 5))
    with pytest.raises(ValueError, match="dout must have 4 dimensions"):
        bias_gradient(np.zeros(3))


def test_figure_draws_eight_panels():
    import matplotlib.pyplot as plt

    fig = backprop_figure(np.ones((7, 7)), np.ones((3, 3)), np.ones((3, 3)), stride=2)
    assert len(fig.axes) == 8
    plt.close(fig)
