"""cnnlab: convolutional neural networks, from NumPy reference layers to PyTorch.

Submodules
----------
reference           NumPy layers with forward and backward (the answer key the graders use).
torch               PyTorch counterparts with the same names, on any device.
gradcheck           centred finite differences and relative error.
models              SimpleCNN, CatsDogsCNN, VGG, count_parameters, summary().
data                offline datasets (skimage photos, Fashion-MNIST, digits); CIFAR-10 and Dogs-vs-Cats loaders.
augment             flips, shifts, rotations, zoom, brightness, contrast (NumPy and batched torch).
train               fit() with progress bars and history; evaluate(), predict().
numpy_net           a small CNN trained end to end with cnnlab.reference only.
convolution_demos   named kernels, true convolution, dense-vs-conv parameter counts, receptive fields.
experiments         the overfitting and augmentation experiments the book runs.
visualize           feature maps, saliency, Grad-CAM.
plots, widgets      figures (plots.windows: sliding-window steps) and ipywidgets explorers.
grading             what the nbgrader test cells call: mismatch messages, cheat detection.

Note: this file must not use PyTorch under the name ``torch``: once
``cnnlab.torch`` is imported, ``torch`` inside this package namespace is that
submodule. ``device()`` therefore imports PyTorch lazily under another name.
"""

from cnnlab._device import device, seed_everything

__version__ = "0.1.0"
__all__ = ["device", "seed_everything", "__version__"]
