"""Fully connected (dense) layer and flatten, on torch tensors (autograd gives the backward)."""

from cnnlab.checks import check_rank
from cnnlab.torchops.tensor_checks import check_compatible, check_tensor

__all__ = ["linear", "flatten"]


def linear(x, w, b=None):
    """Fully connected layer ``x @ w.T + b``, the convention of ``torch.nn.Linear``.

    Args:
        x: (N, in_features), or any (*, in_features); floating.
        w: (out_features, in_features). b: (out_features,) or None. On x's device, in x's dtype.

    Shape:
        x (*, in_features) -> out (*, out_features). Equals ``torch.nn.functional.linear(x, w, b)``.

    Example:
        >>> import torch
        >>> linear(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.ones(2))
        tensor([[2., 4.]])
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
    """Keep the batch axis, join the others, in C (row-major) order like ``torch.flatten(x, 1)``.

    Args:
        x: tensor with a batch axis, e.g. (N, C, H, W).

    Shape:
        x (N, d1, d2, ...) -> (N, d1*d2*...).

    Example:
        >>> import torch
        >>> flatten(torch.zeros(2, 3, 4, 5)).shape
        torch.Size([2, 60])
    """
    check_tensor(x, "x")
    if x.dim() < 1:
        raise ValueError(f"x must have a batch dimension, got a scalar of shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)
