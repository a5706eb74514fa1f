"""Turning multi-seed results into sentences and figures that cannot overstate them.

- ``verdict``: the word a paired interval allows ("higher" only when the whole interval is above 0);
- ``plot_paired``: each comparison as its per-seed differences and the interval around their mean;
- ``plot_learning_curve``: accuracy against training-set size, mean +- sd over seeds, per variant.
"""

from __future__ import annotations

import numpy as np

__all__ = ["verdict", "plot_paired", "plot_learning_curve"]


def verdict(interval, higher="higher", lower="lower", neither="within noise"):
    """The claim a paired interval supports: ``higher`` if ``low > 0``, ``lower`` if ``high < 0``, else ``neither``.

    Args:
        interval: a dict with ``"low"`` and ``"high"`` (``cnnlab.course.experiments.paired_interval``).

    Example:
        >>> verdict({"low": 0.004, "high": 0.02}), verdict({"low": -0.01, "high": 0.02})
        ('higher', 'within noise')
    """
    try:
        low, high = float(interval["low"]), float(interval["high"])
    except (KeyError, TypeError):
        raise TypeError(f"interval must be a dict with 'low' and 'high', got {interval!r}") from None
    if low > high:
        raise ValueError(f"interval has low {low} > high {high}")
    if low > 0:
        return higher
    if high < 0:
        return lower
    return neither


def plot_paired(intervals, xlabel="difference", title=None, percent=True):
    """One row per comparison: the per-seed differences (ticks) and the mean with its interval (bar).

    A bar is blue when its interval excludes 0 and grey when it does not.

    Args:
        intervals: ``{label: paired_interval(...)}``.
        percent: show the differences in percentage points (accuracies) rather than raw units.
    """
    import matplotlib.pyplot as plt

    if not intervals:
        raise ValueError("intervals must hold at least one {label: paired_interval(...)}")
    scale = 100.0 if percent else 1.0
    labels = list(intervals)
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(labels) + 1.3))
    for row, label in enumerate(labels):
        r = intervals[label]
        # blue: the interval excludes 0 (a difference beyond the seed noise, in either direction); grey: it does not
        colour = "0.5" if verdict(r) == "within noise" else "tab:blue"
        ax.plot([r["low"] * scale, r["high"] * scale], [row, row], color=colour, lw=3, solid_capstyle="butt")
        ax.plot(r["mean"] * scale, row, "o", color=colour, ms=7)
        ax.plot(np.asarray(r["differences"]) * scale, np.full(len(r["differences"]), row + 0.18), "|",
                color="0.3", ms=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel + (" (percentage points)" if percent else ""))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "paired difference per seed (ticks), mean and 95% interval (bar)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_learning_curve(curves, metric="val_acc", reference=None, title=None):
    """Mean +- sd of ``metric`` over seeds against training-set size (log axis), one line per variant.

    Args:
        curves: ``{size: SeedRuns}`` from ``cnnlab.course.experiments.learning_curve``.
        reference: optional ``(size, value, label)`` drawn as a star, e.g. a full-data result.
    """
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("curves must hold at least one size")
    sizes = sorted(curves)
    variants = curves[sizes[0]].variants
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for variant in variants:
        stats = [curves[size].mean_sd(variant, metric) for size in sizes]
        mean = np.array([m for m, _ in stats])
        sd = np.array([s for _, s in stats])
        ax.errorbar(sizes, mean, yerr=sd, marker="o", capsize=3, label=variant)
    if reference is not None:
        size, value, label = reference
        ax.plot([size], [value], "*", ms=14, color="tab:red", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_ylabel({"val_acc": "validation accuracy", "test_acc": "test accuracy", "gap": "train - validation accuracy"}.get(metric, metric))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
