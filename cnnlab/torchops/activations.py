"""ReLU and softmax on torch tensors (autograd gives their backward passes)."""

import torch

from cnnlab.checks import as_int
from cnnlab.torchops.tensor_checks import check_tensor

__all__ = ["relu", "softmax"]


def relu(x):
    """max(0, x) elementwise; NaN stays NaN.

    Written with ``torch.where`` so the gradient is 1 where x > 0 and 0 elsewhere, x = 0 included,
    exactly like ``F.relu`` (``clamp(min=0)`` would pass the gradient at x = 0).

    Args:
        x: floating tensor of any shape, on any device.

    Shape:
        x (*) -> out (*), same dtype and device.

    Example:
        >>> x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> relu(x).sum().backward(); x.grad
        tensor([0., 0., 1.])
    """
    check_tensor(x, "x", floating=True)
    return torch.where(x <= 0, torch.zeros_like(x), x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``; each slice sums to 1.

    The maximum of each slice is subtracted first: softmax does not change under a shift and
    exp never overflows. Equals ``torch.softmax(x, dim=axis)``.

    Args:
        x: floating tensor with at least one dimension. axis: an int in [-x.dim(), x.dim()).

    Shape:
        x (*) -> probabilities (*).

    Example:
        >>> softmax(torch.tensor([[0.0, 0.0], [1000.0, 1000.0]]))
        tensor([[0.5000, 0.5000],
                [0.5000, 0.5000]])
    """
    check_tensor(x, "x", floating=True)
    axis = as_int(axis, "axis")
    if not -x.dim() <= axis < max(x.dim(), 1):
        raise ValueError(f"axis {axis} is out of range for x of shape {tuple(x.shape)} ({x.dim()} dimensions)")
    # detach: the shift cancels in the ratio, so autograd need not track it
    shifted = x - x.amax(dim=axis, keepdim=True).detach()
    exp = shifted.exp()
    return exp / exp.sum(dim=axis, keepdim=True)
