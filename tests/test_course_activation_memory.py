"""cnnlab.course.activation_memory: what autograd saves, against hand counts and summary() rows."""

import pytest
import torch
from torch import nn

from cnnlab.course.activation_memory import saved_activation_bytes
from cnnlab.models import VGG, activation_bytes, summary


def test_small_network_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    saved = saved_activation_bytes(model, torch.zeros(2, 1, 8, 8))
    image, relu, pool = 2 * 64, 2 * 4 * 8 * 8, 2 * 4 * 4 * 4
    # conv1 saves its input, ReLU its output (also the pool's input), the pool its output's indices,
    # the linear layer its input (the flattened pool output, a view: counted once)
    assert saved == {torch.float32: 4 * (image + relu + pool), torch.int64: 8 * pool}


def test_parameters_are_not_counted_and_no_grad_saves_nothing():
    model = nn.Linear(1000, 2)
    assert saved_activation_bytes(model, torch.zeros(1, 1000)) == {torch.float32: 4000}
    with torch.no_grad():
        assert saved_activation_bytes(model, torch.zeros(1, 1000)) == {}


def test_saved_floats_equal_summary_rows_minus_the_logits_for_a_small_vgg():
    torch.manual_seed(0)
    model = VGG([8, "M", 16, 16, "M"], num_classes=5, in_channels=1, image_size=16, hidden=32).eval()
    saved = saved_activation_bytes(model, torch.zeros(1, 1, 16, 16))
    rows = summary(model, (1, 16, 16))
    assert saved[torch.float32] == activation_bytes(rows) - 4 * 5
    pools = 8 * 8 * 8 + 16 * 4 * 4  # pool1 (8, 8, 8) and pool2 (16, 4, 4) outputs
    assert saved[torch.int64] == 8 * pools


def test_bad_arguments():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        saved_activation_bytes(lambda x: x, torch.zeros(1))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        saved_activation_bytes(nn.Linear(2, 2), [[0.0, 0.0]])
