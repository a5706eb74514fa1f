"""A learner with a GPU: training and the cnnlab.torchops ops on CUDA, and no hard-coded .cuda().

The CUDA tests are marked ``gpu`` and skip cleanly without a CUDA device (CI has none); on a GPU
machine plain ``pytest`` runs them. The static check that no chapter, exercise or module calls
``.cuda()`` runs everywhere.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnlab
from cnnlab import torchops as ct
from cnnlab.data import load_digits
from cnnlab.train import fit

ROOT = Path(__file__).resolve().parents[1]
needs_cuda = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def cuda_test(function):
    for mark in needs_cuda:
        function = mark(function)
    return function


# ----------------------------------------------------------------------------- everywhere

HARD_CODED = re.compile(r"\.cuda\(|device\s*=\s*['\"]cuda|torch\.device\(\s*['\"]cuda")


def sources():
    for path in sorted(ROOT.glob("book/*.ipynb")) + sorted(ROOT.glob("exercises/*/*.ipynb")) \
            + sorted(ROOT.glob("solutions/*/*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "code":
                yield f"{path.relative_to(ROOT)} cell {i}", "".join(cell["source"])
    for path in sorted((ROOT / "cnnlab").rglob("*.py")):
        if path.name == "runtime.py":
            continue  # cnnlab.device() itself: the one place that names "cuda"
        # Docstrings and comments may say ".cuda()" (to say it is not used); code may not.
        code = "\n".join(line.split("#")[0] for line in path.read_text(encoding="utf-8").splitlines())
        code = re.sub(r'"""[\s\S]*?"""', "", code)
        yield str(path.relative_to(ROOT)), code


def test_no_chapter_exercise_or_module_hard_codes_cuda():
    offenders = [f"{where}: {m.group(0)}" for where, text in sources() for m in HARD_CODED.finditer(text)]
    assert not offenders, "use cnnlab.device() instead:\n" + "\n".join(offenders)
    assert HARD_CODED.search("model.cuda()") and HARD_CODED.search("x.to(device='cuda')")


def test_device_follows_cnnlab_device(monkeypatch):
    monkeypatch.setenv("CNNLAB_DEVICE", "cpu")
    assert cnnlab.device() == torch.device("cpu")
    monkeypatch.delenv("CNNLAB_DEVICE")
    assert cnnlab.device().type == ("cuda" if torch.cuda.is_available() else "cpu")


# ------------------------------------------------------------------------------- on CUDA


@cuda_test
def test_fit_trains_a_cnn_on_the_gpu(monkeypatch):
    monkeypatch.delenv("CNNLAB_DEVICE", raising=False)
    assert cnnlab.device().type == "cuda"
    images, labels = load_digits()
    x = images[:, None]  # (N, 1, 8, 8)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, val = order[:1400], order[1400:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 2 * 2, 10))
    history = fit(model, (x[train], labels[train]), (x[val], labels[val]), epochs=4, lr=3e-3, progress=False)
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert history["loss"][-1] < history["loss"][0] / 2
    assert history["val_acc"][-1] > 0.85, history["val_acc"]


def cuda_tensors(*shapes, seed=0):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    return [torch.randn(*shape, device="cuda", dtype=torch.float64, generator=gen).requires_grad_() for shape in shapes]


def assert_same_with_gradients(ours, theirs, inputs):
    assert ours.device.type == "cuda" and ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn_like(theirs)
    ours_grads = torch.autograd.grad(ours, inputs, upstream, retain_graph=True)
    theirs_grads = torch.autograd.grad(theirs, inputs, upstream)
    for a, b in zip(ours_grads, theirs_grads):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a, b)


@cuda_test
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (3, 2)])
def test_conv2d_on_cuda_matches_functional(stride, padding):
    x, w, b = cuda_tensors((2, 3, 11, 9), (4, 3, 3, 2), (4,))
    assert_same_with_gradients(ct.conv2d(x, w, b, stride=stride, padding=padding),
                               F.conv2d(x, w, b, stride=stride, padding=padding), (x, w, b))


@cuda_test
def test_conv_transpose_and_dilated_on_cuda_match_functional():
    x, w, b = cuda_tensors((2, 3, 6, 5), (3, 4, 3, 3), (4,))
    assert_same_with_gradients(ct.conv_transpose2d(x, w, b, stride=2, padding=1),
                               F.conv_transpose2d(x, w, b, stride=2, padding=1), (x, w, b))
    x, w = cuda_tensors((1, 2, 12, 12), (3, 2, 3, 3), seed=1)
    assert_same_with_gradients(ct.conv2d_dilated(x, w, dilation=2, padding=2),
                               F.conv2d(x, w, dilation=2, padding=2), (x, w))


@cuda_test
@pytest.mark.parametrize("kernel_size, stride", [(2, 2), (3, 1), (3, 2)])
def test_pooling_on_cuda_matches_functional(kernel_size, stride):
    (x,) = cuda_tensors((2, 3, 9, 8))
    assert_same_with_gradients(ct.max_pool2d(x, kernel_size, stride), F.max_pool2d(x, kernel_size, stride), (x,))
    assert_same_with_gradients(ct.avg_pool2d(x, kernel_size, stride), F.avg_pool2d(x, kernel_size, stride), (x,))
    assert_same_with_gradients(ct.min_pool2d(x, kernel_size, stride), -F.max_pool2d(-x, kernel_size, stride), (x,))


@cuda_test
def test_dense_activations_losses_and_batch_norm_on_cuda_match_functional():
    x, w, b = cuda_tensors((5, 7), (3, 7), (3,))
    assert_same_with_gradients(ct.linear(x, w, b), F.linear(x, w, b), (x, w, b))
    assert_same_with_gradients(ct.relu(x), F.relu(x), (x,))
    assert_same_with_gradients(ct.softmax(x, axis=1), F.softmax(x, dim=1), (x,))
    labels = torch.tensor([0, 2, 1, 2, 0], device="cuda")
    logits = ct.linear(x, w, b)
    assert_same_with_gradients(ct.softmax_cross_entropy(logits, labels), F.cross_entropy(logits, labels), (x, w, b))
    x, gamma, beta = cuda_tensors((4, 3, 5, 5), (3,), (3,), seed=2)
    ours_mean, ours_var = torch.zeros(3, device="cuda", dtype=x.dtype), torch.ones(3, device="cuda", dtype=x.dtype)
    theirs_mean, theirs_var = ours_mean.clone(), ours_var.clone()
    assert_same_with_gradients(ct.batch_norm2d(x, gamma, beta, ours_mean, ours_var, training=True),
                               F.batch_norm(x, theirs_mean, theirs_var, gamma, beta, training=True), (x, gamma, beta))
    torch.testing.assert_close(ours_mean, theirs_mean)
    torch.testing.assert_close(ours_var, theirs_var)
