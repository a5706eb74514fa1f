"""cnnlab: convolutional neural networks, from NumPy reference layers to PyTorch.

The package has three tiers. Each tier imports only from the tiers above it in this list.

1. The layers: the answer key and its PyTorch counterparts
   reference       NumPy layers, forward and backward, each loop version above the vectorised one:
                   padding, conv (dilated, transposed), pool, batch norm, activations, dropout, linear, losses.
   torchops        the same names on torch tensors, on any device, differentiable by autograd.
   gradcheck       centred finite differences and relative error.
   checks          argument checks shared by both backends (ValueError / TypeError naming argument and shapes).

2. The library
   models          small_cnn, fashion_cnn, LeNet, SimpleCNN, CatsDogsCNN, VGG; count_parameters, summary, eval_mode.
   data            offline datasets (skimage photos, Fashion-MNIST, digits); CIFAR-10 and Dogs-vs-Cats loaders.
   augment         flips, shifts, crops, noise, rotations, zoom, brightness, contrast (NumPy and batched torch).
   train           fit() with progress bars, schedules and history; evaluate(), predict().
   visualize       feature maps, saliency, Grad-CAM, receptive fields, top patches, activation maximisation.
   numpy_net       a small CNN trained end to end with cnnlab.reference only.
   runtime         the one place that picks the device, seeds generators and reads CNNLAB_DEVICE and
                   CNNLAB_STATIC_WIDGETS (the data folders CNNLAB_FASHION_MNIST ... are read by cnnlab.data).

3. What serves the chapters: cnnlab.course
   One module per chapter topic: prose (numbers in the text), convolution_demos, experiments (multi-seed
   runs, paired intervals, learning curves), plots, widgets, and the figures and demos of single chapters.

Grading is its own package, cnnlab.grading: learner-side checks, the bubblewrap sandbox, the trusted
checker, and parallel and distributed autograding.
"""

from cnnlab.runtime import device, seed_everything

__version__ = "0.1.0"
__all__ = ["device", "seed_everything", "__version__"]
