"""The one place the course picks a device and seeds its random generators."""

import os
import random

import numpy as np


def device():
    """Return ``torch.device("cuda")`` when a CUDA GPU is usable, else ``torch.device("cpu")``.

    Every notebook, model and training loop asks here; nothing in cnnlab calls ``.cuda()``.
    Set ``CNNLAB_DEVICE=cpu`` to force the CPU on a GPU machine.
    """
    import torch as pytorch  # not `torch`: see the note in cnnlab/__init__.py

    forced = os.environ.get("CNNLAB_DEVICE")
    if forced:
        return pytorch.device(forced)
    if pytorch.cuda.is_available():
        return pytorch.device("cuda")
    return pytorch.device("cpu")


def seed_everything(seed=0):
    """Seed Python's, NumPy's and PyTorch's generators; return a fresh ``np.random.Generator``."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch as pytorch
    except ImportError:  # the NumPy half of the course works without torch
        pytorch = None
    if pytorch is not None:
        pytorch.manual_seed(seed)
    return np.random.default_rng(seed)
