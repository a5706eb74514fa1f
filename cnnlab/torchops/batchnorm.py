"""Batch normalisation on torch tensors, the same function as :func:`cnnlab.reference.batch_norm2d`.

Built from differentiable tensor operations (mean, variance, square root), so autograd computes the
backward pass through the batch statistics; the running estimates are updated in place without
gradient, as ``torch.nn.functional.batch_norm`` does. Runs on the device of ``x``.
"""

import torch

from cnnlab.checks import batch_norm_shapes
from cnnlab.torchops.tensor_checks import check_compatible, check_tensor

__all__ = ["batch_norm2d"]


def batch_norm2d(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of ``x`` over the batch and the image, then scale by ``gamma`` and shift by ``beta``.

    Args:
        x: float tensor ``(N, C, H, W)`` on any device.
        gamma, beta: ``(C,)`` tensors (usually parameters with ``requires_grad``), or None for ones / zeros.
        running_mean, running_var: ``(C,)`` tensors or None; in training mode **updated in place**
            (``r = (1 - momentum) * r + momentum * stat``, unbiased variance), outside autograd.
        training: batch statistics (True) or the running estimates (False, which must then be given).
        momentum: in [0, 1]. eps: > 0, added to the variance.

    Shape:
        - x: ``(N, C, H, W)``; gamma, beta, running_mean, running_var: ``(C,)``
        - out: ``(N, C, H, W)``; statistics over ``M = N * H * W`` values per channel (training: ``M >= 2``).

    Example:
        >>> x = torch.randn(8, 4, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 + 3
        >>> gamma = torch.ones(4, dtype=torch.float64, requires_grad=True)
        >>> mean, var = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
        >>> out = batch_norm2d(x, gamma, torch.zeros(4, dtype=torch.float64), mean, var)
        >>> torch.allclose(out, torch.nn.functional.batch_norm(x, None, None, training=True))
        True
        >>> out.sum().backward(); gamma.grad.shape
        torch.Size([4])
    """
    check_tensor(x, "x", floating=True)
    for name, value in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if value is not None:
            check_tensor(value, name, floating=True)
            check_compatible("x", x, name, value)
    shape = lambda t: None if t is None else tuple(t.shape)  # noqa: E731
    _, M = batch_norm_shapes(
        tuple(x.shape), shape(gamma), shape(beta), shape(running_mean), shape(running_var), training, momentum, eps
    )
    dims = (0, 2, 3)
    if training:
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)  # the batch is normalised with the biased variance
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                running_var.mul_(1 - momentum).add_(var.detach() * (M / (M - 1)), alpha=momentum)
    else:
        mean, var = running_mean, running_var
    out = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + eps)
    if gamma is not None:
        out = out * gamma[None, :, None, None]
    if beta is not None:
        out = out + beta[None, :, None, None]
    return out
