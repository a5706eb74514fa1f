"""2-D convolution (cross-correlation, as in every deep-learning library) by im2col, on torch tensors.

The reference (:mod:`cnnlab.reference.conv`) teaches the trick; this is the same idea with
``torch.nn.functional.unfold``: copy every KH x KW x C window of the padded input into one column,
then one matrix product with the filters (one row per filter) computes every output pixel at once.

Autograd differentiates it (unfold's backward is fold, the col2im step), so there is no
``conv2d_backward`` here: ``loss.backward()`` fills ``x.grad``, ``w.grad`` and ``b.grad``.
"""

import torch.nn.functional as F

from cnnlab._validate import conv_geometry
from cnnlab.torch._tensor import check_compatible, check_tensor

__all__ = ["conv2d"]


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolve a batch of images with a bank of filters.

    Shapes
    ------
    x:   (N, C, H, W)
    w:   (F, C, KH, KW)
    b:   (F,) or None
    out: (N, F, OH, OW) with

    .. math::

        OH = \\left\\lfloor \\frac{H + p_{top} + p_{bottom} - KH}{s_h} \\right\\rfloor + 1, \\quad
        OW = \\left\\lfloor \\frac{W + p_{left} + p_{right} - KW}{s_w} \\right\\rfloor + 1

    stride:  int or (sh, sw).
    padding: int, (ph, pw), "valid" (no padding) or "same" (stride 1 only; OH = H, OW = W; for an
             even kernel the extra row/column of zeros goes at the bottom/right, as in torch).

    Equals ``torch.nn.functional.conv2d(x, w, b, stride, padding)``; all tensors on one device, one dtype.
    """
    check_tensor(x, "x", floating=True)
    check_tensor(w, "w", floating=True)
    if b is not None:
        check_tensor(b, "b", floating=True)
    geometry = conv_geometry(x.shape, w.shape, stride, padding, None if b is None else b.shape)
    check_compatible("x", x, "w", w)
    check_compatible("x", x, "b", b)

    N = x.shape[0]
    n_filters, _, KH, KW = w.shape
    OH, OW = geometry.out_size
    top, bottom, left, right = geometry.padding
    if any(geometry.padding):
        x = F.pad(x, (left, right, top, bottom))  # F.pad lists the last axis first
    # cols: (N, C*KH*KW, OH*OW); column j holds the window that produces output pixel j
    cols = F.unfold(x, kernel_size=(KH, KW), stride=geometry.stride)
    # (F, C*KH*KW) @ (N, C*KH*KW, OH*OW) -> (N, F, OH*OW): every filter against every window
    out = w.reshape(n_filters, -1) @ cols
    if b is not None:
        out = out + b.reshape(1, n_filters, 1)
    return out.reshape(N, n_filters, OH, OW)
