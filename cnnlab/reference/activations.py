"""Element-wise activations, forward and backward side by side.

    out = relu(x)                 dx = relu_backward(dout, x)
    p   = softmax(x, axis=-1)     (its gradient is folded into losses.softmax_cross_entropy)

Shapes: any shape in, the same shape out.
"""

import numpy as np

from cnnlab.checks import as_float_array, check_same_shape

__all__ = ["relu", "relu_backward", "softmax"]


def relu(x):
    """max(x, 0) element-wise. x (*) -> out (*), same dtype (NaN stays NaN)."""
    x = as_float_array(x, "x")
    return np.maximum(x, 0, dtype=x.dtype)


def relu_backward(dout, x):
    """dout (*), x (*) -> dx (*): dout where x > 0, else 0 (the subgradient at 0 is 0, as in PyTorch)."""
    x, dout = as_float_array(x, "x"), as_float_array(dout, "dout")
    check_same_shape(dout.shape, x.shape, "dout", "x")
    return np.where(x > 0, dout, 0).astype(np.result_type(dout, x), copy=False)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``. x (*) -> probabilities (*), summing to 1 along ``axis``.

    Subtracting the maximum first changes nothing mathematically (it cancels) but keeps
    exp() from overflowing for large logits.
    """
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar (shape ())")
    shifted = x - x.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)
