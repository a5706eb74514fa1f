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

from cnnlab.reference import activations, batchnorm, conv, dropout, linear, losses, padding, pool

_MODULES = (padding, conv, pool, activations, dropout, linear, losses, batchnorm)

# One list of names per module (its __all__), not a second copy of them here.
__all__ = [name for module in _MODULES for name in module.__all__]
globals().update({name: getattr(module, name) for module in _MODULES for name in module.__all__})
