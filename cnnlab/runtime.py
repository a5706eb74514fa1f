"""The one place the course picks a device, seeds its random generators and reads its environment switches.

- ``device()``: ``CNNLAB_DEVICE``, else cuda when usable, else cpu.
- ``seed_everything(seed)``: Python, NumPy and PyTorch generators.
- ``static_mode()``: ``CNNLAB_STATIC_WIDGETS=1`` (the book build): widgets and progress bars draw static output.
"""

import os
import random

import numpy as np


def device():
    """Return ``torch.device("cuda")`` when a CUDA GPU is usable, else ``torch.device("cpu")``.

    Every notebook, model and training loop asks here; nothing in cnnlab calls ``.cuda()``.
    Set ``CNNLAB_DEVICE=cpu`` to force the CPU on a GPU machine.
    """
    import torch as pytorch  # lazily: the NumPy side of cnnlab never needs PyTorch

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


def static_mode():
    """True when the book is being built (``CNNLAB_STATIC_WIDGETS=1``): nobody can move a slider or watch a bar.

    Explorers then draw their figure at the default settings, and ``fit`` prints one line per epoch.
    """
    return os.environ.get("CNNLAB_STATIC_WIDGETS") == "1"
