"""Small, repeatable experiments behind the regularisation and VGG chapters.

The lecture notes (seed 003) train a Dogs-vs-Cats CNN on 1000 images per class and report how
dropout and data augmentation change the training and validation curves. We have no Dogs-vs-Cats
offline, so the book repeats the experiments on a small balanced subset of Fashion-MNIST, which is
small enough for a 2-core CPU and large enough to overfit. Everything here is plain functions so
the chapters stay short and the code is tested.

- ``fashion_subsets``: a balanced training subset and a validation set, both from the training split;
  ``fashion_test``: the test split, for a final number only.
- ``compare_training``: train several variants from the *same* initial weights, collect their histories.
- ``tail_mean`` / ``generalization_gap``: read a history without being fooled by one noisy epoch.
- ``eval_accuracies``: training and validation accuracy of a trained model, both in eval mode.
- ``run_seeds`` / ``SeedRuns``: every variant over several seeds, paired by seed; mean +- sd, the paired
  difference with a t-interval, curves with bands. One seed's run is never a conclusion.
  ``seeded_runs`` is its loop, for a caller that measures something else after each run.
- ``learning_curve``: the same, repeated over training-set sizes.
"""

from typing import NamedTuple

import numpy as np
import torch as pytorch
from cnnlab.checks import as_rng, positive_int

__all__ = [
    "VALIDATION_START",
    "fashion_subsets",
    "fashion_test",
    "check_variants",
    "train_variant",
    "compare_training",
    "tail_mean",
    "generalization_gap",
    "eval_accuracies",
    "paired_interval",
    "SeedRuns",
    "SeededRun",
    "seeded_runs",
    "run_seeds",
    "learning_curve",
]


VALIDATION_START = 50_000  # Fashion-MNIST's last 10,000 training images: the validation pool, never trained on


def fashion_subsets(train_per_class, val_per_class, seed=0, pool=20000, root=None):
    """A balanced Fashion-MNIST training subset and a balanced validation set, both from the training split.

    The training images are drawn from the first ``pool`` training images, the validation images from the
    last 10,000 (from ``VALIDATION_START`` on), which no training subset can contain. The test split is
    left alone: :func:`fashion_test` reads it, once, for a final number.

    Args:
        train_per_class: images per class drawn from the first ``pool`` training images.
        val_per_class: images per class drawn from the validation pool (never seen in training).
        seed: an int (``CNNLAB_SEED_OFFSET`` is added) or a ``np.random.Generator``; seeds the draw, so
            every chapter that asks for the same sizes gets the same images.
        pool: how many training images, from the start of the split, to draw from (at most
            ``VALIDATION_START``).
        root: folder of the Fashion-MNIST IDX files (default: ``cnnlab.data``'s).

    Shape:
        ((x_train, y_train), (x_val, y_val)): float32 tensors (N, 1, 28, 28) in [0, 1] and int64 labels (N,),
        with N = 10 * train_per_class and 10 * val_per_class.

    Example:
        >>> (x, y), (x_val, y_val) = fashion_subsets(5, 3)   # doctest: +SKIP
        >>> tuple(x.shape), tuple(x_val.shape)                # doctest: +SKIP
        ((50, 1, 28, 28), (30, 1, 28, 28))
    """
    from cnnlab import data

    train_per_class = positive_int(train_per_class, "train_per_class")
    val_per_class = positive_int(val_per_class, "val_per_class")
    pool = positive_int(pool, "pool")
    if pool > VALIDATION_START:
        raise ValueError(f"pool must be at most {VALIDATION_START} (the validation images start there), got {pool}")
    rng = _data_rng(seed)
    images, labels = data.load_fashion_mnist("train", root=root)
    training = _balanced(images[:pool], labels[:pool], train_per_class, rng, "the training pool")
    validation = _balanced(images[VALIDATION_START:], labels[VALIDATION_START:], val_per_class, rng,
                           "the validation pool")
    return training, validation


def fashion_test(per_class=None, seed=0, root=None):
    """Fashion-MNIST's test split, for a final number: all 10,000 images, or ``per_class`` of each class.

    Args:
        per_class: None for the whole split, or how many images of each class to draw.
        seed: an int (``CNNLAB_SEED_OFFSET`` is added) or a ``np.random.Generator``; used only with ``per_class``.
        root: folder of the Fashion-MNIST IDX files (default: ``cnnlab.data``'s).

    Shape:
        (x_test, y_test): float32 (N, 1, 28, 28) in [0, 1] and int64 (N,), N = 10,000 or 10 * per_class.

    Example:
        >>> x_test, y_test = fashion_test()   # doctest: +SKIP
        >>> tuple(x_test.shape)               # doctest: +SKIP
        (10000, 1, 28, 28)
    """
    from cnnlab import data

    images, labels = data.load_fashion_mnist("test", root=root)
    if per_class is None:
        return _as_tensors(images, labels, np.arange(len(labels)))
    per_class = positive_int(per_class, "per_class")
    return _balanced(images, labels, per_class, _data_rng(seed), "the test split")


def _data_rng(seed):
    from cnnlab.runtime import offset_seed

    return as_rng(offset_seed(seed)) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else as_rng(seed)


def _balanced(images, labels, per_class, rng, where):
    from cnnlab import data

    counts = np.bincount(labels, minlength=10)
    if counts.min() < per_class:
        raise ValueError(
            f"asked for {per_class} images per class from {where}, but its smallest class "
            f"has {counts.min()} (images {images.shape})"
        )
    return _as_tensors(images, labels, np.sort(data.balanced_subset(labels, per_class, rng)))


def _as_tensors(images, labels, index):
    x = pytorch.from_numpy(images[index].astype(np.float32) / 255.0)[:, None]
    y = pytorch.from_numpy(labels[index].astype(np.int64))
    return x, y


def check_variants(variants):
    """Raise TypeError unless ``variants`` is a non-empty dict name -> {"model": callable, **fit options}.

    Example:
        >>> check_variants({"plain": {"model": lambda: pytorch.nn.Linear(2, 2), "lr": 0.1}})
        >>> check_variants({"plain": {"lr": 0.1}})
        Traceback (most recent call last):
        ...
        TypeError: variants['plain'] must be a dict with a callable 'model', got {'lr': 0.1}
    """
    if not isinstance(variants, dict) or not variants:
        raise TypeError(f"variants must be a non-empty dict name -> {{'model': callable, ...}}, got {variants!r}")
    for name, spec in variants.items():
        if not isinstance(spec, dict) or not callable(spec.get("model")):
            raise TypeError(f"variants[{name!r}] must be a dict with a callable 'model', got {spec!r}")


def train_variant(spec, train, val, epochs, seed, progress=False, **fit_kwargs):
    """Build ``spec["model"]()`` right after ``cnnlab.seed_everything(seed)`` and train it with ``fit(seed=seed)``.

    The rest of ``spec`` overrides ``fit_kwargs`` and ``epochs``, so two variants trained with one seed
    start from the same weights, see the same batches, and differ only in what their dicts say.

    Returns:
        (model, history, options): the trained model, ``fit``'s history and the ``fit`` options used.
    """
    from cnnlab.runtime import seed_everything
    from cnnlab.train import fit

    options = dict(fit_kwargs)
    options.update({key: value for key, value in spec.items() if key != "model"})
    options.setdefault("epochs", epochs)
    seed_everything(seed)  # CNNLAB_SEED_OFFSET is added there and in fit, once each
    model = spec["model"]()
    history = fit(model, train, val, seed=seed, progress=progress, **options)
    return model, history, options


def compare_training(variants, train, val, epochs, seed=0, progress=True, **fit_kwargs):
    """Train each variant with ``cnnlab.train.fit`` from the same seed; return their histories and models.

    Args:
        variants: dict name -> dict with ``"model"`` (a zero-argument callable building a fresh model) and
            optionally ``"augment"`` (passed to ``fit``), ``"epochs"``, ``"lr"`` ... (override the defaults).
        train, val: (images, labels) as ``fit`` takes them.
        epochs: epochs for every variant unless the variant says otherwise.
        seed: ``torch.manual_seed(seed)`` right before each model is built, and ``fit(seed=seed)``, so the
            variants differ only in what the variant dict says (see :func:`train_variant`).
        **fit_kwargs: further ``fit`` arguments shared by all variants (lr, batch_size, optimizer, device ...).

    Returns:
        (histories, models): two dicts keyed like ``variants``.
    """
    check_variants(variants)
    histories, models = {}, {}
    for name, spec in variants.items():
        models[name], histories[name], _ = train_variant(spec, train, val, epochs, seed, progress, **fit_kwargs)
    return histories, models


def tail_mean(history, key="val_acc", last=3):
    """Mean of the last ``last`` epochs of ``history[key]``: one epoch's value is too noisy to report.

    Args:
        history: a mapping (``fit``'s History or a dict) of per-epoch lists.
        key: which list; last: how many final epochs (all of them when fewer).

    Example:
        >>> tail_mean({"val_acc": [0.5, 0.7, 0.8, 0.6]}, last=2)
        0.7
    """
    values = list(history[key])
    if not values:
        raise ValueError(f"history[{key!r}] is empty")
    last = positive_int(last, "last")
    return float(np.mean(values[-last:]))


def generalization_gap(history, last=3):
    """Training accuracy minus validation accuracy, averaged over the last ``last`` epochs.

    Large and growing: the network fits its training images better than it predicts new ones (overfitting).

    Args:
        history: a mapping with equally long ``"acc"`` and ``"val_acc"`` lists.
        last: how many final epochs to average.

    Example:
        >>> round(generalization_gap({"acc": [0.5, 0.9, 1.0], "val_acc": [0.5, 0.7, 0.8]}, last=2), 3)
        0.2
    """
    train, val = list(history["acc"]), list(history["val_acc"])
    if len(train) != len(val) or not train:
        raise ValueError(f"history needs equally long, non-empty 'acc' and 'val_acc'; got {len(train)} and {len(val)}")
    return tail_mean(history, "acc", last) - tail_mean(history, "val_acc", last)


def eval_accuracies(model, train, val, batch_size=256, device=None):
    """Accuracy on the training and the validation data, both measured in eval mode (no dropout, no augmentation).

    ``fit`` records training accuracy *during* each epoch, with dropout and augmentation switched on, so a
    regularised network looks worse on its own training images than it really is. Comparing two networks'
    overfitting needs this clean measurement.

    Args:
        model: a classifier (N, C, H, W) -> (N, classes).
        train, val: (images, labels) as ``cnnlab.train.evaluate`` takes them.
        batch_size, device: passed to ``evaluate``.

    Returns:
        dict ``{"train_acc", "val_acc", "gap"}`` with ``gap = train_acc - val_acc``.

    Example:
        >>> constant = pytorch.nn.Sequential(pytorch.nn.Flatten(), pytorch.nn.Linear(4, 2))
        >>> with pytorch.no_grad():
        ...     _ = constant[1].weight.zero_(), constant[1].bias.copy_(pytorch.tensor([1.0, 0.0]))
        >>> images, labels = pytorch.zeros(4, 1, 2, 2), pytorch.tensor([0, 0, 0, 1])
        >>> eval_accuracies(constant, (images, labels), (images[:2], labels[:2]), device="cpu")
        {'train_acc': 0.75, 'val_acc': 1.0, 'gap': -0.25}
    """
    from cnnlab.train import evaluate

    _, train_acc = evaluate(model, train, batch_size=batch_size, device=device)
    _, val_acc = evaluate(model, val, batch_size=batch_size, device=device)
    return {"train_acc": float(train_acc), "val_acc": float(val_acc), "gap": float(train_acc - val_acc)}


# ------------------------------------------------------------------------------------------------ seeds


def paired_interval(a, b, confidence=0.95):
    """Mean of the paired differences ``b - a`` and its Student-t confidence interval.

    ``a[i]`` and ``b[i]`` are the results of two variants run with the same seed ``i`` (same initial
    weights, same batches, same images), so their difference removes the seed-to-seed variation that
    both share. The interval is ``mean +- t_{n-1} * sd / sqrt(n)`` over the ``n`` differences.

    Args:
        a, b: sequences of ``n >= 2`` numbers, paired by position.
        confidence: coverage of the interval, in (0, 1).

    Returns:
        dict ``{"mean", "low", "high", "sd", "n", "differences"}``; ``low > 0`` means ``b`` is larger
        than ``a`` beyond the noise of these seeds, ``high < 0`` smaller, otherwise the data cannot tell.

    Example:
        >>> r = paired_interval([0.80, 0.82, 0.81], [0.83, 0.84, 0.84])
        >>> round(r["mean"], 3), r["low"] > 0
        (0.027, True)
    """
    from scipy import stats

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D and paired (same shape), got shapes {a.shape} and {b.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"a paired interval needs at least 2 pairs, got {a.shape[0]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    differences = b - a
    n = differences.shape[0]
    mean = float(differences.mean())
    sd = float(differences.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "sd": sd, "n": n, "differences": differences}


class SeedRuns:
    """What ``run_seeds`` (or ``regularisation.run_seeds_tested``) measured: for every variant, one run per seed.

    Attributes:
        seeds: the seeds, in order; run ``i`` of every variant used ``seeds[i]``.
        histories: ``{variant: [History per seed]}``.
        results: ``{variant: {metric: np.ndarray (n_seeds,)}}`` with ``val_acc`` and ``val_loss`` (the final
            network, eval mode) and, when measured, ``train_acc`` (eval mode) and ``gap = train_acc - val_acc``;
            from ``run_seeds_tested`` also ``{test}_acc``, ``{test}_loss`` and ``{test}_gap`` per named test set.
        seconds: total training wall time.
        predictions: ``None``, or from ``run_seeds_tested`` ``{variant: {test: [predicted classes per seed]}}``.

    Example:
        >>> runs = SeedRuns([0, 1, 2], {"a": [], "b": []},
        ...                 {"a": {"val_acc": np.array([0.80, 0.82, 0.81])},
        ...                  "b": {"val_acc": np.array([0.83, 0.84, 0.84])}}, seconds=0.0)
        >>> runs.variants, [round(v, 3) for v in runs.mean_sd("a")], round(runs.paired("a", "b")["mean"], 3)
        (['a', 'b'], [0.81, 0.01], 0.027)
        >>> print(runs.table(("val_acc",)))
        variant                              val_acc
        a                             0.8100 +- 0.0100
        b                             0.8367 +- 0.0058
        (3 seeds: [0, 1, 2])
    """

    def __init__(self, seeds, histories, results, seconds, predictions=None):
        self.seeds = list(seeds)
        self.predictions = predictions
        self.histories = histories
        self.results = results
        self.seconds = seconds

    @property
    def variants(self):
        """The variants' names, in the order they were trained."""
        return list(self.histories)

    def values(self, variant, metric="val_acc"):
        """The per-seed values of ``metric`` for ``variant`` (``np.ndarray`` of shape ``(n_seeds,)``)."""
        if variant not in self.results:
            raise KeyError(f"unknown variant {variant!r}; have {self.variants}")
        if metric not in self.results[variant]:
            raise KeyError(f"unknown metric {metric!r}; have {sorted(self.results[variant])}")
        return self.results[variant][metric]

    def mean_sd(self, variant, metric="val_acc"):
        """``(mean, sd)`` of ``metric`` over the seeds (sd with ``ddof=1``)."""
        values = self.values(variant, metric)
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0

    def paired(self, baseline, variant, metric="val_acc", confidence=0.95):
        """``paired_interval`` of ``variant - baseline`` over the seeds (see there)."""
        return paired_interval(self.values(baseline, metric), self.values(variant, metric), confidence)

    def table(self, metrics=("val_acc", "gap")):
        """A text table: one row per variant, ``mean +- sd`` of each metric over the seeds."""
        metrics = [m for m in metrics if all(m in r for r in self.results.values())]
        lines = [f"{'variant':24s}" + "".join(f"{m:>20s}" for m in metrics)]
        for variant in self.variants:
            cells = []
            for metric in metrics:
                mean, sd = self.mean_sd(variant, metric)
                cells.append(f"{mean:12.4f} +- {sd:.4f}")
            lines.append(f"{variant:24s}" + "".join(f"{c:>20s}" for c in cells))
        return "\n".join(lines) + f"\n({len(self.seeds)} seeds: {self.seeds})"

    def __repr__(self):
        return f"SeedRuns({self.variants}, seeds={self.seeds})"

    def plot(self, metrics=("loss", "acc"), title=None, axes=None):
        """Mean curves over the seeds with a +-1 sd band: training solid, validation dashed."""
        import matplotlib.pyplot as plt

        if isinstance(metrics, str):
            metrics = (metrics,)
        if axes is None:
            fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.3), squeeze=False)
            axes = axes.ravel()
        else:
            fig = np.ravel(axes)[0].figure
            axes = np.ravel(axes)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ax, metric in zip(axes, metrics):
            for i, variant in enumerate(self.variants):
                for key, style, kind in ((metric, "-", "train"), ("val_" + metric, "--", "val")):
                    runs = [list(h[key]) for h in self.histories[variant]]
                    if not runs or not runs[0]:
                        continue
                    curves = np.array(runs, dtype=np.float64)
                    mean, sd = curves.mean(axis=0), curves.std(axis=0, ddof=1)
                    epochs = np.arange(1, curves.shape[1] + 1)
                    colour = colours[i % len(colours)]
                    ax.plot(epochs, mean, style, color=colour, label=f"{variant} {kind}")
                    ax.fill_between(epochs, mean - sd, mean + sd, color=colour, alpha=0.15, linewidth=0)
            ax.set_xlabel("epoch")
            ax.set_ylabel({"loss": "loss", "acc": "accuracy"}.get(metric, metric))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(title or f"mean over {len(self.seeds)} seeds, band: +-1 sd")
        fig.tight_layout()
        return fig


class SeededRun(NamedTuple):
    """One trained variant of :func:`seeded_runs`: its seed and name, the trained model, ``fit``'s history,
    the training data it saw and the ``fit`` options used."""

    seed: int
    name: str
    model: object
    history: object
    train: tuple
    options: dict


def seeded_runs(variants, train, val, epochs, seeds=(0, 1, 2), progress=True, **fit_kwargs):
    """Train every variant once per seed, paired by seed, yielding each run as it finishes.

    The loop behind :func:`run_seeds`, for a caller that measures something else after each run. The
    arguments are checked at once; the training happens while the result is iterated.

    Args:
        variants, train, val, epochs, seeds, progress, **fit_kwargs: as for :func:`run_seeds`.

    Returns:
        an iterator of :class:`SeededRun`, seed by seed, the variants in their order within each seed.

    Example:
        >>> runs = seeded_runs({"a": {"model": lambda: pytorch.nn.Linear(2, 2)}}, None, None, epochs=1, seeds=[0])
        Traceback (most recent call last):
        ...
        ValueError: seeds must hold at least 2 different seeds, got [0]
    """
    check_variants(variants)
    seeds = list(seeds)
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must hold at least 2 different seeds, got {seeds}")
    epochs = positive_int(epochs, "epochs")
    return _train_seeds(variants, train, val, epochs, seeds, progress, fit_kwargs)


def _train_seeds(variants, train, val, epochs, seeds, progress, fit_kwargs):
    from tqdm.auto import tqdm

    bar = tqdm(total=len(seeds) * len(variants), unit="run", disable=not progress)
    try:
        for seed in seeds:
            train_data = train(seed) if callable(train) else train
            for name, spec in variants.items():
                bar.set_description(f"seed {seed}: {name}")
                model, history, options = train_variant(spec, train_data, val, epochs, seed, **fit_kwargs)
                yield SeededRun(seed, name, model, history, train_data, options)
                bar.update(1)
    finally:
        bar.close()


def run_seeds(variants, train, val, epochs, seeds=(0, 1, 2), measure_train=True, progress=True, **fit_kwargs):
    """Train every variant once per seed, paired: for a given seed all variants start alike.

    For seed ``s`` each variant is built right after ``torch.manual_seed(s)`` (same layers -> same initial
    weights) and trained with ``fit(seed=s)`` (same batch order); only what the variant dict says differs.
    ``train`` may be a callable ``seed -> (images, labels)``, so that each seed also draws its own training
    images (all variants of one seed still share them).

    Args:
        variants: ``{name: {"model": zero-argument callable, **fit options}}`` as for ``compare_training``.
        train, val: ``(images, labels)`` as ``fit`` takes them (``train`` may be ``seed -> (images, labels)``).
        epochs: epochs unless a variant says otherwise.
        seeds: at least 2 seeds (3 or more for a conclusion).
        measure_train: also measure the training accuracy in eval mode (``train_acc``, ``gap``).
        progress: one tqdm bar over all runs.
        **fit_kwargs: shared ``fit`` arguments (lr, batch_size, device, schedule ...).

    Returns:
        ``SeedRuns``.

    Example:
        >>> runs = run_seeds({"p=0": {"model": lambda: small_cnn()}, "p=0.5": {"model": lambda: small_cnn(0.5)}},
        ...                  train, val, epochs=10, seeds=range(5))  # doctest: +SKIP
        >>> runs.paired("p=0", "p=0.5")["low"] > 0                    # doctest: +SKIP
    """
    import time

    from cnnlab.train import evaluate

    seeds = list(seeds)
    runs = seeded_runs(variants, train, val, epochs, seeds, progress, **fit_kwargs)
    histories = {name: [] for name in variants}
    results = {name: {"val_acc": [], "val_loss": [], "train_acc": [], "gap": []} for name in variants}
    start = time.perf_counter()
    for run in runs:
        histories[run.name].append(run.history)
        # fit measured the final network on val in eval mode after the last epoch
        val_loss, val_acc = run.history["val_loss"][-1], run.history["val_acc"][-1]
        results[run.name]["val_acc"].append(val_acc)
        results[run.name]["val_loss"].append(val_loss)
        if measure_train:
            _, train_acc = evaluate(run.model, run.train, device=run.options.get("device"))
            results[run.name]["train_acc"].append(train_acc)
            results[run.name]["gap"].append(train_acc - val_acc)
    arrays = {
        name: {metric: np.asarray(values, dtype=np.float64) for metric, values in metrics.items() if values}
        for name, metrics in results.items()
    }
    return SeedRuns(seeds, histories, arrays, time.perf_counter() - start)


def learning_curve(variants, sizes, make_train, val, epochs, seeds=(0, 1, 2), progress=True, **fit_kwargs):
    """``run_seeds`` at each training-set size: ``{size: SeedRuns}``.

    Args:
        sizes: training-set sizes, increasing.
        make_train: ``(size, seed) -> (images, labels)``; all variants of one (size, seed) share the images.
        epochs: an int for every size, or a callable ``size -> epochs`` (smaller sets need more epochs to
            see as many batches).

    Returns:
        ``{size: SeedRuns}`` in the order of ``sizes``.
    """
    sizes = [positive_int(size, "sizes") for size in sizes]
    if not sizes:
        raise ValueError("sizes must hold at least one training-set size")
    if not callable(make_train):
        raise TypeError(f"make_train must be a callable (size, seed) -> (images, labels), got {make_train!r}")
    curves = {}
    for size in sizes:
        size_epochs = epochs(size) if callable(epochs) else epochs
        curves[size] = run_seeds(variants, lambda seed, size=size: make_train(size, seed), val, size_epochs,
                                 seeds=seeds, progress=progress, **fit_kwargs)
    return curves
