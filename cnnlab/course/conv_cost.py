"""What a convolution layer costs: parameters and multiply-adds (chapter "Convolution arithmetic").

A k x k convolution from C_in to C_out channels on an output of H_out x W_out pixels has

    parameters   = C_out (C_in k k + 1)                (the + 1 is the bias)
    multiply-adds = C_out H_out W_out C_in k k         (one per weight per output pixel)

A 1 x 1 convolution (k = 1) mixes channels at each pixel and nothing else, which makes it the
cheap way to change the number of channels: ResNet's *bottleneck* squeezes 256 channels to 64,
does the 3 x 3 work there, and expands back to 256.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.checks import positive_int

__all__ = ["ConvCost", "conv_cost", "plain_block", "bottleneck_block", "block_cost", "torch_block",
           "measured_macs"]


@dataclass(frozen=True)
class ConvCost:
    """One convolution's shape and cost, as :func:`conv_cost` returns it; ``params`` includes the bias."""

    c_in: int
    c_out: int
    kernel_size: int
    out_size: int
    params: int
    macs: int

    def __str__(self):
        k = self.kernel_size
        return f"{k}x{k} conv {self.c_in}->{self.c_out}"


def conv_cost(c_in, c_out, kernel_size, out_size, bias=True):
    """Parameters and multiply-adds of a square convolution on a square ``out_size`` x ``out_size`` output.

    Args:
        c_in, c_out: channels in and out. kernel_size: k. out_size: H_out (= W_out).
        bias: count one bias per output channel.

    Example:
        >>> conv_cost(256, 256, 3, 56).params
        590080
    """
    c_in, c_out = positive_int(c_in, "c_in"), positive_int(c_out, "c_out")
    k, n = positive_int(kernel_size, "kernel_size"), positive_int(out_size, "out_size")
    params = c_out * (c_in * k * k + int(bool(bias)))
    macs = c_out * n * n * c_in * k * k
    return ConvCost(c_in, c_out, k, n, params, macs)


def plain_block(channels=256, out_size=56):
    """One 3 x 3 convolution from ``channels`` to ``channels``, as a list of :class:`ConvCost`.

    Example:
        >>> [str(c) for c in plain_block(64)]
        ['3x3 conv 64->64']
    """
    return [conv_cost(channels, channels, 3, out_size)]


def bottleneck_block(channels=256, reduced=64, out_size=56):
    """1 x 1 down to ``reduced`` channels, 3 x 3 at ``reduced``, 1 x 1 back up (ResNet's bottleneck).

    Example:
        >>> [str(c) for c in bottleneck_block()]
        ['1x1 conv 256->64', '3x3 conv 64->64', '1x1 conv 64->256']
    """
    return [conv_cost(channels, reduced, 1, out_size), conv_cost(reduced, reduced, 3, out_size),
            conv_cost(reduced, channels, 1, out_size)]


def block_cost(block):
    """(parameters, multiply-adds) summed over a block's convolutions.

    Example:
        >>> block_cost(bottleneck_block())[0], block_cost(plain_block())[0]
        (70016, 590080)
    """
    return sum(c.params for c in block), sum(c.macs for c in block)


def torch_block(block):
    """The block as ``nn.Sequential`` of same-padded ``nn.Conv2d`` layers (to count with torch).

    Example:
        >>> torch_block(plain_block(8))
        Sequential(
          (0): Conv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
        )
    """
    from torch import nn

    return nn.Sequential(*[nn.Conv2d(c.c_in, c.c_out, c.kernel_size, padding=c.kernel_size // 2) for c in block])


def measured_macs(model, input_shape):
    """Multiply-adds of one forward pass as PyTorch's ``FlopCounterMode`` counts them (FLOPs / 2).

    It counts the matrix work of convolutions and linear layers (not the bias additions). The pass
    runs on a copy of the model on PyTorch's "meta" device, which tracks shapes without computing,
    so counting a large layer takes milliseconds.

    Args:
        model: an ``nn.Module``; input_shape: (N, C, H, W) of the input.

    Example:
        >>> import torch
        >>> measured_macs(torch.nn.Conv2d(3, 8, 3), (1, 3, 10, 10)) == 8 * 8 * 8 * 3 * 3 * 3  # (8x8 outputs)
        True
    """
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    shadow = copy.deepcopy(model).to("meta")
    with counter, torch.no_grad():
        shadow(torch.zeros(*input_shape, device="meta"))
    return counter.get_total_flops() // 2
