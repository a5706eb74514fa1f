"""cnnlab.visualize: feature maps by hooks, saliency = |d score / d x|, Grad-CAM.

Checked against things we can work out by hand: a linear model's input gradient is its weight row,
a conv layer's output is F.conv2d, and a network whose score only looks at one quadrant must put
its Grad-CAM mass there.
"""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab.visualize import feature_maps, grad_cam, saliency


def small_convnet(in_channels=1, num_classes=3):
    return nn.Sequential(
        nn.Conv2d(in_channels, 4, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(6 * 4 * 4, num_classes),
    )


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ----------------------------------------------------------------------------- feature maps


def test_feature_maps_shapes_and_values_match_direct_computation(rng):
    torch.manual_seed(0)
    model = small_convnet(in_channels=2)
    x = rng.standard_normal((2, 8, 8)).astype(np.float32)
    maps = feature_maps(model, x, ["0", "1", "3"])
    assert list(maps) == ["0", "1", "3"]
    assert maps["0"].shape == (4, 8, 8)
    assert maps["3"].shape == (6, 4, 4)
    conv = model[0]
    expected = F.conv2d(torch.from_numpy(x)[None], conv.weight, conv.bias, padding=1)[0].detach().numpy()
    # the in-place ReLU right after must not have overwritten the recorded conv output
    np.testing.assert_allclose(maps["0"], expected, rtol=1e-5, atol=1e-6)
    assert (maps["0"] < 0).any()
    np.testing.assert_allclose(maps["1"], np.maximum(expected, 0), rtol=1e-5, atol=1e-6)


def test_feature_maps_batch_keeps_batch_axis_and_accepts_a_single_name(rng):
    model = small_convnet()
    x = torch.from_numpy(rng.standard_normal((5, 1, 8, 8)).astype(np.float32))
    maps = feature_maps(model, x, "3")
    assert maps["3"].shape == (5, 6, 4, 4)


def test_feature_maps_restores_training_mode_and_removes_hooks(rng):
    model = small_convnet()
    model.train()
    feature_maps(model, rng.standard_normal((1, 8, 8)).astype(np.float32), ["0"])
    assert model.training and model[6].training
    assert not model[0]._forward_hooks


def test_feature_maps_bad_input_names_the_problem(rng):
    model = small_convnet()
    with pytest.raises(ValueError, match="not_a_layer"):
        feature_maps(model, np.zeros((1, 8, 8), np.float32), ["not_a_layer"])
    with pytest.raises(ValueError, match=r"x must be .*\(8, 8\)"):
        feature_maps(model, np.zeros((8, 8), np.float32), ["0"])
    with pytest.raises(TypeError, match="x"):
        feature_maps(model, [[0.0]], ["0"])


# ----------------------------------------------------------------------------- saliency


def test_saliency_of_linear_model_is_abs_weight_row(rng):
    channels, height, width, classes = 3, 5, 4, 7
    model = nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, classes))
    x = rng.standard_normal((2, channels, height, width)).astype(np.float32)
    target = [4, 1]
    got = saliency(model, x, target, reduce=None)
    weight = model[1].weight.detach().numpy()
    for i, k in enumerate(target):
        # score_k = w_k . x + b_k, so d score_k / d x = w_k whatever x is
        np.testing.assert_allclose(got[i], np.abs(weight[k]).reshape(channels, height, width), rtol=1e-6)
    reduced = saliency(model, x, target)
    assert reduced.shape == (2, height, width)
    np.testing.assert_allclose(reduced, got.max(axis=1), rtol=1e-6)


def test_saliency_equals_autograd_gradient_magnitude_on_a_convnet(rng):
    torch.manual_seed(1)
    model = small_convnet().eval()
    x = torch.from_numpy(rng.standard_normal((1, 8, 8)).astype(np.float32))
    leaf = x[None].clone().requires_grad_(True)
    model(leaf)[0, 2].backward()
    got = saliency(model, x, 2, reduce=None)
    assert got.shape == (1, 8, 8)
    np.testing.assert_allclose(got, leaf.grad[0].abs().numpy(), rtol=1e-5, atol=1e-7)


def test_saliency_agrees_with_finite_differences(rng):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 3 * 3, 2)).double()
    x = rng.standard_normal((1, 5, 5))
    got = saliency(model.float(), x.astype(np.float32), 1, reduce=None)
    model.double()
    numeric = np.zeros_like(x)
    h = 1e-6
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        with torch.no_grad():
            f_plus = model(torch.from_numpy(plus)[None])[0, 1].item()
            f_minus = model(torch.from_numpy(minus)[None])[0, 1].item()
        numeric[index] = (f_plus - f_minus) / (2 * h)
    np.testing.assert_allclose(got, np.abs(numeric), rtol=1e-3, atol=1e-5)


def test_saliency_ignores_dropout_and_leaves_parameter_grads_alone(rng):
    model = small_convnet().train()
    x = rng.standard_normal((1, 8, 8)).astype(np.float32)
    first = saliency(model, x, 0)
    second = saliency(model, x, 0)
    np.testing.assert_array_equal(first, second)  # eval mode inside: no random dropout mask
    assert all(p.grad is None for p in model.parameters())
    assert model.training


def test_saliency_rejects_bad_target(rng):
    model = small_convnet(num_classes=3)
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"target must lie in \[0, 3\)"):
        saliency(model, x, 3)
    with pytest.raises(ValueError, match="target has 3 entries"):
        saliency(model, x, [0, 1, 2])
    with pytest.raises(ValueError, match="reduce"):
        saliency(model, x, 0, reduce="mean")
    with pytest.raises(TypeError, match="target must be an int"):
        saliency(model, x, [0.5, 1.5])


def test_target_may_be_a_tensor_of_predictions(rng):
    torch.manual_seed(6)
    model = small_convnet()
    x = torch.from_numpy(rng.standard_normal((3, 1, 8, 8)).astype(np.float32))
    predicted = model.eval()(x).argmax(1)
    from_tensor = saliency(model, x, predicted)
    from_list = saliency(model, x, predicted.tolist())
    np.testing.assert_array_equal(from_tensor, from_list)
    np.testing.assert_array_equal(grad_cam(model, x[0], torch.tensor(1), "3"), grad_cam(model, x[0], 1, "3"))


# ----------------------------------------------------------------------------- Grad-CAM


def test_grad_cam_shape_and_non_negative(rng):
    torch.manual_seed(3)
    model = small_convnet()
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    cam = grad_cam(model, x, [0, 1, 2, 0], "3")
    assert cam.shape == (4, 8, 8)
    assert cam.dtype == np.float32
    assert (cam >= 0).all()
    assert cam.max() <= 1 + 1e-6
    small = grad_cam(model, x[0], 1, model[3], upsample=False, normalize=False)
    assert small.shape == (4, 4)
    assert (small >= 0).all()


def test_grad_cam_matches_hand_computation(rng):
    torch.manual_seed(4)
    model = small_convnet().eval()
    x = torch.from_numpy(rng.standard_normal((1, 1, 8, 8)).astype(np.float32))
    activation = model[:4](x)  # output of layer "3" (ReLU and pool before it are part of the prefix)
    activation.retain_grad()
    score = model[4:](activation.clone())[0, 1]  # clone: the in-place ReLU after layer "3" must not touch it
    score.backward()
    alpha = activation.grad.mean(dim=(2, 3), keepdim=True)
    expected = F.relu((alpha * activation).sum(1))[0].detach().numpy()
    got = grad_cam(model, x[0], 1, "3", upsample=False, normalize=False)
    assert got.max() > 0  # not a vacuous comparison of zeros
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


class QuadrantNet(nn.Module):
    """Class 1's score sums a feature map over the top-left quadrant only; class 0 ignores the input."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU())
        with torch.no_grad():
            self.features[0].weight.fill_(0.1)
            self.features[0].bias.fill_(0.05)

    def forward(self, x):
        maps = self.features(x)
        height, width = maps.shape[-2:]
        top_left = maps[:, :, : height // 2, : width // 2].sum(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(top_left), top_left], dim=1)


def test_saliency_is_zero_where_the_score_does_not_look(rng):
    model = QuadrantNet()
    x = rng.uniform(0.2, 1.0, size=(3, 1, 16, 16)).astype(np.float32)
    sal = saliency(model, x, 1)
    # the 3x3 conv reaches one pixel past the 8x8 quadrant, and no further
    assert sal[:, 9:, :].max() == 0 and sal[:, :, 9:].max() == 0
    assert sal[:, :8, :8].min() > 0
    assert saliency(model, x, 0).max() == 0  # class 0 ignores the input


class BrightDarkNet(nn.Module):
    """A hand-built two-class net: channel 0 = ReLU(x) fires on bright pixels, channel 1 = ReLU(1 - x) on dark ones.

    Class 0 ("bright") scores the mean of channel 0, class 1 ("dark") the mean of channel 1.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
        with torch.no_grad():
            self.features[0].weight.copy_(torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
            self.features[0].bias.copy_(torch.tensor([0.0, 1.0]))

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


@pytest.mark.parametrize("quadrant", [(slice(0, 8), slice(0, 8)), (slice(8, 16), slice(8, 16))])
def test_grad_cam_highlights_the_region_that_drives_the_class(quadrant):
    model = BrightDarkNet()
    x = np.zeros((1, 16, 16), np.float32)
    rows, cols = quadrant
    x[0, rows, cols] = 1.0  # a bright square in one quadrant, the rest dark
    inside = np.zeros((16, 16), bool)
    inside[rows, cols] = True
    bright = grad_cam(model, x, 0, "features", upsample=False, normalize=False)
    assert bright.shape == (16, 16)
    assert bright[inside].sum() / bright.sum() > 0.99
    dark = grad_cam(model, x, 1, "features", upsample=False, normalize=False)
    assert dark[~inside].sum() / dark.sum() > 0.99
    upsampled = grad_cam(model, x, 0, "features.0")
    assert upsampled.shape == (16, 16) and upsampled.max() == pytest.approx(1.0)


def test_grad_cam_rejects_bad_layer(rng):
    model = small_convnet()
    x = rng.standard_normal((1, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match="nope"):
        grad_cam(model, x, 0, "nope")
    with pytest.raises(ValueError, match=r"\(N, K, h, w\)"):
        grad_cam(model, x, 0, "5")  # Flatten: (N, 96)
    with pytest.raises(ValueError, match="not a sub-module"):
        grad_cam(model, x, 0, nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="layer"):
        grad_cam(model, x, 0, 3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_visualize_on_gpu_matches_cpu(rng):
    torch.manual_seed(5)
    model = small_convnet()
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    cpu_sal = saliency(model, x, 1)
    cpu_cam = grad_cam(model, x, 1, "3")
    model.to("cuda")
    np.testing.assert_allclose(saliency(model, x, 1), cpu_sal, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_cam(model, x, 1, "3"), cpu_cam, rtol=1e-4, atol=1e-5)
