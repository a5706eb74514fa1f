"""cnnlab.runtime: CNNLAB_SEED_OFFSET reaches every seeded generator, once."""

import numpy as np
import pytest
import torch

from cnnlab import runtime
from cnnlab.course.experiments import train_variant
from cnnlab.numpy_net import NumpyCNN
from cnnlab.train import fit


def test_offset_is_read_checked_and_added(monkeypatch):
    monkeypatch.delenv("CNNLAB_SEED_OFFSET", raising=False)
    assert runtime.seed_offset() == 0 and runtime.offset_seed(4) == 4
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "7919")
    assert runtime.offset_seed(4) == 7923
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "seven")
    with pytest.raises(ValueError, match="CNNLAB_SEED_OFFSET"):
        runtime.seed_offset()
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "1")
    with pytest.raises(TypeError, match="seed must be an int"):
        runtime.offset_seed(1.5)


def test_seed_everything_with_an_offset_is_the_plain_seed_plus_offset(monkeypatch):
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "1000")
    offset = runtime.seed_everything(3).random(), torch.rand(1).item(), np.random.rand()
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "0")
    plain = runtime.seed_everything(1003).random(), torch.rand(1).item(), np.random.rand()
    other = runtime.seed_everything(3).random(), torch.rand(1).item(), np.random.rand()
    assert offset == plain and offset != other


def small_run(seed):
    x, y = torch.rand(32, 1, 4, 4), torch.arange(32) % 2
    spec = {"model": lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 2))}
    model, _, _ = train_variant(spec, (x, y), None, epochs=2, seed=seed, batch_size=8, device="cpu")
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_training_follows_the_offset_once(monkeypatch):
    """Initial weights, batch order and dropout masks: offset 1000 with seed 2 trains exactly seed 1002."""
    torch.manual_seed(0)
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "1000")
    with_offset = small_run(2)
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "0")
    torch.manual_seed(0)
    assert torch.equal(with_offset, small_run(1002))
    torch.manual_seed(0)
    assert not torch.equal(with_offset, small_run(2))


def test_numpy_network_weights_follow_the_offset(monkeypatch):
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "5")
    shifted = NumpyCNN(seed=1).params["conv1.weight"]
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "0")
    assert np.array_equal(shifted, NumpyCNN(seed=6).params["conv1.weight"])
    assert not np.array_equal(shifted, NumpyCNN(seed=1).params["conv1.weight"])
