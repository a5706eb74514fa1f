"""PyTorch counterparts of :mod:`cnnlab.reference`: same names, same signatures, torch tensors.

Every function runs on the device of its input (CPU or GPU; nothing here calls ``.cuda()``) and
is built from differentiable tensor operations, so **autograd computes the backward passes**:
there are no ``*_backward`` functions. Call ``loss.backward()`` and read ``x.grad``; the tests
check those gradients against ``torch.nn.functional`` and the NumPy reference's backward passes.

=========================  ====================================================================
output_size, pad2d         the output-size formula; padding with zeros or edge pixels
conv2d                     im2col: ``F.unfold`` + one matrix product
conv2d_dilated             the same with ``F.unfold(dilation=...)``
conv_transpose2d           full convolution of the stride-spread input with flipped filters
max/avg/min_pool2d         reductions over a strided view of every window (``Tensor.unfold``)
relu, softmax              elementwise / along an axis
dropout                    inverted dropout, returns ``(out, mask)``
linear, flatten            dense layer ``x @ w.T + b``; ``(N, ...) -> (N, -1)``
softmax_cross_entropy      mean loss tensor (the reference also returns dlogits; here autograd does)
batch_norm2d               per-channel batch statistics; running estimates updated in place
=========================  ====================================================================
"""

from cnnlab.torchops.activations import relu, softmax
from cnnlab.torchops.batchnorm import batch_norm2d
from cnnlab.torchops.conv import conv2d, conv2d_dilated, conv_transpose2d, dilate2d
from cnnlab.torchops.dropout import dropout
from cnnlab.torchops.linear import flatten, linear
from cnnlab.torchops.losses import softmax_cross_entropy
from cnnlab.torchops.padding import output_size, pad2d
from cnnlab.torchops.pool import avg_pool2d, max_pool2d, min_pool2d

__all__ = [
    "output_size",
    "pad2d",
    "conv2d",
    "dilate2d",
    "conv2d_dilated",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "min_pool2d",
    "relu",
    "softmax",
    "dropout",
    "linear",
    "flatten",
    "softmax_cross_entropy",
    "batch_norm2d",
]
