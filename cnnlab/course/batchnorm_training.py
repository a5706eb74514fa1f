"""What batch normalisation does to training: the experiment behind the LeNet chapter (11b).

A plain loop instead of :func:`cnnlab.train.fit`, because the chapter needs the loss of every step
(the first few hundred steps are where the two networks differ) and the state of every layer at
chosen steps, which ``fit``'s per-epoch history does not record.

- :func:`train_steps`: SGD on random shuffles, the loss of every step, layer statistics at chosen steps.
- :func:`activation_inputs`: mean, standard deviation and saturation of what each activation layer receives.
- :func:`weight_gradient_norms`: the size of each layer's weight gradient on one batch.
- :func:`over_seeds`: run one experiment for several seeds and stack the results.
- :func:`mean_and_band`: mean and standard deviation across seeds, for curves with bands.
"""

import numpy as np
import torch
from torch import nn
from cnnlab.checks import positive_int
from cnnlab.runtime import offset_seed

__all__ = ["activation_inputs", "weight_gradient_norms", "train_steps", "over_seeds", "mean_and_band", "smooth"]

ACTIVATIONS = (nn.Sigmoid, nn.ReLU, nn.Tanh)


def _check_model(model):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def activation_inputs(model, x, saturation=4.0):
    """What each activation layer of ``model`` receives on the batch ``x``, in the model's current mode.

    A sigmoid's slope is at most 1/4 and nearly 0 beyond ``|z| > 4`` (``sigmoid'(4) = 0.018``), so the mean and
    spread of its input ``z`` say whether the layer passes signal and gradient on or is saturated.

    Args:
        model: an ``nn.Module`` with activation children (``nn.Sigmoid``, ``nn.ReLU``, ``nn.Tanh``).
        x: a batch the model accepts.
        saturation: ``|z|`` beyond which an input counts as saturated.

    Shape:
        returns ``{layer name: {"mean", "std", "saturated"}}`` (floats; ``saturated`` is the fraction of
        inputs with ``|z| > saturation``), in the order the layers run.

    Example:
        >>> from cnnlab.models import LeNet
        >>> stats = activation_inputs(LeNet(), torch.zeros(4, 1, 28, 28))
        >>> list(stats)
        ['sigmoid1', 'sigmoid2', 'sigmoid3', 'sigmoid4']
    """
    _check_model(model)
    stats, handles = {}, []

    def hook(name):
        def record(module, inputs, output):
            z = inputs[0].detach().double()
            stats[name] = {
                "mean": float(z.mean()),
                "std": float(z.std(unbiased=False)),
                "saturated": float((z.abs() > saturation).double().mean()),
            }

        return record

    for name, module in model.named_modules():
        if isinstance(module, ACTIVATIONS):
            handles.append(module.register_forward_hook(hook(name)))
    if not handles:
        raise ValueError(f"{type(model).__name__} has no activation layer ({', '.join(a.__name__ for a in ACTIVATIONS)})")
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return stats


def weight_gradient_norms(model, x, y):
    """The norm of each layer's weight gradient for the cross-entropy loss on one batch (x, y).

    Args:
        model: a classifier returning logits ``(N, classes)``.
        x, y: a batch and its integer labels.

    Shape:
        returns ``{layer name: ||dL/dW||}`` for every convolution and dense layer, in definition order.
        The model's own ``.grad`` fields are left as they were.

    Example:
        >>> from cnnlab.models import LeNet
        >>> norms = weight_gradient_norms(LeNet(), torch.rand(8, 1, 28, 28), torch.arange(8))
        >>> list(norms)
        ['conv1', 'conv2', 'fc1', 'fc2', 'fc3']
    """
    _check_model(model)
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    weights = [m.weight for _, m in layers]
    loss = nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, weights)
    return {name: float(g.norm()) for (name, _), g in zip(layers, grads)}


def train_steps(model, train, steps, lr=0.5, batch_size=64, seed=0, probe=None, record_at=()):
    """Train ``model`` with plain SGD for ``steps`` minibatches and record what the chapter plots.

    Args:
        model: a classifier (logits). Its initial weights are whatever the caller built (seed them).
        train: ``(images, labels)`` tensors, NCHW float and int64.
        steps: number of SGD steps; the data is reshuffled (seeded) whenever it runs out.
        lr, batch_size: plain SGD without momentum, so that the networks differ only in their layers.
        seed: the shuffling.
        probe: ``(images, labels)``: a fixed batch for :func:`activation_inputs` (train mode, as the
            network sees batches while it learns) and :func:`weight_gradient_norms`.
        record_at: steps (0 = before the first update) at which to record the probe.

    Shape:
        returns ``{"loss": (steps,) array of each step's training loss, "layers": {step: activation_inputs},
        "gradients": {step: weight_gradient_norms}}``.
    """
    _check_model(model)
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    images, labels = train
    if len(images) != len(labels) or len(images) < batch_size:
        raise ValueError(f"train needs as many labels as images and at least batch_size={batch_size} of them, "
                         f"got {len(images)} images and {len(labels)} labels")
    if record_at and probe is None:
        raise ValueError("record_at needs a probe batch (images, labels)")
    record_at = set(record_at)
    generator = torch.Generator().manual_seed(offset_seed(seed))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses, layers, gradients = [], {}, {}
    order, position = torch.randperm(len(images), generator=generator), 0
    model.train()
    for step in range(steps + 1):
        if step in record_at:
            layers[step] = activation_inputs(model, probe[0])
            gradients[step] = weight_gradient_norms(model, *probe)
        if step == steps:
            break
        if position + batch_size > len(images):
            order, position = torch.randperm(len(images), generator=generator), 0
        batch = order[position : position + batch_size]
        position += batch_size
        loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return {"loss": np.array(losses), "layers": layers, "gradients": gradients}


def over_seeds(experiment, seeds):
    """``[experiment(seed) for seed in seeds]``, refusing fewer than two seeds: one run is never a conclusion.

    Example:
        >>> over_seeds(lambda seed: seed * 2, [0, 1, 2])
        [0, 2, 4]
    """
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds (one seed's run is never a conclusion), got {seeds}")
    return [experiment(seed) for seed in seeds]


def smooth(values, window):
    """Moving average over ``window`` steps (the first ``window - 1`` points average what there is).

    Shape: ``(..., steps) -> (..., steps)``.
    """
    values = np.asarray(values, dtype=np.float64)
    window = positive_int(window, "window")
    cumulative = np.cumsum(values, axis=-1)
    shifted = np.concatenate([np.zeros(values.shape[:-1] + (window,)), cumulative[..., :-window]], axis=-1)
    counts = np.minimum(np.arange(1, values.shape[-1] + 1), window)
    return (cumulative - shifted[..., : values.shape[-1]]) / counts


def mean_and_band(curves):
    """Mean and standard deviation across runs (axis 0): ``(runs, steps) -> (steps,), (steps,)``.

    Example:
        >>> mean, sd = mean_and_band([[1.0, 2.0], [3.0, 2.0]])
        >>> mean.tolist(), sd.tolist()
        ([2.0, 2.0], [1.0, 0.0])
    """
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[0] < 2:
        raise ValueError(f"curves must be (runs, steps) with at least 2 runs, got shape {curves.shape}")
    return curves.mean(axis=0), curves.std(axis=0)
