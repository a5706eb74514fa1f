"""2-D convolution (cross-correlation, as in every deep-learning library) by im2col, on torch tensors.

The reference (:mod:`cnnlab.reference.conv`) teaches the trick; this is the same idea with
``torch.nn.functional.unfold``: copy every KH x KW x C window of the padded input into one column,
then one matrix product with the filters (one row per filter) computes every output pixel at once.

Autograd differentiates it (unfold's backward is fold, the col2im step), so there is no
``conv2d_backward`` here: ``loss.backward()`` fills ``x.grad``, ``w.grad`` and ``b.grad``.
"""

import torch.nn.functional as F

from cnnlab.checks import check_dilation, check_rank, conv_geometry, conv_transpose_geometry, dilated_size
from cnnlab.torchops.tensor_checks import check_compatible, check_tensor

__all__ = ["conv2d", "dilate2d", "conv2d_dilated", "conv_transpose2d"]


def _check_tensors(x, w, b):
    """x, w and b (or None) must be floating torch tensors."""
    check_tensor(x, "x", floating=True)
    check_tensor(w, "w", floating=True)
    if b is not None:
        check_tensor(b, "b", floating=True)


def _check_devices(x, w, b):
    """w and b (or None) must share x's device and dtype (checked after the shapes, whose errors say more)."""
    check_compatible("x", x, "w", w)
    check_compatible("x", x, "b", b)


def _conv_by_unfold(x, w, b, geometry, dilation=(1, 1)):
    """im2col with ``F.unfold`` (taps ``dilation`` apart), then one matrix product; geometry from conv_geometry."""
    top, bottom, left, right = geometry.padding
    if any(geometry.padding):
        x = F.pad(x, (left, right, top, bottom))  # F.pad lists the last axis first
    # cols: (N, C*KH*KW, OH*OW); column j holds the window that produces output pixel j
    cols = F.unfold(x, kernel_size=tuple(w.shape[2:]), dilation=dilation, stride=geometry.stride)
    # (F, C*KH*KW) @ (N, C*KH*KW, OH*OW) -> (N, F, OH*OW): every filter against every window
    out = w.reshape(w.shape[0], -1) @ cols
    if b is not None:
        out = out + b.reshape(1, -1, 1)
    return out.reshape(x.shape[0], w.shape[0], *geometry.out_size)


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolve a batch of images with a bank of filters: ``F.unfold`` (im2col) and one matrix product.

    Args:
        x: images (N, C, H, W), a floating tensor on any device.
        w: filters (F, C, KH, KW). b: one bias per filter (F,), or None. All on x's device, in x's dtype.
        stride: int or (sh, sw).
        padding: int, (ph, pw), "valid" (no padding) or "same" (stride 1 only; OH = H, OW = W; for an
            even kernel the extra row/column of zeros goes at the bottom/right, as in torch).

    Shape:
        out: (N, F, OH, OW) with

        .. math::

            OH = \\left\\lfloor \\frac{H + p_{top} + p_{bottom} - KH}{s_h} \\right\\rfloor + 1, \\quad
            OW = \\left\\lfloor \\frac{W + p_{left} + p_{right} - KW}{s_w} \\right\\rfloor + 1

    Equals ``torch.nn.functional.conv2d(x, w, b, stride, padding)``, gradients included.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x, w = torch.randn(2, 3, 7, 6, generator=g), torch.randn(4, 3, 3, 2, generator=g)
        >>> out = conv2d(x, w, stride=2, padding=1)
        >>> out.shape, torch.allclose(out, F.conv2d(x, w, stride=2, padding=1), atol=1e-5)
        (torch.Size([2, 4, 4, 4]), True)
    """
    _check_tensors(x, w, b)
    geometry = conv_geometry(x.shape, w.shape, stride, padding, None if b is None else b.shape)
    _check_devices(x, w, b)
    return _conv_by_unfold(x, w, b, geometry)


def dilate2d(a, dilation):
    """Spread the last two axes apart: ``dilation - 1`` zeros between neighbouring entries.

    Args:
        a: tensor (..., H, W). dilation: int or (dh, dw), each >= 1.

    Shape:
        (..., H, W) -> (..., (H - 1) dh + 1, (W - 1) dw + 1); out[..., i dh, j dw] = a[..., i, j].

    Differentiable (a slice assignment), on the device and dtype of ``a``. Same as
    :func:`cnnlab.reference.dilate2d`.

    Example:
        >>> import torch
        >>> dilate2d(torch.ones(1, 1, 2, 2), 2).shape
        torch.Size([1, 1, 3, 3])
    """
    check_tensor(a, "a")
    if a.dim() < 2:
        raise ValueError(f"a must have at least 2 dimensions (..., H, W), got shape {tuple(a.shape)}")
    dh, dw = check_dilation(dilation)
    H, W = a.shape[-2:]
    out = a.new_zeros(*a.shape[:-2], (H - 1) * dh + 1, (W - 1) * dw + 1)
    out[..., ::dh, ::dw] = a
    return out


def conv2d_dilated(x, w, b=None, stride=1, padding=0, dilation=1):
    """Dilated convolution by im2col: ``F.unfold(..., dilation=d)`` reads taps d pixels apart.

    Args:
        x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None.
        stride: int or (sh, sw). padding: int, (ph, pw), "valid" or "same" (stride 1).
        dilation: int or (dh, dw), each >= 1.

    Shape:
        out: (N, F, OH, OW), OH = floor((H + 2 ph - dh (KH - 1) - 1) / sh) + 1, likewise OW.

    Equals ``torch.nn.functional.conv2d(x, w, b, stride, padding, dilation)`` and
    :func:`cnnlab.reference.conv2d_dilated`.

    Example:
        >>> import torch
        >>> conv2d_dilated(torch.ones(1, 1, 7, 7), torch.ones(1, 1, 3, 3), dilation=2).shape
        torch.Size([1, 1, 3, 3])
    """
    _check_tensors(x, w, b)
    dh, dw = check_dilation(dilation)
    w_shape = check_rank(w.shape, 4, "w", "(F, C, KH, KW)")
    # the geometry of the dilated kernel: a kernel that spans d (k - 1) + 1 pixels
    spanned = (*w_shape[:2], dilated_size(w_shape[2], dh), dilated_size(w_shape[3], dw))
    geometry = conv_geometry(x.shape, spanned, stride, padding, None if b is None else b.shape)
    _check_devices(x, w, b)
    return _conv_by_unfold(x, w, b, geometry, dilation=(dh, dw))


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution: the adjoint of :func:`conv2d`, an upsampling with learned filters.

    Spread the input apart by the stride, pad it with KH - 1 zeros on every side (a full
    convolution), convolve with the filters flipped in both directions and their channel axes
    swapped, and crop ``padding`` from each side.

    Args:
        x: (N, C_in, H, W); w: (C_in, C_out, KH, KW) (torch's layout); b: (C_out,) or None.
        stride: int or (sh, sw). padding: int or (ph, pw). output_padding: int or pair < stride.

    Shape:
        out: (N, C_out, OH, OW) with OH = (H - 1) sh - 2 ph + KH + oph, likewise OW.

    Equals ``torch.nn.functional.conv_transpose2d(x, w, b, stride, padding, output_padding)``.

    Example:
        >>> import torch
        >>> conv_transpose2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3), stride=2).shape
        torch.Size([1, 1, 7, 7])
    """
    _check_tensors(x, w, b)
    geometry = conv_transpose_geometry(x.shape, w.shape, stride, padding, output_padding,
                                       None if b is None else b.shape)
    _check_devices(x, w, b)
    (ph, pw), (oph, opw), (OH, OW) = geometry.padding, geometry.output_padding, geometry.out_size
    KH, KW = w.shape[2:]
    full_input = F.pad(dilate2d(x, geometry.stride), (KW - 1, KW - 1 + opw, KH - 1, KH - 1 + oph))
    flipped = w.flip(2, 3).transpose(0, 1)  # (C_out, C_in, KH, KW)
    out = conv2d(full_input, flipped)[:, :, ph : ph + OH, pw : pw + OW]
    return out if b is None else out + b.reshape(1, -1, 1, 1)
