"""Fully connected (dense) layer and flatten, on torch tensors (autograd gives the backward)."""

from cnnlab.checks import check_rank
from cnnlab.torchops.tensor_checks import check_compatible, check_tensor

__all__ = ["linear", "flatten"]


def linear(x, w, b=None):
    """``x @ w.T + b``, the convention of ``torch.nn.Linear``.

    Shapes
    ------
    x:   (N, D) with D = in_features (any leading dimensions (*, D) also work)
    w:   (M, D), one row per output (out_features, in_features)
    b:   (M,) or None
    out: (N, M) (or (*, M))

    Equals ``torch.nn.functional.linear(x, w, b)``.
    """
    check_tensor(x, "x", floating=True)
    check_tensor(w, "w", floating=True)
    check_rank(w.shape, 2, "w", "(out_features, in_features)")
    if x.dim() < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"x of shape {tuple(x.shape)} must end in in_features = {w.shape[1]} to match w of shape "
            f"{tuple(w.shape)}; w is (out_features, in_features), and images need flatten(x) first"
        )
    check_compatible("x", x, "w", w)
    out = x @ w.T
    if b is not None:
        check_tensor(b, "b", floating=True)
        if tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"b must have shape ({w.shape[0]},) to match w of shape {tuple(w.shape)}, got {tuple(b.shape)}")
        check_compatible("x", x, "b", b)
        out = out + b
    return out


def flatten(x):
    """Keep the batch axis, join the others: (N, d1, d2, ...) -> (N, d1*d2*...), in C (row-major) order,
    like ``torch.flatten(x, 1)`` and Keras' Flatten on channels-first data."""
    check_tensor(x, "x")
    if x.dim() < 1:
        raise ValueError(f"x must have a batch dimension, got a scalar of shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)
