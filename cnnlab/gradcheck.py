"""Numerical gradients by centred finite differences, and the relative error used to compare them.

The standard way to test a hand-written backward pass (CS231n's gradient check):

    dx_num = numerical_gradient(lambda x: relu(x), x, dout)
    dx     = relu_backward(dout, x)
    assert rel_error(dx, dx_num) < 1e-7
"""

import numpy as np

__all__ = ["numerical_gradient", "near_kinks", "rel_error", "scaled_error", "rounding_tolerance"]


def numerical_gradient(f, x, dout=None, h=1e-5):
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``, one element at a time.

    grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * dout) / (2 h)     (error O(h^2))

    Costs 2 * x.size calls of f, so keep x small.

    Args:
        f: function of the array x returning an array (or a scalar, then dout defaults to 1).
        x: float ndarray. It is perturbed IN PLACE and restored after each element, so f
            may also read x from a closure. Use float64: float32 rounding swamps h = 1e-5.
        dout: upstream gradient, same shape as f(x); None means all ones.
        h: the step.

    Shape:
        Returns an array shaped like x.

    Example:
        >>> x = np.array([1.0, 2.0, 3.0])
        >>> np.round(numerical_gradient(lambda a: a ** 2, x), 6)  # d(x^2)/dx = 2x
        array([2., 4., 6.])
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float numpy array (it is perturbed in place), got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}")
    out = np.asarray(f(x))
    dout = np.ones_like(out) if dout is None else np.asarray(dout)
    if dout.shape != out.shape:
        raise ValueError(f"dout has shape {dout.shape} but f(x) has shape {out.shape}")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = np.asarray(f(x), dtype=np.float64)
        x[i] = original - h
        minus = np.asarray(f(x), dtype=np.float64)
        x[i] = original
        grad[i] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def near_kinks(f, x, dout=None, h=1e-5, rtol=1e-5):
    """Where a centred difference cannot be trusted: ``x + h`` and ``x - h`` straddle a kink of ``f``.

    A ReLU whose input is within ``h`` of 0, or a max pool whose two largest values are within ``h``,
    makes ``f`` bend between the two nudged points, and the finite difference there averages two
    slopes: the *numerical* gradient is wrong, by up to the jump in slope, however right the
    backward pass is. In a smooth region, halving the step changes the estimate by O(h^2) only;
    across a kink it changes it by a fraction of the jump. So an entry is flagged when the
    estimates with steps ``h`` and ``h / 2`` disagree by more than ``rtol`` (relative).

    Args:
        f, x, dout, h: as :func:`numerical_gradient` (``x`` is nudged in place and restored).
        rtol: how far the two estimates may differ in a smooth region (relative; plus a floor of
            1e-7 times the largest estimate, for rounding).

    Returns:
        bool ndarray shaped like ``x``: True near a kink.

    Example:
        >>> x = np.array([0.3, 2e-6, -0.5])  # the middle entry sits 2e-6 from ReLU's kink
        >>> near_kinks(lambda a: np.maximum(a, 0.0), x)
        array([False,  True, False])
        >>> bool(near_kinks(lambda a: np.tanh(a), x).any())
        False
    """
    coarse = numerical_gradient(f, x, dout, h)
    fine = numerical_gradient(f, x, dout, h / 2)
    # rounding puts ~eps * |f| / h on every estimate: an absolute floor, scaled to the largest gradient,
    # keeps tiny smooth entries from being flagged
    floor = 1e-7 * float(np.max(np.abs(coarse), initial=0.0)) + 1e-12
    return np.abs(coarse - fine) > rtol * (np.abs(coarse) + np.abs(fine)) + floor


def rel_error(a, b):
    """Largest relative difference max |a - b| / max(1e-8, |a| + |b|) (CS231n).

    About 1e-7 or less means two float64 gradients agree; 1e-2 or more means a bug.

    Args:
        a, b: arrays (or anything ``np.asarray`` takes) of equal shape (no silent broadcasting).

    Shape:
        Returns a float; 0.0 for empty arrays.

    Example:
        >>> round(rel_error([1.0, 2.0], [1.0, 2.2]), 6)  # 0.2 / (2 + 2.2)
        0.047619
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} but b has shape {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def scaled_error(a, b):
    """Largest difference relative to the arrays' scale: max |a - b| / max(|a| + |b|).

    :func:`rel_error` divides each entry by its own size, so an entry whose true gradient is
    almost 0 (3e-7 beside entries of 8) turns the finite difference's rounding noise, about
    eps * |loss| / h = 1e-11, into a "relative error" of 1e-4. Scaled by the largest entry, that
    noise stays near 1e-11, while a wrong backward pass still shows up at the size of its mistake.

    Args:
        a, b: arrays of equal shape.

    Returns:
        float: 0.0 when both are all zeros (or empty).

    Example:
        >>> true = np.array([8.0, 3.0e-7])
        >>> noisy = true + np.array([0.0, 5e-11])
        >>> f"{rel_error(true, noisy):.0e}", f"{scaled_error(true, noisy):.0e}"
        ('8e-05', '3e-12')
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} but b has shape {b.shape}")
    scale = float(np.max(np.abs(a) + np.abs(b), initial=0.0))
    return 0.0 if scale == 0.0 else float(np.max(np.abs(a - b)) / scale)


def rounding_tolerance(dtype, terms, magnitude=1.0):
    """How far two computations of the same sums may differ by rounding alone: ``terms * eps * magnitude``.

    Two results that are equal in exact arithmetic but computed differently (another kernel, another
    summation order, another array shape) differ by rounding; each addition can add one ``eps`` of
    the running sum. Compare them against this bound, never with ``==``.

    Args:
        dtype: the floating-point dtype of the results (NumPy or its name).
        terms: how many numbers each result sums (a convolution: C_in * kh * kw).
        magnitude: the largest absolute value involved (the results' or the summands').

    Example:
        >>> a = np.array([0.1, 0.2, 0.3]) @ np.ones(3)
        >>> b = 0.3 + 0.2 + 0.1
        >>> bool(abs(a - b) <= rounding_tolerance(np.float64, terms=3, magnitude=0.6))
        True
    """
    eps = np.finfo(np.dtype(dtype)).eps
    if isinstance(terms, bool) or not isinstance(terms, (int, np.integer)) or terms < 1:
        raise ValueError(f"terms must be a positive int, got {terms!r}")
    return float(terms * eps * max(float(magnitude), np.finfo(np.dtype(dtype)).tiny))
