"""cnnlab.data: IDX reading, the offline datasets, fixture-based CIFAR-10 / Dogs-vs-Cats loaders, layouts."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from cnnlab import data


def write_idx(path, array, compress=False):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    array = np.asarray(array)
    dtype = array.dtype if array.dtype == np.uint8 else array.dtype.newbyteorder(">")
    payload = bytes([0, 0, codes[dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(dtype).tobytes()
    with (gzip.open if compress else open)(path, "wb") as handle:
        handle.write(payload)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    rng = np.random.default_rng(0)
    array = (rng.random((5, 3, 4)) * 100).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, compress)
    result = data.read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    np.testing.assert_array_equal(data.read_idx(path, limit=2), array[:2])


def test_read_idx_rejects_corrupt_files(tmp_path):
    bad_magic = tmp_path / "bad_magic"
    bad_magic.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(bad_magic)
    truncated = tmp_path / "truncated.gz"
    write_idx(truncated, np.zeros((4, 2, 2), np.uint8), compress=True)
    raw = gzip.decompress(truncated.read_bytes())[:-3]
    truncated.write_bytes(gzip.compress(raw))
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(truncated)
    extra = tmp_path / "extra"
    extra.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + b"abc")
    with pytest.raises(ValueError, match="extra bytes"):
        data.read_idx(extra)
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "missing")


def test_load_fashion_mnist_real_files():
    images, labels = data.load_fashion_mnist("test", limit=500)
    assert images.shape == (500, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (500,) and labels.dtype == np.int64
    assert set(np.unique(labels)) <= set(range(10)) and len(np.unique(labels)) == 10
    assert images.max() == 255 and images.min() == 0
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_load_fashion_mnist_raw_files_from_root(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(7, dtype=np.uint8))
    x, y = data.load_fashion_mnist("train", root=tmp_path)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, np.arange(7))


def test_load_fashion_mnist_missing_says_what_to_install(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(root=tmp_path)
    monkeypatch.setenv("CNNLAB_FASHION_MNIST", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="CNNLAB_FASHION_MNIST"):
        data.load_fashion_mnist()
    with pytest.raises(ValueError, match="split"):
        data.load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="limit"):
        data.load_fashion_mnist(limit=0)


def test_load_digits_and_photos():
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() == 1.0
    assert labels.dtype == np.int64 and set(np.unique(labels)) == set(range(10))
    cat = data.photo("chelsea")
    assert cat.shape == (300, 451, 3) and cat.dtype == np.uint8
    assert data.photo("camera").shape == (512, 512)
    with pytest.raises(ValueError, match="name"):
        data.photo("dog")


def make_cifar(root, n_per_batch=6):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, (n_per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        # The official layout: each row is the red plane, then green, then blue.
        rows = images.transpose(0, 3, 1, 2).reshape(n_per_batch, -1)
        with open(folder / name, "wb") as handle:
            pickle.dump({b"data": rows, b"labels": labels, b"batch_label": name.encode()}, handle)
        batches[name] = (images, np.array(labels))
    return batches


def test_load_cifar10_from_pickled_batches(tmp_path):
    batches = make_cifar(tmp_path)
    x, y = data.load_cifar10(tmp_path, "train")
    assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    expected = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(x, expected)
    xt, yt = data.load_cifar10(tmp_path / "cifar-10-batches-py", "test")
    np.testing.assert_array_equal(xt, batches["test_batch"][0])
    np.testing.assert_array_equal(yt, batches["test_batch"][1])
    assert len(data.CIFAR10_CLASSES) == 10


def test_load_cifar10_missing_tells_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNLAB_CIFAR10", raising=False)
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        data.load_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match="root="):
        data.load_cifar10()
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match="3072"):
        data.load_cifar10(tmp_path)


def write_jpegs(folder, names, colour, size=(40, 30)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", size, colour).save(folder / name)


def test_load_dogs_vs_cats_kaggle_file_names(tmp_path):
    train = tmp_path / "train"
    write_jpegs(train, ["cat.0.jpg", "cat.2.jpg", "cat.10.jpg"], (250, 10, 10))
    write_jpegs(train, ["dog.0.jpg", "dog.1.jpg"], (10, 10, 250))
    images, labels = data.load_dogs_vs_cats(tmp_path, image_size=16, progress=False)
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    # Cats were drawn red, dogs blue: the label must follow the file, JPEG loss aside.
    assert np.all(images[labels == 0, ..., 0].mean(axis=(1, 2)) > 200)
    assert np.all(images[labels == 1, ..., 2].mean(axis=(1, 2)) > 200)
    images, labels = data.load_dogs_vs_cats(tmp_path, image_size=8, limit=1, progress=False)
    np.testing.assert_array_equal(labels, [0, 1])


def test_load_dogs_vs_cats_class_folders_and_split(tmp_path):
    write_jpegs(tmp_path / "validation" / "cats", ["a.jpg", "b.jpg"], (200, 200, 200))
    write_jpegs(tmp_path / "validation" / "dogs", ["c.jpg"], (0, 0, 0))
    images, labels = data.load_dogs_vs_cats(tmp_path, image_size=12, split="validation", progress=False)
    assert images.shape == (3, 12, 12, 3)
    np.testing.assert_array_equal(labels, [0, 0, 1])
    with pytest.raises(FileNotFoundError, match="kaggle"):
        data.load_dogs_vs_cats(tmp_path, split="train")
    with pytest.raises(ValueError, match="image_size"):
        data.load_dogs_vs_cats(tmp_path, image_size=0)


def test_balanced_subset():
    labels = np.repeat(np.arange(4), [10, 20, 5, 7])
    idx = data.balanced_subset(labels, 5, np.random.default_rng(0))
    assert idx.shape == (20,) and len(set(idx.tolist())) == 20
    np.testing.assert_array_equal(np.bincount(labels[idx]), [5, 5, 5, 5])
    again = data.balanced_subset(labels, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(idx, again)
    with pytest.raises(ValueError, match="class 2 has only 5"):
        data.balanced_subset(labels, 6, 0)


def test_layout_conversions():
    nhwc = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    nchw = data.to_nchw(nhwc)
    assert nchw.shape == (2, 3, 5, 6)
    assert nchw[1, 2, 4, 5] == nhwc[1, 4, 5, 2]
    np.testing.assert_array_equal(data.to_nhwc(nchw), nhwc)
    assert data.to_nchw(nhwc[..., 0]).shape == (2, 1, 5, 6)
    t = torch.from_numpy(nhwc)
    assert torch.equal(data.to_nhwc(data.to_nchw(t)), t)
    f = data.to_float(nhwc)
    assert f.dtype == np.float32 and f.max() <= 1.0 and np.isclose(f.max(), nhwc.max() / 255)
    with pytest.raises(TypeError, match="dtype int64"):
        data.to_float(nhwc.astype(np.int64))
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        data.to_nchw(np.zeros((2, 5)))


def test_images_to_nchw_float_rules():
    u8 = np.full((3, 4, 4), 255, np.uint8)
    x = data.images_to_nchw_float(u8)
    assert x.shape == (3, 1, 4, 4) and x.dtype == np.float32 and x.max() == 1.0
    f = np.zeros((3, 2, 4, 5), np.float64)
    assert data.images_to_nchw_float(f).shape == (3, 2, 4, 5)
    with pytest.raises(ValueError, match="channels-last"):
        data.images_to_nchw_float(np.zeros((3, 8, 8, 3), np.float32))


def test_as_tensor_dataset():
    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    ds = data.as_tensor_dataset(images, np.arange(6))
    assert len(ds) == 6
    x, y = ds[2]
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64 and int(y) == 2
    assert torch.allclose(x, torch.from_numpy(images[2]).permute(2, 0, 1).float() / 255)
    with pytest.raises(ValueError, match="labels"):
        data.as_tensor_dataset(images, np.arange(5))
