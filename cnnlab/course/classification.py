"""Reading a classifier's test results: confusion matrix, its mistakes, and a published benchmark.

Chapter 8 uses these after training on all of Fashion-MNIST:

- ``confusion_matrix``: counts of (true class, predicted class), the loop version above the vectorised one;
- ``plot_confusion``: the matrix as a heat map with counts;
- ``show_mistakes``: a grid of misclassified images titled "predicted (true)";
- ``plot_benchmark``: our accuracy beside a published range of accuracies.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks import positive_int

__all__ = ["confusion_matrix", "confusion_matrix_loop", "plot_confusion", "show_mistakes", "plot_benchmark"]


def _check_labels(labels, predicted, num_classes):
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if labels.ndim != 1 or labels.shape != predicted.shape:
        raise ValueError(
            f"labels and predicted must be 1-D of equal length, got shapes {labels.shape} and {predicted.shape}"
        )
    num_classes = positive_int(num_classes, "num_classes")
    for name, values in (("labels", labels), ("predicted", predicted)):
        if not np.issubdtype(values.dtype, np.integer):
            raise TypeError(f"{name} must hold integer class indices, got dtype {values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got values {values.min()}..{values.max()}")
    # int64: uint8 labels (as Fashion-MNIST stores them) would overflow in labels * num_classes
    return labels.astype(np.int64), predicted.astype(np.int64)


def confusion_matrix_loop(labels, predicted, num_classes):
    """``confusion_matrix`` one image at a time: row = true class, column = predicted class.

    Args:
        labels, predicted: equally long 1-D arrays of class indices in [0, num_classes).
        num_classes: a positive int.

    Shape:
        (num_classes, num_classes) int64 counts.

    Example:
        >>> confusion_matrix_loop([0, 1, 1, 2], [0, 2, 1, 2], 3)
        array([[1, 0, 0],
               [0, 1, 1],
               [0, 0, 1]])
    """
    labels, predicted = _check_labels(labels, predicted, num_classes)
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for true, guess in zip(labels, predicted):
        counts[true, guess] += 1
    return counts


def confusion_matrix(labels, predicted, num_classes):
    """Counts of every (true class, predicted class) pair.

    Args:
        labels: true class indices, shape ``(N,)``.
        predicted: predicted class indices, shape ``(N,)``.
        num_classes: K.

    Shape:
        ``(N,), (N,) -> (K, K)``; row ``i`` sums to the number of images of class ``i``, the diagonal
        holds the correct predictions, so ``trace / N`` is the accuracy.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2)
        array([[1, 0],
               [1, 1]])
    """
    labels, predicted = _check_labels(labels, predicted, num_classes)
    # every pair (i, j) becomes one bin i * K + j of a single histogram
    return np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def plot_confusion(confusion, class_names, title=None):
    """Heat map of a confusion matrix with the count in each non-zero cell; rows true, columns predicted.

    Returns:
        the Figure.
    """
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.shape[0] != len(class_names):
        raise ValueError(
            f"confusion must be (K, K) with K = {len(class_names)} class names, got shape {confusion.shape}"
        )
    k = confusion.shape[0]
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(j, i, count, ha="center", va="center", fontsize=7,
                    color="white" if count > confusion.max() / 2 else "black")
    ax.set_xticks(range(k), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_mistakes(images, labels, predicted, class_names, count=16, ncols=8):
    """Grid of the first ``count`` misclassified images, titled "predicted (true)" in red.

    Returns:
        ``(figure, indices)``: ``indices`` are the positions in ``images`` of the images shown.
    """
    from cnnlab.course.plots import show_images

    labels, predicted = _check_labels(labels, predicted, len(class_names))
    if len(images) != len(labels):
        raise ValueError(f"images has {len(images)} entries for {len(labels)} labels")
    wrong = np.flatnonzero(labels != predicted)[:count]
    if wrong.size == 0:
        raise ValueError("there are no mistakes to show")
    fig = show_images(np.asarray(images)[wrong], labels[wrong], class_names=class_names,
                      predictions=predicted[wrong], ncols=ncols)
    return fig, wrong


def plot_benchmark(ours, published, label="ours"):
    """Our accuracy as a red line across published accuracies drawn as bars.

    Args:
        ours: accuracy in [0, 1].
        published: ``{name: accuracy}``, e.g. from the Fashion-MNIST benchmark table.
    """
    import matplotlib.pyplot as plt

    if not published:
        raise ValueError("published must hold at least one {name: accuracy}")
    names = list(published)
    values = [published[name] for name in names]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(range(len(names)), values, color="0.7")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.axvline(ours, color="tab:red", lw=2, label=f"{label}: {ours:.1%}")
    low = min(values + [ours])
    ax.set_xlim(max(0.0, low - 0.02), min(1.0, max(values + [ours]) + 0.01))
    ax.set_xlabel("test accuracy")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
