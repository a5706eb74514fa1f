"""ReLU and softmax on torch tensors (autograd gives their backward passes)."""

import torch

from cnnlab.checks import as_int
from cnnlab.torchops.tensor_checks import check_tensor

__all__ = ["relu", "softmax"]


def relu(x):
    """max(0, x) elementwise; any shape in, same shape out.

    Written with ``torch.where`` so the gradient is 1 where x > 0 and 0 elsewhere, x = 0 included,
    exactly like ``F.relu`` (``clamp(min=0)`` would pass the gradient at x = 0); NaN stays NaN.
    """
    check_tensor(x, "x", floating=True)
    return torch.where(x <= 0, torch.zeros_like(x), x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``; any shape in, same shape out, each slice sums to 1.

    The maximum of each slice is subtracted first: softmax does not change under a shift and
    exp never overflows. Equals ``torch.softmax(x, dim=axis)``.
    """
    check_tensor(x, "x", floating=True)
    axis = as_int(axis, "axis")
    if not -x.dim() <= axis < max(x.dim(), 1):
        raise ValueError(f"axis {axis} is out of range for x of shape {tuple(x.shape)} ({x.dim()} dimensions)")
    # detach: the shift cancels in the ratio, so autograd need not track it
    shifted = x - x.amax(dim=axis, keepdim=True).detach()
    exp = shifted.exp()
    return exp / exp.sum(dim=axis, keepdim=True)
