"""Max, average and min pooling over tensor windows.

``Tensor.unfold`` along H and then W gives a strided *view* ``(N, C, OH, OW, KH, KW)`` of every
window (no copy), and one reduction over the last two axes pools them all. Autograd
differentiates it: the gradient of ``max`` goes to the index ``torch.max`` returns, the first
maximum in row-major window order (as in ``F.max_pool2d``); the average spreads it evenly over
KH*KW cells (padded zeros included, like torch's ``count_include_pad=True``), and overlapping
windows add up.

Output size (kernel (KH, KW), stride (sh, sw), padding (ph, pw) on both sides):

.. math:: OH = \\left\\lfloor \\frac{H + 2p_h - KH}{s_h} \\right\\rfloor + 1, \\quad
          OW = \\left\\lfloor \\frac{W + 2p_w - KW}{s_w} \\right\\rfloor + 1
"""

import torch.nn.functional as F

from cnnlab.checks import pool_geometry
from cnnlab.torchops.tensor_checks import check_tensor

__all__ = ["max_pool2d", "avg_pool2d", "min_pool2d"]


def pool_windows(x, kernel_size=2, stride=None, padding=0, fill=0.0):
    """Every pooling window of ``x``, each flattened in row-major order.

    The border is padded with ``fill`` (-inf for max, +inf for min, 0 for average), so padding
    never wins a max or a min. ``Tensor.unfold`` makes a view: no copy until the reshape needs one.

    Args:
        x: (N, C, H, W) floating tensor. kernel_size: int or (KH, KW).
        stride: int, (sh, sw) or None (= kernel_size). padding: int or (ph, pw), at most half the kernel.
        fill: the value of the padded cells.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW, KH*KW), OH = floor((H + 2 ph - KH) / sh) + 1, likewise OW.

    Example:
        >>> import torch
        >>> pool_windows(torch.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0, 0, 0]
        tensor([0., 1., 4., 5.])
    """
    check_tensor(x, "x", floating=True)
    geometry = pool_geometry(x.shape, kernel_size, stride, padding)
    (KH, KW), (sh, sw), (ph, pw) = geometry.kernel_size, geometry.stride, geometry.padding
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph), value=fill)
    windows = x.unfold(2, KH, sh).unfold(3, KW, sw)  # (N, C, OH, OW, KH, KW), a view
    return windows.reshape(*windows.shape[:4], KH * KW)


def max_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Largest value of each window; padding is filled with -inf so it never wins.

    Equals ``F.max_pool2d(x, kernel_size, stride, padding)``, gradient included: ``torch.max`` over a
    dim sends a tie's gradient to one cell, the first maximum.

    Args:
        x: (N, C, H, W) floating tensor. kernel_size: int or (KH, KW).
        stride: int, (sh, sw) or None (= kernel_size). padding: int or (ph, pw), at most half the kernel.

    Shape:
        x (N, C, H, W) -> out (N, C, OH, OW), OH = floor((H + 2 ph - KH) / sh) + 1, likewise OW.

    Example:
        >>> import torch
        >>> x = torch.ones(1, 1, 2, 2, requires_grad=True)
        >>> max_pool2d(x).sum().backward(); x.grad[0, 0]  # a four-way tie: the first cell gets it all
        tensor([[1., 0.],
                [0., 0.]])
    """
    # torch.max over a dim (not amax) so that ties send the whole gradient to one cell, the first
    return pool_windows(x, kernel_size, stride, padding, fill=float("-inf")).max(dim=-1).values


def avg_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Mean of each window, padded zeros counted (torch's ``count_include_pad=True``).

    Equals ``F.avg_pool2d(x, kernel_size, stride, padding)``; autograd spreads each window's
    gradient evenly over its KH*KW cells.

    Args:
        x: (N, C, H, W) floating tensor; kernel_size, stride (None: kernel_size), padding: ints or pairs.

    Shape:
        (N, C, H, W) -> (N, C, OH, OW) with the formula of the module docstring.

    Example:
        >>> import torch
        >>> avg_pool2d(torch.ones(1, 1, 2, 2), 2, padding=1)[0, 0]
        tensor([[0.2500, 0.2500],
                [0.2500, 0.2500]])
    """
    return pool_windows(x, kernel_size, stride, padding, fill=0.0).mean(dim=-1)


def min_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Smallest value of each window (torch has no min pool: it equals ``-F.max_pool2d(-x, ...)``).

    Padding is filled with +inf so it never wins; a tie's gradient goes to the first minimum.

    Args:
        The arguments of :func:`max_pool2d`.

    Shape:
        Those of :func:`max_pool2d`.

    Example:
        >>> import torch
        >>> min_pool2d(torch.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        tensor([[ 0.,  2.],
                [ 8., 10.]])
    """
    return pool_windows(x, kernel_size, stride, padding, fill=float("inf")).min(dim=-1).values
