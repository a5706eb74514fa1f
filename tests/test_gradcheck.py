"""cnnlab.gradcheck itself, then centred finite differences against every reference backward pass."""

import numpy as np
import pytest

from cnnlab import reference as R
from cnnlab.gradcheck import near_kinks, numerical_gradient, rel_error, scaled_error

TOL = 1e-7


def test_numerical_gradient_of_known_functions():
    x = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    np.testing.assert_allclose(numerical_gradient(lambda a: a**3, x), 3 * x**2, rtol=1e-8, atol=1e-9)
    dout = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(numerical_gradient(np.sin, x, dout), np.cos(x) * dout, rtol=1e-8, atol=1e-9)
    # scalar-valued f: the gradient of sum(x**2) / 2 is x
    np.testing.assert_allclose(numerical_gradient(lambda a: 0.5 * np.sum(a**2), x), x, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_restores_x_and_supports_closures():
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    grad = numerical_gradient(lambda _: x * x, x)  # reads x from the closure, not the argument
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)


def test_numerical_gradient_rejects_bad_arguments():
    with pytest.raises(TypeError, match="x must be a float numpy array"):
        numerical_gradient(np.sin, np.arange(3))
    with pytest.raises(ValueError, match=r"dout has shape \(2,\) but f\(x\) has shape \(3,\)"):
        numerical_gradient(np.sin, np.zeros(3), np.zeros(2))


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 4.2)
    assert rel_error([0.0], [0.0]) == 0.0  # the 1e-8 floor avoids 0/0
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))



def test_scaled_error_ignores_rounding_on_tiny_entries_but_not_a_wrong_gradient():
    true = np.array([8.0, -3.0e-7, 1.5])
    noisy = true + np.array([1e-11, 5e-11, -2e-11])  # what finite differences with h = 1e-5 carry
    assert rel_error(true, noisy) > 1e-5  # per entry, the tiny one looks wrong
    assert scaled_error(true, noisy) < 1e-10
    assert scaled_error(true, true * np.array([1.0, 1.0, -1.0])) > 0.1  # one wrong sign
    assert scaled_error(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        scaled_error(np.zeros(2), np.zeros(3))


def test_near_kinks_flags_relu_inputs_and_max_pool_ties_within_h_only():
    x = np.array([[0.4, 3e-6, -2e-6, -0.7]])
    np.testing.assert_array_equal(near_kinks(lambda a: R.relu(a), x), [[False, True, True, False]])
    window = np.array([[[[1.0, 1.0 + 4e-6], [0.2, -0.5]]]])  # two maxima 4e-6 apart: the pool switches within h
    flagged = near_kinks(lambda a: R.max_pool2d(a, 2), window)
    np.testing.assert_array_equal(flagged, [[[[True, True], [False, False]]]])
    smooth = np.linspace(-1.0, 1.0, 7)
    assert not near_kinks(np.tanh, smooth).any()
    # away from every kink, numerical and analytic gradients agree to rounding
    x = np.random.default_rng(3).standard_normal((5, 6))
    trusted = ~near_kinks(lambda a: R.relu(a), x)
    assert trusted.all()
    assert scaled_error(numerical_gradient(lambda a: R.relu(a), x), (x > 0).astype(float)) < 1e-9


# ---------------------------------------------------------------- finite differences vs backward passes


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("backward", [R.conv2d_backward, R.conv2d_backward_naive])
@pytest.mark.parametrize("stride,padding,kernel", [(1, 0, (3, 3)), (2, 1, (3, 2)), ((1, 2), (2, 1), (2, 3)), (1, "same", (2, 2))])
def test_conv2d_backward_by_finite_differences(rng, stride, padding, kernel, backward):
    x = rng.standard_normal((2, 3, 5, 6))
    w = rng.standard_normal((2, 3, *kernel))
    b = rng.standard_normal(2)
    dout = rng.standard_normal(R.conv2d(x, w, b, stride, padding).shape)
    dx, dw, db = backward(dout, x, w, stride, padding)
    assert rel_error(dx, numerical_gradient(lambda a: R.conv2d(a, w, b, stride, padding), x, dout)) < TOL
    assert rel_error(dw, numerical_gradient(lambda a: R.conv2d(x, a, b, stride, padding), w, dout)) < TOL
    assert rel_error(db, numerical_gradient(lambda a: R.conv2d(x, w, a, stride, padding), b, dout)) < TOL


@pytest.mark.parametrize("kind,backward_name", [("max", "max_pool2d_backward"), ("max", "max_pool2d_backward_naive"),
                                                ("avg", "avg_pool2d_backward"), ("min", "min_pool2d_backward")])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), ((2, 3), 1, (1, 0))])
def test_pool_backward_by_finite_differences(rng, kind, backward_name, kernel, stride, padding):
    forward = getattr(R, f"{kind}_pool2d")
    backward = getattr(R, backward_name)
    # a permutation of well-separated values: no ties, so max/min are differentiable at x
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1
    dout = rng.standard_normal(forward(x, kernel, stride, padding).shape)
    dx = backward(dout, x, kernel, stride, padding)
    assert rel_error(dx, numerical_gradient(lambda a: forward(a, kernel, stride, padding), x, dout)) < TOL


def test_linear_backward_by_finite_differences(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    dx, dw, db = R.linear_backward(dout, x, w)
    assert rel_error(dx, numerical_gradient(lambda a: R.linear(a, w, b), x, dout)) < TOL
    assert rel_error(dw, numerical_gradient(lambda a: R.linear(x, a, b), w, dout)) < TOL
    assert rel_error(db, numerical_gradient(lambda a: R.linear(x, w, a), b, dout)) < TOL


def test_relu_backward_by_finite_differences(rng):
    x = rng.standard_normal((3, 7))
    x[np.abs(x) < 0.01] = 0.5  # keep away from the kink at 0
    dout = rng.standard_normal(x.shape)
    assert rel_error(R.relu_backward(dout, x), numerical_gradient(R.relu, x, dout)) < TOL


def test_softmax_cross_entropy_by_finite_differences(rng):
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)
    _, dlogits = R.softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda a: R.softmax_cross_entropy(a, labels)[0], logits)
    assert rel_error(dlogits, numeric) < TOL


def test_dropout_backward_by_finite_differences_with_a_fixed_mask(rng):
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    _, mask = R.dropout(x, 0.4, rng=3)
    # the same seed gives the same mask on every call, so f is a fixed linear map
    numeric = numerical_gradient(lambda a: R.dropout(a, 0.4, rng=3)[0], x, dout)
    assert rel_error(R.dropout_backward(dout, mask), numeric) < TOL
