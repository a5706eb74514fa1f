"""A small CNN trained end to end in NumPy, built only from ``cnnlab.reference`` layers.

The network is the classic stack from the lecture notes::

    Input -> Conv -> ReLU -> Pool -> Conv -> ReLU -> Pool -> Flatten -> FC -> ReLU -> FC -> Softmax

Every layer is a forward function plus a backward function from ``cnnlab.reference``;
``NumpyCNN.loss`` runs the forward pass, keeps what each backward needs, then walks the
layers in reverse, handing each one the gradient of the loss with respect to its output.
No autograd anywhere: this is the whole of backpropagation, written out.

Shapes, with ``N`` images of ``C`` channels and size ``S x S`` (``F1, F2 = channels``)::

    x       (N, C, S, S)
    conv1   (N, F1, S, S)          3x3, stride 1, padding 1 ("same")
    pool1   (N, F1, S1, S1)        S1 = floor(S / 2)
    conv2   (N, F2, S1, S1)
    pool2   (N, F2, S2, S2)        S2 = floor(S1 / 2)
    flat    (N, F2 * S2 * S2)
    fc1     (N, hidden)
    logits  (N, num_classes)

``NumpyCNN.to_torch()`` builds the same network in ``torch.nn`` with the same weights,
so the book and the tests can compare the two.
"""

import contextlib

import numpy as np
from tqdm.auto import tqdm

from cnnlab import runtime
from cnnlab.checks import positive_int
from cnnlab.reference import (
    conv2d,
    conv2d_backward,
    flatten,
    linear,
    linear_backward,
    max_pool2d,
    max_pool2d_backward,
    output_size,
    relu,
    relu_backward,
    softmax_cross_entropy,
)

PARAM_NAMES = (
    "conv1.weight", "conv1.bias",
    "conv2.weight", "conv2.bias",
    "fc1.weight", "fc1.bias",
    "fc2.weight", "fc2.bias",
)


class NumpyCNN:
    """Conv-Pool-Conv-Pool-FC-FC classifier whose forward and backward are pure NumPy.

    Args:
        in_channels: channels ``C`` of the input images (1 for grey).
        num_classes: number of output logits.
        image_size: height = width ``S`` of the (square) input images.
        channels: filters ``(F1, F2)`` of the two 3x3 convolutions.
        hidden: width of the hidden fully connected layer.
        seed: seed of the weight initialisation (He-normal weights, zero biases).
        dtype: ``float32`` to train fast, ``float64`` for gradient checks.

    Shape:
        ``x (N, C, S, S) -> logits (N, num_classes)``, with ``S2 = floor(floor(S / 2) / 2)`` after the pools.
        ``params`` maps names to arrays: ``conv1.weight (F1, C, 3, 3)``, ``conv1.bias (F1,)``,
        ``conv2.weight (F2, F1, 3, 3)``, ``conv2.bias (F2,)``, ``fc1.weight (hidden, F2*S2*S2)``,
        ``fc1.bias (hidden,)``, ``fc2.weight (num_classes, hidden)``, ``fc2.bias (num_classes,)``:
        the names and layouts of the ``torch.nn`` twin from ``to_torch()``.

    Example:
        >>> net = NumpyCNN(image_size=8, channels=(2, 3), hidden=4, num_classes=3, dtype=np.float64)
        >>> x = np.random.default_rng(0).random((2, 1, 8, 8))
        >>> loss, grads = net.loss(x, np.array([0, 2]))
        >>> net.forward(x).shape, grads["fc1.weight"].shape  # fc1 sees 3 channels * 2 * 2 after 8 -> 4 -> 2
        ((2, 3), (4, 12))
        >>> net.num_parameters() == (1 * 9 + 1) * 2 + (2 * 9 + 1) * 3 + (12 + 1) * 4 + (4 + 1) * 3
        True
        >>> import torch
        >>> bool(np.allclose(net.to_torch()(torch.from_numpy(x)).detach().numpy(), net.forward(x)))
        True
    """

    kernel_size = 3
    padding = 1  # (kernel_size - 1) / 2: keeps the size through each convolution
    pool_size = 2

    def __init__(self, in_channels=1, num_classes=10, image_size=28, channels=(8, 16),
                 hidden=64, seed=0, dtype=np.float32):
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("image_size", image_size), ("hidden", hidden)):
            positive_int(value, name)
        if len(channels) != 2:
            raise ValueError(f"channels must be two positive ints (F1, F2), got {channels!r}")
        for c in channels:
            positive_int(c, "channels")
        size_after_pools = image_size // self.pool_size // self.pool_size
        if size_after_pools < 1:
            raise ValueError(f"image_size={image_size} is too small for two 2x2 poolings (needs >= 4)")

        self.in_channels, self.num_classes, self.image_size = in_channels, num_classes, image_size
        self.channels, self.hidden, self.dtype = tuple(int(c) for c in channels), hidden, np.dtype(dtype)
        f1, f2 = self.channels
        k = self.kernel_size
        self.flat_features = f2 * size_after_pools * size_after_pools

        rng = runtime.rng(seed)  # CNNLAB_SEED_OFFSET applies

        def he(shape, fan_in):
            # He initialisation: keeps the activation variance roughly constant through ReLUs.
            return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(self.dtype)

        self.params = {
            "conv1.weight": he((f1, in_channels, k, k), in_channels * k * k),
            "conv1.bias": np.zeros(f1, self.dtype),
            "conv2.weight": he((f2, f1, k, k), f1 * k * k),
            "conv2.bias": np.zeros(f2, self.dtype),
            "fc1.weight": he((hidden, self.flat_features), self.flat_features),
            "fc1.bias": np.zeros(hidden, self.dtype),
            "fc2.weight": he((num_classes, hidden), hidden),
            "fc2.bias": np.zeros(num_classes, self.dtype),
        }
        self._velocity = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None

    def __repr__(self):
        return (f"NumpyCNN(in_channels={self.in_channels}, num_classes={self.num_classes}, "
                f"image_size={self.image_size}, channels={self.channels}, hidden={self.hidden}; "
                f"{self.num_parameters():,} parameters)")

    def num_parameters(self):
        """Total number of trainable numbers in ``params``: the sum of the shapes' products above."""
        return int(sum(p.size for p in self.params.values()))

    def check_input(self, x):
        """``x`` as this model's dtype, after checking it is a float array (N, C, S, S) of the right C and S.

        Args:
            x: a NumPy float array; TypeError for other types and dtypes, ValueError naming the expected shape.
        """
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"x must hold floats (scale images to [0, 1] first), got dtype {x.dtype}")
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"x must have shape (N, {', '.join(map(str, expected))}), got {x.shape}")
        return x.astype(self.dtype, copy=False)

    def forward(self, x):
        """Logits ``(N, num_classes)`` for images ``x (N, C, S, S)``.

        Keeps every intermediate the backward pass needs in ``self.cache``.

        Args:
            x: float images ``(N, C, S, S)``.
        """
        x = self.check_input(x)
        p = self.params
        cache = {"x": x}
        cache["conv1"] = conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=self.padding)
        cache["relu1"] = relu(cache["conv1"])
        cache["pool1"] = max_pool2d(cache["relu1"], self.pool_size)
        cache["conv2"] = conv2d(cache["pool1"], p["conv2.weight"], p["conv2.bias"], padding=self.padding)
        cache["relu2"] = relu(cache["conv2"])
        cache["pool2"] = max_pool2d(cache["relu2"], self.pool_size)
        cache["flat"] = flatten(cache["pool2"])
        cache["fc1"] = linear(cache["flat"], p["fc1.weight"], p["fc1.bias"])
        cache["relu3"] = relu(cache["fc1"])
        cache["logits"] = logits = linear(cache["relu3"], p["fc2.weight"], p["fc2.bias"])
        self.cache = cache
        return logits

    __call__ = forward

    def backward(self, dlogits):
        """Gradients of the loss w.r.t. every parameter, given ``dlogits (N, num_classes)``.

        Must follow a ``forward`` call; walks the layers of ``forward`` in reverse.
        Returns a dict with the keys and shapes of ``params``.

        Args:
            dlogits: gradient of the loss w.r.t. the logits of the last ``forward``, ``(N, num_classes)``.
        """
        if self.cache is None:
            raise RuntimeError("call forward(x) before backward(dlogits)")
        c, p, grads = self.cache, self.params, {}
        d, grads["fc2.weight"], grads["fc2.bias"] = linear_backward(dlogits, c["relu3"], p["fc2.weight"])
        d = relu_backward(d, c["fc1"])
        d, grads["fc1.weight"], grads["fc1.bias"] = linear_backward(d, c["flat"], p["fc1.weight"])
        d = d.reshape(c["pool2"].shape)  # undo flatten
        d = max_pool2d_backward(d, c["relu2"], self.pool_size)
        d = relu_backward(d, c["conv2"])
        d, grads["conv2.weight"], grads["conv2.bias"] = conv2d_backward(
            d, c["pool1"], p["conv2.weight"], padding=self.padding)
        d = max_pool2d_backward(d, c["relu1"], self.pool_size)
        d = relu_backward(d, c["conv1"])
        # The gradient w.r.t. the image itself is not needed for training, but it is free here.
        _, grads["conv1.weight"], grads["conv1.bias"] = conv2d_backward(
            d, c["x"], p["conv1.weight"], padding=self.padding)
        return grads

    def loss(self, x, y):
        """Mean softmax cross-entropy on ``(x (N, C, S, S), y (N,) int labels)``.

        Returns ``(loss: float, grads: dict name -> array shaped like params[name])``.

        Args:
            x: float images ``(N, C, S, S)``.
            y: int labels ``(N,)`` in ``[0, num_classes)``.
        """
        y = _check_labels(y, len(x), self.num_classes)
        logits = self.forward(x)
        loss, dlogits = softmax_cross_entropy(logits, y)
        return float(loss), self.backward(dlogits)

    def step(self, grads, lr, momentum=0.0):
        """One SGD update in place: ``v = momentum * v + g``, ``p -= lr * v`` (PyTorch's convention).

        Args:
            grads: dict name -> array shaped like ``params[name]`` (from :meth:`loss`).
            lr: learning rate.
            momentum: 0 for plain SGD; the velocities persist between calls.
        """
        missing = set(self.params) - set(grads)
        if missing:
            raise ValueError(f"grads lacks {sorted(missing)}")
        for name, param in self.params.items():
            if grads[name].shape != param.shape:
                raise ValueError(f"grads[{name!r}] has shape {grads[name].shape}, params has {param.shape}")
            velocity = self._velocity[name]
            velocity *= momentum
            velocity += grads[name]
            param -= lr * velocity

    def predict(self, x, batch_size=256):
        """Predicted class indices ``(N,)`` for images ``x (N, C, S, S)``, in batches to bound memory.

        Args:
            x: float images ``(N, C, S, S)``.
            batch_size: images per forward pass.
        """
        x = self.check_input(x)
        with _single_blas_thread():
            batches = [self.forward(x[i:i + batch_size]).argmax(axis=1) for i in range(0, len(x), batch_size)]
        self.cache = None
        return np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)

    def evaluate(self, x, y, batch_size=256):
        """``(mean loss, accuracy)`` on ``x (N, C, S, S)``, ``y (N,)`` without touching the weights.

        Args:
            x: float images ``(N, C, S, S)``.
            y: int labels ``(N,)``.
            batch_size: images per forward pass.
        """
        y = _check_labels(y, len(x), self.num_classes)
        x = self.check_input(x)
        total_loss, correct = 0.0, 0
        with _single_blas_thread():
            for i in range(0, len(x), batch_size):
                logits = self.forward(x[i:i + batch_size])
                batch_loss, _ = softmax_cross_entropy(logits, y[i:i + batch_size])
                total_loss += float(batch_loss) * len(logits)
                correct += int((logits.argmax(axis=1) == y[i:i + batch_size]).sum())
        self.cache = None
        return total_loss / max(len(x), 1), correct / max(len(x), 1)

    def to_torch(self):
        """The same network as a ``torch.nn.Sequential`` holding copies of these weights.

        The architecture is ``cnnlab.models.small_cnn`` with dropout 0 (its dropout layers are then the
        identity); ``params`` maps onto its conv and linear layers in order. The twin has
        this model's dtype (float32 or float64) and lives on the CPU; move it with ``.to(device)``.
        """
        import torch  # lazy: the NumPy network itself never needs PyTorch

        from cnnlab.models import small_cnn

        model = small_cnn(dropout=0.0, channels=self.channels, hidden=self.hidden, num_classes=self.num_classes,
                          in_channels=self.in_channels, image_size=self.image_size)
        model = model.to(getattr(torch, self.dtype.name))
        with torch.no_grad():
            for name, param in zip(PARAM_NAMES, _torch_params(model)):
                param.copy_(torch.from_numpy(self.params[name]))
        return model


def _torch_params(model):
    """The twin's parameters in the order of ``PARAM_NAMES``."""
    from torch import nn

    layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    return [t for layer in layers for t in (layer.weight, layer.bias)]


def _check_labels(y, n, num_classes):
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match x, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"y must lie in [0, {num_classes}), got values from {y.min()} to {y.max()}")
    return y


def _single_blas_thread():
    """Run NumPy's BLAS on one thread inside the block.

    This network's matrices are small (a batch of 32 times a few hundred features), and a
    multithreaded BLAS spends longer waking and syncing its threads than multiplying: on a
    busy 2-core machine one thread trained several times faster.
    """
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def train_numpy(model, X, y, X_val=None, y_val=None, epochs=3, lr=0.05, batch_size=32,
                momentum=0.9, seed=0, progress=True):
    """Train ``model`` (a ``NumpyCNN``) with minibatch SGD; returns a history dict.

    Each epoch visits the training set once in a fresh random order (seeded).
    History lists, one entry per epoch: ``loss`` and ``acc`` (running means over the epoch's
    batches), and, when validation data is given, ``val_loss`` and ``val_acc``.

    Args:
        model: a :class:`NumpyCNN`, updated in place.
        X, y: training images and labels.
        X_val, y_val: validation images and labels (both or neither).
        epochs, lr, batch_size, momentum: the usual (SGD with momentum, as :meth:`NumpyCNN.step`).
        seed: seeds the order of the batches.
        progress: show a tqdm bar.

    Shape:
        ``X (N, C, S, S)`` floats, ``y (N,)`` ints; ``X_val``/``y_val`` likewise.

    Example:
        >>> net = NumpyCNN(image_size=8, channels=(2, 2), hidden=4, num_classes=2)
        >>> X = np.random.default_rng(0).random((8, 1, 8, 8)).astype(np.float32)
        >>> history = train_numpy(net, X, np.array([0, 1] * 4), X, np.array([0, 1] * 4), epochs=2,
        ...                       batch_size=4, progress=False)
        >>> sorted(history), len(history["loss"])
        (['acc', 'loss', 'val_acc', 'val_loss'], 2)
    """
    if not isinstance(model, NumpyCNN):
        raise TypeError(f"model must be a NumpyCNN, got {type(model).__name__}")
    X = model.check_input(X)
    y = _check_labels(y, len(X), model.num_classes)
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val, or neither")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")

    rng = runtime.rng(seed)  # CNNLAB_SEED_OFFSET applies
    history = {"loss": [], "acc": []}
    if X_val is not None:
        history.update(val_loss=[], val_acc=[])
    batches_per_epoch = -(-len(X) // batch_size)
    bar = tqdm(total=epochs * batches_per_epoch, desc="NumPy CNN", unit="batch", disable=not progress)
    with _single_blas_thread(), bar:
        for epoch in range(epochs):
            order = rng.permutation(len(X))
            loss_sum, correct = 0.0, 0
            for start in range(0, len(X), batch_size):
                idx = order[start:start + batch_size]
                loss, grads = model.loss(X[idx], y[idx])
                logits = model.cache["logits"]  # from the forward pass inside loss(), before the update
                correct += int((logits.argmax(axis=1) == y[idx]).sum())
                loss_sum += loss * len(idx)
                model.step(grads, lr, momentum)
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}")
            history["loss"].append(loss_sum / len(X))
            history["acc"].append(correct / len(X))
            if X_val is not None:
                val_loss, val_acc = model.evaluate(X_val, y_val)
                history["val_loss"].append(val_loss)
                history["val_acc"].append(val_acc)
                bar.set_postfix(epoch=epoch + 1, loss=f"{history['loss'][-1]:.3f}", val_acc=f"{val_acc:.3f}")
    model.cache = None
    return history
