"""Inverted dropout on torch tensors.

Training: each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the expected
output equals the input and nothing needs rescaling at test time. Evaluation: the identity.
The gradient is ``dout * mask`` (autograd computes it, since ``out = x * mask``).
"""

import torch

from cnnlab.checks import check_probability
from cnnlab.torchops.tensor_checks import check_tensor

__all__ = ["dropout"]


def dropout(x, p=0.5, training=True, generator=None):
    """Drop each element of ``x`` with probability ``p`` and scale the rest by 1 / (1 - p); return ``(out, mask)``.

    Statistically like ``F.dropout(x, p, training)`` (which draws from its own stream).

    Args:
        x: floating tensor of any shape, on any device.
        p: drop probability in [0, 1).
        training: False is evaluation: out is x and mask is all ones.
        generator: a ``torch.Generator`` or an int seed for reproducible masks, None for torch's global
            stream. The uniform numbers are drawn on the generator's device (CPU for an int seed) and
            moved to x's, so one seed gives the same mask on CPU and GPU.

    Shape:
        x (*) -> out (*), mask (*), same dtype and device as x; mask holds 0 (dropped) or
        1 / (1 - p) (kept), and ``out = x * mask``.

    Example:
        >>> out, mask = dropout(torch.ones(2, 4), p=0.5, generator=0)
        >>> sorted(set(mask.flatten().tolist())), torch.equal(out, mask)
        ([0.0, 2.0], True)
    """
    check_tensor(x, "x", floating=True)
    p = check_probability(p, "p")
    if isinstance(generator, int) and not isinstance(generator, bool):
        generator = torch.Generator().manual_seed(generator)
    elif generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")
    if not training or p == 0.0:
        return x, torch.ones_like(x)
    draw_device = x.device if generator is None else generator.device
    uniform = torch.rand(x.shape, generator=generator, device=draw_device, dtype=x.dtype).to(x.device)
    mask = (uniform >= p).to(x.dtype) / (1.0 - p)
    return x * mask, mask
