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
    """x (*, in_features), w (out_features, in_features), b (out_features,) -> (*, out_features)."""
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
    """dout (*, out_features), x (*, in_features), w (out, in) -> dx like x, dw like w, db (out_features,).

    dx = dout @ w,  dw = dout^T @ x,  db = dout summed over every leading axis.
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
    """Keep the batch axis, merge the rest: x (N, C, H, W) (or any (N, *)) -> (N, C*H*W).

    A reshape, so its backward is ``dout.reshape(x.shape)``.
    """
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis, got a scalar (shape {x.shape})")
    return x.reshape(x.shape[0], -1)
