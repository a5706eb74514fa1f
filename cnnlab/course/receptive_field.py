"""Receptive-field arithmetic (chapter "Convolution arithmetic"): the formula, and autograd's answer.

The receptive field of a unit is the set of input pixels that can change it. Through a stack of
layers with kernel sizes k_l, strides s_l and dilations d_l, its side r_l and the *jump* j_l (how far
apart, in input pixels, two neighbouring units of layer l are) follow

    r_0 = 1, j_0 = 1
    r_l = r_{l-1} + (d_l (k_l - 1) + 1 - 1) j_{l-1}
    j_l = j_{l-1} s_l

(Araujo et al., "Computing receptive fields of convolutional neural networks", Distill 2019).
:func:`receptive_fields` applies the formula's one home, :func:`cnnlab.visualize.receptive_field`, to
layer geometries. :func:`measured_field` checks it without trusting it: it builds the stack in PyTorch, takes
the gradient of one output unit with respect to the input (the book's one autograd probe,
:func:`cnnlab.course.convolution_demos.input_dependence`), and reads off where it is non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from cnnlab.checks import as_int, positive_int

__all__ = ["Layer", "conv", "pool", "receptive_fields", "build_stack", "measured_field",
           "field_growth_figure", "field_footprints_figure"]


@dataclass(frozen=True)
class Layer:
    """One layer's geometry: ``kind`` is "conv" or "pool"; sizes in pixels."""

    kind: str
    kernel_size: int
    stride: int = 1
    dilation: int = 1

    def __post_init__(self):
        if self.kind not in ("conv", "pool"):
            raise ValueError(f'kind must be "conv" or "pool", got {self.kind!r}')
        for name in ("kernel_size", "stride", "dilation"):
            positive_int(getattr(self, name), name)
        if self.kind == "pool" and self.dilation != 1:
            raise ValueError(f"a pooling layer has no dilation here, got dilation={self.dilation}")

    @property
    def span(self):
        """Pixels from the first to the last tap: d (k - 1) + 1."""
        return self.dilation * (self.kernel_size - 1) + 1

    def __str__(self):
        text = f"{self.kind} {self.kernel_size}x{self.kernel_size}"
        if self.stride != 1:
            text += f" s{self.stride}"
        if self.dilation != 1:
            text += f" d{self.dilation}"
        return text


def conv(kernel_size=3, stride=1, dilation=1):
    """A convolution layer's geometry (shorthand for ``Layer("conv", ...)``).

    Example:
        >>> str(conv(3, stride=2, dilation=2)), conv(3, dilation=2).span
        ('conv 3x3 s2 d2', 5)
    """
    return Layer("conv", kernel_size, stride, dilation)


def pool(kernel_size=2, stride=None):
    """A pooling layer's geometry; the stride defaults to the window, as in ``nn.MaxPool2d``.

    Example:
        >>> pool(2), pool(3, stride=2).stride
        (Layer(kind='pool', kernel_size=2, stride=2, dilation=1), 2)
    """
    return Layer("pool", kernel_size, kernel_size if stride is None else stride)


def receptive_fields(layers):
    """Receptive-field side r and jump j after each layer, by the recursive formula.

    The formula has one home, :func:`cnnlab.visualize.receptive_field`; this applies it to the stack
    :func:`build_stack` makes from the geometries.

    Args:
        layers: sequence of :class:`Layer`.

    Returns:
        list of (r, j), one more than ``layers``: entry 0 is the input (1, 1).

    Example:
        >>> receptive_fields([conv(3), conv(3), pool(2), conv(3)])
        [(1, 1), (3, 1), (5, 1), (6, 2), (10, 2)]
    """
    from cnnlab.visualize import receptive_field

    stack = build_stack(layers)
    fields = [receptive_field(stack, str(index)) for index in range(len(stack))]
    return [(1, 1)] + [(field.size[0], field.jump[0]) for field in fields]


def build_stack(layers):
    """A one-channel PyTorch stack with this geometry, every weight 1 and no bias (valid padding).

    Pooling layers become average pooling with the same windows: a max pool's gradient reaches only
    the winner of each window, while its receptive field is every pixel that *could* win. With positive
    weights and no non-linearity nothing cancels, so the input gradient is positive exactly on the field.

    Args:
        layers: sequence of :class:`Layer`.

    Returns:
        an ``nn.Sequential`` in float64, its modules named "0", "1", ...

    Example:
        >>> build_stack([conv(3, stride=2), pool(2)])
        Sequential(
          (0): Conv2d(1, 1, kernel_size=(3, 3), stride=(2, 2), bias=False)
          (1): AvgPool2d(kernel_size=2, stride=2, padding=0)
        )
    """
    import torch
    from torch import nn

    modules = []
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"layers must hold Layer objects (conv(...), pool(...)), got {type(layer).__name__}")
        if layer.kind == "conv":
            module = nn.Conv2d(1, 1, layer.kernel_size, stride=layer.stride, dilation=layer.dilation, bias=False)
            with torch.no_grad():
                module.weight.fill_(1.0)
        else:
            module = nn.AvgPool2d(layer.kernel_size, layer.stride)
        modules.append(module)
    return nn.Sequential(*modules).double()


def measured_field(layers, margin=2):
    """Measure the receptive field of the central output unit with autograd.

    Runs :func:`cnnlab.course.convolution_demos.input_dependence` on :func:`build_stack` with an input
    just large enough for 2 * margin + 1 output units per side, from the central one, and finds the
    pixels where the input gradient is non-zero.

    Args:
        layers: sequence of :class:`Layer`.
        margin: output units on each side of the central one.

    Returns:
        dict with ``gradient`` (H, W) array, ``rows`` and ``cols`` (first, last + 1) of the non-zero
        region, ``side`` (rows, cols) of that region, ``dense`` (every pixel inside it non-zero),
        ``unit`` (output index i of the unit, on both axes) and ``jump``, the formula's j_L.

    Shape:
        ``gradient`` is (n, n) with n = r + 2 * margin * j, r and j the formula's side and jump.

    Example:
        >>> field = measured_field([conv(3), pool(2), conv(3)], margin=1)
        >>> field["gradient"].shape, field["side"], field["rows"], field["dense"]
        ((12, 12), (8, 8), (2, 10), True)
    """
    from cnnlab.course.convolution_demos import input_dependence

    margin = as_int(margin, "margin")
    if margin < 0:
        raise ValueError(f"margin must be at least 0, got {margin}")
    r, j = receptive_fields(layers)[-1]
    n = r + 2 * margin * j
    gradient = input_dependence(build_stack(layers), (1, n, n), (0, margin, margin), fill=0.0)[0]
    nonzero = gradient != 0
    rows, cols = np.flatnonzero(nonzero.any(axis=1)), np.flatnonzero(nonzero.any(axis=0))
    rows, cols = (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)
    return {
        "gradient": gradient,
        "rows": rows,
        "cols": cols,
        "side": (rows[1] - rows[0], cols[1] - cols[0]),
        "dense": bool(nonzero[rows[0] : rows[1], cols[0] : cols[1]].all()),
        "unit": margin,
        "jump": j,
    }


def field_growth_figure(stacks, measured=None):
    """Receptive-field side against depth for several stacks: formula as lines, autograd as markers.

    Args:
        stacks: dict name -> list of :class:`Layer`.
        measured: optional dict name -> list of measured sides (one per layer), drawn as markers.

    Returns:
        the Figure.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    styles = ["-", "--", "-.", ":"]
    for index, (name, layers) in enumerate(stacks.items()):
        sides = [r for r, _ in receptive_fields(layers)]
        (line,) = ax.plot(range(len(sides)), sides, styles[index % len(styles)], label=f"{name} (formula)")
        if measured and name in measured:
            ax.plot(range(1, len(sides)), measured[name], "o", color=line.get_color(), fillstyle="none",
                    label=f"{name} (autograd)")
    ax.set(xlabel="layers", ylabel="receptive field side (pixels)", title="How fast the receptive field grows")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def field_footprints_figure(layers, depths, title=""):
    """The input gradient of the central unit after the first ``depth`` layers, for each depth.

    The images share one pixel scale (the largest input), so the growth is visible at a glance.

    Args:
        layers: sequence of :class:`Layer`; depths: how many of them each panel measures.
        title: the figure's suptitle.

    Returns:
        the Figure, one panel per depth.
    """
    fields = [measured_field(layers[:depth]) for depth in depths]
    side = max(f["gradient"].shape[0] for f in fields)
    fig, axes = plt.subplots(1, len(depths), figsize=(2.2 * len(depths), 2.5))
    for ax, depth, field in zip(np.atleast_1d(axes), depths, fields):
        canvas = np.zeros((side, side))
        g = field["gradient"]
        offset = (side - g.shape[0]) // 2
        canvas[offset : offset + g.shape[0], offset : offset + g.shape[1]] = g / g.max()
        ax.imshow(canvas, cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"after {depth} layers: {field['side'][0]}x{field['side'][1]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
