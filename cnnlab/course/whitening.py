"""Whitening image patches (chapter 1): per-feature standardisation against ZCA whitening.

Lecture note 003 names two "data cleaning tricks" for images, mean normalisation and whitening,
without showing either. Standardising each feature (mean 0, variance 1) leaves neighbouring pixels
as correlated as before; *whitening* removes the correlations too, so that the covariance of the
data becomes the identity matrix. ZCA whitening (Bell & Sejnowski 1997) is the whitening matrix
closest to the identity, so whitened patches still look like images (edges, not noise):

    Sigma = cov(X) = U diag(S) U^T
    W_zca = U diag(1 / sqrt(S + eps)) U^T
    X_white = (X - mean) @ W_zca                  (W_zca is symmetric)

``eps`` keeps directions with almost no variance (fine noise) from being blown up; with
``eps = 0`` the covariance of the whitened data is exactly the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab.checks import positive_int

__all__ = ["extract_patches_naive", "extract_patches", "standardise", "Whitening", "fit_zca", "covariance"]


def _check_image(image, size, stride):
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3:
        raise ValueError(f"image must be (H, W) or (H, W, C); got shape {image.shape}")
    size, stride = positive_int(size, "size"), positive_int(stride, "stride")
    if size > image.shape[0] or size > image.shape[1]:
        raise ValueError(f"size {size} is larger than the image of shape {image.shape}")
    return image.astype(np.float64, copy=False)


def extract_patches_naive(image, size, stride=1):
    """Loop version of :func:`extract_patches`: one ``size x size`` window at a time, row by row.

    Args:
        image, size, stride: as in :func:`extract_patches`.

    Shape:
        (n_patches, size * size * C), the same rows as :func:`extract_patches`.

    Example:
        >>> image = np.arange(16.0).reshape(4, 4)
        >>> extract_patches_naive(image, 2, stride=2)[1], np.array_equal(extract_patches_naive(image, 3), extract_patches(image, 3))
        (array([2., 3., 6., 7.]), True)
    """
    image = _check_image(image, size, stride)
    H, W, _ = image.shape
    rows = []
    for top in range(0, H - size + 1, stride):
        for left in range(0, W - size + 1, stride):
            rows.append(image[top : top + size, left : left + size].reshape(-1))
    return np.stack(rows)


def extract_patches(image, size, stride=1):
    """Every ``size x size`` patch of an image, flattened into one row each.

    Args:
        image: (H, W) grey or (H, W, C) channels-last image.
        size: side of the square patch.
        stride: step between patches, in both directions.

    Shape:
        out: (P, size * size * C) float64, P = (floor((H - size) / stride) + 1) * (floor((W - size) / stride) + 1);
        each row is a patch flattened in (row, column, channel) order.

    Example:
        >>> extract_patches(np.zeros((10, 12)), 3, stride=2).shape
        (20, 9)
    """
    image = _check_image(image, size, stride)
    windows = sliding_window_view(image, (size, size), axis=(0, 1))[::stride, ::stride]  # (PH, PW, C, s, s)
    PH, PW, C = windows.shape[:3]
    return windows.transpose(0, 1, 3, 4, 2).reshape(PH * PW, size * size * C)


def _check_data(X, name="X"):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"{name} must be (samples, features) with at least 2 samples; got shape {X.shape}")
    return X


def covariance(X):
    """Covariance matrix (features, features) of the rows of ``X`` (samples, features), divided by N - 1.

    Example:
        >>> covariance([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]])  # the second feature is twice the first
        array([[1., 2.],
               [2., 4.]])
    """
    X = _check_data(X)
    centred = X - X.mean(axis=0)
    return centred.T @ centred / (X.shape[0] - 1)


def standardise(X):
    """Each feature (column) of ``X`` (samples, features) shifted to mean 0 and scaled to standard deviation 1.

    Features that are constant are only centred (their standard deviation is 0).

    Example:
        >>> standardise([[1.0, 5.0], [3.0, 5.0]])
        array([[-0.70710678,  0.        ],
               [ 0.70710678,  0.        ]])
    """
    X = _check_data(X)
    std = X.std(axis=0, ddof=1)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


@dataclass(frozen=True)
class Whitening:
    """A fitted whitening transform: ``transform(X) = (X - mean) @ matrix``."""

    mean: np.ndarray  # (features,)
    matrix: np.ndarray  # (features, features)
    eigenvalues: np.ndarray  # (features,) of the covariance, largest first

    def transform(self, X):
        """Whiten the rows of ``X`` (samples, features): ``(X - mean) @ matrix``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean.shape[0]:
            raise ValueError(f"X must be (samples, {self.mean.shape[0]}); got shape {X.shape}")
        return (X - self.mean) @ self.matrix


def fit_zca(X, eps=0.0):
    """Fit ZCA whitening to the rows of ``X``.

    Args:
        X: (samples, features) data, e.g. from :func:`extract_patches`.
        eps: added to every eigenvalue before the inverse square root; 0 whitens exactly,
            a small positive value (e.g. 1e-2 of the largest eigenvalue) damps noise.

    Shape:
        ``Whitening.matrix`` is (features, features) and symmetric; ``transform`` maps (M, features) to
        (M, features). With ``eps = 0`` the covariance of ``transform(X)`` is the identity.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(500, 4)) @ np.array([[2.0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 3]])
        >>> np.allclose(covariance(fit_zca(X).transform(X)), np.eye(4))
        True
    """
    X = _check_data(X)
    if not np.isscalar(eps) or eps < 0:
        raise ValueError(f"eps must be a non-negative number, got {eps!r}")
    eigenvalues, U = np.linalg.eigh(covariance(X))  # ascending
    eigenvalues, U = eigenvalues[::-1], U[:, ::-1]
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    scaled = eigenvalues + eps
    if np.any(scaled <= 0):
        raise ValueError("the covariance is singular: pass eps > 0 (or remove constant features)")
    matrix = (U / np.sqrt(scaled)) @ U.T
    return Whitening(mean=X.mean(axis=0), matrix=matrix, eigenvalues=eigenvalues)
