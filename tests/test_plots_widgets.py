"""cnnlab.plots, cnnlab.plots.windows and cnnlab.widgets draw what they claim (numbers in cells, shapes)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlab import plots, reference, widgets  # noqa: E402
from cnnlab.plots import windows  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_show_images_layouts_and_titles():
    rng = np.random.default_rng(0)
    nchw = torch.rand(5, 3, 8, 8)
    fig = plots.show_images(nchw, labels=[0, 1, 2, 1, 0], class_names=["a", "b", "c"], ncols=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 6  # 2 rows x 3, last one blank
    assert [ax.get_title() for ax in fig.axes[:5]] == ["a", "b", "c", "b", "a"]
    assert fig.axes[0].images[0].get_array().shape == (8, 8, 3)
    grey = plots.show_images(rng.integers(0, 256, (3, 6, 6), dtype=np.uint8), predictions=[1, 2, 3], labels=[1, 0, 3])
    colours = [ax.title.get_color() for ax in grey.axes]
    assert colours == ["green", "red", "green"]
    with pytest.raises(ValueError, match="labels has 2 entries for 3 images"):
        plots.show_images(np.zeros((3, 4, 4)), labels=[0, 1])


def test_plot_history_train_solid_val_dashed():
    hist = {"loss": [1.0, 0.5], "acc": [0.5, 0.8], "val_loss": [1.1, 0.7], "val_acc": [0.4, 0.7]}
    fig = plots.plot_history({"a": hist, "b": hist})
    loss_ax = fig.axes[0]
    assert len(loss_ax.lines) == 4
    assert [line.get_linestyle() for line in loss_ax.lines] == ["-", "--", "-", "--"]
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), [1.1, 0.7])
    assert loss_ax.lines[0].get_color() == loss_ax.lines[1].get_color() != loss_ax.lines[2].get_color()
    with pytest.raises(ValueError, match="precision"):
        plots.plot_history(hist, metrics=("precision",))


def test_feature_maps_and_filters():
    fig = plots.show_feature_maps(torch.rand(1, 10, 5, 5), ncols=4, title="conv1")
    assert sum(len(ax.images) for ax in fig.axes) == 10
    weights = torch.randn(6, 3, 3, 3)
    rgb = plots.show_filters(weights)
    img = rgb.axes[0].images[0].get_array()
    assert img.shape == (3, 3, 3) and img.min() == 0 and img.max() == pytest.approx(1)
    single = plots.show_filters(weights, channel=2)
    np.testing.assert_allclose(single.axes[1].images[0].get_array(), weights[1, 2].numpy())
    with pytest.raises(ValueError, match="channel"):
        plots.show_filters(weights, channel=3)
    with pytest.raises(ValueError, match="maps"):
        plots.show_feature_maps(np.zeros((5, 5)))


def test_conv_steps_figure_writes_reference_outputs():
    x = np.arange(16).reshape(4, 4)
    k = np.array([[1, 0], [0, -1]])
    fig = windows.conv_steps_figure(x, k, stride=1, padding=1, steps=3)
    axes = np.array(fig.axes).reshape(3, 3)
    out = reference.conv2d(x[None, None].astype(float), k[None, None].astype(float), padding=1)[0, 0]
    # Row t shows the first t+1 output values in reading order, and the sum it just computed.
    for step in range(3):
        shown = [t for t in texts(axes[step, 2]) if t]
        assert shown == [windows._fmt(v) for v in out.ravel()[: step + 1]]
        assert texts(axes[step, 0])[-1].endswith(f"= {windows._fmt(out.ravel()[step])}")
    # Padded input: 6x6 numbers, the border zeros.
    assert len(texts(axes[0, 0])) == 36 + 1
    assert "output 5×5" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="steps"):
        windows.conv_steps_figure(x, k, steps=0)
    with pytest.raises(ValueError, match="kernel"):
        windows.conv_steps_figure(x, np.ones((6, 6)))


def test_padding_and_pooling_figures():
    x = np.array([[1, 2], [3, 4]])
    fig = windows.padding_figure(x, 1, mode="edge")
    assert texts(fig.axes[1])[:4] == ["1", "1", "2", "2"]  # first padded row repeats the edge
    zero = windows.padding_figure(x, (0, 2), mode="zeros")
    assert texts(zero.axes[1])[:6] == ["0", "0", "1", "2", "0", "0"]
    x = np.array([[1, 5, 2, 0, 9], [3, 4, 8, 1, 9], [0, 0, 7, 6, 9], [2, 1, 3, 3, 9], [9, 9, 9, 9, 9]])
    for mode, expected in (("max", ["5", "8", "2", "7"]), ("min", ["1", "0", "0", "3"]), ("avg", ["3.25", "2.75", "0.75", "4.75"])):
        fig = windows.pooling_figure(x, 2, 2, mode)
        assert texts(fig.axes[1]) == expected
    fig = windows.pooling_figure(x, 2, 2, "max")
    bold = [t.get_text() for t in fig.axes[0].texts if t.get_fontweight() == "bold"]
    assert bold == ["5", "8", "7", "2"]  # reading order of the input cells
    # Row 4 and column 4 are never covered by a 2x2 / stride 2 window: 9 hatched cells.
    assert sum(1 for p in fig.axes[0].patches if p.get_hatch() == "///") == 9
    with pytest.raises(ValueError, match="mode"):
        windows.pooling_figure(x, mode="median")


def test_windows_figure_formula():
    fig = windows.windows_figure(7, 3, 2, 1)
    assert fig._suptitle.get_text().endswith("= 4")
    assert windows.windows_figure(6, 3, 2, 0)._suptitle.get_text().endswith("= 2")
    with pytest.raises(ValueError, match="kernel_size"):
        windows.windows_figure(2, 5, 1, 0)


@pytest.mark.parametrize("explorer", [widgets.conv_explorer, widgets.pooling_explorer, widgets.stride_padding_explorer])
def test_explorers_static_and_live(explorer, monkeypatch):
    import ipywidgets

    monkeypatch.setenv("CNNLAB_STATIC_WIDGETS", "1")
    assert isinstance(explorer(), Figure)
    monkeypatch.delenv("CNNLAB_STATIC_WIDGETS")
    widget = explorer()
    assert isinstance(widget, ipywidgets.Widget)
    controls = {c.description for c in widget.children if hasattr(c, "value")}
    assert len(controls) >= 3


def test_explorer_update_functions():
    image = np.random.default_rng(0).random((20, 24))
    fig = widgets.conv_explorer_figure(image, "blur", stride=2, padding=1)
    assert fig.axes[2].get_title() == "output 10×12"  # floor((20 + 2 - 3) / 2) + 1 = 10
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(),
                               reference.conv2d(image[None, None], widgets.KERNELS["blur"][None, None], stride=2, padding=1)[0, 0])
    fig = widgets.pooling_explorer_figure(image, "avg", kernel_size=3, stride=3)
    assert fig.axes[1].get_title().endswith("6×8")
    fig = widgets.stride_padding_figure(n=5, f=3, s=1, p=1)
    assert fig._suptitle.get_text().endswith("= 5")
    assert "does not fit" in texts(widgets.stride_padding_figure(n=2, f=5, s=1, p=0).axes[0])[0]
    rgb = widgets.conv_explorer_figure(np.zeros((10, 10, 3), np.uint8), "identity")
    assert rgb.axes[2].get_title() == "output 8×8"
    with pytest.raises(ValueError, match="kernel"):
        widgets.conv_explorer_figure(image, "emboss")
    live = widgets.conv_explorer(image)
    live.children[1].value = 3  # stride slider: interactive redraws with the new value
    assert live.kwargs["stride"] == 3 and live.result.axes[2].get_title() == "output 6×8"
