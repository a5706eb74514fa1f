"""Datasets the course can use offline, and the small conversions between image layouts.

Everything here reads files that are already on the machine; nothing downloads.

=====================  =====================================  ==========================
loader                 returns                                 source
=====================  =====================================  ==========================
``photo(name)``        uint8 (H, W, 3) or (H, W) for "camera"  bundled with scikit-image
``load_fashion_mnist`` uint8 (N, 28, 28), int64 (N,)           Debian dataset-fashion-mnist
``load_digits``        float32 (N, 8, 8) in [0, 1], int64 (N,) bundled with scikit-learn
``load_cifar10``       uint8 (N, 32, 32, 3), int64 (N,)        files you download yourself
``load_dogs_vs_cats``  uint8 (N, S, S, 3), int64 (N,)          files you download yourself
=====================  =====================================  ==========================

Layouts: loaders return images the way image libraries store them, channels last
(NHWC, or NHW for grey images). PyTorch layers want channels first (NCHW) floats;
``to_nchw``, ``to_float`` and ``as_tensor_dataset`` do that conversion.
"""

import gzip
import os
import pickle
import re
from pathlib import Path

import numpy as np
from cnnlab.checks import as_rng, positive_int

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
PHOTOS = ("chelsea", "astronaut", "coffee", "camera")

# IDX type codes (http://yann.lecun.com/exdb/mnist/): the third byte of the magic number.
# All multi-byte values in an IDX file are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _check_limit(limit):
    if limit is None:
        return None
    return positive_int(limit, "limit")


def _open_maybe_gzip(path):
    """Open ``path`` for binary reading, transparently un-gzipping it (gzip files start with 1f 8b)."""
    with open(path, "rb") as handle:
        start = handle.read(2)
    if start == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_idx(path, limit=None):
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or raw.

    Layout: 2 zero bytes, a type code byte, the number of dimensions ``d``, then ``d``
    big-endian uint32 sizes, then the values in C order. FileNotFoundError if the file is missing;
    ValueError if the magic number, type code or data length do not match (a truncated download or a
    file of another kind).

    Args:
        path: a str or Path.
        limit: read only the first ``limit`` items along axis 0 (the rest of the file is not
            decompressed, so asking for 1,000 Fashion-MNIST images is quick).

    Shape:
        the sizes from the header, axis 0 cut to ``limit``; values in native byte order.

    Example:
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()  # deleted with the object
        >>> path = Path(folder.name) / "tiny-idx1-ubyte"
        >>> _ = path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))  # uint8, 1-D, 3 values
        >>> read_idx(path), read_idx(path, limit=2)
        (array([7, 8, 9], dtype=uint8), array([7, 8], dtype=uint8))
    """
    path = Path(path)
    limit = _check_limit(limit)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with _open_maybe_gzip(path) as handle:
        magic = handle.read(4)
        if len(magic) != 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
            raise ValueError(
                f"{path} is not an IDX file: magic bytes {magic.hex() or '(empty)'}; expected "
                "00 00 <type code in 08,09,0b,0c,0d,0e> <number of dimensions>"
            )
        dtype = _IDX_DTYPES[magic[2]]
        ndim = magic[3]
        if ndim < 1:
            raise ValueError(f"{path}: IDX header declares {ndim} dimensions")
        header = handle.read(4 * ndim)
        if len(header) != 4 * ndim:
            raise ValueError(f"{path}: IDX header is truncated (expected {ndim} sizes)")
        shape = [int(s) for s in np.frombuffer(header, dtype=">u4")]
        if limit is not None:
            shape[0] = min(shape[0], limit)
        expected = int(np.prod(shape)) * dtype.itemsize
        data = handle.read(expected)
        if len(data) != expected:
            raise ValueError(
                f"{path}: IDX data is truncated: header says shape {tuple(shape)} "
                f"({expected} bytes) but only {len(data)} bytes follow"
            )
        if limit is None and handle.read(1):
            raise ValueError(f"{path}: IDX file has extra bytes after shape {tuple(shape)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _fashion_root(root):
    if root is not None:
        return Path(root), "the root argument"
    env = os.environ.get("CNNLAB_FASHION_MNIST")
    if env:
        return Path(env), "the CNNLAB_FASHION_MNIST environment variable"
    return Path(FASHION_MNIST_DIR), "the default FASHION_MNIST_DIR"


def _find_idx(directory, stem):
    for name in (stem + ".gz", stem):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def load_fashion_mnist(split="train", limit=None, root=None):
    """Load Fashion-MNIST from local IDX files; FileNotFoundError, saying how to install them, if they are missing.

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        limit: keep only the first ``limit`` images (fast: the rest is not read).
        root: directory holding ``train-images-idx3-ubyte(.gz)`` etc. Default: the environment
            variable ``CNNLAB_FASHION_MNIST``, else ``FASHION_MNIST_DIR``
            (where Debian's ``dataset-fashion-mnist`` package installs them).

    Shape:
        images uint8 ``(N, 28, 28)``, 0 = background; labels int64 ``(N,)``, indices into
        ``FASHION_MNIST_CLASSES``.

    Example:
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()  # a two-image test split in the IDX format
        >>> root = Path(folder.name)
        >>> header = bytes([0, 0, 0x08, 3]) + np.array([2, 28, 28], ">u4").tobytes()
        >>> _ = (root / "t10k-images-idx3-ubyte").write_bytes(header + bytes(2 * 28 * 28))
        >>> _ = (root / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 9, 4]))
        >>> images, labels = load_fashion_mnist("test", root=root)
        >>> images.shape, [FASHION_MNIST_CLASSES[i] for i in labels]
        ((2, 28, 28), ['Ankle boot', 'Coat'])
    """
    if split not in _FASHION_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    limit = _check_limit(limit)
    directory, source = _fashion_root(root)
    image_stem, label_stem = _FASHION_FILES[split]
    image_path, label_path = _find_idx(directory, image_stem), _find_idx(directory, label_stem)
    if image_path is None or label_path is None:
        missing = image_stem if image_path is None else label_stem
        raise FileNotFoundError(
            f"Fashion-MNIST file {missing}(.gz) not found in {directory} (set by {source}).\n"
            "Install the files with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, "
            f"puts them in {FASHION_MNIST_DIR}), or download the four *-ubyte.gz files from "
            "https://github.com/zalandoresearch/fashion-mnist yourself and point "
            "load_fashion_mnist(root=...) or the CNNLAB_FASHION_MNIST environment variable at "
            "their folder."
        )
    images = read_idx(image_path, limit=limit)
    labels = read_idx(label_path, limit=limit).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"Fashion-MNIST files disagree: images {images.shape} from {image_path}, "
            f"labels {labels.shape} from {label_path}"
        )
    return images, labels


def load_digits():
    """scikit-learn's 1,797 handwritten digits: float32 (N, 8, 8) in [0, 1] and int64 labels 0-9.

    Shape:
        images float32 ``(1797, 8, 8)`` in [0, 1]; labels int64 ``(1797,)``.

    Example:
        >>> images, labels = load_digits()
        >>> images.shape, float(images.max()), labels[:5].tolist()
        ((1797, 8, 8), 1.0, [0, 1, 2, 3, 4])
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    # sklearn stores counts 0..16 (how many of 16 sub-pixels were ink).
    images = (digits.images / 16.0).astype(np.float32)
    return images, digits.target.astype(np.int64)


def photo(name="chelsea"):
    """A test photo bundled with scikit-image: uint8 (H, W, 3), or (H, W) for the grey "camera".

    Args:
        name: one of ``PHOTOS``: "chelsea" (a cat, 300x451), "astronaut" (512x512),
            "coffee" (400x600), "camera" (grey, 512x512).

    Shape:
        uint8 ``(H, W, 3)``, or ``(H, W)`` for "camera".

    Example:
        >>> photo().shape, photo("camera").shape, photo().dtype
        ((300, 451, 3), (512, 512), dtype('uint8'))
    """
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {PHOTOS}, got {name!r}")
    import skimage.data

    return np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)


# --------------------------------------------------------------------- CIFAR-10

_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _cifar_dir(root):
    if root is None:
        root = os.environ.get("CNNLAB_CIFAR10")
    if root is None:
        raise FileNotFoundError(
            "load_cifar10 needs root= (or the CNNLAB_CIFAR10 environment variable): the course "
            f"never downloads. Download {_CIFAR_URL} yourself, extract it, and pass the folder "
            "that contains cifar-10-batches-py/."
        )
    root = Path(root)
    for candidate in (root / "cifar-10-batches-py", root):
        if (candidate / "test_batch").is_file() or (candidate / "data_batch_1").is_file():
            return candidate
    raise FileNotFoundError(
        f"No CIFAR-10 batches under {root} (looked for {root / 'cifar-10-batches-py' / 'data_batch_1'} "
        f"and {root / 'data_batch_1'}). Download the *python* version {_CIFAR_URL} yourself, "
        f"run `tar xzf cifar-10-python.tar.gz -C {root}`, and call load_cifar10(root={str(root)!r})."
    )


def _read_cifar_batch(path):
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch missing: {path} (re-extract {_CIFAR_URL})")
    # The official batches are Python pickles; only load files you downloaded from the source above.
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a CIFAR-10 python batch (no b'data' / b'labels')") from err
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{path}: expected data (N, 3072) and labels (N,), got {data.shape} and {labels.shape}"
        )
    # Each row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_cifar10(root=None, split="train"):
    """Load CIFAR-10 from the python-pickle batches you downloaded yourself (the course never downloads).

    Args:
        root: folder containing ``cifar-10-batches-py/`` (or that folder itself); default: the
            environment variable ``CNNLAB_CIFAR10``.
        split: "train" (data_batch_1..5, 50,000 images) or "test" (test_batch, 10,000 images).

    Shape:
        images uint8 ``(N, 32, 32, 3)`` channels last; labels int64 ``(N,)``, indices into ``CIFAR10_CLASSES``.

    Example:
        >>> import pickle, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> root = Path(folder.name)
        >>> batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 5]}  # the pickled layout
        >>> root.joinpath("test_batch").write_bytes(pickle.dumps(batch)) > 0
        True
        >>> images, labels = load_cifar10(root, split="test")
        >>> images.shape, labels.tolist()
        ((2, 32, 32, 3), [3, 5])
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = _cifar_dir(root)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts = [_read_cifar_batch(directory / name) for name in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --------------------------------------------------------------- Dogs vs Cats

_DOGS_URL = "https://www.kaggle.com/c/dogs-vs-cats/data"
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _natural_key(path):
    # cat.2.jpg before cat.10.jpg
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _images_in(folder):
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES), key=_natural_key)


def _dogs_vs_cats_files(directory):
    """Return (cat_files, dog_files) for either Kaggle layout, or None if neither is there."""
    for cat_name, dog_name in (("cats", "dogs"), ("cat", "dog")):
        if (directory / cat_name).is_dir() and (directory / dog_name).is_dir():
            return _images_in(directory / cat_name), _images_in(directory / dog_name)
    if directory.is_dir():
        files = _images_in(directory)
        cats = [p for p in files if p.name.lower().startswith("cat.")]
        dogs = [p for p in files if p.name.lower().startswith("dog.")]
        if cats or dogs:
            return cats, dogs
    return None


def load_dogs_vs_cats(root=None, image_size=150, limit=None, split=None, progress=True):
    """Load Kaggle's Dogs vs. Cats photos you downloaded yourself, resized to squares.

    Accepted layouts (``split`` picks a sub-folder such as "train" or "validation"):

    - Kaggle competition zip: ``root/train/cat.0.jpg``, ``root/train/dog.0.jpg`` ...
    - class folders (Chollet's "cats_and_dogs_small"): ``root/train/cats/*.jpg``, ``root/train/dogs/*.jpg``
    - either of the above directly in ``root``.

    Args:
        root: folder as above; default: the environment variable ``CNNLAB_DOGS_VS_CATS``.
        image_size: side S of the square output (photos are resized, not cropped).
        limit: at most this many images *per class* (keeps the classes balanced).
        split: sub-folder of ``root`` to read; None reads ``root`` (or ``root/train`` if ``root``
            itself holds no images).
        progress: show a tqdm bar while decoding.

    Shape:
        images uint8 ``(N, S, S, 3)``; labels int64 ``(N,)``, 0 = cat, 1 = dog. All cats come first;
        shuffle before splitting.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = tempfile.TemporaryDirectory()
        >>> root = Path(folder.name)
        >>> (root / "train").mkdir()
        >>> for name in ("cat.0.jpg", "cat.1.jpg", "dog.0.jpg"):
        ...     Image.new("RGB", (20, 30)).save(root / "train" / name)
        >>> images, labels = load_dogs_vs_cats(root, image_size=16, progress=False)
        >>> images.shape, labels.tolist()
        ((3, 16, 16, 3), [0, 0, 1])
    """
    image_size = positive_int(image_size, "image_size")
    limit = _check_limit(limit)
    if root is None:
        root = os.environ.get("CNNLAB_DOGS_VS_CATS")
    hint = (
        f"Download the Dogs vs. Cats images from {_DOGS_URL} yourself (a Kaggle account is needed), "
        "unzip them so that you have ROOT/train/cat.0.jpg ... or ROOT/train/cats/*.jpg and "
        "ROOT/train/dogs/*.jpg, then call load_dogs_vs_cats(root=ROOT) or set CNNLAB_DOGS_VS_CATS=ROOT."
    )
    if root is None:
        raise FileNotFoundError("load_dogs_vs_cats needs root=. " + hint)
    root = Path(root)
    directory = root / split if split else root
    found = _dogs_vs_cats_files(directory)
    if found is None and split is None:
        found = _dogs_vs_cats_files(root / "train")
    if found is None or not (found[0] or found[1]):
        raise FileNotFoundError(f"No cat/dog images found under {directory}. " + hint)
    cats, dogs = found
    if limit is not None:
        cats, dogs = cats[:limit], dogs[:limit]
    from PIL import Image
    from tqdm.auto import tqdm

    files = cats + dogs
    images = np.empty((len(files), image_size, image_size, 3), dtype=np.uint8)
    for i, path in enumerate(tqdm(files, desc="decoding photos", disable=not progress)):
        with Image.open(path) as img:
            images[i] = np.asarray(img.convert("RGB").resize((image_size, image_size), Image.BILINEAR))
    labels = np.array([0] * len(cats) + [1] * len(dogs), dtype=np.int64)
    return images, labels


# ------------------------------------------------------------- small helpers


def balanced_subset(labels, per_class, rng=None):
    """Indices of ``per_class`` random examples of every class in ``labels``, shuffled together.

    Raises ValueError if a class has fewer than ``per_class`` examples.

    Args:
        labels: ``(N,)`` class labels.
        per_class: examples to draw from each class, without replacement.
        rng: a ``np.random.Generator``, an int seed or None (see ``cnnlab.checks.as_rng``).

    Shape:
        ``labels (N,) -> int64 (num_classes * per_class,)``.

    Example:
        >>> labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
        >>> index = balanced_subset(labels, 2, rng=0)
        >>> index.shape, np.bincount(labels[index]).tolist()
        ((6,), [2, 2, 2])
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    per_class = positive_int(per_class, "per_class")
    rng = as_rng(rng)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if members.size < per_class:
            raise ValueError(f"class {cls.item()!r} has only {members.size} examples, per_class={per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return rng.permutation(np.concatenate(chosen)).astype(np.int64)


def _is_tensor(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "permute")


def to_nchw(images):
    """Channels-last to channels-first: (N, H, W) -> (N, 1, H, W); (N, H, W, C) -> (N, C, H, W).

    Args:
        images: a NumPy array or a torch tensor; the dtype is kept (a view where possible).

    Shape:
        ``(N, H, W) -> (N, 1, H, W)``; ``(N, H, W, C) -> (N, C, H, W)``.

    Example:
        >>> to_nchw(np.zeros((2, 5, 6, 3))).shape, to_nchw(np.zeros((2, 5, 6))).shape
        ((2, 3, 5, 6), (2, 1, 5, 6))
    """
    if images.ndim == 3:
        return images[:, None, :, :]
    if images.ndim == 4:
        return images.permute(0, 3, 1, 2) if _is_tensor(images) else np.transpose(images, (0, 3, 1, 2))
    raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {tuple(images.shape)}")


def to_nhwc(images):
    """Channels-first to channels-last, the inverse of :func:`to_nchw` on 4-D input.

    Args:
        images: a NumPy array or a torch tensor; the dtype is kept.

    Shape:
        ``(N, C, H, W) -> (N, H, W, C)``.

    Example:
        >>> import torch
        >>> to_nhwc(torch.zeros(2, 3, 5, 6)).shape
        torch.Size([2, 5, 6, 3])
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    return images.permute(0, 2, 3, 1) if _is_tensor(images) else np.transpose(images, (0, 2, 3, 1))


def to_float(images):
    """uint8 in [0, 255] -> float32 in [0, 1]; float or bool images -> float32 unchanged in value.

    Args:
        images: an array of any shape, uint8, float or bool.

    Shape:
        unchanged.

    Example:
        >>> to_float(np.array([0, 51, 255], np.uint8))
        array([0. , 0.2, 1. ], dtype=float32)
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    if images.dtype.kind in "fb":
        return images.astype(np.float32)
    raise TypeError(
        f"images must be uint8 (0-255) or float (already scaled), got dtype {images.dtype}"
    )


def images_to_nchw_float(images):
    """The one rule the training loop uses to turn images into model input.

    - uint8 (N, H, W) or (N, H, W, C): channels last, scaled to float32 [0, 1], made (N, C, H, W)
    - float (N, H, W): a channel axis is added -> (N, 1, H, W)
    - float (N, C, H, W): taken as channels first, as PyTorch expects (cast to float32)

    NumPy arrays come back as NumPy, tensors as tensors. A float array that looks channels-last
    (last axis 1, 3 or 4 and axis 1 not) raises ValueError instead of being misread.

    Args:
        images: a NumPy array or a torch tensor, as above.

    Shape:
        ``(N, H, W)`` or ``(N, H, W, C)`` uint8 -> ``(N, C, H, W)`` float32 in [0, 1];
        ``(N, H, W)`` float -> ``(N, 1, H, W)``; ``(N, C, H, W)`` float -> the same shape.

    Example:
        >>> x = images_to_nchw_float(np.full((2, 4, 4, 3), 255, np.uint8))
        >>> x.shape, x.dtype, float(x.max())
        ((2, 3, 4, 4), dtype('float32'), 1.0)
    """
    tensor = _is_tensor(images)
    if not tensor:
        images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be (N, H, W), (N, H, W, C) uint8 or (N, C, H, W) float, got shape {tuple(images.shape)}"
        )
    is_uint8 = str(images.dtype) in ("uint8", "torch.uint8")
    if is_uint8:
        nchw = to_nchw(images)
        return nchw.float().div(255.0) if tensor else to_float(nchw)
    if images.ndim == 3:
        images = images[:, None]
    elif images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"float images of shape {tuple(images.shape)} look channels-last (N, H, W, C); "
            "float images must be (N, C, H, W): convert with cnnlab.data.to_nchw(images) first"
        )
    if tensor:
        return images.float()
    if images.dtype.kind not in "fb":
        raise TypeError(f"images must be uint8 or float, got dtype {images.dtype}")
    return images.astype(np.float32)


def as_tensor_dataset(images, labels):
    """Wrap images and labels as a ``torch.utils.data.TensorDataset``.

    Args:
        images: uint8 (N, H, W) / (N, H, W, C), or float (N, C, H, W) (see :func:`images_to_nchw_float`).
        labels: ``(N,)`` integer class labels.

    Shape:
        the dataset yields ``(float32 (C, H, W) in [0, 1], int64 label)``.

    Example:
        >>> dataset = as_tensor_dataset(np.zeros((3, 28, 28), np.uint8), [0, 1, 2])
        >>> image, label = dataset[2]
        >>> len(dataset), tuple(image.shape), int(label)
        (3, (1, 28, 28), 2)
    """
    import torch as pytorch

    x = images_to_nchw_float(images)
    x = x if _is_tensor(x) else pytorch.from_numpy(np.ascontiguousarray(x))
    y = labels if _is_tensor(labels) else pytorch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"labels must be (N,) with N = {x.shape[0]} images, got shape {tuple(y.shape)}")
    if y.dtype.is_floating_point:
        raise TypeError("labels must be integers (class indices), got a floating-point array")
    return pytorch.utils.data.TensorDataset(x.float().contiguous(), y.long())
