"""Small, repeatable experiments behind the regularisation and VGG chapters.

The lecture notes (seed 003) train a Dogs-vs-Cats CNN on 1000 images per class and report how
dropout and data augmentation change the training and validation curves. We have no Dogs-vs-Cats
offline, so the book repeats the experiments on a small balanced subset of Fashion-MNIST, which is
small enough for a 2-core CPU and large enough to overfit. Everything here is plain functions so
the chapters stay short and the code is tested.

- ``fashion_subsets``: a balanced training subset and a held-out validation set, NCHW float tensors.
- ``small_cnn``: Conv-Pool-Conv-Pool-Dense-Dense with optional dropout in the dense part.
- ``compare_training``: train several variants from the *same* initial weights, collect their histories.
- ``tail_mean`` / ``generalization_gap``: read a history without being fooled by one noisy epoch.
- ``eval_accuracies``: training and validation accuracy of a trained model, both in eval mode.
- ``receptive_field``: measure, with autograd, how many input pixels one output unit sees.
"""

import copy
from collections import OrderedDict

import numpy as np
import torch as pytorch
from torch import nn

__all__ = [
    "fashion_subsets",
    "small_cnn",
    "compare_training",
    "tail_mean",
    "generalization_gap",
    "eval_accuracies",
    "receptive_field",
]


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def fashion_subsets(train_per_class, val_per_class, seed=0, pool=20000, root=None):
    """A balanced Fashion-MNIST training subset and a balanced validation set from the test split.

    Parameters
    ----------
    train_per_class : images per class drawn from the first ``pool`` training images
    val_per_class : images per class drawn from the test split (never seen in training)
    seed : seeds the draw, so every chapter that asks for the same sizes gets the same images

    Returns
    -------
    ((x_train, y_train), (x_val, y_val)): float32 tensors (N, 1, 28, 28) in [0, 1] and int64 labels (N,),
    with N = 10 * per_class.
    """
    from cnnlab import data

    train_per_class = _check_positive_int(train_per_class, "train_per_class")
    val_per_class = _check_positive_int(val_per_class, "val_per_class")
    rng = np.random.default_rng(seed)
    out = []
    for split, per_class, limit in (("train", train_per_class, pool), ("test", val_per_class, None)):
        images, labels = data.load_fashion_mnist(split, limit=limit, root=root)
        counts = np.bincount(labels, minlength=10)
        if counts.min() < per_class:
            raise ValueError(
                f"asked for {per_class} images per class from the {split} split, but the smallest class "
                f"has {counts.min()} (images {images.shape})"
            )
        index = np.sort(data.balanced_subset(labels, per_class, rng))
        x = pytorch.from_numpy(images[index].astype(np.float32) / 255.0)[:, None]
        y = pytorch.from_numpy(labels[index].astype(np.int64))
        out.append((x, y))
    return tuple(out)


def small_cnn(dropout=0.0, channels=(16, 32), hidden=64, num_classes=10, in_channels=1, image_size=28):
    """Conv-Pool-Conv-Pool-Flatten-Dense-Dense, the shape of seed 003's network, scaled to 28x28 images.

    ``conv(3x3, same) -> ReLU -> maxpool 2`` twice, then ``Dropout(p) -> Linear(hidden) -> ReLU -> Dropout(p)
    -> Linear(num_classes)``. The dropout layers are always there (``p=0`` makes them the identity), so
    networks with and without dropout have the same layers and, from the same seed, the same initial weights.

    Shapes: (N, in_channels, image_size, image_size) -> (N, num_classes). Layer names: conv1, relu1, pool1,
    conv2, relu2, pool2, flatten, drop1, fc1, relu3, drop2, fc2.
    """
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    if len(channels) != 2:
        raise ValueError(f"channels must hold two counts (first conv, second conv), got {channels!r}")
    first, second = (_check_positive_int(c, "channels") for c in channels)
    hidden = _check_positive_int(hidden, "hidden")
    image_size = _check_positive_int(image_size, "image_size")
    if image_size < 4:
        raise ValueError(f"image_size must be at least 4 to survive two 2x2 pools, got {image_size}")
    pooled = image_size // 4
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(in_channels, first, 3, padding=1)),
                ("relu1", nn.ReLU()),
                ("pool1", nn.MaxPool2d(2)),
                ("conv2", nn.Conv2d(first, second, 3, padding=1)),
                ("relu2", nn.ReLU()),
                ("pool2", nn.MaxPool2d(2)),
                ("flatten", nn.Flatten()),
                ("drop1", nn.Dropout(dropout)),
                ("fc1", nn.Linear(second * pooled * pooled, hidden)),
                ("relu3", nn.ReLU()),
                ("drop2", nn.Dropout(dropout)),
                ("fc2", nn.Linear(hidden, num_classes)),
            ]
        )
    )


def compare_training(variants, train, val, epochs, seed=0, progress=True, **fit_kwargs):
    """Train each variant with ``cnnlab.train.fit`` from the same seed; return their histories and models.

    Parameters
    ----------
    variants : dict name -> dict with ``"model"`` (a zero-argument callable building a fresh model) and
               optionally ``"augment"`` (passed to ``fit``), ``"epochs"``, ``"lr"`` ... (override the defaults)
    train, val : (images, labels) as ``fit`` takes them
    epochs : epochs for every variant unless the variant says otherwise
    seed : ``torch.manual_seed(seed)`` right before each model is built, and ``fit(seed=seed)``, so the variants
           differ only in what the variant dict says
    fit_kwargs : further ``fit`` arguments shared by all variants (lr, batch_size, optimizer, device ...)

    Returns
    -------
    (histories, models): two dicts keyed like ``variants``.
    """
    from cnnlab.train import fit

    if not isinstance(variants, dict) or not variants:
        raise TypeError(f"variants must be a non-empty dict name -> {{'model': callable, ...}}, got {variants!r}")
    histories, models = {}, {}
    for name, spec in variants.items():
        if not isinstance(spec, dict) or not callable(spec.get("model")):
            raise TypeError(f"variants[{name!r}] must be a dict with a callable 'model', got {spec!r}")
        options = dict(fit_kwargs)
        options.update({key: value for key, value in spec.items() if key != "model"})
        options.setdefault("epochs", epochs)
        pytorch.manual_seed(seed)
        model = spec["model"]()
        histories[name] = fit(model, train, val, seed=seed, progress=progress, **options)
        models[name] = model
    return histories, models


def tail_mean(history, key="val_acc", last=3):
    """Mean of the last ``last`` epochs of ``history[key]``: one epoch's value is too noisy to report."""
    values = list(history[key])
    if not values:
        raise ValueError(f"history[{key!r}] is empty")
    last = _check_positive_int(last, "last")
    return float(np.mean(values[-last:]))


def generalization_gap(history, last=3):
    """Training accuracy minus validation accuracy, averaged over the last ``last`` epochs.

    Large and growing: the network fits its training images better than it predicts new ones (overfitting).
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

    Returns dict ``{"train_acc", "val_acc", "gap"}`` with ``gap = train_acc - val_acc``.
    """
    from cnnlab.train import evaluate

    _, train_acc = evaluate(model, train, batch_size=batch_size, device=device)
    _, val_acc = evaluate(model, val, batch_size=batch_size, device=device)
    return {"train_acc": float(train_acc), "val_acc": float(val_acc), "gap": float(train_acc - val_acc)}


def receptive_field(layers, in_channels=1, size=32):
    """Height and width of the input patch that one central output unit of ``layers`` depends on.

    Measured, not derived: the gradient of the centre unit of the first output channel with respect to
    the input is non-zero exactly on its receptive field. To keep every path alive the measurement runs on
    a copy whose convolution weights are set to 1 and biases to 0, with an all-ones input, so ReLUs pass
    everything. Meant for stacks of convolutions and activations (a max pool routes the gradient to one
    pixel per window and would under-count).

    Parameters
    ----------
    layers : nn.Module, e.g. ``nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))``
    in_channels : channels of the probe input
    size : side of the square probe input; must exceed the receptive field

    Returns
    -------
    (height, width) in input pixels. Two stacked 3x3 convolutions give (5, 5), three give (7, 7).
    """
    if not isinstance(layers, nn.Module):
        raise TypeError(f"layers must be an nn.Module, got {type(layers).__name__}")
    size = _check_positive_int(size, "size")
    probe_model = copy.deepcopy(layers).cpu().float()
    with pytorch.no_grad():
        for module in probe_model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0)
                if module.bias is not None:
                    module.bias.zero_()
    probe = pytorch.ones(1, in_channels, size, size, requires_grad=True)
    out = probe_model(probe)
    if out.ndim != 4:
        raise ValueError(f"layers must map (1, C, H, W) to (1, F, h, w); got output shape {tuple(out.shape)}")
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    touched = probe.grad[0].abs().sum(dim=0) > 0
    rows = pytorch.nonzero(touched.any(dim=1)).flatten()
    cols = pytorch.nonzero(touched.any(dim=0)).flatten()
    height = int(rows.max() - rows.min() + 1)
    width = int(cols.max() - cols.min() + 1)
    if rows.min() == 0 or cols.min() == 0 or rows.max() == size - 1 or cols.max() == size - 1:
        raise ValueError(f"the receptive field reaches the edge of the {size}x{size} probe; pass a larger size")
    return height, width
