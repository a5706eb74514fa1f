"""The one place the course picks a device, seeds its random generators and reads its environment switches.

- ``device()``: ``CNNLAB_DEVICE``, else cuda when usable, else cpu.
- ``seed_everything(seed)``: Python, NumPy and PyTorch generators.
- ``seed_offset()`` / ``offset_seed(seed)``: ``CNNLAB_SEED_OFFSET`` (default 0), added to every seed the
  chapters and cnnlab use, so that anyone can rebuild the book "as another machine would": another
  machine's CPU, BLAS kernels and thread count train different networks, just as other seeds do.
- ``rng(seed)``: a NumPy generator from an offset seed.
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


def seed_offset():
    """The int in ``CNNLAB_SEED_OFFSET`` (default 0), which cnnlab adds to every seed it is given.

    A chapter's stochastic claim must hold for any offset, as it must on any machine.

    Raises:
        ValueError: the variable is set but is not a whole number.

    Example:
        >>> saved = os.environ.pop("CNNLAB_SEED_OFFSET", None)
        >>> seed_offset()
        0
        >>> os.environ["CNNLAB_SEED_OFFSET"] = "1000"
        >>> seed_offset(), offset_seed(3)
        (1000, 1003)
        >>> _ = os.environ.pop("CNNLAB_SEED_OFFSET") if saved is None else os.environ.update(CNNLAB_SEED_OFFSET=saved)
    """
    text = os.environ.get("CNNLAB_SEED_OFFSET", "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"CNNLAB_SEED_OFFSET must be a whole number, got {text!r}") from None


def offset_seed(seed):
    """``seed + seed_offset()``: the seed that is really used where cnnlab is given ``seed``.

    Functions that take a seed call this once, where the seed becomes a generator; they pass the
    seed they were given, not the offset one, to anything they call.

    Raises:
        TypeError: ``seed`` is not an int (a bool is not a seed either).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    return int(seed) + seed_offset()


def rng(seed=0):
    """``np.random.default_rng(offset_seed(seed))``: a NumPy generator that follows ``CNNLAB_SEED_OFFSET``.

    Example:
        >>> bool(rng(5).random() == np.random.default_rng(offset_seed(5)).random())
        True
    """
    return np.random.default_rng(offset_seed(seed))


def seed_everything(seed=0):
    """Seed Python's, NumPy's and PyTorch's generators with ``offset_seed(seed)``; return a fresh ``np.random.Generator``.

    Args:
        seed: an int; the returned generator is ``rng(seed)``, and ``CNNLAB_SEED_OFFSET`` is added to it.

    Example:
        >>> import torch
        >>> first = seed_everything(3).random(), random.random(), np.random.rand(), torch.rand(1).item()
        >>> first == (seed_everything(3).random(), random.random(), np.random.rand(), torch.rand(1).item())
        True
    """
    seed = offset_seed(seed)
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
