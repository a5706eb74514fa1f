"""Element-wise activations, forward and backward side by side.

    out = relu(x)                 dx = relu_backward(dout, x)
    p   = softmax(x, axis=-1)     (its gradient is folded into losses.softmax_cross_entropy)

Shapes: any shape in, the same shape out.
"""

import numpy as np

from cnnlab.checks import as_float_array, check_same_shape

__all__ = ["relu", "relu_backward", "softmax"]


def relu(x):
    """max(x, 0) element-wise; NaN stays NaN.

    Args:
        x: array of any shape (integers are promoted to float64).

    Shape:
        x (*) -> out (*), same dtype.

    Example:
        >>> relu(np.array([-1.0, 0.0, 2.0]))
        array([0., 0., 2.])
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0, dtype=x.dtype)


def relu_backward(dout, x):
    """Gradient of :func:`relu`: dout where x > 0, else 0 (the subgradient at 0 is 0, as in PyTorch).

    Args:
        dout: upstream gradient, the shape of x. x: the forward pass's input.

    Shape:
        dout (*), x (*) -> dx (*).

    Example:
        >>> relu_backward(np.array([5.0, 5.0, 5.0]), np.array([-1.0, 0.0, 2.0]))
        array([0., 0., 5.])
    """
    x, dout = as_float_array(x, "x"), as_float_array(dout, "dout")
    check_same_shape(dout.shape, x.shape, "dout", "x")
    return np.where(x > 0, dout, 0).astype(np.result_type(dout, x), copy=False)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``.

    Subtracting the maximum first changes nothing mathematically (it cancels) but keeps
    exp() from overflowing for large logits. Its gradient is folded into
    :func:`cnnlab.reference.softmax_cross_entropy`.

    Args:
        x: array with at least one dimension. axis: the axis that sums to 1.

    Shape:
        x (*) -> probabilities (*), summing to 1 along ``axis``.

    Example:
        >>> softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]]))  # no overflow at 1000
        array([[0.25, 0.75],
               [0.5 , 0.5 ]])
    """
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar (shape ())")
    shifted = x - x.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)
