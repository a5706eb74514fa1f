"""cnnlab.visualize: receptive fields, top patches, gradient-ascent images, dead and selective channels.

Checked against autograd (which inputs a unit depends on), against direct cropping and convolution, and
against the closed-form optimum of a linear score with an L2 penalty: argmax_x w.x + b - l2 |x|^2 = w / (2 l2).
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab import visualize as viz


def chain(pool=nn.AvgPool2d, relu=True, padding=1):
    layers = [("conv1", nn.Conv2d(1, 3, 3, padding=padding))]
    if relu:
        layers.append(("relu1", nn.ReLU()))
    layers += [("pool1", pool(2)), ("conv2", nn.Conv2d(3, 4, 3, padding=padding)), ("conv3", nn.Conv2d(4, 2, 5, stride=2, dilation=1))]
    return nn.Sequential(OrderedDict(layers))


def dependence_box(model, layer, shape, unit):
    """Bounding box (top, left, bottom, right) of the inputs that unit (i, j) of channel 0 depends on, by autograd."""
    x = torch.rand(1, 1, *shape, requires_grad=True)
    out = {}
    handle = viz.resolve_layer(model, layer).register_forward_hook(lambda m, i, o: out.__setitem__("a", o))
    model(x)
    handle.remove()
    out["a"][0, 0, unit[0], unit[1]].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


@pytest.mark.parametrize("layer,units", [("conv1", [(0, 0), (5, 7)]), ("pool1", [(3, 2)]),
                                         ("conv2", [(0, 0), (4, 4), (7, 9)]), ("conv3", [(0, 0), (1, 2)])])
def test_receptive_field_matches_autograd(layer, units):
    torch.manual_seed(0)
    model = chain(relu=False)
    with torch.no_grad():  # positive weights: no cancellation, so every input in the field gets a gradient
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(0.1, 1.0)
    field = viz.receptive_field(model, layer)
    H, W = 16, 20
    for i, j in units:
        top, left, bottom, right = field.box(i, j)
        expected = (max(top, 0), max(left, 0), min(bottom, H), min(right, W))
        assert dependence_box(model, layer, (H, W), (i, j)) == expected


def test_receptive_field_by_hand_for_small_cnn_shape():
    from cnnlab.models import small_cnn

    model = small_cnn()
    assert viz.receptive_field(model, "relu1").size == (3, 3)
    field = viz.receptive_field(model, "relu2")
    assert (field.size, field.jump, field.start) == ((8, 8), (2, 2), (-3, -3))
    assert viz.receptive_field(model, "pool2").size == (10, 10)
    with pytest.raises(ValueError, match="Flatten"):
        viz.receptive_field(model, "fc1")


def test_top_patches_are_the_strongest_units_cropped_from_the_image():
    torch.manual_seed(0)
    model = chain(pool=nn.MaxPool2d)
    images = torch.rand(30, 1, 16, 16)
    result = viz.top_patches(model, "conv2", channel=1, images=images, k=5)
    with torch.no_grad():
        maps = model[:4](images)[:, 1]  # conv1, relu1, pool1, conv2
    best = maps.reshape(30, -1).max(dim=1).values.numpy()
    assert np.array_equal(result.image_index, np.argsort(-best, kind="stable")[:5])
    assert np.allclose(result.activations, np.sort(best)[::-1][:5], atol=1e-6)
    padded = F.pad(images, (8, 8, 8, 8)).numpy()  # zeros outside, as the patches are filled
    for patch, n, (i, j) in zip(result.patches, result.image_index, result.position):
        assert np.isclose(maps[n, i, j].item(), best[n], atol=1e-6)
        top, left, bottom, right = result.field.box(i, j)
        assert np.array_equal(patch, padded[n, :, top + 8 : bottom + 8, left + 8 : right + 8])


def test_maximize_activation_reaches_the_closed_form_optimum():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3))
    l2 = 0.5
    image, history = viz.maximize_activation(conv, "0", 1, (1, 7, 7), steps=60, lr=0.5, l2=l2, unit=(2, 3))
    expected = np.zeros((1, 7, 7), dtype=np.float32)
    expected[0, 2:5, 3:6] = conv[0].weight[1, 0].detach().numpy() / (2 * l2)  # w / (2 l2) inside the field
    assert np.allclose(image, expected, atol=1e-5)
    assert history[-1] > history[0] and np.all(np.diff(history) >= -1e-7)  # ascent never goes down


def test_class_model_reaches_the_closed_form_optimum_and_leaves_the_model_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(12, 4))
    net.train()
    before = [p.detach().clone() for p in net.parameters()]
    l2 = 0.25
    image, _ = viz.class_model(net, 3, (3, 2, 2), steps=80, lr=0.5, l2=l2)
    assert np.allclose(image.ravel(), net[2].weight[3].detach().numpy() / (2 * l2), atol=1e-5)
    assert net.training and all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_dead_channels_need_zero_on_every_image():
    conv = nn.Sequential(nn.Conv2d(1, 3, 1), nn.ReLU())
    with torch.no_grad():
        conv[0].weight[:] = torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1, 1)
        conv[0].bias[:] = torch.tensor([0.0, -1.0, -0.5])  # channel 1 never fires; channel 2 only above 0.5
    images = torch.zeros(4, 1, 5, 5)
    images[3, 0, 2, 2] = 0.4  # fires channel 0 (x > 0) but not channel 2 (x > 0.5)
    assert viz.dead_channels(conv, "1", images).tolist() == [False, True, True]
    images[1, 0, 4, 4] = 0.9  # one bright pixel in one image of the batch keeps channel 2 alive
    assert viz.dead_channels(conv, "1", images).tolist() == [False, True, False]


def test_class_selectivity_index():
    conv = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        conv[0].weight[:] = torch.eye(2).reshape(2, 2, 1, 1)
    labels = np.array([0, 0, 1, 1, 2, 2])
    images = torch.zeros(6, 2, 3, 3)
    images[:2, 0] = 1.0  # channel 0 fires for class 0 only
    images[:, 1] = torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])[:, None, None]  # channel 1: class means 1, 2, 3
    selectivity = viz.class_selectivity(conv, "1", images, labels)
    assert selectivity[0] == pytest.approx(1.0)
    assert selectivity[1] == pytest.approx((3 - 1.5) / (3 + 1.5))


def test_bad_input_is_refused():
    model = chain()
    images = torch.rand(4, 1, 12, 12)
    with pytest.raises(ValueError, match="k must be"):
        viz.top_patches(model, "conv2", 0, images, k=5)
    with pytest.raises(ValueError, match="channel must be"):
        viz.top_patches(model, "conv2", 4, images, k=2)
    with pytest.raises(ValueError, match="input_shape"):
        viz.maximize_activation(model, "conv2", 0, (12, 12))
    with pytest.raises(ValueError, match="steps"):
        viz.class_model(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), 0, (1, 2, 2), steps=0)
    with pytest.raises(ValueError, match="labels must have shape"):
        viz.class_selectivity(nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU()), "1", images, [0, 1])
    with pytest.raises(ValueError, match="negative"):
        viz.class_selectivity(model, "conv1", images, [0, 1, 0, 1])
    with pytest.raises(TypeError, match="images"):
        viz.dead_channels(model, "conv1", [[1.0]])


def test_dense_layers_count_as_channels_of_one_position():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU())
    with torch.no_grad():
        net[1].weight[:] = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1.0]])
        net[1].bias[:] = torch.tensor([0.0, -1.0, 0.0])
    images = torch.zeros(4, 1, 2, 2)
    images[:2, 0, 0, 0] = 1.0  # unit 0 fires for class 0 only
    images[:, 0, 1, 1] = 1.0  # unit 2 fires for every image alike
    assert viz.dead_channels(net, "2", images).tolist() == [False, True, False]
    selectivity = viz.class_selectivity(net, "2", images, [0, 0, 1, 1])
    assert selectivity[0] == pytest.approx(1.0) and np.isnan(selectivity[1]) and selectivity[2] == pytest.approx(0.0)
