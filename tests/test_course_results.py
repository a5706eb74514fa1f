"""cnnlab.course.classification and cnnlab.course.evidence: the chapter-8 result figures and the verdicts."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.course.classification import (
    confusion_matrix,
    confusion_matrix_loop,
    plot_benchmark,
    plot_confusion,
    show_mistakes,
)
from cnnlab.course.evidence import plot_learning_curve, plot_paired, verdict
from cnnlab.course.experiments import learning_curve, paired_interval


def test_confusion_matrix_matches_loop_and_sklearn_on_random_labels():
    from sklearn.metrics import confusion_matrix as sk_confusion

    rng = np.random.default_rng(0)
    for n, k in [(1, 2), (50, 3), (1000, 10)]:
        labels, predicted = rng.integers(0, k, n), rng.integers(0, k, n)
        fast = confusion_matrix(labels, predicted, k)
        np.testing.assert_array_equal(fast, confusion_matrix_loop(labels, predicted, k))
        np.testing.assert_array_equal(fast, sk_confusion(labels, predicted, labels=range(k)))
        assert fast.sum() == n and np.trace(fast) == np.sum(labels == predicted)
    # uint8 labels with many classes: no overflow in the bin index
    labels = rng.integers(0, 40, 500).astype(np.uint8)
    predicted = rng.integers(0, 40, 500).astype(np.uint8)
    np.testing.assert_array_equal(confusion_matrix(labels, predicted, 40), confusion_matrix_loop(labels, predicted, 40))


def test_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(TypeError, match="integer"):
        confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix([0], [0], 0)


def test_result_figures():
    names = [f"c{i}" for i in range(3)]
    fig = plot_confusion(np.array([[5, 1, 0], [0, 4, 2], [1, 0, 6]]), names)
    assert len(fig.axes[0].texts) == 6  # one count per non-zero cell
    with pytest.raises(ValueError, match="class names"):
        plot_confusion(np.eye(2), names)
    images = np.zeros((6, 4, 4), dtype=np.uint8)
    labels, predicted = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 2, 2, 1, 1, 0])
    fig, shown = show_mistakes(images, labels, predicted, names, count=2)
    assert shown.tolist() == [1, 3]
    with pytest.raises(ValueError, match="no mistakes"):
        show_mistakes(images, labels, labels, names)
    fig = plot_benchmark(0.92, {"a": 0.88, "b": 0.91})
    assert "92.0%" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_verdict_follows_the_interval():
    assert verdict({"low": 0.001, "high": 0.03}) == "higher"
    assert verdict({"low": -0.03, "high": -0.001}) == "lower"
    assert verdict({"low": -0.01, "high": 0.01}, neither="no different") == "no different"
    assert verdict(paired_interval([0.8, 0.81, 0.79], [0.9, 0.92, 0.9]), higher="helps") == "helps"
    with pytest.raises(TypeError, match="low"):
        verdict([0, 1])
    with pytest.raises(ValueError, match="low"):
        verdict({"low": 1, "high": 0})


def test_paired_and_learning_curve_plots():
    fig = plot_paired({"a": paired_interval([0.8, 0.82, 0.81], [0.83, 0.84, 0.85]),
                       "b": paired_interval([0.8, 0.82, 0.81], [0.80, 0.83, 0.80])})
    assert len(fig.axes[0].get_yticklabels()) == 2
    with pytest.raises(ValueError, match="at least one"):
        plot_paired({})

    def make(size, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(size, 1, 4, 4, generator=g)
        y = (x[:, 0, 0, 0] > 0.5).long()
        return x, y

    net = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    curves = learning_curve({"linear": {"model": net}}, [8, 32], make, make(32, 9), epochs=1, seeds=[0, 1],
                            progress=False, device="cpu")
    fig = plot_learning_curve(curves, reference=(60, 0.9, "full"))
    assert fig.axes[0].get_xscale() == "log"
