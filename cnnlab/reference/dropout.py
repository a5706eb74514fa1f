"""Inverted dropout, forward and backward side by side.

    out, mask = dropout(x, p, training, rng)
    dx        = dropout_backward(dout, mask)

During training each element is zeroed with probability p and the survivors are scaled
by 1 / (1 - p), so the expected value of every element is unchanged and evaluation needs
no rescaling ("inverted" dropout, as in PyTorch). In evaluation it is the identity.

Shapes: x (*) -> out (*), mask (*) holding 0 or 1 / (1 - p) in x's dtype.
"""

import numpy as np

from cnnlab.checks import as_float_array, as_rng, check_probability, check_same_shape

__all__ = ["dropout", "dropout_backward"]


def dropout(x, p=0.5, training=True, rng=None):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (inverted dropout).

    Args:
        x: array of any shape.
        p: drop probability, 0 <= p < 1.
        training: False is evaluation: out is x and the mask is all ones.
        rng: ``np.random.Generator``, an int seed, or None (a seed drawn from NumPy's global generator,
        so ``cnnlab.seed_everything`` makes it repeatable); see :func:`cnnlab.checks.as_rng`.

    Shape:
        x (*) -> (out (*), mask (*)) with out = x * mask; mask holds 0 or 1 / (1 - p) in x's dtype.

    Example:
        >>> out, mask = dropout(np.ones((2, 4)), p=0.5, rng=0)
        >>> sorted(set(mask.ravel().tolist())), bool(np.array_equal(out, mask))
        ([0.0, 2.0], True)
    """
    x = as_float_array(x, "x")
    p = check_probability(p, "p")
    if not training:
        return x.copy(), np.ones_like(x)
    keep = as_rng(rng).random(x.shape) >= p  # P(keep) = 1 - p
    mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    """Gradient of :func:`dropout`: dout * mask, with the mask the forward pass returned.

    Args:
        dout: upstream gradient. mask: the forward pass's mask, the same shape.

    Shape:
        dout (*), mask (*) -> dx (*).

    Example:
        >>> dropout_backward(np.array([1.0, 3.0]), np.array([0.0, 2.0]))
        array([0., 6.])
    """
    dout, mask = as_float_array(dout, "dout"), as_float_array(mask, "mask")
    check_same_shape(dout.shape, mask.shape, "dout", "mask")
    return dout * mask
