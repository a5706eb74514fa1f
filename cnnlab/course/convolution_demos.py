"""Named filters and small measuring tools for the chapters on convolution (book chapters 2-4).

Nothing here is a layer (those live in :mod:`cnnlab.reference` and :mod:`cnnlab.torchops`);
these helpers make the chapters' claims checkable in one line each.

Filters
-------
KERNELS                      hand-made 3x3 filters: identity, sobel_x, sobel_y, laplacian,
                             sharpen, box_blur, emboss (read-only float64 arrays)
kernel(name, dtype)          a writable copy of one of them
filter_bank(names, in_channels)          stack kernels into a conv weight (F, C, KH, KW)

Convolution against cross-correlation
-------------------------------------
flip_kernel(k)               rotate a kernel by 180 degrees
convolve2d(x, k)             true convolution ("valid"): cross-correlation with the flipped kernel
compose_kernels(k1, k2)      one kernel doing the work of two stacked linear layers (no ReLU between)

Counting
--------
dense_params(in_features, out_features)            weights + biases of a dense layer
conv_params(in_channels, filters, kernel_size)     weights + biases of a conv layer
dense_vs_conv_params(h, w, c_in, units_or_filters, kernel_size) -> DenseVsConv

Which inputs matter (autograd)
------------------------------
input_dependence(layer, input_shape, output_index)        |d out / d x| for one output value: the receptive-field probe
weight_input_dependence(layer, input_shape, weight_index) inputs that one weight's gradient reads

Translation
-----------
shift2d(x, dy, dx)           shift the last two axes, filling with zeros
"""

import operator
from dataclasses import dataclass

import numpy as np

from cnnlab.checks import pair
from cnnlab.checks import positive_int
from cnnlab.runtime import offset_seed

__all__ = [
    "KERNELS",
    "kernel",
    "filter_bank",
    "flip_kernel",
    "convolve2d",
    "compose_kernels",
    "dense_params",
    "conv_params",
    "DenseVsConv",
    "dense_vs_conv_params",
    "input_dependence",
    "weight_input_dependence",
    "shift2d",
]


def _frozen(rows):
    arr = np.array(rows, dtype=np.float64)
    arr.setflags(write=False)  # shared module state: a notebook must not change it by accident
    return arr


# Under cross-correlation (what conv layers compute) sobel_x is positive where the image gets
# brighter from left to right, i.e. it responds to vertical edges; sobel_y to horizontal ones.
KERNELS = {
    "identity": _frozen([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "sobel_x": _frozen([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": _frozen([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian": _frozen([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "sharpen": _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "box_blur": _frozen(np.full((3, 3), 1.0 / 9.0)),
    # Not symmetric under a 180-degree turn, so it tells convolution and cross-correlation apart.
    "emboss": _frozen([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
}


def kernel(name, dtype=np.float32):
    """Return a writable copy of ``KERNELS[name]`` as ``dtype``.

    Args:
        name: a key of :data:`KERNELS`; any other raises ValueError naming the known kernels.
        dtype: NumPy dtype of the copy.

    Shape:
        (3, 3).

    Example:
        >>> kernel("sobel_x")
        array([[-1.,  0.,  1.],
               [-2.,  0.,  2.],
               [-1.,  0.,  1.]], dtype=float32)
    """
    if name not in KERNELS:
        raise ValueError(f"unknown kernel name {name!r}; known kernels: {sorted(KERNELS)}")
    return KERNELS[name].astype(dtype)


def filter_bank(names, in_channels=1, dtype=np.float32):
    """Stack named kernels into a convolution weight of shape (F, C, KH, KW).

    Args:
        names: sequence of F kernel names (all kernels have the same size).
        in_channels: C. Every channel gets ``kernel / C``, so on an RGB image each filter
            acts on the average of the three channels (a grey version of the image).
        dtype: NumPy dtype of the weight.

    Shape:
        (len(names), in_channels, 3, 3), ready for ``cnnlab.reference.conv2d(x, w)``.

    Example:
        >>> w = filter_bank(["sobel_x", "box_blur"], in_channels=3)
        >>> w.shape, bool(np.allclose(w.sum(axis=1)[0], KERNELS["sobel_x"]))
        ((2, 3, 3, 3), True)
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of kernel names, got the single string {names!r}")
    names = list(names)
    if not names:
        raise ValueError("names must hold at least one kernel name, got an empty sequence")
    c = positive_int(in_channels, "in_channels")
    kernels = [kernel(name, np.float64) for name in names]
    return np.stack([np.repeat(k[None] / c, c, axis=0) for k in kernels]).astype(dtype)


def flip_kernel(k):
    """Rotate a 2-D kernel by 180 degrees (flip rows and columns): k[::-1, ::-1].

    Args:
        k: a 2-D kernel.

    Shape:
        (KH, KW) -> (KH, KW). Applying it twice gives k back.

    Example:
        >>> flip_kernel([[1, 2], [3, 4]])
        array([[4, 3],
               [2, 1]])
    """
    k = np.asarray(k)
    if k.ndim != 2:
        raise ValueError(f"k must be a 2-D kernel (KH, KW), got shape {k.shape}")
    return k[::-1, ::-1].copy()


def convolve2d(x, k):
    """True 2-D convolution in "valid" mode, the operation of signal processing.

    out[i, j] = sum_{u, v} x[i + u, j + v] * k[KH - 1 - u, KW - 1 - v]: cross-correlation
    (:func:`cnnlab.reference.corr2d`, what conv layers compute) with the flipped kernel, and
    ``scipy.signal.convolve2d(x, k, mode="valid")``.

    Args:
        x: a 2-D image; k: a 2-D kernel.

    Shape:
        x (H, W), k (KH, KW) -> (H - KH + 1, W - KW + 1).

    Example:
        >>> x = np.arange(9.0).reshape(3, 3)
        >>> convolve2d(x, [[1.0, 0.0], [0.0, 0.0]])  # the kernel's top-left tap meets the window's bottom-right
        array([[4., 5.],
               [7., 8.]])
    """
    from cnnlab.reference.conv import corr2d  # cnnlab.reference must not be needed just to count parameters

    k = np.asarray(k)
    if k.ndim != 2:
        raise ValueError(f"k must be a 2-D kernel (KH, KW), got shape {k.shape}")
    return corr2d(x, flip_kernel(k))


def compose_kernels(k1, k2):
    """The single kernel equal to cross-correlating with ``k1`` and then with ``k2``.

    It is the full convolution of k1 and k2, out[a + u, b + v] += k1[u, v] * k2[a, b]. So, for
    any x large enough, corr2d(corr2d(x, k1), k2) == corr2d(x, compose_kernels(k1, k2)), which is
    why two conv layers with nothing non-linear between them are no more expressive than one conv
    layer with a bigger kernel.

    Args:
        k1, k2: 2-D kernels, applied in that order.

    Shape:
        k1 (A, B), k2 (C, D) -> (A + C - 1, B + D - 1).

    Example:
        >>> compose_kernels(np.ones((3, 3)), np.ones((3, 3)))[0]  # two 3x3 box filters make one 5x5
        array([1., 2., 3., 2., 1.])
    """
    k1, k2 = np.asarray(k1), np.asarray(k2)
    if k1.ndim != 2 or k2.ndim != 2:
        raise ValueError(f"k1 and k2 must be 2-D kernels, got shapes {k1.shape} and {k2.shape}")
    dtype = np.result_type(k1, k2, np.float32)
    out = np.zeros((k1.shape[0] + k2.shape[0] - 1, k1.shape[1] + k2.shape[1] - 1), dtype=dtype)
    # One shifted copy of k1 per entry of k2: out is a sum of KH2*KW2 translated, scaled k1's.
    for a in range(k2.shape[0]):
        for b in range(k2.shape[1]):
            out[a : a + k1.shape[0], b : b + k1.shape[1]] += k2[a, b] * k1
    return out


def dense_params(in_features, out_features, bias=True):
    """Trainable numbers of a dense (fully connected) layer: in * out weights (+ out biases).

    Args:
        in_features, out_features: positive ints; bias: whether the layer has biases.

    Example:
        >>> dense_params(32 * 32 * 3, 32)
        98336
    """
    n_in = positive_int(in_features, "in_features")
    n_out = positive_int(out_features, "out_features")
    return n_in * n_out + (n_out if bias else 0)


def conv_params(in_channels, filters, kernel_size, bias=True):
    """Trainable numbers of a conv layer: KH * KW * C_in * F weights (+ F biases).

    The image's height and width do not appear: the same filters slide over every position.

    Args:
        in_channels, filters: positive ints; kernel_size: int or (KH, KW); bias: whether the layer has biases.

    Example:
        >>> conv_params(3, 32, 3), conv_params(3, 32, (3, 5), bias=False)
        (896, 1440)
    """
    c_in = positive_int(in_channels, "in_channels")
    f = positive_int(filters, "filters")
    kh, kw = pair(kernel_size, "kernel_size")
    kh, kw = positive_int(kh, "kernel_size"), positive_int(kw, "kernel_size")
    return kh * kw * c_in * f + (f if bias else 0)


@dataclass(frozen=True)
class DenseVsConv:
    """Costs of a dense layer and a conv layer on the same (H, W, C_in) input.

    inputs:                   H * W * C_in numbers in the image
    dense:                    a dense layer with ``units`` outputs on the flattened image
    conv:                     a conv layer with ``filters`` filters of size KH x KW x C_in
    dense_same_output:        a dense layer producing as many outputs as a "same"-padded conv
                              (H * W * filters), i.e. the dense layer doing the conv's job
    dense_inputs_per_output:  every dense output reads all H * W * C_in inputs
    conv_inputs_per_output:   every conv output reads KH * KW * C_in inputs (the whole depth)
    """

    inputs: int
    dense: int
    conv: int
    dense_same_output: int
    dense_inputs_per_output: int
    conv_inputs_per_output: int

    @property
    def ratio(self):
        """How many times more parameters the dense layer has than the conv layer."""
        return self.dense / self.conv


def dense_vs_conv_params(h, w, c_in, units_or_filters, kernel_size, bias=True):
    """Compare a dense layer and a conv layer on an h x w x c_in image.

    Args:
        h, w, c_in: the image's height, width and channels.
        units_or_filters: used twice, as the number of dense units and as the number of conv filters.
        kernel_size: int or (KH, KW); must fit in the image.
        bias: whether both layers have biases.

    Returns:
        a :class:`DenseVsConv`.

    Example:
        >>> costs = dense_vs_conv_params(32, 32, 3, 32, 3)
        >>> costs.dense, costs.conv, round(costs.ratio)
        (98336, 896, 110)
    """
    h = positive_int(h, "h")
    w = positive_int(w, "w")
    c_in = positive_int(c_in, "c_in")
    n = positive_int(units_or_filters, "units_or_filters")
    kh, kw = pair(kernel_size, "kernel_size")
    if kh > h or kw > w:
        raise ValueError(f"kernel_size {(kh, kw)} does not fit in the image (h, w) = {(h, w)}")
    inputs = h * w * c_in
    return DenseVsConv(
        inputs=inputs,
        dense=dense_params(inputs, n, bias),
        conv=conv_params(c_in, n, (kh, kw), bias),
        dense_same_output=dense_params(inputs, h * w * n, bias),
        dense_inputs_per_output=inputs,
        conv_inputs_per_output=kh * kw * c_in,
    )


def _probe_input(layer, input_shape, seed, fill):
    """One image (1, C, H, W) that requires grad, on the layer's device and in its dtype."""
    import torch

    shape = tuple(operator.index(s) for s in input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W) for one image, got {shape}")
    parameter = next(iter(layer.parameters()), None) if hasattr(layer, "parameters") else None
    options = {"dtype": torch.float32} if parameter is None else {"dtype": parameter.dtype, "device": parameter.device}
    if fill is None:
        generator = torch.Generator().manual_seed(offset_seed(seed))
        x = torch.randn((1, *shape), generator=generator, dtype=options["dtype"]).to(options.get("device", "cpu"))
    else:
        x = torch.full((1, *shape), float(fill), **options)
    return x.requires_grad_(True)


def input_dependence(layer, input_shape, output_index, seed=0, fill=None):
    """Which input numbers one output number depends on, measured with autograd.

    This is the book's one autograd probe of a receptive field; :func:`cnnlab.course.receptive_field.measured_field`
    runs it on a stack built from layer geometries.

    Args:
        layer: any callable taking a tensor (1, C, H, W) and returning a tensor (1, ...),
            e.g. ``torch.nn.Conv2d`` or ``nn.Sequential(nn.Flatten(), nn.Linear(...))``; the input
            follows the dtype and device of its first parameter.
        input_shape: (C, H, W) of one image.
        output_index: tuple indexing one value of ``layer(x)[0]``, e.g. (filter, row, col).
        seed: seeds the random input.
        fill: a number to fill the input with instead (e.g. 1.0, so that ReLUs after positive
            weights let every path through).

    Shape:
        returns |d layer(x)[0][output_index] / d x| as a NumPy array (C, H, W): non-zero exactly
        where the output can "see" the input (its receptive field), unless weights cancel.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> seen = input_dependence(torch.nn.Conv2d(2, 4, 3), (2, 8, 8), (0, 3, 3)) > 0
        >>> seen.shape, int(seen.sum()), bool(seen[:, 3:6, 3:6].all())
        ((2, 8, 8), 18, True)
    """
    import torch

    x = _probe_input(layer, input_shape, seed, fill)
    out = layer(x)
    idx = tuple(output_index) if isinstance(output_index, (tuple, list)) else (output_index,)
    one = out[0]
    if len(idx) != one.dim() or any(not 0 <= i < n for i, n in zip(idx, one.shape)):
        raise ValueError(f"output_index {idx} does not index one value of the layer's output of shape {tuple(one.shape)}")
    (grad,) = torch.autograd.grad(one[idx], x)
    return grad[0].abs().detach().cpu().numpy()


def weight_input_dependence(layer, input_shape, weight_index, seed=0):
    """Which input numbers one weight of a conv layer meets, measured with autograd.

    With L = sum of all outputs, dL/dw[weight_index] is a sum of input values: this returns
    |d(dL/dw[weight_index]) / dx|, non-zero at every input the weight was multiplied with as the
    filter slid over the image (one per output position).

    Args:
        layer: a module with a ``weight`` parameter, e.g. ``torch.nn.Conv2d``.
        input_shape: (C, H, W) of one (random) image.
        weight_index: (filter, channel, u, v) into ``layer.weight``.
        seed: seeds the random input.

    Shape:
        returns (C, H, W); with a valid KxK convolution, OH * OW inputs of one channel are non-zero,
        OH = H - K + 1 and OW = W - K + 1.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> met = weight_input_dependence(torch.nn.Conv2d(3, 2, 3), (3, 7, 9), (1, 2, 0, 1)) > 0
        >>> int(met.sum()), bool(met[2, :5, 1:8].all()), bool(met[:2].any())
        (35, True, False)
    """
    import torch

    x = _probe_input(layer, input_shape, seed, None)
    idx = tuple(weight_index)
    if len(idx) != layer.weight.dim() or any(not 0 <= i < n for i, n in zip(idx, layer.weight.shape)):
        raise ValueError(f"weight_index {idx} does not index one value of the weight of shape {tuple(layer.weight.shape)}")
    loss = layer(x).sum()
    (dw,) = torch.autograd.grad(loss, layer.weight, create_graph=True)
    (grad,) = torch.autograd.grad(dw[idx], x)
    return grad[0].abs().detach().cpu().numpy()


def shift2d(x, dy, dx):
    """Shift the last two axes of ``x`` by (dy, dx) pixels, filling the uncovered strip with zeros.

    Unlike np.roll nothing wraps around, as when an object moves inside a camera frame.

    Args:
        x: array with at least 2 dimensions.
        dy, dx: ints; positive dy moves content down, positive dx moves it right.

    Shape:
        (..., H, W) -> (..., H, W).

    Example:
        >>> shift2d(np.arange(1, 7).reshape(2, 3), 1, -1)
        array([[0, 0, 0],
               [2, 3, 0]])
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., H, W), got shape {x.shape}")
    dy, dx = operator.index(dy), operator.index(dx)
    H, W = x.shape[-2:]
    if abs(dy) >= H or abs(dx) >= W:
        raise ValueError(f"shift (dy, dx) = {(dy, dx)} moves everything out of an image of size (H, W) = {(H, W)}")
    out = np.zeros_like(x)
    src_rows = slice(max(0, -dy), H - max(0, dy))
    dst_rows = slice(max(0, dy), H - max(0, -dy))
    src_cols = slice(max(0, -dx), W - max(0, dx))
    dst_cols = slice(max(0, dx), W - max(0, -dx))
    out[..., dst_rows, dst_cols] = x[..., src_rows, src_cols]
    return out
