"""Measuring dropout and augmentation precisely enough to see what they do (chapters 9 and 10).

A regulariser's effect on accuracy is often a point or less, about as large as the noise of one
measurement. Two things make that noise small without training more networks:

- measure each *final* network on many images: the difference between two networks tested on the
  same ``n`` images wobbles by about ``sqrt(disagreements / n)``, so the 10,000 Fashion-MNIST test
  images tell apart what 1,000 validation images cannot;
- measure the same trained networks on test images that vary the way an augmentation varies its
  training images (shifted, mirrored), to see the invariance the augmentation taught.

- ``run_seeds_tested``: ``run_seeds`` (paired by seed) whose final networks are also measured on named
  test sets; the per-epoch validation is optional, so runs that need no curves cost only their training.
- ``disagreement``: on how many test images two variants' networks answer differently (what sets the noise).
- ``plot_accuracies``: each variant's accuracy on each test set, mean (bar) and every seed (dots).
- ``digits_split``: scikit-learn's 8x8 digits as a fixed held-out test set and, per seed, a small training set
  drawn from the rest (handwriting sits a pixel or so off centre, unlike Fashion-MNIST's garments).
- ``moved_copy``: a test set whose images are each shifted and optionally mirrored at random, once, with
  a fixed seed (the same moved images for every network).
"""

import time

import numpy as np
import torch

from cnnlab.course.experiments import SeedRuns, seeded_runs
from cnnlab.runtime import offset_seed, rng

__all__ = ["run_seeds_tested", "moved_copy", "disagreement", "plot_accuracies", "digits_split"]


def _check_data(data, name):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be an (images, labels) pair, got {type(data).__name__}")
    images, labels = data
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"{name} must hold as many labels as images (and at least one); got {len(images)} and {len(labels)}")


def run_seeds_tested(variants, train, tests, epochs, seeds=(0, 1, 2), val=None, measure_train=True,
                     progress=True, **fit_kwargs):
    """Every variant once per seed, paired as in ``run_seeds``; each final network measured on every test set.

    For seed ``s`` each variant is built right after ``torch.manual_seed(s)`` and trained with ``fit(seed=s)``
    (``cnnlab.course.experiments.seeded_runs``), so the variants of one seed share initial weights (same
    layers), batch order and training images, and differ only in what their dicts say.

    Args:
        variants: ``{name: {"model": zero-argument callable, **fit options}}``.
        train: ``(images, labels)``, or ``seed -> (images, labels)`` to draw new training images per seed.
        tests: ``{test_name: (images, labels)}``, measured once, after training, in eval mode.
        epochs: epochs unless a variant says otherwise.
        seeds: at least 2 different seeds (3 or more for a conclusion).
        val: optional ``(images, labels)`` measured after every epoch (the curves of ``SeedRuns.plot``, and
            ``val_acc`` / ``val_loss``). ``None`` skips it, which makes each run cheaper.
        measure_train: also measure the training accuracy in eval mode (``train_acc``) and, for every test
            set, ``{test_name}_gap = train_acc - {test_name}_acc``.
        **fit_kwargs: shared ``fit`` arguments (lr, batch_size, device, schedule ...).

    Returns:
        ``SeedRuns`` whose ``results[variant]`` hold ``{test_name}_acc`` and ``{test_name}_loss`` for every
        test set (arrays over the seeds), plus ``val_acc`` / ``val_loss`` when ``val`` is given and
        ``train_acc`` / ``{test_name}_gap`` when ``measure_train``. ``runs.paired(a, b, "test_acc")`` is the
        paired interval on the test set called ``"test"``. ``runs.predictions[variant][test_name]`` holds
        each seed's predicted classes on that test set (``np.ndarray`` of shape ``(N,)`` per seed), so two
        variants' answers can be compared image by image (see ``disagreement``).

    Example:
        >>> from torch import nn
        >>> x, y = torch.randn(40, 1, 4, 4), torch.arange(40) % 2
        >>> runs = run_seeds_tested({"a": {"model": lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 2))}},
        ...                         (x, y), {"test": (x, y)}, epochs=1, seeds=[0, 1], progress=False, device="cpu")
        >>> sorted(runs.results["a"])
        ['test_acc', 'test_gap', 'test_loss', 'train_acc']
    """
    from cnnlab.train import evaluate

    if not isinstance(tests, dict) or not tests:
        raise TypeError(f"tests must be a non-empty dict name -> (images, labels), got {tests!r}")
    for test_name, data in tests.items():
        if not isinstance(test_name, str) or not test_name:
            raise TypeError(f"test names must be non-empty strings, got {test_name!r}")
        _check_data(data, f"tests[{test_name!r}]")
    if val is not None:
        _check_data(val, "val")
    seeds = list(seeds)  # before seeded_runs, which would use up a generator
    runs_iter = seeded_runs(variants, train, val, epochs, seeds=seeds, progress=progress, **fit_kwargs)
    histories = {name: [] for name in variants}
    results = {name: {} for name in variants}
    predictions = {name: {test_name: [] for test_name in tests} for name in variants}
    start = time.perf_counter()
    for run in runs_iter:
        histories[run.name].append(run.history)
        device = run.options.get("device")
        measured = {}
        if val is not None:
            measured["val_acc"], measured["val_loss"] = run.history["val_acc"][-1], run.history["val_loss"][-1]
        for test_name, data in tests.items():
            loss, acc, predicted = _measure(run.model, data, device)
            measured[f"{test_name}_acc"], measured[f"{test_name}_loss"] = acc, loss
            predictions[run.name][test_name].append(predicted)
        if measure_train:
            _, measured["train_acc"] = evaluate(run.model, run.train, device=device)
            for test_name in tests:
                measured[f"{test_name}_gap"] = measured["train_acc"] - measured[f"{test_name}_acc"]
        for metric, value in measured.items():
            results[run.name].setdefault(metric, []).append(float(value))
    arrays = {name: {metric: np.asarray(values, dtype=np.float64) for metric, values in metrics.items()}
              for name, metrics in results.items()}
    return SeedRuns(seeds, histories, arrays, time.perf_counter() - start, predictions=predictions)


def _measure(model, data, device):
    """(mean loss, accuracy, predicted classes) of ``model`` on ``data``, in eval mode, in one pass."""
    from cnnlab.train import evaluate, predict

    images, labels = data
    logits = torch.from_numpy(np.asarray(predict(model, images, device=device)))
    labels = torch.as_tensor(np.asarray(labels)).long()
    if logits.ndim == 2 and logits.shape[1] > 1:  # classes: cross-entropy, as fit trains them
        loss = float(torch.nn.functional.cross_entropy(logits.double(), labels))
        predicted = logits.argmax(dim=1).numpy()
        return loss, float((predicted == labels.numpy()).mean()), predicted
    loss, acc = evaluate(model, data, device=device)  # one output: fit's binary loss
    predicted = (logits.reshape(-1) > 0).long().numpy()
    return float(loss), float(acc), predicted


def disagreement(runs, a, b, test_name):
    """Per seed, the fraction of ``test_name``'s images on which variants ``a`` and ``b`` predict different classes.

    When two networks disagree on a fraction ``d`` of the images, the difference of their accuracies measured
    on ``n`` images drawn at random wobbles, from the draw alone, by about ``sqrt(d / n)``.

    Args:
        runs: a ``SeedRuns`` from ``run_seeds_tested``.

    Returns:
        ``np.ndarray`` of shape ``(n_seeds,)``.
    """
    predictions = runs.predictions
    if predictions is None:
        raise TypeError("runs has no predictions: it must come from run_seeds_tested")
    for variant in (a, b):
        if variant not in predictions:
            raise KeyError(f"unknown variant {variant!r}; have {list(predictions)}")
    if test_name not in predictions[a]:
        raise KeyError(f"unknown test set {test_name!r}; have {list(predictions[a])}")
    return np.array([float(np.mean(pa != pb)) for pa, pb in zip(predictions[a][test_name], predictions[b][test_name])])


def moved_copy(data, padding, flip=True, seed=0):
    """A copy of a test set in which every image is shifted by up to ``padding`` pixels and, with ``flip``,
    mirrored left-right with probability 1/2: once, with a fixed seed, so every network sees the same images.

    The moves are those of ``cnnlab.augment.RandomCrop(padding, flip)`` (pad with zeros, cut a random window
    of the original size), so a network trained with that augmentation has seen images like these, and one
    trained without it has seen only centred, unmirrored ones. Labels are unchanged.

    Args:
        data: ``(images, labels)`` with float images ``(N, C, H, W)``.
        padding: the largest shift in pixels, in each direction (an int >= 0).
        flip: also mirror about half of the images.
        seed: seeds the moves.

    Returns:
        ``(moved_images, labels)``; ``moved_images`` has the shape, dtype and device of the input.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> moved, _ = moved_copy((x, torch.zeros(1)), padding=0, flip=False)
        >>> bool(torch.equal(moved, x))
        True
    """
    from cnnlab.augment import RandomCrop

    _check_data(data, "data")
    images, labels = data
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise TypeError(f"images must be a float tensor (N, C, H, W), got {type(images).__name__} "
                        f"{getattr(images, 'shape', '')}")
    generator = torch.Generator().manual_seed(offset_seed(int(seed)))
    return RandomCrop(padding, flip=flip).torch(images, generator=generator), labels


def digits_split(n_train, seed=0, pool_size=800, split_seed=0):
    """scikit-learn's handwritten digits: ``n_train`` training images for ``seed``, and a fixed test set.

    The 1,797 digits are shuffled once with ``split_seed``; the first ``pool_size`` form the pool that every
    training set is drawn from (``n_train`` of them, without replacement, with ``seed``), the other
    ``1797 - pool_size`` are the test set, the same for every seed and never trained on.

    Args:
        n_train: training images per seed, at most ``pool_size``.
        seed: draws the training images from the pool.
        pool_size: how many digits may be trained on; the rest are the test set.
        split_seed: the one shuffle that splits pool and test set.

    Shape:
        ``((x_train, y_train), (x_test, y_test))``: float32 tensors ``(N, 1, 8, 8)`` in [0, 1] and int64 labels
        ``(N,)``, with N = ``n_train`` and ``1797 - pool_size``.

    Example:
        >>> (x, y), (x_test, y_test) = digits_split(100, seed=0)
        >>> tuple(x.shape), tuple(x_test.shape), bool(torch.equal(digits_split(50, seed=1)[1][0], x_test))
        ((100, 1, 8, 8), (997, 1, 8, 8), True)
    """
    from cnnlab.checks import positive_int
    from cnnlab.data import load_digits

    images, labels = load_digits()
    pool_size = positive_int(pool_size, "pool_size")
    n_train = positive_int(n_train, "n_train")
    if pool_size >= len(labels):
        raise ValueError(f"pool_size must leave a test set: got {pool_size} of {len(labels)} digits")
    if n_train > pool_size:
        raise ValueError(f"n_train must be at most pool_size={pool_size}, got {n_train}")
    order = rng(split_seed).permutation(len(labels))
    pool, test = order[:pool_size], order[pool_size:]
    train = np.sort(rng(seed).choice(pool, n_train, replace=False))
    x, y = torch.from_numpy(images)[:, None], torch.from_numpy(labels)
    return (x[train], y[train]), (x[test], y[test])


def plot_accuracies(runs, tests, title=None):
    """Bars: each variant's mean accuracy on each test set; dots: the seeds, so the spread is visible.

    Args:
        runs: a ``SeedRuns`` from ``run_seeds_tested``.
        tests: ``{test_name: label}`` for the x axis, in order (``runs`` must hold ``{test_name}_acc``).

    Returns:
        the matplotlib figure (one group of bars per test set, one bar per variant).
    """
    import matplotlib.pyplot as plt

    if not isinstance(tests, dict) or not tests:
        raise TypeError(f"tests must be a non-empty dict test_name -> label, got {tests!r}")
    variants = runs.variants
    width = 0.8 / len(variants)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(tests) * len(variants) ** 0.5, 3.4))
    for v, variant in enumerate(variants):
        for t, test_name in enumerate(tests):
            values = runs.values(variant, f"{test_name}_acc")
            x = t + (v - (len(variants) - 1) / 2) * width
            ax.bar(x, values.mean(), width * 0.9, color=colours[v % len(colours)],
                   label=variant if t == 0 else None)
            ax.plot(np.full(len(values), x), values, "o", color="black", ms=3)
    ax.set_xticks(range(len(tests)), list(tests.values()))
    lows = min(runs.values(v, f"{t}_acc").min() for v in variants for t in tests)
    ax.set_ylim(max(0.0, lows - 0.1), 1.0)
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or f"mean over {len(runs.seeds)} seeds (bars), each seed (dots)", fontsize=9)
    fig.tight_layout()
    return fig
