"""Figures used throughout the book. Every function returns a ``matplotlib.figure.Figure``.

Figures are made with ``plt.subplots`` so that Jupyter's inline backend shows them once at the
end of the cell; write ``fig = show_images(...)`` or end the line with ``;`` to avoid a second
copy from the cell's return value. Arrays may be NumPy or torch tensors (on any device).

The sliding-window step figures (convolution, padding, pooling) live in ``cnnlab.course.plots.windows``.
"""

import math

import matplotlib.pyplot as plt
import numpy as np


def _numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _grid(count, ncols, tile=1.4, extra_height=0.0):
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(tile * ncols, tile * nrows + extra_height), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def _displayable(images):
    """Return images as (N, H, W) or (N, H, W, 3/4), float in [0, 1] or uint8."""
    images = _numpy(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[1] in (1, 3, 4) and images.shape[-1] not in (1, 3, 4):
        images = np.transpose(images, (0, 2, 3, 1))  # NCHW -> NHWC
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 3 and images.shape[-1] in (3, 4) and images.shape[0] > 4:
        images = images[None]  # one colour image (H, W, 3)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W), (N, H, W, C) or (N, C, H, W), got shape {images.shape}")
    return images


def show_images(images, labels=None, class_names=None, ncols=8, cmap=None, predictions=None):
    """Show a grid of images with optional titles.

    images : (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float (float colour images are
        clipped to [0, 1])
    labels : (N,) class indices or strings; ``class_names`` turns indices into names
    predictions : (N,) predicted indices; titles become "pred (true)", green when right, red when wrong
    cmap : colour map for grey images (default "gray")

    Returns:
        the Figure.
    """
    images = _displayable(images)
    n = images.shape[0]
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} images")

    def name_of(value):
        value = value.item() if hasattr(value, "item") else value
        if class_names is not None and isinstance(value, (int, np.integer)):
            return str(class_names[int(value)])
        return str(value)

    fig, axes = _grid(n, ncols, extra_height=0.2)
    for i, ax in zip(range(n), axes):
        img = images[i]
        if img.ndim == 3 and img.dtype != np.uint8:
            img = np.clip(img, 0, 1)
        ax.imshow(img, cmap=cmap or ("gray" if img.ndim == 2 else None))
        if predictions is not None:
            right = labels is None or name_of(predictions[i]) == name_of(labels[i])
            title = name_of(predictions[i]) + ("" if labels is None else f"\n({name_of(labels[i])})")
            ax.set_title(title, fontsize=8, color="green" if right else "red")
        elif labels is not None:
            ax.set_title(name_of(labels[i]), fontsize=8)
    fig.tight_layout()
    return fig


_METRIC_NAMES = {"loss": "loss", "acc": "accuracy"}


def plot_history(history, metrics=("loss", "acc"), title=None):
    """Plot training curves: one panel per metric, training solid, validation dashed.

    ``history`` is a ``cnnlab.train.History`` (or any dict of per-epoch lists), or a dict
    ``{"run name": history, ...}`` to compare runs (same colour for a run's train and val curves).

    Returns:
        the Figure.
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    if isinstance(history, dict) and history and all(isinstance(v, dict) for v in history.values()):
        runs = dict(history)
    elif isinstance(history, dict):
        runs = {"": history}
    else:
        raise TypeError(f"history must be a History/dict of lists or a dict of them, got {type(history).__name__}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics):
        plotted = False
        for i, (run, hist) in enumerate(runs.items()):
            colour = colours[i % len(colours)]
            for key, style, kind in ((metric, "-", "train"), ("val_" + metric, "--", "val")):
                values = list(hist.get(key, []))
                if not values:
                    continue
                label = f"{run} {kind}".strip()
                ax.plot(range(1, len(values) + 1), values, style, color=colour, marker="o", markersize=3, label=label)
                plotted = True
        if not plotted:
            raise ValueError(f"no values for metric {metric!r} in history (keys: {sorted(next(iter(runs.values())))})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_METRIC_NAMES.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_feature_maps(maps, ncols=8, title=None, cmap="viridis"):
    """Show each channel of a feature map (C, H, W) (or (1, C, H, W)) as its own small image.

    Returns:
        the Figure.
    """
    maps = _numpy(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"maps must be (C, H, W) or (1, C, H, W), got shape {maps.shape}")
    fig, axes = _grid(maps.shape[0], ncols, tile=1.3, extra_height=0.4 if title else 0.0)
    for c, ax in zip(range(maps.shape[0]), axes):
        ax.imshow(maps[c], cmap=cmap)
        ax.set_title(f"{c}", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_filters(weights, ncols=8, channel=None, title=None):
    """Show convolution filters ``weights`` (F, C, KH, KW).

    With 3 input channels (and ``channel=None``) each filter is drawn as a colour image, its
    values stretched to [0, 1]; otherwise input channel ``channel`` (default 0) of each filter is
    drawn with a diverging colour map, white at 0, so positive and negative weights stand apart.

    Returns:
        the Figure.
    """
    weights = _numpy(weights).astype(np.float64)
    if weights.ndim != 4:
        raise ValueError(f"weights must be (F, C, KH, KW), got shape {weights.shape}")
    n_filters, n_channels = weights.shape[:2]
    rgb = n_channels == 3 and channel is None
    channel = 0 if channel is None else channel
    if not 0 <= channel < n_channels:
        raise ValueError(f"channel must be in [0, {n_channels}) for weights of shape {weights.shape}, got {channel}")
    fig, axes = _grid(n_filters, ncols, tile=1.1, extra_height=0.4 if title else 0.0)
    limit = np.abs(weights[:, channel]).max() or 1.0
    for f, ax in zip(range(n_filters), axes):
        if rgb:
            w = np.transpose(weights[f], (1, 2, 0))
            span = w.max() - w.min()
            ax.imshow((w - w.min()) / span if span > 0 else np.zeros_like(w))
        else:
            ax.imshow(weights[f, channel], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"{f}", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


__all__ = ["show_images", "plot_history", "show_feature_maps", "show_filters"]
