"""cnnlab: convolutional neural networks, from NumPy reference layers to PyTorch.

Submodules
----------
The layers (the answer key and its PyTorch twin)
reference           NumPy layers with forward and backward: conv (dilated, transposed), pool, batch norm, ...
torch               PyTorch counterparts with the same names, on any device.
gradcheck           centred finite differences and relative error.

The library
models              SimpleCNN, CatsDogsCNN, LeNet, VGG, count_parameters, summary(), activation_bytes().
data                offline datasets (skimage photos, Fashion-MNIST, digits); CIFAR-10 and Dogs-vs-Cats loaders.
augment             flips, shifts, crops, noise, rotations, zoom, brightness, contrast (NumPy and batched torch).
train               fit() with progress bars, schedules and history; evaluate(), predict().
experiments         multi-seed runs, paired intervals, learning curves.
numpy_net           a small CNN trained end to end with cnnlab.reference only.
visualize           feature maps, saliency, Grad-CAM, top patches, activation maximisation.

What serves the chapters
course              one module per chapter topic (prose with measured numbers, figures, demos).
convolution_demos   named kernels, true convolution, dense-vs-conv parameter counts.
plots, widgets      figures (plots.windows: sliding-window steps) and ipywidgets explorers.

Grading (its own package)
grading             nbgrader test-cell helpers for learners, the bubblewrap sandbox, the trusted checker,
                    parallel and distributed autograding (grading.batch).

Note: this file must not use PyTorch under the name ``torch``: once
``cnnlab.torch`` is imported, ``torch`` inside this package namespace is that
submodule. ``device()`` therefore imports PyTorch lazily under another name.
"""

from cnnlab._device import device, seed_everything

__version__ = "0.1.0"
__all__ = ["device", "seed_everything", "__version__"]
