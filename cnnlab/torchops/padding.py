"""Padding and the output-size formula, on torch tensors.

A window of size f moved with stride s over a length n padded with p on each side fits

.. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - f}{s} \\right\\rfloor + 1

times (:func:`output_size`, shared with :mod:`cnnlab.reference`). :func:`pad2d` adds the border
with ``torch.nn.functional.pad``, so it runs on the tensor's device and autograd differentiates it
(the gradient of padding is cropping: the border's gradient is dropped, the edge mode's is summed
into the border pixels).
"""

import torch.nn.functional as F

from cnnlab.checks import check_pad_mode, check_rank, output_size, padding4
from cnnlab.torchops.tensor_checks import check_tensor

__all__ = ["output_size", "pad2d"]

# What torch.nn.functional.pad calls each of cnnlab.checks.PAD_MODES.
_TORCH_MODE = {"zeros": "constant", "edge": "replicate"}


def pad2d(x, padding, mode="zeros"):
    """Pad the two spatial axes of a batch of images (differentiable, on x's device).

    Args:
        x: (N, C, H, W) floating tensor, any device.
        padding: int p (all four sides), (ph, pw) (ph rows above and below, pw columns left and
            right) or (top, bottom, left, right); non-negative.
        mode: one of ``cnnlab.checks.PAD_MODES``: "zeros" fills with 0; "edge" repeats the
            border pixel (torch's "replicate").

    Shape:
        (N, C, H, W) -> (N, C, H + top + bottom, W + left + right), same dtype and device.

    Example:
        >>> import torch
        >>> pad2d(torch.arange(4.0).reshape(1, 1, 2, 2), (0, 1), mode="edge")[0, 0]
        tensor([[0., 0., 1., 1.],
                [2., 2., 3., 3.]])
    """
    check_tensor(x, "x", floating=True)
    check_rank(x.shape, 4, "x", "(N, C, H, W)")
    top, bottom, left, right = padding4(padding)
    check_pad_mode(mode)
    if top == bottom == left == right == 0:
        return x
    # F.pad lists the last axis first: (left, right, top, bottom)
    return F.pad(x, (left, right, top, bottom), mode=_TORCH_MODE[mode])
