"""Tests for cnnlab.course.whitening: patches against torch's unfold, covariance against torch.cov,
ZCA against the defining properties (identity covariance, symmetric, closest to identity) and an
independent SVD computation in torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.course import whitening


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("shape,size,stride", [((9, 11), 3, 1), ((10, 7, 3), 2, 2), ((8, 8, 2), 5, 3)])
def test_patches_loop_and_vectorised_agree(rng, shape, size, stride):
    image = rng.normal(size=shape)
    fast = whitening.extract_patches(image, size, stride)
    assert np.array_equal(fast, whitening.extract_patches_naive(image, size, stride))
    H, W = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    assert fast.shape == (((H - size) // stride + 1) * ((W - size) // stride + 1), size * size * channels)


def test_grey_patches_equal_torch_unfold(rng):
    image = rng.normal(size=(12, 15))
    ours = whitening.extract_patches(image, 4, stride=2)
    theirs = F.unfold(torch.from_numpy(image)[None, None], 4, stride=2)[0].T.numpy()
    assert np.array_equal(ours, theirs)


def test_covariance_equals_torch_cov(rng):
    X = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    assert np.allclose(whitening.covariance(X), torch.cov(torch.from_numpy(X).T).numpy())


def test_standardise_gives_unit_variance_but_keeps_correlations(rng):
    X = rng.normal(size=(1000, 2)) @ np.array([[3.0, 2.9], [0.0, 0.5]]) + 7.0
    Z = whitening.standardise(X)
    assert np.allclose(Z.mean(axis=0), 0.0) and np.allclose(Z.std(axis=0, ddof=1), 1.0)
    assert np.corrcoef(Z.T)[0, 1] == pytest.approx(np.corrcoef(X.T)[0, 1])  # correlation untouched


def test_zca_whitens_exactly_and_matches_torch_svd(rng):
    X = rng.normal(size=(500, 5)) @ rng.normal(size=(5, 5)) + rng.normal(size=5)
    fitted = whitening.fit_zca(X)
    white = fitted.transform(X)
    assert np.allclose(torch.cov(torch.from_numpy(white).T).numpy(), np.eye(5), atol=1e-9)
    assert np.allclose(fitted.matrix, fitted.matrix.T)
    # independent: torch SVD of the centred data, W = V diag(sqrt(N-1) / s) V^T
    centred = torch.from_numpy(X - X.mean(axis=0))
    _, s, Vh = torch.linalg.svd(centred, full_matrices=False)
    expected = (Vh.T * ((X.shape[0] - 1) ** 0.5 / s)) @ Vh
    assert np.allclose(fitted.matrix, expected.numpy(), atol=1e-9)


def test_zca_is_the_whitening_closest_to_the_input(rng):
    # any other whitening matrix (ZCA rotated by an orthogonal Q) moves the data further from where it was
    X = rng.normal(size=(400, 4)) @ rng.normal(size=(4, 4))
    fitted = whitening.fit_zca(X)
    centred = X - fitted.mean
    zca_distance = np.linalg.norm(centred @ fitted.matrix - centred)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    other = centred @ fitted.matrix @ Q
    assert np.allclose(np.cov(other.T), np.eye(4))
    assert zca_distance < np.linalg.norm(other - centred)


def test_eps_damps_small_directions(rng):
    X = rng.normal(size=(300, 3)) * np.array([10.0, 1.0, 0.01])
    damped = whitening.fit_zca(X, eps=1.0).transform(X)
    variances = np.var(damped, axis=0, ddof=1)
    assert variances[2] < 0.01 < variances[0]  # the tiny direction is not blown up to variance 1


def test_bad_input_is_refused(rng):
    with pytest.raises(ValueError, match="shape"):
        whitening.extract_patches(np.zeros((2, 3, 4, 5)), 2)
    with pytest.raises(ValueError, match="larger"):
        whitening.extract_patches(np.zeros((4, 4)), 5)
    with pytest.raises(TypeError, match="size"):
        whitening.extract_patches(np.zeros((4, 4)), 2.5)
    with pytest.raises(ValueError, match="samples"):
        whitening.fit_zca(np.zeros(5))
    with pytest.raises(ValueError, match="singular"):
        whitening.fit_zca(np.ones((10, 3)))
    with pytest.raises(ValueError, match="eps"):
        whitening.fit_zca(rng.normal(size=(10, 3)), eps=-1)
    with pytest.raises(ValueError, match=r"\(samples, 3\)"):
        whitening.fit_zca(rng.normal(size=(10, 3))).transform(np.zeros((2, 4)))
