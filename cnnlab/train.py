"""A small, readable training loop: ``fit``, ``evaluate``, ``predict`` and ``History``.

It does what Keras' ``model.fit`` does in the lecture notes, in plain PyTorch:

- data can be NumPy arrays / tensors ``(images, labels)`` or any ``torch.utils.data.Dataset``;
  uint8 images (N, H, W) or (N, H, W, C) become float (N, C, H, W) in [0, 1], float images must
  already be (N, C, H, W) (see ``cnnlab.data.images_to_nchw_float``);
- the loss is picked from the model's output: one logit per image -> binary cross-entropy
  (``BCEWithLogitsLoss``), several -> ``CrossEntropyLoss``;
- augmentation (an ``Augmenter`` or any tensor -> tensor function) runs per training batch on
  the device, never on validation data;
- every epoch records loss / accuracy on the training batches (as seen during the epoch, with
  dropout and augmentation on) and on the validation set (model in eval mode).
"""

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from cnnlab.models import eval_mode
from cnnlab.runtime import device as default_device, offset_seed, seed_everything, static_mode
from cnnlab.data import images_to_nchw_float

METRICS = ("loss", "acc", "val_loss", "val_acc")


class History(dict):
    """Per-epoch metrics: a dict of lists ``"loss"``, ``"acc"``, ``"val_loss"``, ``"val_acc"``.

    ``history["val_acc"][-1]`` is the last validation accuracy; validation lists stay empty when
    ``fit`` had no ``val``. ``history.epochs`` is ``[1, 2, ..., n]`` (the x axis of a plot) and
    ``history.seconds`` the wall time of each epoch, ``history.lr`` the learning rate at its end.
    ``fit`` fills it; it takes no arguments.

    Example:
        >>> history = History()
        >>> history["loss"] += [0.9, 0.5, 0.6]; history["val_acc"] += [0.6, 0.8, 0.7]
        >>> history.epochs, history.best("val_acc"), history.best("loss")
        ([1, 2, 3], (2, 0.8), (2, 0.5))
    """

    def __init__(self):
        super().__init__({name: [] for name in METRICS})
        self.seconds = []
        self.lr = []  # learning rate at the end of each epoch

    @property
    def epochs(self):
        return list(range(1, len(self["loss"]) + 1))

    def best(self, metric="val_acc"):
        """Return ``(epoch, value)`` of the best epoch: highest for accuracies, lowest for losses.

        Args:
            metric: one of ``"loss"``, ``"acc"``, ``"val_loss"``, ``"val_acc"``; epochs count from 1.
        """
        if metric not in self:
            raise KeyError(f"unknown metric {metric!r}; have {sorted(self)}")
        values = self[metric]
        if not values:
            raise ValueError(f"history has no values for {metric!r} (was val data given to fit?)")
        index = int(np.argmin(values) if "loss" in metric else np.argmax(values))
        return index + 1, values[index]

    def __repr__(self):
        if not self["loss"]:
            return "History(empty)"
        last = ", ".join(f"{k}={v[-1]:.4f}" for k, v in self.items() if v)
        return f"History({len(self['loss'])} epochs; last: {last})"


# ----------------------------------------------------------------------- data


class _Batches:
    """Iterate over (x, y) batches of in-memory tensors or a Dataset, optionally shuffled."""

    def __init__(self, data, batch_size, name):
        self.dataset = None
        if isinstance(data, torch.utils.data.Dataset):
            self.dataset = data
            self.n = len(data)
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            images, labels = data
            if not isinstance(images, torch.Tensor):
                images = np.asarray(images)
            images_to_nchw_float(images[:1] if images.ndim else images)  # check the layout now; batches convert lazily
            y = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
            if y.ndim != 1 or y.shape[0] != images.shape[0]:
                raise ValueError(
                    f"{name}: labels must be (N,) with N = {images.shape[0]} images, got shape {tuple(y.shape)}"
                )
            # Images stay as given (often uint8, 4x smaller than float32) until a batch is drawn.
            self.images, self.y = images, y
            self.n = images.shape[0]
        else:
            raise TypeError(f"{name} must be a (images, labels) pair or a torch Dataset, got {type(data).__name__}")
        if self.n == 0:
            raise ValueError(f"{name} is empty")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def iterate(self, shuffle=False, generator=None):
        if self.dataset is not None:
            loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size,
                                                 shuffle=shuffle, generator=generator)
            for xb, yb in loader:
                yield xb.float(), yb
            return
        order = torch.randperm(self.n, generator=generator) if shuffle else torch.arange(self.n)
        for start in range(0, self.n, self.batch_size):
            index = order[start:start + self.batch_size]
            if isinstance(self.images, torch.Tensor):
                xb = images_to_nchw_float(self.images[index])
            else:
                xb = torch.from_numpy(np.ascontiguousarray(images_to_nchw_float(self.images[index.numpy()])))
            yield xb, self.y[index]


# ----------------------------------------------------------------------- loss


def _is_binary(logits):
    return logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1)


def _loss_and_correct(logits, labels, loss_fn):
    """Return (mean loss tensor, number of correct predictions) for one batch."""
    if _is_binary(logits):
        logits = logits.reshape(-1)
        target = labels.to(logits.dtype).reshape(-1)
        loss = loss_fn(logits, target) if loss_fn else torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        correct = ((logits > 0).long() == labels.reshape(-1).long()).sum()
    else:
        if logits.ndim != 2:
            raise ValueError(f"model output must be (N, classes) or (N, 1), got shape {tuple(logits.shape)}")
        labels = labels.long()
        loss = loss_fn(logits, labels) if loss_fn else torch.nn.functional.cross_entropy(logits, labels)
        correct = (logits.argmax(dim=1) == labels).sum()
    return loss, int(correct)


def _make_optimizer(optimizer, model, lr, weight_decay=0.0):
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        # decoupled weight decay (Loshchilov & Hutter): shrinks weights directly, not through Adam's scaling
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if optimizer == "rmsprop":
        # Chollet trains the cats-vs-dogs CNN with RMSprop.
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if callable(optimizer):
        return optimizer(params)
    raise ValueError(
        f"optimizer must be 'adam', 'adamw', 'sgd', 'rmsprop', a torch Optimizer or a factory, got {optimizer!r}"
    )


SCHEDULES = (None, "constant", "onecycle", "cosine")


def _make_schedule(schedule, opt, lr, total_steps):
    """A per-batch learning-rate schedule, or None for a constant rate."""
    if schedule is None or schedule == "constant":
        return None
    if schedule == "onecycle":
        # warm up to lr over the first 30% of the steps, then anneal to ~0 (Smith & Topin, 2019)
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def _apply_augment(augment, xb, generator):
    if hasattr(augment, "torch"):
        return augment.torch(xb, generator=generator)
    return augment(xb)


# -------------------------------------------------------------------- fitting


def fit(model, train, val=None, epochs=5, lr=1e-3, batch_size=64, optimizer="adam", loss=None,
        augment=None, device=None, seed=0, progress=True, schedule=None, weight_decay=0.0):
    """Train ``model`` and return its :class:`History`.

    Args:
        model: a ``torch.nn.Module`` mapping (N, C, H, W) floats to logits (N, classes) or (N, 1).
        train, val: ``(images, labels)`` arrays/tensors, or Datasets yielding ``(image (C, H, W), label)``.
        epochs, lr, batch_size: the usual.
        optimizer: "adam" (default), "adamw", "sgd" (momentum 0.9), "rmsprop", an Optimizer, or
            params -> Optimizer.
        loss: None (chosen from the output size, see the module docstring) or ``f(logits, labels) -> loss``.
        augment: None, an object with a ``.torch(batch, generator=...)`` method (``cnnlab.augment.Augmenter``,
            ``RandomCrop``, ``GaussianNoise``) or tensor -> tensor; applied to training batches only, on the device.
        device: default ``cnnlab.device()``.
        seed: seeds shuffling, dropout and augmentation (``cnnlab.seed_everything``, so
            ``CNNLAB_SEED_OFFSET`` is added); the model's initial weights are whatever the caller built.
        progress: show a tqdm bar (one per fit, counting the batches of all epochs). When the book
            is built (``CNNLAB_STATIC_WIDGETS=1``) a live bar cannot be shown, so one summary line per
            epoch is printed instead, like Keras' ``verbose=2``.
        schedule: learning rate over the run, stepped after every batch: None / "constant" (``lr``
            throughout), "onecycle" (warm up to ``lr``, then anneal to about 0) or "cosine" (from ``lr``
            down to 0). ``history.lr`` records the rate at the end of each epoch.
        weight_decay: L2 penalty of the named optimizers ("adamw": decoupled weight decay).

    Shape:
        images uint8 ``(N, H, W)`` / ``(N, H, W, C)`` or float ``(N, C, H, W)``; labels ``(N,)``.
        ``ceil(N / batch_size)`` optimizer steps per epoch.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> images, labels = torch.rand(8, 1, 4, 4), torch.tensor([0, 1] * 4)
        >>> history = fit(model, (images, labels), val=(images, labels), epochs=1, batch_size=4,
        ...               progress=False, device="cpu")
        >>> history.epochs, len(history["val_acc"]), 0 <= history["acc"][0] <= 1
        ([1], 1, True)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    seed_everything(seed)
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    train_batches = _Batches(train, batch_size, "train")
    val_batches = _Batches(val, max(batch_size, 256), "val") if val is not None else None
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    opt = _make_optimizer(optimizer, model, lr, weight_decay)
    lr_schedule = _make_schedule(schedule, opt, lr, epochs * len(train_batches))
    shuffle_gen = torch.Generator().manual_seed(offset_seed(seed))
    augment_gen = torch.Generator().manual_seed(offset_seed(seed) + 1)
    history = History()

    static = static_mode()
    bar = tqdm(total=epochs * len(train_batches), unit="batch", disable=not progress or static, leave=True)
    try:
        for epoch in range(1, epochs + 1):
            bar.set_description(f"epoch {epoch}/{epochs}")
            start = time.perf_counter()
            model.train()
            total_loss, total_correct, seen = 0.0, 0, 0
            for xb, yb in train_batches.iterate(shuffle=True, generator=shuffle_gen):
                xb, yb = xb.to(device), yb.to(device)
                if augment is not None:
                    xb = _apply_augment(augment, xb, augment_gen)
                opt.zero_grad()
                batch_loss, correct = _loss_and_correct(model(xb), yb, loss)
                batch_loss.backward()
                opt.step()
                if lr_schedule is not None:
                    lr_schedule.step()
                total_loss += float(batch_loss.detach()) * len(yb)
                total_correct += correct
                seen += len(yb)
                bar.update(1)
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.3f}", refresh=False)
            history["loss"].append(total_loss / seen)
            history["acc"].append(total_correct / seen)
            history.lr.append(opt.param_groups[0]["lr"])
            if val_batches is not None:
                val_loss, val_acc = _evaluate_batches(model, val_batches, device, loss)
                history["val_loss"].append(val_loss)
                history["val_acc"].append(val_acc)
                bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", acc=f"{history['acc'][-1]:.3f}",
                                val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
            history.seconds.append(time.perf_counter() - start)
            if progress and static:
                print(f"epoch {epoch}/{epochs}  " + "  ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v)
                      + f"  ({history.seconds[-1]:.1f} s)", flush=True)
    finally:
        bar.close()
    return history


def _evaluate_batches(model, batches, device, loss_fn=None):
    total_loss, total_correct = 0.0, 0
    with eval_mode(model), torch.no_grad():
        for xb, yb in batches.iterate():
            xb, yb = xb.to(device), yb.to(device)
            batch_loss, correct = _loss_and_correct(model(xb), yb, loss_fn)
            total_loss += float(batch_loss) * len(yb)
            total_correct += correct
    return total_loss / batches.n, total_correct / batches.n


def evaluate(model, data, batch_size=256, device=None, loss=None):
    """Return ``(mean loss, accuracy)`` of ``model`` on ``data``, in eval mode (no dropout, frozen batch norm).

    Args:
        model: a ``torch.nn.Module``, as for :func:`fit`.
        data: ``(images, labels)`` or a Dataset, as for :func:`fit`.
        batch_size: images per forward pass.
        device: default ``cnnlab.device()``.
        loss: None (chosen from the output size) or ``f(logits, labels) -> loss``.

    Shape:
        images as for :func:`fit`; two floats come back.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> with torch.no_grad():
        ...     _ = model[1].weight.zero_(), model[1].bias.copy_(torch.tensor([0.0, 1.0]))
        >>> loss, acc = evaluate(model, (torch.zeros(6, 1, 2, 2), torch.tensor([1, 1, 1, 1, 0, 0])), device="cpu")
        >>> import math  # the model always says class 1 (logits 0, 1): right on 4 images, wrong on 2
        >>> abs(loss - (4 * math.log(1 + 1 / math.e) + 2 * math.log(1 + math.e)) / 6) < 1e-6, acc == 4 / 6
        (True, True)
    """
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    return _evaluate_batches(model, _Batches(data, batch_size, "data"), device, loss)


def predict(model, images, batch_size=256, device=None):
    """Return the model's logits as a NumPy array (N, classes) or (N, 1), computed in eval mode.

    Args:
        model: a ``torch.nn.Module``, as for :func:`fit`.
        images: as for :func:`fit` (uint8 NHW/NHWC or float NCHW), or a Dataset of (image, label).
        batch_size: images per forward pass.
        device: default ``cnnlab.device()``.

    Shape:
        ``(N, ...) -> (N, classes)`` or ``(N, 1)``.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(9, 3))
        >>> predict(model, np.zeros((5, 3, 3), np.uint8), device="cpu").shape
        (5, 3)
    """
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    if isinstance(images, torch.utils.data.Dataset):
        batches = _Batches(images, batch_size, "images")
    else:
        n = len(images) if getattr(images, "ndim", 1) else 0
        batches = _Batches((images, torch.zeros(n, dtype=torch.long)), batch_size, "images")
    outputs = []
    with eval_mode(model), torch.no_grad():
        for xb, _ in batches.iterate():
            outputs.append(model(xb.to(device)).cpu())
    return torch.cat(outputs).numpy()
