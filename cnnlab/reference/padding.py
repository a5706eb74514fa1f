"""Padding and the output-size formula.

A convolution or pooling window of size f, moved with stride s over an input of length n
padded with p on each side, fits

.. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - f}{s} \\right\\rfloor + 1

times. ``output_size`` computes it; ``pad2d`` adds the border.
"""

import numpy as np

from cnnlab.checks import as_float_array, check_rank, output_size, padding4

__all__ = ["output_size", "pad2d"]

PAD_MODES = ("zeros", "edge")




def pad_constant(x, pads, value=0.0):
    """Pad the last two axes of ``x`` by ``pads = (top, bottom, left, right)`` with ``value``.

    Faster than ``np.pad``: one allocation and one copy. Returns ``x`` itself when no padding.
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

    Shapes
    ------
    x:   (N, C, H, W)
    out: (N, C, H + top + bottom, W + left + right)

    padding: int p (all four sides), (ph, pw) (ph rows above and below, pw columns left
             and right) or (top, bottom, left, right).
    mode:    "zeros" fills with 0 (what conv layers use); "edge" repeats the border pixel.
    The dtype is kept (integers are promoted to float64, like every reference layer).
    """
    x = as_float_array(x, "x")
    check_rank(x.shape, 4, "x", "(N, C, H, W)")
    top, bottom, left, right = padding4(padding)
    if mode == "zeros":
        return pad_constant(x, (top, bottom, left, right), 0.0)
    if mode == "edge":
        return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="edge")
    raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
