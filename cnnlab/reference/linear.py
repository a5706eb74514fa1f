"""Fully connected (dense) layer and flatten, forward and backward side by side.

    out        = linear(x, w, b)
    dx, dw, db = linear_backward(dout, x, w)

Shapes (PyTorch's ``nn.Linear`` conventions)
------
x:   (N, in_features)          (any leading dimensions (*, in_features) also work)
w:   (out_features, in_features)
b:   (out_features,)
out: (N, out_features)         out = x @ w.T + b
"""

import numpy as np

from cnnlab.checks import as_float_array, check_same_shape

__all__ = ["linear", "linear_backward", "flatten"]


def _check(x, w):
    x, w = as_float_array(x, "x"), as_float_array(w, "w")
    if w.ndim != 2:
        raise ValueError(f"w must have 2 dimensions (out_features, in_features), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"x of shape {x.shape} must end in in_features = {w.shape[1]} to match w of shape {w.shape}")
    return x, w


def linear(x, w, b=None):
    """Fully connected layer ``x @ w.T + b``, the convention of ``torch.nn.Linear``.

    Args:
        x: (N, in_features), or any (*, in_features).
        w: (out_features, in_features). b: (out_features,) or None.

    Shape:
        x (*, in_features) -> out (*, out_features).

    Example:
        >>> linear(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]]), np.ones(3))
        array([[ 2.,  4., -1.]])
    """
    x, w = _check(x, w)
    out = x @ w.T
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[0],):
            raise ValueError(
                f"b must have shape (out_features,) = ({w.shape[0]},) to match w of shape {w.shape}, got {b.shape}"
            )
        out = out + b
    return out


def linear_backward(dout, x, w):
    """Gradients of :func:`linear`: dx = dout @ w, dw = dout^T @ x, db = dout summed over every leading axis.

    Args:
        dout: upstream gradient (*, out_features). x, w: the forward pass's input and weights.

    Shape:
        dout (*, out_features), x (*, in_features), w (out_features, in_features) ->
        dx like x, dw like w, db (out_features,).

    Example:
        >>> dx, dw, db = linear_backward(np.ones((4, 3)), np.ones((4, 2)), np.ones((3, 2)))
        >>> dx.shape, dw.shape, db
        ((4, 2), (3, 2), array([4., 4., 4.]))
    """
    x, w = _check(x, w)
    dout = as_float_array(dout, "dout")
    check_same_shape(dout.shape, (*x.shape[:-1], w.shape[0]), "dout", "linear's output")
    dout2 = dout.reshape(-1, w.shape[0])
    dx = dout @ w
    dw = dout2.T @ x.reshape(-1, w.shape[1])
    db = dout2.sum(axis=0)
    return dx, dw, db


def flatten(x):
    """Keep the batch axis, merge the rest, in C (row-major) order like ``torch.flatten(x, 1)``.

    A reshape, so its backward is ``dout.reshape(x.shape)``.

    Args:
        x: array with a batch axis, e.g. (N, C, H, W).

    Shape:
        x (N, *) -> (N, product of the other axes), e.g. (N, C*H*W).

    Example:
        >>> flatten(np.zeros((2, 3, 4, 5))).shape
        (2, 60)
    """
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis, got a scalar (shape {x.shape})")
    return x.reshape(x.shape[0], -1)
