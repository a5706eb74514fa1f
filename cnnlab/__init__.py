"""cnnlab: convolutional neural networks, from NumPy reference layers to PyTorch.

Submodules
----------
reference  NumPy layers with forward and backward (the answer key).
torch      PyTorch counterparts with the same names, on any device.
gradcheck  centred finite differences and relative error.
models     SimpleCNN, CatsDogsCNN, VGG, summary().
data       offline datasets (skimage photos, Fashion-MNIST, digits) and loaders for CIFAR-10 / Dogs-vs-Cats.
augment    flips, shifts, rotations, zoom, brightness, contrast (NumPy and batched torch).
train      a fit loop with progress bars and history.
plots, widgets, grading.

Note: this file must not use PyTorch under the name ``torch``: once
``cnnlab.torch`` is imported, ``torch`` inside this package namespace is that
submodule. ``device()`` therefore imports PyTorch lazily under another name.
"""

from cnnlab._device import device, seed_everything

__version__ = "0.1.0"
__all__ = ["device", "seed_everything", "__version__"]
