"""How many bytes of activations PyTorch really keeps for the backward pass: the check behind chapter 11b.

:func:`cnnlab.models.activation_bytes` counts values from ``summary()``'s output shapes. This module
measures instead: during a forward pass, autograd's ``saved_tensors_hooks`` are told about every tensor
an operation stores for its backward pass (a convolution its input, a ReLU its output, a max pool its
input and the int64 positions of its maxima). Tensors that share memory are counted once, and the
model's parameters are left out, so what remains is the activation memory of that batch.
"""

from collections import defaultdict

import torch
from torch import nn

__all__ = ["saved_activation_bytes"]


def saved_activation_bytes(model, x):
    """Bytes of the tensors that autograd saves for the backward pass of ``model(x)``, by dtype.

    Args:
        model: an ``nn.Module``; it runs in its current mode (``eval()`` switches dropout off, so no
            masks are saved). Its parameters need ``requires_grad`` for their inputs to be saved.
        x: the input batch (it is saved too when the first layer needs it for a weight gradient).

    Shape:
        returns ``{dtype: bytes}``, e.g. ``{torch.float32: ..., torch.int64: ...}``. Each storage counts
        once however many operations save it (a ReLU's output is also the next convolution's input),
        and parameters are not counted.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 4))
        >>> saved_activation_bytes(model, torch.zeros(1, 1, 5, 5))  # input 25 + ReLU output 18 values
        {torch.float32: 172}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            storages[(storage.data_ptr(), tensor.dtype)] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    by_dtype = defaultdict(int)
    for (_, dtype), nbytes in storages.items():
        by_dtype[dtype] += nbytes
    return dict(by_dtype)
