"""The one check cnnlab.reference cannot share with us: "is this a torch tensor?".

Shape and argument checks live in :mod:`cnnlab.checks` and are shared with
the NumPy reference; this file only adds what is specific to PyTorch.
"""

import torch


def check_tensor(x, name, floating=False):
    """Raise ``TypeError`` unless ``x`` is a ``torch.Tensor`` (of floating dtype when asked)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}"
            + (f" of shape {tuple(x.shape)}" if hasattr(x, "shape") else "")
            + "; convert NumPy arrays with torch.as_tensor(...)"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype, got {x.dtype} (shape {tuple(x.shape)}); "
            f"use {name}.float() or {name}.double()"
        )
    return x


def check_compatible(name_a, a, name_b, b):
    """Raise ``TypeError`` when two tensors differ in device or dtype (torch's own message names neither)."""
    if b is None:
        return
    if a.device != b.device:
        raise TypeError(
            f"{name_a} {tuple(a.shape)} is on {a.device} but {name_b} {tuple(b.shape)} is on {b.device}; "
            f"move them to one device, e.g. {name_b}.to({name_a}.device)"
        )
    if a.dtype != b.dtype:
        raise TypeError(
            f"{name_a} {tuple(a.shape)} has dtype {a.dtype} but {name_b} {tuple(b.shape)} has dtype {b.dtype}; "
            f"convert one of them, e.g. {name_b}.to({name_a}.dtype)"
        )
