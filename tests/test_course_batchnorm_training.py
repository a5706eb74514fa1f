"""cnnlab.course.batchnorm_training: the statistics and the training loop behind chapter 11b."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.course.batchnorm_training import (
    activation_inputs,
    mean_and_band,
    over_seeds,
    smooth,
    train_steps,
    weight_gradient_norms,
)
from cnnlab.models import LeNet


def identity_sigmoid():
    linear = nn.Linear(3, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.eye(3))
        linear.bias.zero_()
    return nn.Sequential(linear, nn.Sigmoid(), nn.Linear(3, 2), nn.ReLU())


def test_activation_inputs_are_what_each_activation_receives():
    model = identity_sigmoid()
    x = torch.tensor([[0.0, 5.0, -6.0], [1.0, 2.0, 3.0]])
    stats = activation_inputs(model, x)
    assert list(stats) == ["1", "3"]
    z = x.double().numpy()
    assert stats["1"]["mean"] == pytest.approx(z.mean())
    assert stats["1"]["std"] == pytest.approx(z.std())
    assert stats["1"]["saturated"] == pytest.approx(2 / 6)  # 5 and -6 lie beyond |z| > 4
    relu_input = model[2](torch.sigmoid(x)).detach().double().numpy()
    assert stats["3"]["mean"] == pytest.approx(relu_input.mean())
    with pytest.raises(ValueError, match="has no activation layer"):
        activation_inputs(nn.Linear(3, 3), x)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        activation_inputs("LeNet", x)


def test_batch_norm_gives_unit_spread_to_every_sigmoid():
    torch.manual_seed(0)
    stats = activation_inputs(LeNet(batch_norm=True).train(), torch.rand(32, 1, 28, 28))
    assert all(abs(s["std"] - 1) < 0.01 and abs(s["mean"]) < 1e-5 for s in stats.values())


def test_weight_gradient_norms_match_autograd_and_leave_grad_alone():
    torch.manual_seed(0)
    model = LeNet()
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    norms = weight_gradient_norms(model, x, y)
    assert list(norms) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    nn.functional.cross_entropy(model(x), y).backward()
    for name, value in norms.items():
        assert value == pytest.approx(float(getattr(model, name).weight.grad.norm()), rel=1e-6)
    fresh = LeNet()
    weight_gradient_norms(fresh, x, y)
    assert all(p.grad is None for p in fresh.parameters())


def separable(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 2, 2, generator=g)
    return x, (x.flatten(1).sum(1) > 0).long()


def test_train_steps_records_every_loss_and_learns_an_easy_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 2))
    train = separable()
    run = train_steps(model, train, steps=120, lr=0.5, batch_size=32, seed=1, probe=train, record_at=(0, 120))
    assert run["loss"].shape == (120,)
    assert run["loss"][-20:].mean() < 0.6 * run["loss"][:20].mean()
    assert set(run["layers"]) == {0, 120} and set(run["gradients"]) == {0, 120}
    # seeded: the same seed gives the same losses
    torch.manual_seed(0)
    again = train_steps(nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 2)), train, 120, 0.5, 32, seed=1)
    np.testing.assert_array_equal(run["loss"], again["loss"])


def test_train_steps_bad_arguments():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    train = separable(16)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        train_steps(model, train, 0)
    with pytest.raises(ValueError, match="at least batch_size=64"):
        train_steps(model, train, 5, batch_size=64)
    with pytest.raises(ValueError, match="record_at needs a probe"):
        train_steps(model, train, 5, batch_size=8, record_at=(0,))


def test_over_seeds_smooth_and_bands():
    assert over_seeds(lambda seed: seed + 1, range(3)) == [1, 2, 3]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        over_seeds(lambda seed: seed, [0])
    values = np.random.default_rng(0).normal(size=(3, 17))
    loop = np.array([[row[max(0, i - 4): i + 1].mean() for i in range(17)] for row in values])
    np.testing.assert_allclose(smooth(values, 5), loop)
    np.testing.assert_allclose(smooth(values[0], 40), np.cumsum(values[0]) / np.arange(1, 18))
    mean, sd = mean_and_band(values)
    np.testing.assert_allclose(mean, values.mean(0))
    np.testing.assert_allclose(sd, values.std(0))
    with pytest.raises(ValueError, match="at least 2 runs"):
        mean_and_band(values[:1])
