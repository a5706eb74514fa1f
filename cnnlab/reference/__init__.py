"""NumPy reference layers: the course's answer key, checked against PyTorch and finite differences.

Every layer has a forward function and, beside it, a ``*_backward`` that returns the
gradients given the upstream gradient ``dout`` (CS231n's layers.py style). Arrays are
NCHW like PyTorch. Float dtypes are kept (float32 in, float32 out); integer and bool
inputs are promoted to float64. Bad arguments raise ValueError/TypeError naming the
argument and the shapes (see ``cnnlab.checks``).

Modules: padding, conv, pool, activations, dropout, linear, losses, batchnorm.
"""

from cnnlab.reference.activations import relu, relu_backward, softmax
from cnnlab.reference.batchnorm import (
    batch_norm2d,
    batch_norm2d_backward,
    batch_norm2d_backward_naive,
    batch_norm2d_naive,
)
from cnnlab.reference.conv import (
    conv2d,
    conv2d_backward,
    conv2d_dilated,
    conv2d_naive,
    conv_transpose2d,
    conv_transpose2d_naive,
    corr2d,
    dilate2d,
)
from cnnlab.reference.dropout import dropout, dropout_backward
from cnnlab.reference.linear import flatten, linear, linear_backward
from cnnlab.reference.losses import softmax_cross_entropy
from cnnlab.reference.padding import output_size, pad2d
from cnnlab.reference.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_naive,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_naive,
    min_pool2d,
    min_pool2d_backward,
    min_pool2d_naive,
)

__all__ = [
    "output_size",
    "pad2d",
    "conv2d",
    "conv2d_naive",
    "conv2d_backward",
    "corr2d",
    "dilate2d",
    "conv2d_dilated",
    "conv_transpose2d",
    "conv_transpose2d_naive",
    "max_pool2d",
    "max_pool2d_naive",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_naive",
    "avg_pool2d_backward",
    "min_pool2d",
    "min_pool2d_naive",
    "min_pool2d_backward",
    "relu",
    "relu_backward",
    "softmax",
    "dropout",
    "dropout_backward",
    "linear",
    "linear_backward",
    "flatten",
    "softmax_cross_entropy",
    "batch_norm2d",
    "batch_norm2d_naive",
    "batch_norm2d_backward",
    "batch_norm2d_backward_naive",
]
