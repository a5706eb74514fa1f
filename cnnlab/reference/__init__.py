"""NumPy reference layers: the course's answer key, checked against PyTorch and finite differences.

Every layer has a forward function and, beside it, a ``*_backward`` that returns the
gradients given the upstream gradient ``dout`` (CS231n's layers.py style); each loop
version (``*_naive``) sits directly above the vectorised function it explains. Arrays are
NCHW like PyTorch. Float dtypes are kept (float32 in, float32 out); integer and bool
inputs are promoted to float64. Bad arguments raise ValueError/TypeError naming the
argument and the shapes (see ``cnnlab.checks``).

Modules: padding, conv, pool, activations, dropout, linear, losses, batchnorm. The package
exports every public name of each (its ``__all__``), so ``cnnlab.reference.conv2d`` is
``cnnlab.reference.conv.conv2d``.
"""

from cnnlab.reference.padding import *  # noqa: F401,F403
from cnnlab.reference.conv import *  # noqa: F401,F403
from cnnlab.reference.pool import *  # noqa: F401,F403
from cnnlab.reference.activations import *  # noqa: F401,F403
from cnnlab.reference.dropout import *  # noqa: F401,F403
from cnnlab.reference.linear import *  # noqa: F401,F403
from cnnlab.reference.losses import *  # noqa: F401,F403
from cnnlab.reference.batchnorm import *  # noqa: F401,F403
import sys

# The package's names are its modules' public names (each module's __all__), not a second list of them.
# Read through sys.modules: here the functions dropout and linear shadow the modules of the same name.
_MODULES = ("padding", "conv", "pool", "activations", "dropout", "linear", "losses", "batchnorm")
__all__ = [name for module in _MODULES for name in sys.modules[f"{__name__}.{module}"].__all__]
