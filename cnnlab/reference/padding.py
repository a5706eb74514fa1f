"""Padding and the output-size formula.

A convolution or pooling window of size f, moved with stride s over an input of length n
padded with p on each side, fits

.. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - f}{s} \\right\\rfloor + 1

times. ``output_size`` computes it; ``pad2d`` adds the border.
"""

import numpy as np

from cnnlab.checks import PAD_MODES, as_float_array, check_pad_mode, check_rank, output_size, padding4  # noqa: F401 - PAD_MODES re-exported

__all__ = ["PAD_MODES", "output_size", "pad2d"]

def pad_constant(x, pads, value=0.0):
    """Pad the last two axes of ``x`` by ``pads = (top, bottom, left, right)`` with ``value``.

    Faster than ``np.pad``: one allocation and one copy. Returns ``x`` itself when no padding.
    No argument checks: the layers call it with pads they have already checked.

    Args:
        x: array (..., H, W). pads: four non-negative ints (top, bottom, left, right).
        value: the fill (0 for convolution, -inf / +inf for max / min pooling).

    Shape:
        (..., H, W) -> (..., H + top + bottom, W + left + right), dtype kept.

    Example:
        >>> pad_constant(np.ones((1, 2)), (1, 0, 0, 1), value=-1.0)
        array([[-1., -1., -1.],
               [ 1.,  1., -1.]])
    """
    top, bottom, left, right = pads
    if top == bottom == left == right == 0:
        return x
    *lead, H, W = x.shape
    out = np.full((*lead, H + top + bottom, W + left + right), value, dtype=x.dtype)
    out[..., top : top + H, left : left + W] = x
    return out


def pad2d(x, padding, mode="zeros"):
    """Pad the two spatial axes of a batch of images.

    Args:
        x: (N, C, H, W).
        padding: int p (all four sides), (ph, pw) (ph rows above and below, pw columns left
            and right) or (top, bottom, left, right); non-negative.
        mode: one of PAD_MODES: "zeros" fills with 0 (what conv layers use); "edge" repeats the
            border pixel.

    Shape:
        (N, C, H, W) -> (N, C, H + top + bottom, W + left + right). The dtype is kept (integers
        are promoted to float64, like every reference layer).

    Equals ``torch.nn.functional.pad(x, (left, right, top, bottom), mode)`` with torch's mode
    "constant" or "replicate".

    Example:
        >>> pad2d(np.arange(4.0).reshape(1, 1, 2, 2), (0, 1), mode="edge")[0, 0]
        array([[0., 0., 1., 1.],
               [2., 2., 3., 3.]])
    """
    x = as_float_array(x, "x")
    check_rank(x.shape, 4, "x", "(N, C, H, W)")
    top, bottom, left, right = padding4(padding)
    if check_pad_mode(mode) == "zeros":
        return pad_constant(x, (top, bottom, left, right), 0.0)
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="edge")
