"""The one check cnnlab.reference cannot share with us: "is this a torch tensor?".

Shape and argument checks live in :mod:`cnnlab.checks` and are shared with
the NumPy reference; this file only adds what is specific to PyTorch.
"""

import torch


def check_tensor(x, name, floating=False):
    """Raise ``TypeError`` unless ``x`` is a ``torch.Tensor`` (of floating dtype when asked).

    Args:
        x: the value to check. name: the argument's name, for the message.
        floating: also require a floating-point dtype.

    Shape:
        Returns ``x`` unchanged.

    Example:
        >>> check_tensor(torch.zeros(2, dtype=torch.long), "x", floating=True)
        Traceback (most recent call last):
        ...
        TypeError: x must have a floating-point dtype, got torch.int64 (shape (2,)); use x.float() or x.double()
    """
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
    """Raise ``TypeError`` when two tensors differ in device or dtype (torch's own message names neither).

    Args:
        name_a, a: the reference tensor and its name. name_b, b: the other tensor (None: nothing to check).

    Shape:
        Any shapes; returns None.

    Example:
        >>> check_compatible("x", torch.zeros(2), "w", torch.zeros(2, dtype=torch.float64))
        Traceback (most recent call last):
        ...
        TypeError: x (2,) has dtype torch.float32 but w (2,) has dtype torch.float64; convert one of them, e.g. w.to(x.dtype)
    """
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
