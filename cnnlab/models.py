"""Every model of the course as a ``torch.nn`` module, plus ``count_parameters``, ``summary`` and ``eval_mode``.

- :class:`LeNet`: LeNet-5 as d2l builds it (28x28 Fashion-MNIST, padding 2), sigmoid or ReLU, optional batch norm.
- :class:`SimpleCNN`: the 3-conv-layer network of the TensorFlow CNN tutorial (lecture notes, seed 001).
- :class:`CatsDogsCNN`: the Dogs-vs-Cats network from Chollet's book (lecture notes, seed 003).
- :func:`small_cnn`: Conv-Pool-Conv-Pool-Dense-Dense, seed 003's network at 28x28, optional dropout; with
  dropout 0 it is also the PyTorch twin of ``cnnlab.numpy_net.NumpyCNN``.
- :func:`fashion_cnn`: the wider batch-normalised network that chapter 8 trains on all 60,000 images.
- :class:`VGG`: Simonyan and Zisserman's VGG family, layer for layer as torchvision builds it,
  with the widths and the classifier size as arguments so a narrow VGG-style net trains in seconds.

Every model is an ``nn.Sequential`` with named layers (``conv1``, ``pool1``, ``fc1`` ...), so
``dict(model.named_children())["conv1"]`` finds a layer by the name the book uses, and
forward hooks (``summary``, ``cnnlab.visualize``) see one layer per row. Activations are not
in-place, so a hook on a convolution keeps its output even after the ReLU has run.

The flatten size of each model is computed from ``image_size`` with the output-size formula
``floor((n + 2p - k) / s) + 1`` (:func:`cnnlab.torchops.output_size`), never by trial forward passes.
"""

import contextlib
from collections import OrderedDict

import torch
from torch import nn

from cnnlab.torchops.padding import output_size
from cnnlab.checks import check_probability, positive_int

__all__ = [
    "eval_mode",
    "small_cnn",
    "fashion_cnn",
    "LeNet",
    "SimpleCNN",
    "CatsDogsCNN",
    "VGG",
    "VGG_CONFIGS",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "scale_config",
    "count_parameters",
    "summary",
    "Summary",
    "activation_count",
    "activation_bytes",
    "IN_PLACE_OR_VIEW",
]


def _size_after(image_size, steps, model_name):
    """Spatial size after ``steps``, a list of (kernel, stride, padding); ValueError if it vanishes."""
    size = image_size
    for kernel, stride, padding in steps:
        try:
            size = output_size(size, kernel, stride=stride, padding=padding)
        except ValueError:
            size = 0
        if size < 1:
            raise ValueError(
                f"image_size={image_size} is too small for {model_name}: a {kernel}x{kernel} window "
                f"(stride {stride}, padding {padding}) no longer fits"
            ) from None
    return size


def _check_images(model, x, in_channels, image_size=None):
    """ValueError naming x and the expected shape before a layer deep inside fails with a matmul error."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    expected_hw = (image_size, image_size) if image_size is not None else tuple(x.shape[2:])
    if x.dim() != 4 or x.shape[1] != in_channels or tuple(x.shape[2:]) != expected_hw:
        size = f"{image_size}, {image_size}" if image_size is not None else "H, W"
        raise ValueError(
            f"x has shape {tuple(x.shape)} but {type(model).__name__}(in_channels={in_channels}"
            + (f", image_size={image_size}" if image_size is not None else "")
            + f") expects (N, {in_channels}, {size})"
        )


@contextlib.contextmanager
def eval_mode(model):
    """Switch off dropout and freeze batch-norm statistics inside the block, then restore each module's flag.

    Args:
        model: any ``nn.Module``; every submodule gets its own ``training`` flag back, so a model that was
            partly in eval mode (a frozen batch-norm layer) comes out exactly as it went in.

    Example:
        >>> net = small_cnn(dropout=0.5)
        >>> with eval_mode(net):
        ...     net.training
        False
        >>> net.training
        True
    """
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags.items():
            module.train(flag)


def small_cnn(dropout=0.0, channels=(16, 32), hidden=64, num_classes=10, in_channels=1, image_size=28,
              batch_norm=False):
    """Conv-Pool-Conv-Pool-Flatten-Dense-Dense, the shape of seed 003's network, scaled to 28x28 images.

    ``conv(3x3, same) -> [BatchNorm2d] -> ReLU -> maxpool 2`` twice, then ``Dropout(p) -> Linear(hidden) -> ReLU
    -> Dropout(p) -> Linear(num_classes)``. The dropout layers are always there (``p=0`` makes them the
    identity), so networks with and without dropout have the same layers and, from the same seed, the same
    initial weights. With ``dropout=0`` and no batch norm it is the PyTorch twin of ``cnnlab.numpy_net.NumpyCNN``.

    Layer names: conv1, [bn1], relu1, pool1, conv2, [bn2], relu2, pool2, flatten, drop1, fc1, relu3, drop2, fc2.

    Args:
        dropout: drop probability of ``drop1`` and ``drop2``, in [0, 1).
        channels: filters ``(F1, F2)`` of the two convolutions.
        hidden: width of ``fc1``.
        num_classes: outputs of ``fc2`` (logits).
        in_channels, image_size: the input, ``(N, in_channels, image_size, image_size)``.
        batch_norm: insert ``bn1`` / ``bn2`` (``nn.BatchNorm2d``) after each convolution (:func:`fashion_cnn`).

    Shape:
        ``(N, in_channels, S, S) -> (N, num_classes)``; the "same" convolutions keep ``S`` and each pool
        halves it, so ``fc1`` sees ``F2 * S2 * S2`` features with ``S2 = floor(floor(S / 2) / 2)``
        (28 -> 14 -> 7: ``32 * 7 * 7 = 1568``).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = small_cnn(channels=(4, 8), hidden=16)
        >>> net(torch.zeros(2, 1, 28, 28)).shape, net.fc1.in_features
        (torch.Size([2, 10]), 392)
    """
    dropout = check_probability(dropout, "dropout")
    if isinstance(channels, str) or len(channels) != 2:
        raise ValueError(f"channels must hold two counts (first conv, second conv), got {channels!r}")
    first, second = (positive_int(c, "channels") for c in channels)
    hidden = positive_int(hidden, "hidden")
    num_classes = positive_int(num_classes, "num_classes")
    in_channels = positive_int(in_channels, "in_channels")
    image_size = positive_int(image_size, "image_size")
    if not isinstance(batch_norm, bool):
        raise TypeError(f"batch_norm must be a bool, got {type(batch_norm).__name__} {batch_norm!r}")
    if image_size < 4:
        raise ValueError(f"image_size must be at least 4 to survive two 2x2 pools, got {image_size}")
    pooled = image_size // 4
    layers = []
    for index, (c_in, c_out) in enumerate(((in_channels, first), (first, second)), start=1):
        layers.append((f"conv{index}", nn.Conv2d(c_in, c_out, 3, padding=1)))
        if batch_norm:
            layers.append((f"bn{index}", nn.BatchNorm2d(c_out)))
        layers += [(f"relu{index}", nn.ReLU()), (f"pool{index}", nn.MaxPool2d(2))]
    layers += [
        ("flatten", nn.Flatten()),
        ("drop1", nn.Dropout(dropout)),
        ("fc1", nn.Linear(second * pooled * pooled, hidden)),
        ("relu3", nn.ReLU()),
        ("drop2", nn.Dropout(dropout)),
        ("fc2", nn.Linear(hidden, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


def fashion_cnn(channels=(16, 32), hidden=128, dropout=0.3, num_classes=10):
    """Chapter 8's full-data network: :func:`small_cnn` with batch norm, wider ``fc1`` and dropout 0.3.

    ``conv1 -> bn1 -> relu1 -> pool1 -> conv2 -> bn2 -> relu2 -> pool2 -> flatten -> drop1 -> fc1 -> relu3
    -> drop2 -> fc2``. Batch normalisation (``nn.BatchNorm2d``) after each convolution lets a large learning
    rate train it in a few epochs.

    Args:
        channels: filters ``(F1, F2)`` of the two 3x3 convolutions.
        hidden: width of ``fc1``.
        dropout: drop probability of ``drop1`` and ``drop2``, in [0, 1).
        num_classes: outputs of ``fc2`` (logits).

    Shape:
        input ``(N, 1, 28, 28)`` -> logits ``(N, num_classes)``; ``fc1`` sees ``channels[1] * 7 * 7`` features
        (28 -> 14 -> 7 after the two pools; "same" 3x3 convolutions keep the size).

    Example:
        >>> model = fashion_cnn()
        >>> model(torch.zeros(2, 1, 28, 28)).shape, count_parameters(model)
        (torch.Size([2, 10]), 207018)
    """
    return small_cnn(dropout=dropout, channels=channels, hidden=hidden, num_classes=num_classes, batch_norm=True)


class _SquareImageNet(nn.Sequential):
    """Named layers that refuse, with the expected shape, an input other than (N, in_channels, S, S)."""

    def __init__(self, layers, in_channels, image_size):
        super().__init__(OrderedDict(layers))
        self.in_channels = in_channels
        self.image_size = image_size

    def forward(self, x):
        _check_images(self, x, self.in_channels, self.image_size)
        return super().forward(x)


class LeNet(_SquareImageNet):
    """LeNet-5 (LeCun et al. 1998) as d2l builds it: two 5x5 convolutions with average pooling, three dense layers.

    Layers (``[bnK]`` only with ``batch_norm=True``; ``actK`` is named ``sigmoidK`` or ``reluK``)::

        conv1 6 5x5 pad 2 -> [bn1] -> act1 -> pool1 avg 2x2 -> conv2 16 5x5 -> [bn2] -> act2 -> pool2 avg 2x2
        -> flatten -> fc1 120 -> [bn3] -> act3 -> fc2 84 -> [bn4] -> act4 -> fc3 num_classes

    Args:
        num_classes: outputs of ``fc3`` (logits).
        activation: ``"sigmoid"`` (the original LeNet and d2l's ``LeNet``, the default) or ``"relu"``.
        batch_norm: insert ``BatchNorm2d`` after each convolution and ``BatchNorm1d`` after ``fc1`` and ``fc2``
            (before the activation, as in d2l's ``BNLeNet``, but keeping the padding of 2 so that the two
            networks differ only in the normalisation layers).
        in_channels, image_size: the input, ``(N, in_channels, image_size, image_size)``.

    Shape:
        - input ``(N, in_channels, S, S)``, output ``(N, num_classes)``.
        - spatial sizes: ``S -> S`` (conv1, padding 2) ``-> S1 = floor(S / 2) -> S1 - 4 -> S2 = floor((S1 - 4) / 2)``,
          so ``fc1`` sees ``16 * S2 * S2`` features: 28 -> 28 -> 14 -> 10 -> 5, ``16 * 5 * 5 = 400``.
        - parameters at 28x28, 10 classes: ``(25 + 1) 6 + (150 + 1) 16 + (400 + 1) 120 + (120 + 1) 84 + (84 + 1) 10
          = 61,706``; batch norm adds a scale and a shift per channel, ``2 (6 + 16 + 120 + 84) = 452``.

    Example:
        >>> model = LeNet()
        >>> model(torch.zeros(2, 1, 28, 28)).shape, count_parameters(model)
        (torch.Size([2, 10]), 61706)
        >>> count_parameters(LeNet(activation="relu", batch_norm=True))
        62158
    """

    ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}

    def __init__(self, num_classes=10, activation="sigmoid", batch_norm=False, in_channels=1, image_size=28):
        positive_int(num_classes, "num_classes")
        positive_int(in_channels, "in_channels")
        positive_int(image_size, "image_size")
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(self.ACTIVATIONS)}, got {activation!r}")
        if not isinstance(batch_norm, bool):
            raise TypeError(f"batch_norm must be a bool, got {type(batch_norm).__name__} {batch_norm!r}")
        size = _size_after(image_size, [(5, 1, 2), (2, 2, 0), (5, 1, 0), (2, 2, 0)], "LeNet")
        act = self.ACTIVATIONS[activation]

        def block(index, layer, norm):
            # normalise the layer's output before the nonlinearity (Ioffe and Szegedy's placement)
            return [(layer[0], layer[1])] + ([(f"bn{index}", norm)] if batch_norm else []) + [(f"{activation}{index}", act())]

        layers = block(1, ("conv1", nn.Conv2d(in_channels, 6, 5, padding=2)), nn.BatchNorm2d(6))
        layers += [("pool1", nn.AvgPool2d(2, stride=2))]
        layers += block(2, ("conv2", nn.Conv2d(6, 16, 5)), nn.BatchNorm2d(16))
        layers += [("pool2", nn.AvgPool2d(2, stride=2)), ("flatten", nn.Flatten())]
        layers += block(3, ("fc1", nn.Linear(16 * size * size, 120)), nn.BatchNorm1d(120))
        layers += block(4, ("fc2", nn.Linear(120, 84)), nn.BatchNorm1d(84))
        layers += [("fc3", nn.Linear(84, num_classes))]
        super().__init__(layers, in_channels, image_size)
        self.activation = activation
        self.batch_norm = batch_norm


class SimpleCNN(_SquareImageNet):
    """The small CNN of the TensorFlow tutorial: 122,570 parameters on 32x32x3 CIFAR-10 images.

    Layers (valid 3x3 convolutions, 2x2 max pooling)::

        conv1 32 3x3 -> relu1 -> pool1 -> conv2 64 3x3 -> relu2 -> pool2
        -> conv3 64 3x3 -> relu3 -> flatten -> fc1 64 -> relu4 -> fc2 num_classes

    Args:
        num_classes: outputs of ``fc2`` (logits).
        in_channels, image_size: the input, ``(N, in_channels, image_size, image_size)``.

    Shape:
        input ``(N, in_channels, S, S)``, output logits ``(N, num_classes)``. Each valid 3x3 convolution
        takes ``S -> S - 2`` and each pool ``S -> floor(S / 2)``: at 32 the sizes are 32 -> 30 -> 15 -> 13
        -> 6 -> 4, so ``fc1`` sees ``64 * 4 * 4 = 1024`` features; at ``image_size=28, in_channels=1``
        (Fashion-MNIST) 28 -> 26 -> 13 -> 11 -> 5 -> 3 and ``64 * 3 * 3 = 576``.

    Example:
        >>> model = SimpleCNN()
        >>> model(torch.zeros(2, 3, 32, 32)).shape, count_parameters(model)
        (torch.Size([2, 10]), 122570)
        >>> SimpleCNN(in_channels=1, image_size=28).fc1.in_features
        576
    """

    def __init__(self, num_classes=10, in_channels=3, image_size=32):
        positive_int(num_classes, "num_classes")
        positive_int(in_channels, "in_channels")
        positive_int(image_size, "image_size")
        conv, pool = (3, 1, 0), (2, 2, 0)
        size = _size_after(image_size, [conv, pool, conv, pool, conv], "SimpleCNN")
        layers = [
            ("conv1", nn.Conv2d(in_channels, 32, 3)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(32, 64, 3)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),
            ("conv3", nn.Conv2d(64, 64, 3)),
            ("relu3", nn.ReLU()),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(64 * size * size, 64)),
            ("relu4", nn.ReLU()),
            ("fc2", nn.Linear(64, num_classes)),
        ]
        super().__init__(layers, in_channels, image_size)


class CatsDogsCNN(_SquareImageNet):
    """Chollet's Dogs-vs-Cats network: four conv3x3+ReLU+maxpool2 blocks, dropout, two dense layers.

    Layers::

        [convK 3x3 -> reluK -> poolK 2x2] for K = 1..4 with 32, 64, 128, 128 filters
        -> flatten -> dropout(0.5) -> fc1 512 -> relu5 -> fc2 1

    Args:
        padding: ``"valid"`` is the published model; ``"same"`` keeps each convolution's size.
        in_channels, image_size: the input, ``(N, in_channels, image_size, image_size)``.

    Shape:
        input ``(N, in_channels, S, S)``, output ``(N, 1)``: one logit, the log-odds of "dog" (pair it with
        ``nn.BCEWithLogitsLoss``; ``torch.sigmoid`` gives the probability). A valid convolution takes
        ``S -> S - 2``, a same one keeps ``S``, each pool ``S -> floor(S / 2)``: at 150, "valid" goes
        150 -> 148 -> 74 -> 72 -> 36 -> 34 -> 17 -> 15 -> 7 (3,453,121 parameters), "same" goes
        150 -> 75 -> 37 -> 18 -> 9, so the flattened vector, and ``fc1``, are larger.

    Example:
        >>> model = CatsDogsCNN(padding="valid")
        >>> model.fc1.in_features, count_parameters(model)
        (6272, 3453121)
        >>> CatsDogsCNN(image_size=32)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 1])
    """

    def __init__(self, padding="same", in_channels=3, image_size=150):
        if padding not in ("same", "valid"):
            raise ValueError(f'padding must be "same" or "valid", got {padding!r}')
        positive_int(in_channels, "in_channels")
        positive_int(image_size, "image_size")
        widths = (32, 64, 128, 128)
        layers = []
        channels = in_channels
        for block, width in enumerate(widths, start=1):
            layers += [
                (f"conv{block}", nn.Conv2d(channels, width, 3, padding=padding)),
                (f"relu{block}", nn.ReLU()),
                (f"pool{block}", nn.MaxPool2d(2)),
            ]
            channels = width
        conv = (3, 1, 1 if padding == "same" else 0)  # a 3x3 kernel: "same" is 1 pixel each side
        size = _size_after(image_size, [conv, (2, 2, 0)] * len(widths), f"CatsDogsCNN(padding={padding!r})")
        layers += [
            ("flatten", nn.Flatten()),
            ("dropout", nn.Dropout(0.5)),
            ("fc1", nn.Linear(channels * size * size, 512)),
            ("relu5", nn.ReLU()),
            ("fc2", nn.Linear(512, 1)),
        ]
        super().__init__(layers, in_channels, image_size)
        self.padding = padding


# torchvision's configurations ("A", "B", "D", "E" in the VGG paper): numbers are the output
# channels of 3x3 convolutions with padding 1, "M" is a 2x2 max pool with stride 2.
VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
    ],  # fmt: skip
}


def scale_config(cfg, factor):
    """Return ``cfg`` with every channel count multiplied by ``factor`` (at least 1 channel), "M" kept.

    Args:
        cfg: a VGG configuration, channel counts and "M" (see :data:`VGG_CONFIGS`).
        factor: a positive number; counts are rounded to the nearest int.

    Example:
        >>> scale_config(VGG_CONFIGS["vgg11"], 1 / 16)  # a VGG-11 with 4 to 32 channels per layer
        [4, 'M', 8, 'M', 16, 16, 'M', 32, 32, 'M', 32, 32, 'M']
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}")
    return [item if item == "M" else max(1, round(item * factor)) for item in _check_cfg(cfg)]


def _check_cfg(cfg):
    if isinstance(cfg, str) or not isinstance(cfg, (list, tuple)) or len(cfg) == 0:
        raise TypeError(
            f'cfg must be a non-empty list of channel counts and "M", got {cfg!r}'
            + (f"; did you mean VGG_CONFIGS[{cfg!r}]?" if isinstance(cfg, str) else "")
        )
    for position, item in enumerate(cfg):
        if item == "M":
            continue
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise ValueError(f'cfg[{position}] must be a positive int or "M", got {item!r} in cfg={list(cfg)}')
    return list(cfg)


class VGG(nn.Module):
    """VGG: stacks of 3x3 convolutions (padding 1) and 2x2 max pools, then three dense layers.

    ``features`` holds the convolutions (``cfg``: channel counts, "M" for a max pool), ``avgpool`` an
    ``nn.AdaptiveAvgPool2d`` to ``(S, S)`` and ``classifier``
    ``Linear(C*S*S, hidden) -> ReLU -> Dropout -> Linear(hidden, hidden) -> ReLU -> Dropout -> Linear(hidden, num_classes)``.

    ``S = min(7, image_size // 2**(number of "M"))``. At ``image_size=224`` the five pools leave 7x7, so
    ``S = 7`` and the model is torchvision's, parameter for parameter (``vgg16()``: 138,357,544). For small
    images the classifier follows the feature map instead, e.g. ``VGG([16, "M", 32, "M", 64, 64, "M"],
    num_classes=10, in_channels=1, image_size=28, hidden=128)`` ends with 64x3x3 = 576 features.

    Args:
        cfg: channel counts of the 3x3 convolutions and "M" for a 2x2 max pool, e.g. ``VGG_CONFIGS["vgg16"]``.
        num_classes: outputs of ``fc3`` (logits).
        in_channels, image_size: the input, ``(N, in_channels, image_size, image_size)``.
        batch_norm: insert ``BatchNorm2d`` after every convolution (torchvision's ``vgg16_bn``).
        hidden: width of ``fc1`` and ``fc2``.
        dropout: drop probability of ``dropout1`` and ``dropout2``, in [0, 1).

    Shape:
        input ``(N, in_channels, H, W)`` (``H = W = image_size`` expected; other sizes work thanks to
        the adaptive pool, as in torchvision), output logits ``(N, num_classes)``. A convolution keeps the
        size (3x3, padding 1: ``floor((S + 2 - 3) / 1) + 1 = S``) and a pool halves it, so
        ``S = min(7, floor(image_size / 2**pools))``.

    Example:
        >>> net = VGG([16, "M", 32, "M", 64, 64, "M"], num_classes=10, in_channels=1, image_size=28, hidden=128)
        >>> net(torch.zeros(2, 1, 28, 28)).shape, net.classifier.fc1.in_features
        (torch.Size([2, 10]), 576)

    Convolutions are initialised as in torchvision (Kaiming-normal, fan-out, ReLU gain; zero biases), which
    keeps activations from shrinking layer after layer in a deep stack without batch norm. Dense layers keep
    PyTorch's default initialisation: torchvision's ``N(0, 0.01)`` made a narrow VGG on Fashion-MNIST learn
    noticeably slower in the first epochs. ``batch_norm=True`` inserts ``BatchNorm2d`` after every convolution.
    """

    def __init__(
        self, cfg, num_classes=1000, in_channels=3, image_size=224, batch_norm=False, hidden=4096, dropout=0.5
    ):
        super().__init__()
        cfg = _check_cfg(cfg)
        positive_int(num_classes, "num_classes")
        positive_int(in_channels, "in_channels")
        positive_int(image_size, "image_size")
        positive_int(hidden, "hidden")
        dropout = check_probability(dropout, "dropout")
        if not any(item != "M" for item in cfg):
            raise ValueError(f"cfg needs at least one convolution (a channel count), got {cfg}")

        layers = []
        channels, size = in_channels, image_size
        conv_index = pool_index = 0
        for item in cfg:
            if item == "M":
                pool_index += 1
                size = _size_after(size, [(2, 2, 0)], f"VGG(cfg={cfg}, image_size={image_size})")
                layers.append((f"pool{pool_index}", nn.MaxPool2d(kernel_size=2, stride=2)))
                continue
            conv_index += 1
            layers.append((f"conv{conv_index}", nn.Conv2d(channels, item, kernel_size=3, padding=1)))
            if batch_norm:
                layers.append((f"bn{conv_index}", nn.BatchNorm2d(item)))
            layers.append((f"relu{conv_index}", nn.ReLU()))
            channels = item

        pooled = min(7, size)
        self.features = nn.Sequential(OrderedDict(layers))
        self.avgpool = nn.AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc1", nn.Linear(channels * pooled * pooled, hidden)),
                    ("relu1", nn.ReLU()),
                    ("dropout1", nn.Dropout(dropout)),
                    ("fc2", nn.Linear(hidden, hidden)),
                    ("relu2", nn.ReLU()),
                    ("dropout2", nn.Dropout(dropout)),
                    ("fc3", nn.Linear(hidden, num_classes)),
                ]
            )
        )
        self.cfg = cfg
        self.in_channels = in_channels
        self.image_size = image_size
        self._init_weights()

    def _init_weights(self):
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x):
        _check_images(self, x, self.in_channels)  # any H, W: the adaptive pool fixes the classifier's input
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def _vgg_builder(name, letter, parameters):
    """The function ``name(**kwargs)`` that builds VGG_CONFIGS[name]; one docstring for the four of them."""

    def build(**kwargs):
        return VGG(VGG_CONFIGS[name], **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"""{name.replace("vgg", "VGG-")} (configuration "{letter}"); ``kwargs`` go to :class:`VGG`.

    Args:
        kwargs: ``num_classes``, ``in_channels``, ``image_size``, ``batch_norm``, ``hidden``, ``dropout`` of :class:`VGG`.

    Shape:
        ``(N, 3, 224, 224) -> (N, 1000)`` at the defaults, with {parameters:,} parameters.

    Example:
        >>> with torch.device("meta"):  # shapes only: nothing is allocated
        ...     count_parameters({name}())
        {parameters}
    """
    return build


vgg11 = _vgg_builder("vgg11", "A", 132_863_336)
vgg13 = _vgg_builder("vgg13", "B", 133_047_848)
vgg16 = _vgg_builder("vgg16", "D", 138_357_544)
vgg19 = _vgg_builder("vgg19", "E", 143_667_240)


def count_parameters(model, trainable_only=False):
    """Number of scalar parameters in ``model`` (each shared tensor counted once).

    Args:
        model: an ``nn.Module``.
        trainable_only: count only parameters with ``requires_grad``.

    Example:
        >>> layer = nn.Conv2d(3, 8, 3)  # (3 * 3 * 3 + 1) * 8
        >>> count_parameters(layer), count_parameters(layer.requires_grad_(False), trainable_only=True)
        (224, 0)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# torch's convolution layers (what they share, ``nn.modules.conv._ConvNd``, is private to torch)
_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _multiply_adds(module, output):
    """Multiply-adds of one call, per sample: what the layer costs, not counting bias additions."""
    if not isinstance(output, torch.Tensor) or output.dim() == 0:
        return 0
    per_sample = output.numel() // output.shape[0]
    if isinstance(module, _CONVOLUTIONS):
        # each output element is a dot product over C_in/groups channels times the kernel window
        kernel = 1
        for k in module.kernel_size:
            kernel *= k
        return per_sample * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return per_sample * module.in_features
    return 0


def _human(count):
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if count >= factor:
            return f"{count / factor:.2f} {unit}"
    return str(count)


def _shape_of(output):
    if isinstance(output, torch.Tensor):
        return (None,) + tuple(output.shape[1:])
    if isinstance(output, (tuple, list)):
        return [_shape_of(item) for item in output]
    return None


class Summary:
    """What :func:`summary` found: one row per leaf-module call, and totals. ``print`` it for Keras' table.

    Args:
        model_name: the title of the table.
        input_shape: one sample's shape, without the batch dimension.
        rows: ``{"name", "type", "output_shape", "params", "macs"}`` in call order; ``output_shape`` has
            ``None`` for the batch dimension (Keras' convention); ``macs`` are multiply-adds per sample.
        total_params, trainable_params: over the whole model (``count_parameters``), not just the rows.

    Attributes ``rows``, ``total_params``, ``trainable_params`` hold the arguments; ``total_macs`` is the sum of
    the rows' multiply-adds (one sample) and ``non_trainable_params`` the difference of the two counts.

    Example:
        >>> s = Summary("tiny", (1, 4, 4), [{"name": "fc", "type": "Linear", "output_shape": (None, 2),
        ...                                    "params": 34, "macs": 32}], 34, 34)
        >>> s.total_macs, s.non_trainable_params
        (32, 0)
    """

    def __init__(self, model_name, input_shape, rows, total_params, trainable_params):
        self.model_name = model_name
        self.input_shape = input_shape
        self.rows = rows
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.total_macs = sum(row["macs"] for row in rows)

    @property
    def non_trainable_params(self):
        return self.total_params - self.trainable_params

    def _cells(self):
        cells = []
        for row in self.rows:
            shape = row["output_shape"]
            cells.append(
                (
                    f"{row['name']} ({row['type']})",
                    str(shape).replace("None,)", "None)"),
                    f"{row['params']:,}",
                    f"{row['macs']:,}",
                )
            )
        return cells

    def __str__(self):
        header = ("Layer (type)", "Output Shape", "Param #", "Mult-Adds")
        cells = self._cells()
        widths = [max([len(header[i])] + [len(c[i]) for c in cells]) + 2 for i in range(4)]
        total_width = sum(widths) + 1

        def line(values):
            return (
                " "
                + values[0].ljust(widths[0])
                + values[1].ljust(widths[1])
                + values[2].rjust(widths[2] - 2).ljust(widths[2])
                + values[3].rjust(widths[3] - 2)
            ).rstrip()

        out = [f'Model: "{self.model_name}"  (input {(None,) + tuple(self.input_shape)})', "_" * total_width]
        out.append(line(header))
        out.append("=" * total_width)
        out.extend(line(cell) for cell in cells)
        out.append("=" * total_width)
        out.append(f"Total params: {self.total_params:,}")
        out.append(f"Trainable params: {self.trainable_params:,}")
        out.append(f"Non-trainable params: {self.non_trainable_params:,}")
        out.append(f"Total mult-adds (per sample): {self.total_macs:,} ({_human(self.total_macs)})")
        out.append("_" * total_width)
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        import html

        head = "".join(
            f"<th style='text-align:{a}'>{h}</th>"
            for h, a in zip(("Layer (type)", "Output Shape", "Param #", "Mult-Adds"), ("left", "left", "right", "right"))
        )
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:{a}'>{html.escape(c)}</td>"
                for c, a in zip(cell, ("left", "left", "right", "right"))
            )
            + "</tr>"
            for cell in self._cells()
        )
        totals = (
            f"Total params: {self.total_params:,}<br>Trainable params: {self.trainable_params:,}<br>"
            f"Non-trainable params: {self.non_trainable_params:,}<br>"
            f"Total mult-adds (per sample): {self.total_macs:,} ({_human(self.total_macs)})"
        )
        return (
            f"<p><b>Model: {html.escape(self.model_name)}</b> (input {(None,) + tuple(self.input_shape)})</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p>{totals}</p>"
        )


def summary(model, input_shape, device=None):
    """Keras-style ``model.summary()`` for a PyTorch model: run it once and record every leaf layer.

    A forward pass of one all-zeros sample of shape ``(1, *input_shape)`` runs under ``torch.no_grad()``
    in eval mode (so BatchNorm and Dropout behave as at test time; the model's mode is restored), with a
    forward hook on every leaf module (a module without children). Each call of a leaf becomes a row
    ``{name, type, output_shape, params, macs}``:

    - ``output_shape``: ``(None, C, H, W)``; ``None`` stands for the batch size, as in Keras;
    - ``params``: parameters the layer owns (0 for a leaf called a second time, so rows add up);
    - ``macs``: multiply-adds per sample, ``out_elements * C_in/groups * KH * KW`` for a convolution and
      ``out_features * in_features`` for a dense layer; 0 for the other layers.

    Build a large model under ``with torch.device("meta"):`` to summarise it without allocating or
    computing anything: meta tensors carry shapes only.

    Args:
        model: an ``nn.Module``.
        input_shape: one sample's shape without the batch dimension, e.g. ``(3, 32, 32)``.
        device: where the zeros go; default: the device of the model's parameters (CPU if it has none).
            The model itself is not moved.

    Shape:
        the input is ``(1, *input_shape)``; a row's ``output_shape`` is ``(None, *layer_output.shape[1:])``.
        Returns a :class:`Summary`: ``print(...)`` it for the table; ``.rows``, ``.total_params``,
        ``.total_macs`` for the numbers.

    Example:
        >>> s = summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 4)), (1, 5, 5))  # 20 + 76
        >>> [row["output_shape"] for row in s.rows], s.total_params, s.total_macs
        ([(None, 2, 3, 3), (None, 18), (None, 4)], 96, 234)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list, torch.Size)) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape
    ):
        raise TypeError(
            f"input_shape must be a tuple of positive ints without the batch dimension, e.g. (3, 32, 32); "
            f"got {input_shape!r}"
        )
    input_shape = tuple(input_shape)
    first_param = next(model.parameters(), None)
    if device is None:
        device = first_param.device if first_param is not None else torch.device("cpu")
    dtype = first_param.dtype if first_param is not None and first_param.is_floating_point() else torch.float32

    names = {}
    for name, module in model.named_modules():
        if name and module not in names and next(module.children(), None) is None:
            names[module] = name
    if not names and next(model.children(), None) is None:
        names[model] = type(model).__name__

    rows, seen = [], set()

    def record(module, inputs, output):
        params = 0
        if module not in seen:
            seen.add(module)
            params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(
            {
                "name": names[module],
                "type": type(module).__name__,
                "output_shape": _shape_of(output),
                "params": params,
                "macs": _multiply_adds(module, output),
            }
        )

    handles = [module.register_forward_hook(record) for module in names]
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros((1,) + input_shape, device=device, dtype=dtype))
    except RuntimeError as error:  # e.g. a shape mismatch deep inside: say which argument caused it
        raise ValueError(
            f"{type(model).__name__} cannot run on input_shape={input_shape} (batch shape {(1,) + input_shape}): {error}"
        ) from error
    finally:
        for handle in handles:
            handle.remove()
    return Summary(
        type(model).__name__,
        input_shape,
        rows,
        count_parameters(model),
        count_parameters(model, trainable_only=True),
    )


# Layers whose output need not be a new tensor: an activation applied in place (CS231n's accounting, and
# ``nn.ReLU(inplace=True)``), dropout (in place, or the identity at test time) and a reshape (a view).
IN_PLACE_OR_VIEW = ("ReLU", "Dropout", "Flatten")


def activation_count(summary, skip=IN_PLACE_OR_VIEW, include_input=True):
    """Number of activation values one sample creates in a forward pass, from :func:`summary`'s rows.

    Every row's output counts (the product of its output shape without the batch dimension) unless its
    layer type is in ``skip``; ``include_input`` adds the input image itself, as CS231n's VGG-16 table does.

    Args:
        summary: a :class:`Summary` (``summary(model, input_shape)``).
        skip: layer type names (``row["type"]``) whose outputs are not counted. The default,
            :data:`IN_PLACE_OR_VIEW`, leaves out ReLU, dropout and flatten; ``()`` counts every row.
        include_input: count the ``prod(input_shape)`` input values too.

    Shape:
        ``sum(prod(row["output_shape"][1:]) for counted rows) (+ prod(summary.input_shape))``.

    Example:
        >>> s = summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten()), (1, 5, 5))
        >>> activation_count(s), activation_count(s, skip=()), activation_count(s, include_input=False)
        (43, 79, 18)
    """
    if not isinstance(summary, Summary):
        raise TypeError(f"summary must be a cnnlab.models.Summary (from summary(model, input_shape)), "
                        f"got {type(summary).__name__}")
    if isinstance(skip, str) or not all(isinstance(name, str) for name in skip):
        raise TypeError(f"skip must be a tuple of layer type names such as ('ReLU',), got {skip!r}")

    def values(shape):
        if not isinstance(shape, tuple):  # a layer returning several tensors (a list of shapes): count each
            return sum(values(item) for item in shape) if isinstance(shape, list) else 0
        total = 1
        for d in shape[1:]:
            total *= d
        return total

    total = values((None,) + tuple(summary.input_shape)) if include_input else 0
    return total + sum(values(row["output_shape"]) for row in summary.rows if row["type"] not in skip)


def activation_bytes(summary, bytes_per_value=4, skip=IN_PLACE_OR_VIEW, include_input=True):
    """Bytes of activations one sample's forward pass creates: ``activation_count(...) * bytes_per_value``.

    Args:
        summary: a :class:`Summary`.
        bytes_per_value: 4 for float32 (the default), 2 for float16/bfloat16, 8 for float64.
        skip, include_input: as in :func:`activation_count`.

    Shape:
        an int, bytes per sample; a batch of ``N`` needs ``N`` times as much, and training roughly twice
        that again (a gradient of the same size for each activation in the backward pass).

    Example:
        >>> s = summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten()), (1, 5, 5))
        >>> activation_bytes(s), activation_bytes(s, bytes_per_value=2)
        (172, 86)
    """
    if isinstance(bytes_per_value, bool) or not isinstance(bytes_per_value, int) or bytes_per_value < 1:
        raise ValueError(f"bytes_per_value must be a positive int (4 for float32), got {bytes_per_value!r}")
    return activation_count(summary, skip=skip, include_input=include_input) * bytes_per_value
