"""Batch normalisation over the channels of an image batch, forward and backward side by side.

    out          = batch_norm2d(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    dx, dg, db   = batch_norm2d_backward(dout, x, gamma, eps)

Each channel ``c`` is normalised with the mean and variance of *all* its values in the batch,
over the ``M = N * H * W`` positions (every image, every pixel), then scaled and shifted::

    mean_c = sum(x[:, c]) / M
    var_c  = sum((x[:, c] - mean_c) ** 2) / M                (biased: divides by M)
    out[:, c] = gamma_c * (x[:, c] - mean_c) / sqrt(var_c + eps) + beta_c

In training mode the running estimates are updated **in place**, as ``torch.nn.functional.batch_norm``
does, with the *unbiased* variance (divides by ``M - 1``)::

    running_mean = (1 - momentum) * running_mean + momentum * mean
    running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

In evaluation mode (``training=False``) the running estimates replace the batch statistics, so an
image's output no longer depends on the other images in its batch.

The backward pass (training mode) differentiates through the batch statistics: with
``xhat = (x - mean) / sqrt(var + eps)``,

    dbeta  = sum(dout)                 dgamma = sum(dout * xhat)        (sums over N, H, W)
    dx     = gamma / sqrt(var + eps) / M * (M * dout - dbeta - xhat * dgamma)

The ``*_naive`` versions loop over channels and positions and are the ones to read first; the
backward one walks the forward computation step by step in reverse (CS231n's staged graph).
"""

import math

import numpy as np

from cnnlab.checks import as_float_array, batch_norm_shapes, check_same_shape

__all__ = [
    "batch_norm2d_naive",
    "batch_norm2d",
    "batch_norm2d_backward_naive",
    "batch_norm2d_backward",
]


def _per_channel(value, name, channels, dtype, default):
    """``value`` as a (C,) array of ``dtype``; None means ``default`` everywhere (torch's weight=None)."""
    if value is None:
        return np.full(channels, default, dtype=dtype)
    return as_float_array(value, name).astype(dtype, copy=False)


def _check_running(value, name):
    """Running statistics are updated in place, so they must be float NumPy arrays (not lists, not ints)."""
    if value is None:
        return None
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
        raise TypeError(
            f"{name} is updated in place, so it must be a float numpy array, got {type(value).__name__}"
            + (f" of dtype {value.dtype}" if hasattr(value, "dtype") else "")
        )
    return value


def _check_arguments(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    x = as_float_array(x, "x")
    running_mean = _check_running(running_mean, "running_mean")
    running_var = _check_running(running_var, "running_var")
    shape = lambda a: None if a is None else np.shape(a)  # noqa: E731
    channels, positions = batch_norm_shapes(
        x.shape, shape(gamma), shape(beta), shape(running_mean), shape(running_var), training, momentum, eps
    )
    gamma = _per_channel(gamma, "gamma", channels, x.dtype, 1.0)
    beta = _per_channel(beta, "beta", channels, x.dtype, 0.0)
    return x, gamma, beta, running_mean, running_var, positions


def batch_norm2d_naive(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
    """Batch normalisation with explicit loops over channels and positions: the version to read.

    Args:
        x, gamma, beta, running_mean, running_var, training, momentum, eps: as in :func:`batch_norm2d`
        (the same in-place updates of the running statistics).

    Shape:
        x (N, C, H, W) -> out (N, C, H, W); statistics over M = N * H * W values per channel.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(2, 3, 2, 2))
        >>> bool(np.allclose(batch_norm2d_naive(x, None, None), batch_norm2d(x, None, None)))
        True
    """
    x, gamma, beta, running_mean, running_var, M = _check_arguments(
        x, gamma, beta, running_mean, running_var, training, momentum, eps
    )
    N, C, H, W = x.shape
    out = np.empty_like(x)
    for c in range(C):
        if training:
            total = 0.0
            for n in range(N):
                for i in range(H):
                    for j in range(W):
                        total += x[n, c, i, j]
            mean = total / M
            squares = 0.0
            for n in range(N):
                for i in range(H):
                    for j in range(W):
                        squares += (x[n, c, i, j] - mean) ** 2
            var = squares / M  # biased: what the batch is normalised with
            if running_mean is not None:
                running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
                running_var[c] = (1 - momentum) * running_var[c] + momentum * squares / (M - 1)  # unbiased
        else:
            mean, var = running_mean[c], running_var[c]
        scale = 1.0 / math.sqrt(var + eps)
        for n in range(N):
            for i in range(H):
                for j in range(W):
                    out[n, c, i, j] = gamma[c] * (x[n, c, i, j] - mean) * scale + beta[c]
    return out


def batch_norm2d(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of ``x`` over the batch and the image, then scale by ``gamma`` and shift by ``beta``.

    The arguments of ``torch.nn.functional.batch_norm`` (there ``weight`` and ``bias``), in the order a
    layer is written: the learned parameters first, then the running statistics.

    Args:
        x: images, float array ``(N, C, H, W)``. Its dtype is kept (float32 in, float32 out).
        gamma: scale per channel ``(C,)``, or None for ones.
        beta: shift per channel ``(C,)``, or None for zeros.
        running_mean, running_var: float arrays ``(C,)`` or None (then no running estimate is kept).
            In training mode they are **updated in place**: ``r = (1 - momentum) * r + momentum * stat``,
            with the unbiased batch variance (divides by ``N*H*W - 1``) for ``running_var``.
        training: True normalises with the batch's own mean and (biased) variance; False with the
            running estimates, which must then be given.
        momentum: weight of the new batch in the running estimates, in [0, 1].
        eps: added to the variance before the square root, > 0.

    Shape:
        - x: ``(N, C, H, W)``; gamma, beta, running_mean, running_var: ``(C,)``
        - out: ``(N, C, H, W)``, the same as x. Statistics are taken over ``M = N * H * W`` values per
          channel; training needs ``M >= 2``.

    Example:
        >>> x = np.random.default_rng(0).normal(3.0, 2.0, size=(8, 4, 5, 5))
        >>> mean, var = np.zeros(4), np.ones(4)
        >>> out = batch_norm2d(x, np.ones(4), np.zeros(4), mean, var)
        >>> out.shape, bool(abs(out.mean()) < 1e-12), bool(abs(out.std() - 1) < 1e-3)
        ((8, 4, 5, 5), True, True)
        >>> bool(abs(mean - 0.3).max() < 0.1)  # 0.9 * 0 + 0.1 * (about 3)
        True
    """
    x, gamma, beta, running_mean, running_var, M = _check_arguments(
        x, gamma, beta, running_mean, running_var, training, momentum, eps
    )
    axes = (0, 2, 3)  # everything but the channel
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased (ddof=0), as the normalisation uses
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (M / (M - 1))  # unbiased estimate of the population variance
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    scale = gamma / np.sqrt(var + x.dtype.type(eps))
    return ((x - mean[None, :, None, None]) * scale[None, :, None, None] + beta[None, :, None, None]).astype(
        x.dtype, copy=False
    )


def _check_backward(dout, x, gamma, eps):
    x = as_float_array(x, "x")
    dout = as_float_array(dout, "dout")
    channels, positions = batch_norm_shapes(x.shape, None if gamma is None else np.shape(gamma), eps=eps)
    check_same_shape(dout.shape, x.shape, "dout", "x")
    gamma = _per_channel(gamma, "gamma", channels, x.dtype, 1.0)
    return dout, x, gamma, positions


def batch_norm2d_backward_naive(dout, x, gamma, eps=1e-5):
    """Gradients of training-mode :func:`batch_norm2d`, one channel at a time, through each step of the forward pass.

    Args:
        dout, x, gamma, eps: as in :func:`batch_norm2d_backward`.

    Shape:
        dout, x (N, C, H, W); gamma (C,) -> dx (N, C, H, W), dgamma (C,), dbeta (C,).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, gamma, dout = rng.normal(size=(2, 3, 2, 2)), rng.normal(size=3), rng.normal(size=(2, 3, 2, 2))
        >>> loops, fast = batch_norm2d_backward_naive(dout, x, gamma), batch_norm2d_backward(dout, x, gamma)
        >>> all(np.allclose(a, b) for a, b in zip(loops, fast))
        True
    """
    dout, x, gamma, M = _check_backward(dout, x, gamma, eps)
    C = x.shape[1]
    dx = np.empty_like(x)
    dgamma = np.empty(C, dtype=x.dtype)
    dbeta = np.empty(C, dtype=x.dtype)
    for c in range(C):
        # forward, step by step: mu -> centred -> var -> inv_std -> xhat -> out = gamma * xhat + beta
        xc, dc = x[:, c], dout[:, c]
        mu = xc.sum() / M
        centred = xc - mu
        var = (centred**2).sum() / M
        inv_std = 1.0 / math.sqrt(var + eps)
        xhat = centred * inv_std
        # backward, in reverse
        dbeta[c] = dc.sum()
        dgamma[c] = (dc * xhat).sum()
        dxhat = dc * gamma[c]
        dinv_std = (dxhat * centred).sum()
        dcentred = dxhat * inv_std  # the path through xhat = centred * inv_std
        dvar = dinv_std * (-0.5) * (var + eps) ** -1.5
        dcentred = dcentred + dvar * 2.0 * centred / M  # the path through var = sum(centred ** 2) / M
        dmu = -dcentred.sum()
        dx[:, c] = dcentred + dmu / M  # centred = x - mu, mu = sum(x) / M
    return dx, dgamma, dbeta


def batch_norm2d_backward(dout, x, gamma, eps=1e-5):
    """Gradients of training-mode :func:`batch_norm2d` (batch statistics) with respect to x, gamma and beta.

    The batch mean and variance depend on every value of the channel, so ``dx`` is not simply
    ``dout * gamma / std``: two correction terms remove the parts of ``dout`` that a shift or a
    rescaling of the whole channel would absorb.

    Args:
        dout: upstream gradient, the shape of x.
        x: the forward pass's input ``(N, C, H, W)``.
        gamma: the forward pass's scale ``(C,)`` (None for ones). beta does not enter the gradients.
        eps: the forward pass's eps.

    Shape:
        - dout, x: ``(N, C, H, W)``; gamma: ``(C,)``
        - dx: ``(N, C, H, W)``; dgamma, dbeta: ``(C,)``.
          With ``xhat = (x - mean) / sqrt(var + eps)`` and ``M = N * H * W``:
          ``dx = gamma / sqrt(var + eps) / M * (M * dout - dbeta - xhat * dgamma)``,
          ``dgamma = sum(dout * xhat)``, ``dbeta = sum(dout)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, gamma = rng.normal(size=(4, 3, 2, 2)), rng.normal(size=3)
        >>> dx, dgamma, dbeta = batch_norm2d_backward(np.ones_like(x), x, gamma)
        >>> bool(np.abs(dx).max() < 1e-12)  # adding a constant to a channel changes nothing after normalising
        True
    """
    dout, x, gamma, M = _check_backward(dout, x, gamma, eps)
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + x.dtype.type(eps))
    xhat = (x - mean) * inv_std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dx = (gamma[None, :, None, None] * inv_std / M) * (
        M * dout - dbeta[None, :, None, None] - xhat * dgamma[None, :, None, None]
    )
    return dx.astype(x.dtype, copy=False), dgamma.astype(x.dtype, copy=False), dbeta.astype(x.dtype, copy=False)
