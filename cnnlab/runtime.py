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

    Example:
        >>> saved = os.environ.get("CNNLAB_DEVICE")
        >>> os.environ["CNNLAB_DEVICE"] = "cpu"
        >>> device()
        device(type='cpu')
        >>> _ = os.environ.pop("CNNLAB_DEVICE") if saved is None else os.environ.update(CNNLAB_DEVICE=saved)
    """
    import torch as pytorch  # lazily: the NumPy side of cnnlab never needs PyTorch

    forced = os.environ.get("CNNLAB_DEVICE")
    if forced:
        return pytorch.device(forced)
    if pytorch.cuda.is_available():
        return pytorch.device("cuda")
    return pytorch.device("cpu")


def seed_everything(seed=0):
    """Seed Python's, NumPy's and PyTorch's generators; return a fresh ``np.random.Generator``.

    Args:
        seed: an int; the returned generator is ``np.random.default_rng(seed)``.

    Example:
        >>> import torch
        >>> first = seed_everything(3).random(), random.random(), np.random.rand(), torch.rand(1).item()
        >>> first == (seed_everything(3).random(), random.random(), np.random.rand(), torch.rand(1).item())
        True
    """
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

    Example:
        >>> saved = os.environ.pop("CNNLAB_STATIC_WIDGETS", None)
        >>> os.environ["CNNLAB_STATIC_WIDGETS"] = "1"
        >>> static_mode()
        True
        >>> os.environ["CNNLAB_STATIC_WIDGETS"] = "0"
        >>> static_mode()
        False
        >>> _ = os.environ.pop("CNNLAB_STATIC_WIDGETS") if saved is None else os.environ.update(CNNLAB_STATIC_WIDGETS=saved)
    """
    return os.environ.get("CNNLAB_STATIC_WIDGETS") == "1"
