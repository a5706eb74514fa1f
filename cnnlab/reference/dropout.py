"""Inverted dropout, forward and backward side by side.

    out, mask = dropout(x, p, training, rng)
    dx        = dropout_backward(dout, mask)

During training each element is zeroed with probability p and the survivors are scaled
by 1 / (1 - p), so the expected value of every element is unchanged and evaluation needs
no rescaling ("inverted" dropout, as in PyTorch). In evaluation it is the identity.

Shapes: x (*) -> out (*), mask (*) holding 0 or 1 / (1 - p) in x's dtype.
"""

import numpy as np

from cnnlab.checks import as_float_array, check_probability, check_same_shape

__all__ = ["dropout", "dropout_backward"]


def dropout(x, p=0.5, training=True, rng=None):
    """Zero each element with probability ``p`` (0 <= p < 1) and scale the rest by 1 / (1 - p).

    rng: ``np.random.Generator``, an int seed (reproducible) or None (fresh entropy).
    Returns (out, mask) with out = x * mask; in eval mode (training=False) out is x and
    the mask is all ones.
    """
    x = as_float_array(x, "x")
    p = check_probability(p, "p")
    if not training:
        return x.copy(), np.ones_like(x)
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
    keep = rng.random(x.shape) >= p  # P(keep) = 1 - p
    mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    """dout (*), mask (*) from the forward pass -> dx (*) = dout * mask."""
    dout, mask = as_float_array(dout, "dout"), as_float_array(mask, "mask")
    check_same_shape(dout.shape, mask.shape, "dout", "mask")
    return dout * mask
