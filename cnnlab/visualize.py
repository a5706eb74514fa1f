"""Looking inside a trained CNN: feature maps, saliency, Grad-CAM, receptive fields, top patches, activation maximisation.

Three questions, three functions:

- ``feature_maps``: what does layer L output for this image?  (forward hooks)
- ``saliency``: which input pixels would change the class score most?  |d score / d x|
  (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks").
- ``grad_cam``: which region of a conv layer's feature maps supports the class?
  ReLU(sum_k alpha_k A_k) with alpha_k = spatial mean of d score / d A_k
  (Selvaraju et al. 2017, "Grad-CAM").

All three take a ``torch.nn.Module`` and an image or a batch, NCHW like PyTorch, as a
NumPy array or a tensor; they run on the model's device and return NumPy arrays.
A *class score* is the model's raw output (the logit before softmax), as in both papers:
the softmax would couple every class to every other.

Beyond the three, lecture note 003's "filters" and "class output" as its sources mean them:

- ``maximize_activation``: gradient ascent on the input for one channel of a layer (Erhan et al. 2009).
- ``class_model``: gradient ascent on a class score with L2 regularisation (Simonyan et al. 2014, sec. 2).
- ``top_patches``: the input patches, cropped to the unit's ``receptive_field``, that drive a channel
  hardest (Zeiler & Fergus 2014; Girshick et al. 2014).
- ``dead_channels`` and ``class_selectivity``: which channels never fire, and how class-specific the others are
  (the selectivity index of Morcos et al. 2018).

Shapes
------
x: (C, H, W) one image, or (N, C, H, W) a batch.
feature_maps  -> {layer name: (C_l, H_l, W_l)}  (one image) or (N, C_l, H_l, W_l) (batch)
saliency      -> (H, W) or (N, H, W) with ``reduce="max"``; (C, H, W) / (N, C, H, W) with ``reduce=None``
grad_cam      -> (H, W) or (N, H, W) when ``upsample=True``; else the layer's (H_l, W_l) grid
"""


import numpy as np
import torch as pytorch
import torch.nn.functional as F

from cnnlab.checks import positive_int
from cnnlab.models import eval_mode
from cnnlab.runtime import offset_seed

__all__ = [
    "feature_maps",
    "saliency",
    "grad_cam",
    "resolve_layer",
    "layer_names",
    "ReceptiveField",
    "receptive_field",
    "TopPatches",
    "top_patches",
    "maximize_activation",
    "class_model",
    "dead_channels",
    "class_selectivity",
]


# ----------------------------------------------------------------------------- helpers


def _model_device(model):
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return pytorch.device("cpu")


def _as_batch(x, model, name="x"):
    """Return (float32 tensor (N, C, H, W) on the model's device, was_single_image)."""
    if isinstance(x, np.ndarray):
        tensor = pytorch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, pytorch.Tensor):
        tensor = x.detach()
    else:
        raise TypeError(f"{name} must be a NumPy array or a torch tensor, got {type(x).__name__}")
    if tensor.ndim == 3:
        single = True
        tensor = tensor.unsqueeze(0)
    elif tensor.ndim == 4:
        single = False
    else:
        raise ValueError(
            f"{name} must be one image (C, H, W) or a batch (N, C, H, W); got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch: shape {tuple(tensor.shape)}")
    return tensor.to(device=_model_device(model), dtype=pytorch.float32), single


def layer_names(model):
    """Names of every sub-module, as ``model.named_modules()`` spells them (e.g. ``"features.0"``).

    Example:
        >>> layer_names(pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 2, 3), pytorch.nn.Sequential(pytorch.nn.ReLU())))
        ['0', '1', '1.0']
    """
    return [name for name, _ in model.named_modules() if name]


def resolve_layer(model, layer):
    """Return the sub-module ``layer`` names (a string from ``named_modules``) or is (a module of ``model``).

    Args:
        model: an ``nn.Module``.
        layer: a name from :func:`layer_names`, or one of the model's modules; anything else raises
            ValueError (listing the names) or TypeError.

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 2, 3), pytorch.nn.ReLU())
        >>> resolve_layer(net, "1"), resolve_layer(net, net[0]) is net[0]
        (ReLU(), True)
    """
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules or layer == "":
            raise ValueError(
                f"layer {layer!r} is not a sub-module of {type(model).__name__}; "
                f"available names: {layer_names(model)}"
            )
        return modules[layer]
    if isinstance(layer, pytorch.nn.Module):
        if not any(module is layer for module in modules.values()):
            raise ValueError(f"layer {type(layer).__name__} is not a sub-module of {type(model).__name__}")
        return layer
    raise TypeError(f"layer must be a module name (str) or an nn.Module, got {type(layer).__name__}")


def _targets(target, scores, name="target"):
    """Turn an int or a sequence of N ints into a LongTensor of class indices, checked against scores (N, K)."""
    n, num_classes = scores.shape[0], scores.shape[1]
    if isinstance(target, pytorch.Tensor):
        target = target.detach().cpu()
        if target.ndim == 0:
            target = int(target)
    if isinstance(target, bool) or (
        not isinstance(target, (int, np.integer, pytorch.Tensor)) and np.asarray(target).dtype.kind not in "iu"
    ):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {target!r}")
    if isinstance(target, (int, np.integer)):
        indices = pytorch.full((n,), int(target), dtype=pytorch.long)
    else:
        indices = pytorch.as_tensor(np.asarray(target)).long().reshape(-1)
        if indices.numel() != n:
            raise ValueError(f"{name} has {indices.numel()} entries but the batch x has {n} images")
    if (indices < 0).any() or (indices >= num_classes).any():
        raise ValueError(
            f"{name} must lie in [0, {num_classes}) for a model with output shape {tuple(scores.shape)}; "
            f"got {indices.tolist()}"
        )
    return indices.to(scores.device)


def _class_scores(model, batch):
    scores = model(batch)
    if scores.ndim != 2:
        raise ValueError(
            f"the model must output class scores of shape (N, num_classes); got {tuple(scores.shape)}"
        )
    return scores


# ----------------------------------------------------------------------------- feature maps


def feature_maps(model, x, layer_names):
    """Outputs of the named layers for input ``x``, recorded with forward hooks.

    The model runs in eval mode, without gradients; each output is copied as it is made, so a later
    in-place operation cannot change it.

    Args:
        model: an ``nn.Module``.
        x: one image (C, H, W) or a batch (N, C, H, W), NumPy array or tensor.
        layer_names: str or sequence of str, names from ``model.named_modules()`` such as ``"features.0"``.

    Shape:
        dict name -> NumPy array (C_l, H_l, W_l) for one image, (N, C_l, H_l, W_l) for a batch,
        in the order the names were given.

    Example:
        >>> _ = pytorch.manual_seed(0)
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 4, 3), pytorch.nn.ReLU(), pytorch.nn.MaxPool2d(2))
        >>> maps = feature_maps(net, np.zeros((1, 10, 10), np.float32), ["0", "2"])
        >>> {name: m.shape for name, m in maps.items()}
        {'0': (4, 8, 8), '2': (4, 4, 4)}
    """
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    layer_names = list(layer_names)
    if not layer_names:
        raise ValueError("layer_names is empty: name at least one layer")
    modules = {name: resolve_layer(model, name) for name in layer_names}
    batch, single = _as_batch(x, model)

    recorded = {}
    handles = []
    for name, module in modules.items():
        def hook(_module, _inputs, output, name=name):
            # copy now: a later in-place op (ReLU(inplace=True)) would overwrite the tensor
            recorded[name] = output.detach().clone()
        handles.append(module.register_forward_hook(hook))
    try:
        with eval_mode(model), pytorch.no_grad():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()

    result = {}
    for name in layer_names:
        maps = recorded[name].cpu().numpy()
        result[name] = maps[0] if single else maps
    return result


# ----------------------------------------------------------------------------- saliency


def saliency(model, x, target, reduce="max"):
    """Vanilla-gradient saliency: |d score_target / d x|.

    Only the input's gradient is computed: the model's parameter ``.grad`` are left untouched.

    Args:
        model: a classifier (N, C, H, W) -> (N, K) scores; it runs in eval mode.
        x: (C, H, W) or (N, C, H, W).
        target: int (same class for every image) or N ints, indices into the model's output (N, K).
        reduce: "max" takes the maximum over colour channels, as Simonyan et al. do; None keeps them.

    Shape:
        float32 (H, W) / (N, H, W) with ``reduce="max"``, (C, H, W) / (N, C, H, W) with ``reduce=None``.

    Example:
        >>> linear = pytorch.nn.Sequential(pytorch.nn.Flatten(), pytorch.nn.Linear(4, 2))
        >>> with pytorch.no_grad():
        ...     _ = linear[1].weight.copy_(pytorch.tensor([[1.0, -2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]]))
        >>> saliency(linear, np.zeros((1, 2, 2), np.float32), target=0)  # a linear score: |w|
        array([[1., 2.],
               [0., 3.]], dtype=float32)
    """
    if reduce not in ("max", None):
        raise ValueError(f"reduce must be 'max' or None, got {reduce!r}")
    batch, single = _as_batch(x, model)
    batch = batch.clone().requires_grad_(True)
    with eval_mode(model), pytorch.enable_grad():
        scores = _class_scores(model, batch)
        indices = _targets(target, scores)
        # images do not interact in eval mode, so one backward of the summed scores gives every image's gradient
        chosen = scores.gather(1, indices[:, None]).sum()
        (gradient,) = pytorch.autograd.grad(chosen, batch)
    magnitude = gradient.abs()
    if reduce == "max":
        magnitude = magnitude.amax(dim=1)
    magnitude = magnitude.cpu().numpy()
    return magnitude[0] if single else magnitude


# ----------------------------------------------------------------------------- Grad-CAM


def grad_cam(model, x, target, layer, upsample=True, normalize=True):
    """Grad-CAM class activation map of ``layer`` for class ``target``.

    With A the layer's output (N, K, h, w) and y the class score,
        alpha_k = mean over (i, j) of dy / dA_k[i, j]        (one weight per channel)
        cam     = ReLU( sum_k alpha_k A_k )                   (h, w), non-negative
    The ReLU keeps only the regions that push the score *up*.

    Args:
        model: a classifier (N, C, H, W) -> (N, K) scores; it runs in eval mode.
        x: (C, H, W) or (N, C, H, W).
        target: int or N ints.
        layer: name from ``model.named_modules()`` or the module itself; a conv block's output is the
            usual choice.
        upsample: bilinear resize of the (h, w) map to the input's (H, W), so it can be laid over the image.
        normalize: divide each map by its maximum (maps that are all zero stay zero).

    Shape:
        float32 (H, W) or (N, H, W) when ``upsample``; the layer's (h, w) / (N, h, w) otherwise.

    Example:
        >>> _ = pytorch.manual_seed(0)
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 3, 3), pytorch.nn.ReLU(), pytorch.nn.Flatten(),
        ...                             pytorch.nn.Linear(3 * 6 * 6, 2))
        >>> cam = grad_cam(net, np.random.default_rng(0).random((1, 8, 8), np.float32), 1, "1")
        >>> cam.shape, bool(cam.min() >= 0), bool(cam.max() <= 1)
        ((8, 8), True, True)
    """
    module = resolve_layer(model, layer)
    batch, single = _as_batch(x, model)

    captured = {}

    def hook(_module, _inputs, output):
        if not isinstance(output, pytorch.Tensor) or output.ndim != 4:
            shape = tuple(output.shape) if isinstance(output, pytorch.Tensor) else type(output).__name__
            raise ValueError(f"grad_cam needs a layer with (N, K, h, w) output; layer {layer!r} gave {shape}")
        captured["activation"] = output
        # hand the rest of the network a copy, so an in-place op downstream cannot alter what we differentiate
        return output.clone()

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model), pytorch.enable_grad():
            scores = _class_scores(model, batch.requires_grad_(True))
            indices = _targets(target, scores)
            chosen = scores.gather(1, indices[:, None]).sum()
            activation = captured["activation"]
            (gradient,) = pytorch.autograd.grad(chosen, activation)
    finally:
        handle.remove()

    activation = activation.detach()
    channel_weights = gradient.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    cam = F.relu((channel_weights * activation).sum(dim=1, keepdim=True))  # (N, 1, h, w)
    if upsample:
        cam = F.interpolate(cam, size=tuple(batch.shape[-2:]), mode="bilinear", align_corners=False)
        cam = cam.clamp_min(0)  # bilinear weights are non-negative, this only removes rounding noise
    cam = cam[:, 0]
    if normalize:
        peak = cam.amax(dim=(1, 2), keepdim=True)
        cam = pytorch.where(peak > 0, cam / peak.clamp_min(1e-12), cam)
    cam = cam.cpu().numpy().astype(np.float32)
    return cam[0] if single else cam


# ----------------------------------------------------------------------------- receptive fields

# layers that act position by position: they keep the receptive field as it is
_POINTWISE = (
    pytorch.nn.ReLU, pytorch.nn.LeakyReLU, pytorch.nn.ELU, pytorch.nn.GELU, pytorch.nn.Sigmoid, pytorch.nn.Tanh,
    pytorch.nn.BatchNorm2d, pytorch.nn.Dropout, pytorch.nn.Dropout2d, pytorch.nn.Identity,
)


class ReceptiveField:
    """Which input pixels one unit of a layer can see.

    Unit (i, j) of the layer reads input rows ``start[0] + i * jump[0]`` up to ``+ size[0] - 1`` and the
    columns likewise; rows and columns outside the image are the zeros that padding adds.
    """

    def __init__(self, size, jump, start):
        self.size, self.jump, self.start = tuple(size), tuple(jump), tuple(start)

    def box(self, i, j):
        """(top, left, bottom, right) of unit (i, j), bottom and right exclusive; may reach outside the image.

        Example:
            >>> ReceptiveField(size=(8, 8), jump=(2, 2), start=(-3, -3)).box(0, 5)
            (-3, 7, 5, 15)
        """
        top, left = self.start[0] + i * self.jump[0], self.start[1] + j * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]

    def __repr__(self):
        return f"ReceptiveField(size={self.size}, jump={self.jump}, start={self.start})"


def _chain(model):
    """The leaf modules of nested Sequential containers, in order, with their names."""
    leaves = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            leaves.append((name, module))
    return leaves


def receptive_field(model, layer):
    """Receptive field of the units of ``layer`` in a chain of convolutions, poolings and pointwise layers.

    Per axis, with r the field size, j the jump (input pixels between neighbouring units) and s0 the
    input coordinate where unit 0's field starts, a layer with kernel k, stride s, padding p, dilation d gives

        r' = r + (k - 1) * d * j,    s0' = s0 - p * j,    j' = j * s.

    Args:
        model: an ``nn.Sequential`` (nested ones are fine) of Conv2d, MaxPool2d, AvgPool2d and pointwise
            layers (ReLU, BatchNorm2d, Dropout, ...) up to ``layer``.
        layer: a name from ``model.named_modules()`` or the module.

    Shape:
        returns a :class:`ReceptiveField`; unit (i, j) sees rows s0 + i * j ... s0 + i * j + r - 1.

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 2, 3, padding=1), pytorch.nn.MaxPool2d(2),
        ...                             pytorch.nn.Conv2d(2, 2, 3, padding=1))
        >>> receptive_field(net, "2")
        ReceptiveField(size=(8, 8), jump=(2, 2), start=(-3, -3))
    """
    target = resolve_layer(model, layer)
    size, jump, start = [1, 1], [1, 1], [0, 0]
    for name, module in _chain(model):
        if isinstance(module, (pytorch.nn.Conv2d, pytorch.nn.MaxPool2d, pytorch.nn.AvgPool2d)):
            kernel = _pair(module.kernel_size)
            stride = _pair(module.stride if module.stride is not None else module.kernel_size)
            padding = module.padding
            if isinstance(padding, str):
                if padding != "valid" and not (padding == "same" and all(k % 2 == 1 for k in kernel)):
                    raise ValueError(f"layer {name!r}: padding {padding!r} is not supported (use numbers)")
                padding = (0, 0) if padding == "valid" else tuple((k - 1) // 2 for k in kernel)
            padding = _pair(padding)
            dilation = _pair(getattr(module, "dilation", 1))
            for axis in range(2):
                size[axis] += (kernel[axis] - 1) * dilation[axis] * jump[axis]
                start[axis] -= padding[axis] * jump[axis]
                jump[axis] *= stride[axis]
        elif not isinstance(module, _POINTWISE):
            raise ValueError(
                f"receptive_field follows convolutions, poolings and pointwise layers only; layer {name!r} is "
                f"a {type(module).__name__}"
            )
        if module is target or any(m is target for m in _ancestors(model, module)):
            return ReceptiveField(size, jump, start)
    raise ValueError(f"layer {layer!r} was not reached in the chain of {type(model).__name__}")


def _ancestors(model, leaf):
    """Containers of ``model`` that hold ``leaf`` and end with it (so that naming a block means its output)."""
    found = []
    for _name, module in model.named_modules():
        children = list(module.modules())
        if module is not leaf and leaf in children[1:]:
            leaves = [m for m in children if not list(m.children())]
            if leaves and leaves[-1] is leaf:
                found.append(module)
    return found


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _channel_activations(model, layer, images, channel=None, batch_size=256):
    """Recorded output of ``layer`` for all images, (N, K, h, w) NumPy (or (N, h, w) for one channel)."""
    batch, _ = _as_batch(images, model, name="images")
    chunks = []
    for start in range(0, len(batch), batch_size):
        maps = feature_maps(model, batch[start : start + batch_size], [layer])[layer]
        if maps.ndim == 2:  # a dense layer (N, K): one "position" per unit
            maps = maps[:, :, None, None]
        if maps.ndim != 4:
            raise ValueError(f"layer {layer!r} must output (N, K, h, w) feature maps or (N, K) units; got shape {maps.shape}")
        chunks.append(maps if channel is None else maps[:, channel])
    return np.concatenate(chunks)


# ----------------------------------------------------------------------------- top patches


class TopPatches:
    """The result of :func:`top_patches`: ``patches`` (k, C, r_h, r_w), ``activations`` (k,),
    ``image_index`` (k,), ``position`` (k, 2) the unit (i, j), and the layer's ``field``."""

    def __init__(self, patches, activations, image_index, position, field):
        self.patches, self.activations = patches, activations
        self.image_index, self.position, self.field = image_index, position, field


def top_patches(model, layer, channel, images, k=9, batch_size=256):
    """The ``k`` images whose strongest unit of ``channel`` in ``layer`` fires hardest, cropped to that unit's field.

    Each image contributes at most one patch (its strongest unit), so the k patches come from k different images.
    Parts of the field outside the image are filled with zeros, as the layer's padding sees them.

    Args:
        model: a chain that :func:`receptive_field` understands, up to ``layer``.
        layer: name or module; channel: index into its output channels.
        images: (N, C, H, W) array or tensor, N >= k.

    Shape:
        ``patches`` (k, C, r_h, r_w) with (r_h, r_w) = ``receptive_field(model, layer).size``; ``activations`` (k,),
        largest first.

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 2, 3, padding=1))
        >>> top_patches(net, "0", 1, np.random.rand(20, 1, 8, 8).astype(np.float32), k=4).patches.shape
        (4, 1, 3, 3)
    """
    field = receptive_field(model, layer)
    batch, _ = _as_batch(images, model, name="images")
    N, C, H, W = batch.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= N:
        raise ValueError(f"k must be an int in [1, N] = [1, {N}] for images of shape {tuple(batch.shape)}, got {k!r}")
    maps = _channel_activations(model, layer, batch, batch_size=batch_size)
    if not (isinstance(channel, (int, np.integer)) and not isinstance(channel, bool)) or not 0 <= channel < maps.shape[1]:
        raise ValueError(f"channel must be an int in [0, {maps.shape[1]}) for layer {layer!r}, got {channel!r}")
    channel_maps = maps[:, channel]  # (N, h, w)
    flat = channel_maps.reshape(N, -1)
    best_position = flat.argmax(axis=1)
    best_value = flat[np.arange(N), best_position]
    chosen = np.argsort(-best_value, kind="stable")[:k]
    pixels = batch.cpu().numpy()
    patches = np.zeros((k, C, *field.size), dtype=np.float32)
    positions = np.zeros((k, 2), dtype=np.int64)
    for row, n in enumerate(chosen):
        i, j = divmod(int(best_position[n]), channel_maps.shape[2])
        top, left, bottom, right = field.box(i, j)
        # copy the part of the field that lies inside the image; the rest stays zero (the padding)
        t, l, b, r = max(top, 0), max(left, 0), min(bottom, H), min(right, W)
        patches[row, :, t - top : b - top, l - left : r - left] = pixels[n, :, t:b, l:r]
        positions[row] = (i, j)
    return TopPatches(patches, best_value[chosen], chosen, positions, field)


# ----------------------------------------------------------------------------- gradient ascent on the input


def _ascend(objective, x, steps, lr):
    """Plain gradient ascent on ``x`` (a leaf tensor); returns the objective after each step."""
    history = []
    for _ in range(steps):
        value = objective(x)
        (gradient,) = pytorch.autograd.grad(value, x)
        with pytorch.no_grad():
            x += lr * gradient
        history.append(float(value.detach()))
    return history


def _check_ascent(input_shape, steps, lr, l2):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
    positive_int(steps, "steps")
    if not lr > 0 or not l2 >= 0:
        raise ValueError(f"lr must be > 0 and l2 >= 0, got lr={lr!r}, l2={l2!r}")
    return shape


def maximize_activation(model, layer, channel, input_shape, steps=200, lr=0.1, l2=1e-2, unit=None, seed=0):
    """An input that makes ``channel`` of ``layer`` fire strongly, found by gradient ascent on the input.

    Maximises ``a(x) - l2 * ||x||^2`` where a is the channel's activation at ``unit`` (i, j) of its map, or the
    mean over the map when ``unit`` is None. The L2 term keeps the image bounded (without it a linear filter's
    objective grows without limit). Starts from small Gaussian noise drawn from ``seed``.

    Args:
        model: any module; layer: name or module whose output is (N, K, h, w); channel: index into K.
        input_shape: (C, H, W) of one input.
        steps, lr: gradient-ascent steps, x += lr * gradient.
        l2: weight of the L2 penalty.
        unit: (i, j) or None.

    Shape:
        returns (image (C, H, W) float32 NumPy, history: list of ``steps`` objective values).

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 2, 3))
        >>> image, history = maximize_activation(net, "0", 0, (1, 5, 5), steps=50)
        >>> image.shape, history[-1] > history[0]
        ((1, 5, 5), True)
    """
    shape = _check_ascent(input_shape, steps, lr, l2)
    module = resolve_layer(model, layer)
    device = _model_device(model)
    generator = pytorch.Generator().manual_seed(offset_seed(int(seed)))
    x = (0.01 * pytorch.randn((1, *shape), generator=generator)).to(device).requires_grad_(True)
    captured = {}
    handle = module.register_forward_hook(lambda _m, _i, output: captured.__setitem__("a", output))

    def objective(x):
        model(x)
        a = captured["a"]
        if a.ndim != 4 or not 0 <= channel < a.shape[1]:
            raise ValueError(f"layer {layer!r} gave output {tuple(a.shape)}; channel must index its axis 1, got {channel}")
        value = a[0, channel].mean() if unit is None else a[0, channel, unit[0], unit[1]]
        return value - l2 * (x**2).sum()

    try:
        with eval_mode(model), pytorch.enable_grad():
            history = _ascend(objective, x, steps, lr)
    finally:
        handle.remove()
    return x.detach()[0].cpu().numpy().astype(np.float32), history


def class_model(model, target, input_shape, steps=200, lr=0.1, l2=1e-2, seed=0):
    """Class model visualisation (Simonyan, Vedaldi & Zisserman 2014): argmax_x  S_c(x) - l2 * ||x||^2.

    S_c is the unnormalised score (logit) of class ``target``; the ascent starts from small noise drawn from
    ``seed``. The image shows what the network takes as evidence for the class, not a typical example of it.

    Args:
        model: a classifier (N, C, H, W) -> (N, K) scores; target: the class index.
        input_shape: (C, H, W) of one input.
        steps, lr: gradient-ascent steps, x += lr * gradient; l2: weight of the L2 penalty.
        seed: seeds the starting noise.

    Shape:
        returns (image (C, H, W) float32 NumPy, history: list of ``steps`` objective values).

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Flatten(), pytorch.nn.Linear(4, 3))
        >>> image, history = class_model(net, 2, (1, 2, 2), steps=20)
        >>> image.shape, len(history), history[-1] > history[0]
        ((1, 2, 2), 20, True)
    """
    shape = _check_ascent(input_shape, steps, lr, l2)
    device = _model_device(model)
    generator = pytorch.Generator().manual_seed(offset_seed(int(seed)))
    x = (0.01 * pytorch.randn((1, *shape), generator=generator)).to(device).requires_grad_(True)

    def objective(x):
        scores = _class_scores(model, x)
        index = _targets(target, scores)
        return scores[0, index[0]] - l2 * (x**2).sum()

    with eval_mode(model), pytorch.enable_grad():
        history = _ascend(objective, x, steps, lr)
    return x.detach()[0].cpu().numpy().astype(np.float32), history


# ----------------------------------------------------------------------------- dead and selective channels


def dead_channels(model, layer, images, batch_size=256):
    """Channels of ``layer`` whose output is exactly zero at every position of every image.

    A map that is silent on one photo may just not have met its pattern; a channel that is zero over a whole
    batch of inputs is *dead* (for a ReLU layer: its pre-activation is negative everywhere on the data).

    Args:
        model: an ``nn.Module``; layer: name or module; images: (N, C, H, W) array or tensor.
        batch_size: images per forward pass.

    Shape:
        images (N, C, H, W) -> boolean NumPy array (K,), one entry per channel of the layer's (N, K, h, w)
        output (or per unit of an (N, K) dense layer).

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Conv2d(1, 2, 1), pytorch.nn.ReLU())
        >>> with pytorch.no_grad():
        ...     _ = net[0].weight.copy_(pytorch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1)), net[0].bias.zero_()
        >>> dead_channels(net, "1", np.random.default_rng(0).random((5, 1, 4, 4)))  # positive images
        array([False,  True])
    """
    maps = _channel_activations(model, layer, images, batch_size=batch_size)
    return np.all(maps == 0, axis=(0, 2, 3))


def class_selectivity(model, layer, images, labels, batch_size=256):
    """Class selectivity index of every channel of ``layer`` (Morcos et al. 2018).

    Each channel's activation is averaged over positions, then over the images of each class; with mu_max the
    largest class mean and mu_rest the mean of the other classes' means,

        selectivity = (mu_max - mu_rest) / (mu_max + mu_rest)

    0 means the channel responds to every class alike, 1 that it responds to one class only. Dead channels
    (all zero) get NaN.

    Args:
        model: an ``nn.Module``; layer: name or module with non-negative outputs (after a ReLU).
        images: (N, C, H, W) array or tensor; labels: N ints, at least two classes.
        batch_size: images per forward pass.

    Shape:
        images (N, C, H, W), labels (N,) ints -> NumPy array (K,), one index per channel of the layer's
        (N, K, h, w) output, or per unit of an (N, K) dense layer.

    Example:
        >>> net = pytorch.nn.Sequential(pytorch.nn.Flatten(), pytorch.nn.ReLU())  # unit k is pixel k
        >>> images = np.array([[1.0, 1.0], [1.0, 0.0]]).reshape(2, 1, 1, 2)  # class 0, then class 1
        >>> class_selectivity(net, "1", images, [0, 1])  # pixel 0 fires for both, pixel 1 for class 0 only
        array([0., 1.], dtype=float32)
    """
    labels = np.asarray(labels.cpu() if isinstance(labels, pytorch.Tensor) else labels)
    maps = _channel_activations(model, layer, images, batch_size=batch_size)
    if labels.shape != (maps.shape[0],):
        raise ValueError(f"labels must have shape ({maps.shape[0]},) to match images; got {labels.shape}")
    if (maps < 0).any():
        raise ValueError(f"layer {layer!r} has negative outputs: selectivity needs non-negative ones (after a ReLU)")
    per_image = maps.mean(axis=(2, 3))  # (N, K)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("labels must hold at least two classes")
    class_means = np.stack([per_image[labels == c].mean(axis=0) for c in classes])  # (classes, K)
    top = class_means.max(axis=0)
    rest = (class_means.sum(axis=0) - top) / (len(classes) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(top + rest > 0, (top - rest) / (top + rest), np.nan)
