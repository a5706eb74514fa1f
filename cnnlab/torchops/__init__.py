"""PyTorch counterparts of :mod:`cnnlab.reference`: same names, same signatures, torch tensors.

The package exports every public name of its modules (their ``__all__``).
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

from cnnlab.torchops.padding import *  # noqa: F401,F403
from cnnlab.torchops.conv import *  # noqa: F401,F403
from cnnlab.torchops.pool import *  # noqa: F401,F403
from cnnlab.torchops.activations import *  # noqa: F401,F403
from cnnlab.torchops.dropout import *  # noqa: F401,F403
from cnnlab.torchops.linear import *  # noqa: F401,F403
from cnnlab.torchops.losses import *  # noqa: F401,F403
from cnnlab.torchops.batchnorm import *  # noqa: F401,F403
import sys

# The package's names are its modules' public names (each module's __all__), not a second list of them.
# Read through sys.modules: here the functions dropout and linear shadow the modules of the same name.
_MODULES = ("padding", "conv", "pool", "activations", "dropout", "linear", "losses", "batchnorm")
__all__ = [name for module in _MODULES for name in sys.modules[f"{__name__}.{module}"].__all__]
