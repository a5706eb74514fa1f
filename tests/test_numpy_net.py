"""NumpyCNN: backprop through every layer checked by finite differences and by PyTorch autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.data import load_digits
from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.models import small_cnn
from cnnlab.numpy_net import PARAM_NAMES, NumpyCNN, train_numpy


def tiny_net(image_size=6, seed=0):
    """A net small enough for a full finite-difference check, with non-zero biases."""
    model = NumpyCNN(in_channels=2, num_classes=3, image_size=image_size, channels=(2, 3),
                     hidden=5, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    for name in PARAM_NAMES:
        if name.endswith("bias"):
            model.params[name][...] = 0.1 * rng.standard_normal(model.params[name].shape)
    return model


def tiny_batch(model, n=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, model.in_channels, model.image_size, model.image_size))
    y = rng.integers(0, model.num_classes, size=n)
    return x, y


@pytest.mark.parametrize("image_size", [6, 7, 8])
def test_every_gradient_matches_finite_differences(image_size):
    model = tiny_net(image_size)
    x, y = tiny_batch(model)
    _, grads = model.loss(x, y)
    for name in PARAM_NAMES:
        # numerical_gradient perturbs the array in place, so the loss reads it from the model.
        numeric = numerical_gradient(lambda _: model.loss(x, y)[0], model.params[name])
        assert rel_error(grads[name], numeric) < 1e-6, name


def copy_to_twin(model, dtype=torch.float64):
    twin = small_cnn(channels=model.channels, hidden=model.hidden, num_classes=model.num_classes,
                     in_channels=model.in_channels, image_size=model.image_size).to(dtype)
    layers = [m for m in twin if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    tensors = [t for layer in layers for t in (layer.weight, layer.bias)]
    with torch.no_grad():
        for name, tensor in zip(PARAM_NAMES, tensors):
            tensor.copy_(torch.from_numpy(model.params[name]))
    return twin, dict(zip(PARAM_NAMES, tensors))


@pytest.mark.parametrize("image_size", [7, 12])
def test_logits_and_gradients_match_torch_autograd(image_size):
    model = NumpyCNN(in_channels=3, num_classes=4, image_size=image_size, channels=(4, 5),
                     hidden=6, seed=3, dtype=np.float64)
    x, y = tiny_batch(model, n=5, seed=4)
    twin, tensors = copy_to_twin(model)

    logits = model.forward(x)
    loss, grads = model.loss(x, y)
    torch_logits = twin(torch.from_numpy(x))
    torch_loss = F.cross_entropy(torch_logits, torch.from_numpy(y))
    torch_loss.backward()

    np.testing.assert_allclose(logits, torch_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-10)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(grads[name], tensors[name].grad.numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=name)


def test_to_torch_copies_weights_and_agrees_in_float32():
    model = NumpyCNN(seed=5)  # float32, 28x28, the book's network
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    twin = model.to_torch()
    with torch.no_grad():
        torch_logits = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.forward(x), torch_logits, rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in twin.parameters()) == model.num_parameters()


def test_sgd_momentum_step_matches_torch_optim():
    model = tiny_net(8)
    x, y = tiny_batch(model, n=4)
    twin, tensors = copy_to_twin(model)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        _, grads = model.loss(x, y)
        model.step(grads, lr=0.1, momentum=0.9)
        optimizer.zero_grad()
        F.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        optimizer.step()
    for name in PARAM_NAMES:
        np.testing.assert_allclose(model.params[name], tensors[name].detach().numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def test_learns_digits_well_above_chance():
    images, labels = load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    x = images[order][:, None].astype(np.float32)  # (N, 1, 8, 8)
    y = labels[order]
    model = NumpyCNN(image_size=8, channels=(8, 16), hidden=32, seed=0)
    _, acc_before = model.evaluate(x[600:900], y[600:900])
    history = train_numpy(model, x[:600], y[:600], x[600:900], y[600:900], epochs=3, lr=0.05,
                          batch_size=32, progress=False)
    assert set(history) == {"loss", "acc", "val_loss", "val_acc"}
    assert all(len(v) == 3 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert acc_before < 0.3
    assert history["val_acc"][-1] > 0.6  # chance is 0.1
    assert np.mean(model.predict(x[600:900]) == y[600:900]) == pytest.approx(history["val_acc"][-1], abs=0.01)


def test_bad_input_names_the_argument_and_shapes():
    model = NumpyCNN(image_size=8)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 8, 8\), got \(2, 8, 8\)"):
        model.forward(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(TypeError, match="x must hold floats"):
        model.forward(np.zeros((2, 1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        model.loss(np.zeros((2, 1, 8, 8), np.float32), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 10\)"):
        model.loss(np.zeros((2, 1, 8, 8), np.float32), np.array([0, 10]))
    with pytest.raises(ValueError, match="image_size=3 is too small"):
        NumpyCNN(image_size=3)
    with pytest.raises(RuntimeError, match="call forward"):
        NumpyCNN(image_size=8).backward(np.zeros((1, 10)))
