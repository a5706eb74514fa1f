"""Looking inside a trained CNN: feature maps, saliency maps and Grad-CAM.

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

Shapes
------
x: (C, H, W) one image, or (N, C, H, W) a batch.
feature_maps  -> {layer name: (C_l, H_l, W_l)}  (one image) or (N, C_l, H_l, W_l) (batch)
saliency      -> (H, W) or (N, H, W) with ``reduce="max"``; (C, H, W) / (N, C, H, W) with ``reduce=None``
grad_cam      -> (H, W) or (N, H, W) when ``upsample=True``; else the layer's (H_l, W_l) grid
"""

from contextlib import contextmanager

import numpy as np
import torch as pytorch
import torch.nn.functional as F

__all__ = ["feature_maps", "saliency", "grad_cam", "resolve_layer", "layer_names"]


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
    """Names of every sub-module, as ``model.named_modules()`` spells them (e.g. ``"features.0"``)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layer(model, layer):
    """Return the sub-module ``layer`` names (a string from ``named_modules``) or is (a module of ``model``)."""
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


@contextmanager
def _eval_mode(model):
    """Switch off dropout and freeze batch-norm statistics, then restore each module's flag."""
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags.items():
            module.train(flag)


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

    Parameters
    ----------
    model : nn.Module
    x : (C, H, W) or (N, C, H, W) array or tensor
    layer_names : str or sequence of str, names from ``model.named_modules()`` such as ``"features.0"``

    Returns
    -------
    dict name -> NumPy array (C_l, H_l, W_l) for one image, (N, C_l, H_l, W_l) for a batch,
    in the order the names were given. The model runs in eval mode, without gradients.
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
        with _eval_mode(model), pytorch.no_grad():
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

    Parameters
    ----------
    x : (C, H, W) or (N, C, H, W)
    target : int (same class for every image) or N ints, indices into the model's output (N, K)
    reduce : "max" takes the maximum over colour channels, as Simonyan et al. do, giving (H, W);
             None keeps the channels, giving (C, H, W).

    Returns
    -------
    NumPy float32 array (H, W) / (N, H, W) with ``reduce="max"``, (C, H, W) / (N, C, H, W) with ``reduce=None``.
    Only the input's gradient is computed: the model's parameter ``.grad`` are left untouched.
    """
    if reduce not in ("max", None):
        raise ValueError(f"reduce must be 'max' or None, got {reduce!r}")
    batch, single = _as_batch(x, model)
    batch = batch.clone().requires_grad_(True)
    with _eval_mode(model), pytorch.enable_grad():
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

    Parameters
    ----------
    x : (C, H, W) or (N, C, H, W)
    target : int or N ints
    layer : name from ``model.named_modules()`` or the module itself; a conv block's output is the usual choice
    upsample : bilinear resize of the (h, w) map to the input's (H, W), so it can be laid over the image
    normalize : divide each map by its maximum (maps that are all zero stay zero)

    Returns
    -------
    NumPy float32 array (H, W) or (N, H, W) when ``upsample``; (h, w) / (N, h, w) otherwise.
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
        with _eval_mode(model), pytorch.enable_grad():
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
