"""The answer keys of the exercises that have no counterpart in the package, and the grader's data.

Trusted side and learner's kernel only: never copied into the grading sandbox.
"""

import contextlib
import copy

import numpy as np

__all__ = ["answers", "count_params", "accuracy_of", "reference_vgg_features", "batch_norm2d_with_running_stats",
           "fashion_mnist_tensors", "full_size", "model_device", "reference_model"]

# check_model cases with images at least this large (a full-size VGG) are built on the "meta" device.
FULL_SIZE = 128


class answers:
    """Answer keys for exercise functions that have no counterpart in the package."""

    @staticmethod
    def image_layout(images, layout="NHWC"):
        """(N, C, H, W) of a 4-D batch stored as NHWC or NCHW.

        Args:
            images (array-like): a 4-D batch.
            layout (str): "NHWC" or "NCHW".

        Example:
            >>> answers.image_layout(np.zeros((2, 32, 32, 3))), answers.image_layout(np.zeros((2, 3, 8, 8)), "NCHW")
            ((2, 3, 32, 32), (2, 3, 8, 8))
        """
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"images must be a 4-D batch, got shape {images.shape}")
        if layout == "NHWC":
            n, h, w, c = images.shape
        elif layout == "NCHW":
            n, c, h, w = images.shape
        else:
            raise ValueError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}")
        return (n, c, h, w)

    @staticmethod
    def to_grayscale(images):
        """Luma with ITU-R BT.601 weights: (..., 3) -> (...), dtype kept.

        Example:
            >>> answers.to_grayscale(np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
            array([1.   , 0.299])
        """
        weights = np.array([0.299, 0.587, 0.114], dtype=images.dtype)
        return images @ weights

    @staticmethod
    def flip_image(img, horizontal=True):
        """The image mirrored left-right (``horizontal``) or upside down, as a new array.

        Example:
            >>> image = np.array([[1, 2], [3, 4]])
            >>> answers.flip_image(image).tolist(), answers.flip_image(image, horizontal=False).tolist()
            ([[2, 1], [4, 3]], [[3, 4], [1, 2]])
        """
        return np.flip(img, axis=1 if horizontal else 0).copy()

    @staticmethod
    def shift_image(img, dy, dx):
        """Move the content dy rows down and dx columns right; uncovered pixels are 0.

        Args:
            img (np.ndarray): (H, W) or (H, W, C).
            dy, dx (int): the shift (negative: up, left).

        Example:
            >>> answers.shift_image(np.arange(1, 7).reshape(2, 3), 1, -1).tolist()
            [[0, 0, 0], [2, 3, 0]]
        """
        out = np.zeros_like(img)
        h, w = img.shape[:2]
        if abs(dy) >= h or abs(dx) >= w:
            return out
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
            max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
        ]
        return out

    @staticmethod
    def conv_params(in_channels, out_channels, kernel_size=3, bias=True):
        """Parameters of an ``nn.Conv2d``: F * C * KH * KW weights, plus F biases.

        Example:
            >>> answers.conv_params(3, 64), answers.conv_params(64, 64, kernel_size=(1, 3), bias=False)
            (1792, 12288)
        """
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        return out_channels * in_channels * kh * kw + (out_channels if bias else 0)

    @staticmethod
    def feature_shapes(cfg, in_channels=3, image_size=224):
        """(C, H, W) after each item of a VGG cfg (3x3 convs with padding 1, 2x2 max pools).

        Example:
            >>> answers.feature_shapes([8, "M", 16], in_channels=1, image_size=7)
            [(8, 7, 7), (8, 3, 3), (16, 3, 3)]
        """
        from cnnlab.reference import output_size

        shapes, c, size = [], in_channels, image_size
        for item in cfg:
            if item == "M":
                size = output_size(size, 2, 2)
            else:
                c = item
            shapes.append((c, size, size))
        return shapes


def _torch():
    import torch as pytorch  # the real PyTorch (this module is not inside cnnlab.torchops)

    return pytorch


def count_params(model):
    """Number of scalar parameters (``cnnlab.models.count_parameters``).

    Example:
        >>> import torch
        >>> count_params(torch.nn.Linear(3, 2))
        8
    """
    from cnnlab.models import count_parameters

    return count_parameters(model)


def accuracy_of(model, images, labels, batch_size=500):
    """The grader's accuracy: fraction of argmax(logits) == labels, in eval mode, no gradients.

    Args:
        model (torch.nn.Module): gives (N, classes) logits.
        images (torch.Tensor): the held-out images.
        labels (torch.Tensor): their labels (int64).
        batch_size (int): images per forward pass.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.eye(2))
        >>> accuracy_of(model, torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]), torch.tensor([0, 1, 1]))
        0.6666666666666666
    """
    pytorch = _torch()
    model.eval()
    correct = 0
    with pytorch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(images[start : start + batch_size])
            correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def full_size(case):
    """True for a ``check_model`` case of full size: its models are built on the "meta" device (no
    memory, no time) and only their parameter counts are compared.

    Example:
        >>> full_size({"cfg": [64, "M"], "image_size": 224}), full_size({"cfg": [4, "M"], "image_size": 8})
        (True, False)
    """
    return case.get("image_size", 0) >= FULL_SIZE


def model_device(case):
    """The context the models of a ``check_model`` case are built in: ``torch.device("meta")`` at full size.

    Example:
        >>> import torch
        >>> with model_device({"image_size": 224}):
        ...     print(torch.nn.Linear(2, 2).weight.device)
        meta
    """
    return _torch().device("meta") if full_size(case) else contextlib.nullcontext()


def reference_model(reference, case):
    """The answer key's model ``reference(**case)`` of one ``check_model`` case (seeded; on "meta" at full size).

    Example:
        >>> import torch
        >>> model = reference_model(lambda image_size: torch.nn.Linear(image_size, 2), {"image_size": 224})
        >>> count_params(model), model.weight.device.type
        (450, 'meta')
    """
    with model_device(case):
        _torch().manual_seed(0)
        return reference(**copy.deepcopy(case))


def reference_vgg_features(cfg, in_channels=3, batch_norm=False):
    """The answer key for ``make_features``: the ``features`` part of ``cnnlab.models.VGG``.

    Example:
        >>> count_params(reference_vgg_features([4, "M", 8], in_channels=1)) == (4 * 9 + 4) + (8 * 4 * 9 + 8)
        True
    """
    from cnnlab.models import VGG

    pools = sum(1 for item in cfg if item == "M")
    return VGG(cfg, num_classes=2, in_channels=in_channels, image_size=max(2**pools, 1), batch_norm=batch_norm,
               hidden=2).features


def batch_norm2d_with_running_stats(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    """The answer key for the running statistics of exercise 09: ``(out, running_mean, running_var)``.

    ``cnnlab.reference.batch_norm2d`` updates the running statistics in place and returns ``out`` only;
    ``check`` compares return values, so this key returns them too (as new arrays, after one call).
    A test cell wraps the student's function the same way.

    Example:
        >>> x = np.arange(8.0).reshape(2, 1, 2, 2)
        >>> out, mean, var = batch_norm2d_with_running_stats(x, None, None, np.zeros(1), np.ones(1), momentum=1.0)
        >>> out.shape, mean.tolist(), var.tolist()
        ((2, 1, 2, 2), [3.5], [6.0])
        >>> _, mean, var = batch_norm2d_with_running_stats(x, None, None, np.zeros(1), np.ones(1), training=False)
        >>> mean.tolist(), var.tolist()
        ([0.0], [1.0])
    """
    from cnnlab.reference import batch_norm2d

    running_mean, running_var = np.array(running_mean, copy=True), np.array(running_var, copy=True)
    out = batch_norm2d(x, gamma, beta, running_mean, running_var, training=training, momentum=momentum, eps=eps)
    return out, running_mean, running_var


def fashion_mnist_tensors(train=3000, test=1000):
    """Float32 (N, 1, 28, 28) tensors in [0, 1] and int64 labels: the first ``train`` training and
    ``test`` test images of Fashion-MNIST (the grader's own conversion, independent of the student's).

    Args:
        train (int): how many training images.
        test (int): how many test images.

    Returns:
        tuple: ``(x_train, y_train, x_test, y_test)``.
    """
    pytorch = _torch()
    from cnnlab.data import load_fashion_mnist

    tensors = []
    for split, limit in (("train", train), ("test", test)):
        images, labels = load_fashion_mnist(split, limit=limit)
        tensors.append(pytorch.from_numpy(images[:, None].astype(np.float32) / np.float32(255.0)))
        tensors.append(pytorch.from_numpy(labels.astype(np.int64)))
    return tuple(tensors)


