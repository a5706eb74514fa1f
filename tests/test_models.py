"""cnnlab.models: parameter counts against published numbers, forward shapes, summary() totals.

The expected counts are either published (Keras' tutorial, Chollet's book, torchvision) or
recomputed here by hand from the layer formula ``(KH*KW*C_in + 1) * C_out`` / ``(in + 1) * out``.
Full-size VGGs are built on the "meta" device (shapes without memory), so counting them is instant.
"""

from collections import OrderedDict

import pytest
import torch
from torch import nn

import cnnlab
from cnnlab.models import (
    VGG,
    LeNet,
    activation_bytes,
    activation_count,
    VGG_CONFIGS,
    CatsDogsCNN,
    SimpleCNN,
    count_parameters,
    eval_mode,
    fashion_cnn,
    scale_config,
    small_cnn,
    summary,
    vgg11,
    vgg13,
    vgg16,
    vgg19,
)

DEVICE = cnnlab.device()


def conv_params(c_in, c_out, k=3):
    return (k * k * c_in + 1) * c_out


def dense_params(n_in, n_out):
    return (n_in + 1) * n_out


# ---------------------------------------------------------------- SimpleCNN


def test_simple_cnn_has_the_tutorials_122570_parameters():
    model = SimpleCNN()
    assert count_parameters(model) == 122_570
    # the per-layer numbers printed by Keras' model.summary() in the TensorFlow tutorial
    per_layer = [sum(p.numel() for p in layer.parameters()) for layer in model if count_parameters(layer)]
    assert per_layer == [896, 18_496, 36_928, 65_600, 650]


def test_simple_cnn_forward_shapes_on_cifar_and_fashion_mnist():
    torch.manual_seed(0)
    model = SimpleCNN().to(DEVICE)
    assert model(torch.randn(4, 3, 32, 32, device=DEVICE)).shape == (4, 10)
    fashion = SimpleCNN(num_classes=10, in_channels=1, image_size=28).to(DEVICE)
    assert fashion(torch.randn(2, 1, 28, 28, device=DEVICE)).shape == (2, 10)
    # 28 -> 26 -> 13 -> 11 -> 5 -> 3: fc1 sees 64 * 3 * 3 features
    assert count_parameters(fashion) == (
        conv_params(1, 32) + conv_params(32, 64) + conv_params(64, 64) + dense_params(64 * 3 * 3, 64) + dense_params(64, 10)
    )


# ---------------------------------------------------------------- CatsDogsCNN


def test_cats_dogs_valid_has_chollets_3453121_parameters():
    assert count_parameters(CatsDogsCNN(padding="valid")) == 3_453_121


def test_cats_dogs_same_padding_count_follows_the_formula():
    # "same" keeps each conv's size: 150 -> 75 -> 37 -> 18 -> 9 after the four pools
    convs = conv_params(3, 32) + conv_params(32, 64) + conv_params(64, 128) + conv_params(128, 128)
    expected = convs + dense_params(128 * 9 * 9, 512) + dense_params(512, 1)
    assert count_parameters(CatsDogsCNN(padding="same")) == expected
    assert count_parameters(CatsDogsCNN()) == expected  # "same" is the default


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_cats_dogs_forward_gives_one_logit(padding):
    torch.manual_seed(0)
    model = CatsDogsCNN(padding=padding).to(DEVICE).eval()
    out = model(torch.rand(2, 3, 150, 150, device=DEVICE))
    assert out.shape == (2, 1)
    small = CatsDogsCNN(padding=padding, in_channels=1, image_size=64).to(DEVICE)
    assert small(torch.rand(3, 1, 64, 64, device=DEVICE)).shape == (3, 1)


# ---------------------------------------------------------------- VGG


@pytest.mark.parametrize(
    "factory, expected",
    [(vgg11, 132_863_336), (vgg13, 133_047_848), (vgg16, 138_357_544), (vgg19, 143_667_240)],
    ids=["vgg11", "vgg13", "vgg16", "vgg19"],
)
def test_vgg_parameter_counts_equal_torchvision(factory, expected):
    with torch.device("meta"):  # shapes only: no 500 MB allocations, no init time
        model = factory()
    assert count_parameters(model) == expected
    assert isinstance(model.avgpool, nn.AdaptiveAvgPool2d) and model.avgpool.output_size == (7, 7)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [v for v in VGG_CONFIGS[factory.__name__] if v != "M"]


def test_vgg16_with_batch_norm_equals_torchvision_vgg16_bn():
    with torch.device("meta"):
        model = vgg16(batch_norm=True)
    assert count_parameters(model) == 138_365_992  # 13 BatchNorm2d layers add 2 * 4224 parameters


def test_small_vgg_on_fashion_mnist_shapes():
    torch.manual_seed(0)
    model = VGG([16, "M", 32, "M", 64, 64, "M"], num_classes=10, in_channels=1, image_size=28, hidden=128).to(DEVICE)
    # 28 -> 14 -> 7 -> 3: the classifier follows the image size (3x3, not torchvision's 7x7)
    assert model.classifier.fc1.in_features == 64 * 3 * 3
    convs = conv_params(1, 16) + conv_params(16, 32) + conv_params(32, 64) + conv_params(64, 64)
    dense = dense_params(576, 128) + dense_params(128, 128) + dense_params(128, 10)
    assert count_parameters(model) == convs + dense
    assert model(torch.randn(5, 1, 28, 28, device=DEVICE)).shape == (5, 10)


def test_narrow_vgg11_on_32x32_and_scale_config():
    cfg = scale_config(VGG_CONFIGS["vgg11"], 1 / 16)
    assert cfg == [4, "M", 8, "M", 16, 16, "M", 32, 32, "M", 32, 32, "M"]
    model = VGG(cfg, num_classes=10, image_size=32, hidden=64)
    assert model.classifier.fc1.in_features == 32  # five pools: 32 -> 1
    assert model.to(DEVICE)(torch.randn(2, 3, 32, 32, device=DEVICE)).shape == (2, 10)
    bn = VGG(cfg, num_classes=10, image_size=32, hidden=64, batch_norm=True).to(DEVICE)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 8
    assert bn(torch.randn(2, 3, 32, 32, device=DEVICE)).shape == (2, 10)


def test_vgg_kwargs_pass_through():
    with torch.device("meta"):
        model = vgg11(num_classes=10, in_channels=1, image_size=64, hidden=256, dropout=0.2)
    assert model.features.conv1.in_channels == 1
    assert model.classifier.fc3.out_features == 10
    assert model.classifier.fc1.in_features == 512 * 2 * 2  # 64 / 2**5 = 2 < 7
    assert model.classifier.dropout1.p == 0.2


# ---------------------------------------------------------------- summary


def test_summary_of_simple_cnn_matches_count_and_keras_shapes():
    model = SimpleCNN()
    result = summary(model, (3, 32, 32))
    assert result.total_params == count_parameters(model) == sum(row["params"] for row in result.rows)
    assert result.trainable_params == 122_570
    by_name = {row["name"]: row for row in result.rows}
    assert by_name["conv1"]["output_shape"] == (None, 32, 30, 30)
    assert by_name["pool2"]["output_shape"] == (None, 64, 6, 6)
    assert by_name["flatten"]["output_shape"] == (None, 1024)
    assert by_name["fc2"]["output_shape"] == (None, 10)
    assert by_name["conv1"]["type"] == "Conv2d" and by_name["conv1"]["params"] == 896
    # conv1: 32*30*30 outputs, each a 3*3*3 dot product; fc1: 1024 * 64
    assert by_name["conv1"]["macs"] == 32 * 30 * 30 * 27
    assert by_name["fc1"]["macs"] == 1024 * 64
    assert result.total_macs == sum(row["macs"] for row in result.rows)
    text = str(result)
    assert "Total params: 122,570" in text and "(None, 32, 30, 30)" in text and "conv1 (Conv2d)" in text
    assert "<table>" in result._repr_html_()


def test_summary_macs_on_a_hand_computed_model():
    model = nn.Sequential(
        nn.Conv2d(2, 3, kernel_size=(3, 2)),  # (2, 5, 4) -> (3, 3, 3)
        nn.Conv2d(3, 6, kernel_size=3, padding=1, groups=3, bias=False),  # (3, 3, 3) -> (6, 3, 3)
        nn.Flatten(),
        nn.Linear(54, 4),
    )
    result = summary(model, (2, 5, 4))
    assert [row["output_shape"] for row in result.rows] == [(None, 3, 3, 3), (None, 6, 3, 3), (None, 54), (None, 4)]
    assert [row["macs"] for row in result.rows] == [27 * 2 * 3 * 2, 54 * 1 * 9, 0, 54 * 4]
    assert result.total_macs == 324 + 486 + 216
    assert [row["params"] for row in result.rows] == [3 * 2 * 3 * 2 + 3, 6 * 1 * 9, 0, 55 * 4]


def test_summary_of_vgg16_on_the_meta_device_counts_15_5_billion_multiply_adds():
    with torch.device("meta"):
        model = vgg16()
    result = summary(model, (3, 224, 224))  # meta tensors: shapes flow, nothing is computed
    expected, size, channels = 0, 224, 3
    for item in VGG_CONFIGS["vgg16"]:
        if item == "M":
            size //= 2
        else:
            expected += size * size * item * channels * 9  # padding 1 keeps the size
            channels = item
    expected += 512 * 7 * 7 * 4096 + 4096 * 4096 + 4096 * 1000
    assert result.total_macs == expected  # 15.47 G, the figure usually quoted for VGG-16
    assert result.total_params == 138_357_544
    assert result.rows[-1]["output_shape"] == (None, 1000)


def test_summary_restores_mode_removes_hooks_and_handles_batch_norm():
    model = VGG([4, "M", 8, "M"], num_classes=3, in_channels=1, image_size=8, hidden=8, batch_norm=True)
    model.train()
    result = summary(model, (1, 8, 8))  # batch of one through BatchNorm: fine because summary uses eval mode
    assert model.training
    rows = len(result.rows)
    model(torch.zeros(2, 1, 8, 8))  # a hook left behind would append this call's layers to result.rows
    assert len(result.rows) == rows
    assert result.total_params == count_parameters(model)
    assert result.rows[-1]["output_shape"] == (None, 3)
    frozen = SimpleCNN()
    for p in frozen.conv1.parameters():
        p.requires_grad_(False)
    frozen_summary = summary(frozen, (3, 32, 32))
    assert frozen_summary.trainable_params == 122_570 - 896
    assert "Non-trainable params: 896" in str(frozen_summary)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: CatsDogsCNN(padding="full"), ValueError, "padding"),
        (lambda: SimpleCNN(image_size=10), ValueError, "image_size"),
        (lambda: SimpleCNN(num_classes=0), ValueError, "num_classes"),
        (lambda: SimpleCNN(in_channels=2.0), TypeError, "in_channels"),
        (lambda: SimpleCNN()(torch.zeros(1, 1, 28, 28)), ValueError, "(1, 1, 28, 28)"),
        (lambda: CatsDogsCNN()(torch.zeros(1, 3, 64, 64)), ValueError, "image_size=150"),
        (lambda: VGG("vgg11"), TypeError, "cfg"),
        (lambda: VGG([16, "X"]), ValueError, "cfg"),
        (lambda: VGG(["M"]), ValueError, "cfg"),
        (lambda: VGG([8, "M"], dropout=1.0), ValueError, "dropout"),
        (lambda: VGG([8, "M", "M"], image_size=2), ValueError, "image_size"),
        (lambda: VGG([8, "M"], image_size=8)(torch.zeros(1, 1, 8, 8)), ValueError, "in_channels=3"),
        (lambda: scale_config([8, "M"], 0), ValueError, "factor"),
        (lambda: count_parameters("model"), TypeError, "model"),
        (lambda: summary(SimpleCNN(), "3x32x32"), TypeError, "input_shape"),
        (lambda: summary(nn.Linear(4, 2), (5,)), ValueError, "input_shape"),
    ],
)
def test_bad_input_raises_with_argument_name(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


# ---------------------------------------------------------------- LeNet


def test_lenet_has_the_hand_counted_61706_parameters():
    # d2l's LeNet-5 on 28x28: conv 5x5 pad 2 keeps 28, pools halve, conv 5x5 valid: 28 -> 14 -> 10 -> 5
    expected = conv_params(1, 6, 5) + conv_params(6, 16, 5) + dense_params(16 * 5 * 5, 120) + dense_params(120, 84) + dense_params(84, 10)
    assert expected == 156 + 2_416 + 48_120 + 10_164 + 850 == 61_706
    for activation in ("sigmoid", "relu"):
        assert count_parameters(LeNet(activation=activation)) == expected
    # batch norm adds a scale and a shift per normalised channel/feature; running stats are buffers
    bn = LeNet(batch_norm=True)
    assert count_parameters(bn) == expected + 2 * (6 + 16 + 120 + 84) == 62_158
    assert sum(b.numel() for b in bn.buffers() if b.dtype.is_floating_point) == 2 * (6 + 16 + 120 + 84)


def test_lenet_layers_shapes_and_names():
    model = LeNet(batch_norm=True).to(DEVICE)
    names = [name for name, _ in model.named_children()]
    assert names == ["conv1", "bn1", "sigmoid1", "pool1", "conv2", "bn2", "sigmoid2", "pool2", "flatten",
                     "fc1", "bn3", "sigmoid3", "fc2", "bn4", "sigmoid4", "fc3"]
    assert isinstance(model.bn3, nn.BatchNorm1d) and isinstance(model.pool1, nn.AvgPool2d)
    rows = summary(model, (1, 28, 28)).rows
    shapes = {row["name"]: row["output_shape"] for row in rows}
    assert shapes["conv1"] == (None, 6, 28, 28) and shapes["pool1"] == (None, 6, 14, 14)
    assert shapes["conv2"] == (None, 16, 10, 10) and shapes["pool2"] == (None, 16, 5, 5)
    assert shapes["fc3"] == (None, 10)
    relu = LeNet(activation="relu", num_classes=3)
    assert isinstance(relu.relu1, nn.ReLU) and relu(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    # other sizes follow the formula: 32 -> 32 -> 16 -> 12 -> 6
    assert LeNet(image_size=32, in_channels=3).fc1.in_features == 16 * 6 * 6


def test_lenet_bad_arguments():
    with pytest.raises(ValueError, match="activation must be one of"):
        LeNet(activation="tanh")
    with pytest.raises(TypeError, match="batch_norm must be a bool"):
        LeNet(batch_norm=1)
    with pytest.raises(ValueError, match="image_size=8 is too small for LeNet"):
        LeNet(image_size=8)
    with pytest.raises(ValueError, match=r"x has shape \(2, 1, 32, 32\) but LeNet\(in_channels=1, image_size=28\)"):
        LeNet()(torch.zeros(2, 1, 32, 32))


# ---------------------------------------------------------------- activation memory


def test_activation_count_and_bytes_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    s = summary(model, (3, 8, 8))
    image, conv, relu, pool, flat, fc = 3 * 8 * 8, 8 * 8 * 8, 8 * 8 * 8, 8 * 4 * 4, 8 * 4 * 4, 10
    assert activation_count(s) == image + conv + pool + fc  # ReLU in place, Flatten a view
    assert activation_count(s, skip=()) == image + conv + relu + pool + flat + fc
    assert activation_count(s, include_input=False) == conv + pool + fc
    assert activation_bytes(s) == 4 * (image + conv + pool + fc)
    assert activation_bytes(s, bytes_per_value=2, skip=(), include_input=False) == 2 * (conv + relu + pool + flat + fc)
    with pytest.raises(TypeError, match="summary must be a cnnlab.models.Summary"):
        activation_count(model)
    with pytest.raises(TypeError, match="skip must be a tuple"):
        activation_count(s, skip="ReLU")
    with pytest.raises(ValueError, match="bytes_per_value must be a positive int"):
        activation_bytes(s, bytes_per_value=0)


def test_vgg16_activations_sum_cs231ns_rows():
    """CS231n's VGG-16 table (input, every conv, every pool, the three dense layers) sums to 15.2M values."""
    with torch.device("meta"):
        model = vgg16()
    s = summary(model, (3, 224, 224))
    conv = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 3 * 56 * 56 * 256 + 3 * 28 * 28 * 512 + 3 * 14 * 14 * 512
    pool = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512
    rows = 224 * 224 * 3 + conv + pool + 4096 + 4096 + 1000
    assert rows == 15_237_608
    assert activation_count(s, skip=("ReLU", "Dropout", "Flatten", "AdaptiveAvgPool2d")) == rows
    assert activation_bytes(s, skip=("ReLU", "Dropout", "Flatten", "AdaptiveAvgPool2d")) == 4 * rows


# ------------------------------------------------------- small_cnn and fashion_cnn


def small_cnn_as_built_before(dropout, channels, hidden, num_classes, in_channels, image_size):
    """small_cnn as it was written before it shared a builder with fashion_cnn: the pinned architecture."""
    pooled = image_size // 4
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, channels[0], 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(channels[0], channels[1], 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("drop1", nn.Dropout(dropout)),
        ("fc1", nn.Linear(channels[1] * pooled * pooled, hidden)), ("relu3", nn.ReLU()),
        ("drop2", nn.Dropout(dropout)), ("fc2", nn.Linear(hidden, num_classes)),
    ]))


def fashion_cnn_as_built_before(channels=(16, 32), hidden=128, dropout=0.3, num_classes=10):
    """fashion_cnn as chapter 8 trained it (layers, order, initialisation order): the pinned architecture."""
    first, second = channels
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, first, 3, padding=1)), ("bn1", nn.BatchNorm2d(first)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(first, second, 3, padding=1)), ("bn2", nn.BatchNorm2d(second)), ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("drop1", nn.Dropout(dropout)), ("fc1", nn.Linear(second * 7 * 7, hidden)),
        ("relu3", nn.ReLU()), ("drop2", nn.Dropout(dropout)), ("fc2", nn.Linear(hidden, num_classes)),
    ]))


def assert_same_network(model, pinned):
    assert [(name, type(layer)) for name, layer in model.named_children()] == [
        (name, type(layer)) for name, layer in pinned.named_children()
    ]
    assert [repr(layer) for layer in model] == [repr(layer) for layer in pinned]
    state, pinned_state = model.state_dict(), pinned.state_dict()
    assert list(state) == list(pinned_state)
    for key in state:
        assert torch.equal(state[key], pinned_state[key]), key


@pytest.mark.parametrize("kwargs", [{}, {"channels": (4, 8), "hidden": 16, "dropout": 0.5, "num_classes": 3}])
def test_fashion_cnn_is_chapter_8s_network_weight_for_weight(kwargs):
    torch.manual_seed(8)
    model = fashion_cnn(**kwargs)
    torch.manual_seed(8)
    assert_same_network(model, fashion_cnn_as_built_before(**kwargs))
    if not kwargs:
        assert count_parameters(model) == 207_018
    x = torch.rand(2, 1, 28, 28)
    torch.manual_seed(8)
    pinned = fashion_cnn_as_built_before(**kwargs)
    with eval_mode(model), eval_mode(pinned):
        assert torch.equal(model(x), pinned(x))


@pytest.mark.parametrize(
    "args", [(0.0, (16, 32), 64, 10, 1, 28), (0.5, (4, 8), 16, 3, 3, 30), (0.2, (2, 3), 5, 2, 1, 4)]
)
def test_small_cnn_is_the_pinned_network_weight_for_weight(args):
    dropout, channels, hidden, num_classes, in_channels, image_size = args
    torch.manual_seed(3)
    model = small_cnn(dropout, channels, hidden, num_classes, in_channels, image_size)
    torch.manual_seed(3)
    assert_same_network(model, small_cnn_as_built_before(*args))


def test_small_cnn_shapes_and_dropout_switch():
    torch.manual_seed(0)
    plain = small_cnn()
    torch.manual_seed(0)
    dropped = small_cnn(dropout=0.5)
    x = torch.rand(3, 1, 28, 28)
    assert plain(x).shape == (3, 10)
    # same layers and same seed -> same initial weights; only the dropout rate differs
    for a, b in zip(plain.parameters(), dropped.parameters()):
        assert torch.equal(a, b)
    plain.eval(), dropped.eval()
    assert torch.allclose(plain(x), dropped(x))
    dropped.train()
    assert not torch.allclose(dropped(x), dropped(x))
    assert small_cnn(channels=(4, 8), hidden=16, num_classes=3, in_channels=3, image_size=32)(
        torch.rand(2, 3, 32, 32)
    ).shape == (2, 3)


def test_small_cnn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dropout"):
        small_cnn(dropout=1.0)
    with pytest.raises(ValueError, match="channels"):
        small_cnn(channels=(8, 16, 32))
    with pytest.raises(ValueError, match="image_size"):
        small_cnn(image_size=2)


def test_fashion_cnn_shapes_and_arguments():
    model = fashion_cnn(channels=(4, 8), hidden=16)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert model.fc1.in_features == 8 * 7 * 7
    assert isinstance(model.bn1, nn.BatchNorm2d) and model.drop1.p == 0.3
    with pytest.raises(ValueError, match="dropout"):
        fashion_cnn(dropout=1.0)
    with pytest.raises(ValueError, match="channels"):
        fashion_cnn(channels=(4,))
    with pytest.raises(ValueError, match="hidden"):
        fashion_cnn(hidden=0)
