"""cnnlab.course.plots, cnnlab.course.plots.windows and cnnlab.course.widgets draw what they claim (numbers in cells, shapes)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlab import reference  # noqa: E402
from cnnlab.course import plots, widgets  # noqa: E402
from cnnlab.course.plots import windows  # noqa: E402


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
        assert shown == [windows.cell_text(v) for v in out.ravel()[: step + 1]]
        assert texts(axes[step, 0])[-1].endswith(f"= {windows.cell_text(out.ravel()[step])}")
    # Padded input: 6x6 numbers, the border zeros.
    assert len(texts(axes[0, 0])) == 36 + 1
    assert "output 5×5" in fig.get_suptitle()
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
    assert fig.get_suptitle().endswith("= 4")
    # 6 + 0 - 3 = 3 is not a multiple of 2: the last row and column (11 cells) are never reached.
    unreached = [c for c in windows.windows_figure(6, 3, 2, 0).axes[0].collections if c.get_gid() == "unreached"]
    assert len(unreached) == 1 and len(unreached[0].get_paths()) == 11
    assert not [c for c in fig.axes[0].collections if c.get_gid() == "unreached"]  # (7 + 2 - 3) / 2 is exact
    assert windows.windows_figure(6, 3, 2, 0).get_suptitle().endswith("= 2")
    with pytest.raises(ValueError, match="kernel_size"):
        windows.windows_figure(2, 5, 1, 0)


@pytest.mark.parametrize("explorer", [widgets.conv_explorer, widgets.pooling_explorer, widgets.stride_padding_explorer])
def test_explorers_static_and_live(explorer, monkeypatch):
    monkeypatch.setenv("CNNLAB_STATIC_WIDGETS", "1")
    static = explorer()
    assert isinstance(static, Figure)
    monkeypatch.delenv("CNNLAB_STATIC_WIDGETS")
    live = explorer()
    assert isinstance(live, widgets.Explorer) and len(live.controls) >= 3
    assert bytes(live.image.value).startswith(b"\x89PNG")
    # The live picture at the defaults is the book's static figure, and no pyplot figure is left
    # open for Jupyter's inline backend to show a second time below the widget.
    assert widgets.figure_caption(live.figure) == widgets.figure_caption(static)
    plt.close(static)
    assert plt.get_fignums() == []


# Every control of every explorer, a new value, and the words the picture must then show.
CHANGES = [
    (widgets.conv_explorer, "kernel", "box_blur", "kernel: box_blur"),
    (widgets.conv_explorer, "stride", 4, "stride 4, padding 0: floor((128 + 2·0 - 3) / 4) + 1 = 32"),
    (widgets.conv_explorer, "padding", 2, "stride 1, padding 2: floor((128 + 2·2 - 3) / 1) + 1 = 130"),
    (widgets.pooling_explorer, "mode", "avg", "avg pool 2×2, stride 2 → 48×48"),
    (widgets.pooling_explorer, "kernel_size", 4, "max pool 4×4, stride 2 → 47×47"),
    (widgets.pooling_explorer, "stride", 3, "max pool 2×2, stride 3 → 32×32"),
    (widgets.stride_padding_explorer, "n", 10, "floor((10 + 2 - 3) / 2) + 1 = 5"),
    (widgets.stride_padding_explorer, "f", 5, "floor((7 + 2 - 5) / 2) + 1 = 3"),
    (widgets.stride_padding_explorer, "s", 1, "floor((7 + 2 - 3) / 1) + 1 = 7"),
    (widgets.stride_padding_explorer, "p", 0, "floor((7 + 0 - 3) / 2) + 1 = 3"),
]


@pytest.mark.parametrize("explorer, control, value, words", CHANGES, ids=[f"{e.__name__}-{c}" for e, c, _, _ in CHANGES])
def test_every_control_redraws_the_picture_in_place(explorer, control, value, words):
    live = explorer()
    before_png, before_caption, children = bytes(live.image.value), live.caption.value, list(live.children)
    assert words not in before_caption
    live.controls[control].value = value  # what the page sends when a person moves the control
    assert bytes(live.image.value) != before_png
    assert words in live.caption.value and words in widgets.figure_caption(live.figure)
    assert list(live.children) == children  # the same image widget, redrawn: no pile of figures
    assert plt.get_fignums() == []
    live.controls[control].value = live.controls[control].value  # no change: no redraw needed
    assert words in live.caption.value


def test_explorer_redraw_is_cached_and_errors_reach_the_caption():
    live = widgets.conv_explorer()
    first = live.figure
    live.controls["stride"].value = 2
    assert live.figure is not first
    live.controls["stride"].value = 1
    assert live.figure is first  # going back to a setting reuses its picture
    tiny = widgets.conv_explorer(np.zeros((2, 2)))  # a 3x3 kernel does not fit a 2x2 image
    assert "cannot draw" in tiny.caption.value and "ValueError" in tiny.caption.value
    tiny.controls["padding"].value = 1
    assert tiny.caption.value.startswith("stride 1, padding 1")


def test_large_photos_are_downscaled_and_say_so():
    big = np.random.default_rng(0).random((600, 1200))
    fig = widgets.conv_explorer_figure(big, "identity")
    assert fig.axes[0].get_title() == f"input {600 * widgets.MAX_SIDE // 1200}×{widgets.MAX_SIDE}"


def test_explorer_update_functions():
    image = np.random.default_rng(0).random((20, 24))
    fig = widgets.conv_explorer_figure(image, "box_blur", stride=2, padding=1)
    assert fig.axes[2].get_title() == "output 10×12"  # floor((20 + 2 - 3) / 2) + 1 = 10
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(),
                               F.conv2d(torch.tensor(image[None, None]), torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64),
                                        stride=2, padding=1)[0, 0].numpy())
    fig = widgets.pooling_explorer_figure(image, "avg", kernel_size=3, stride=3)
    assert fig.axes[1].get_title().endswith("6×8")
    fig = widgets.stride_padding_figure(n=5, f=3, s=1, p=1)
    assert fig.get_suptitle().endswith("= 5")
    assert "does not fit" in texts(widgets.stride_padding_figure(n=2, f=5, s=1, p=0).axes[0])[0]
    rgb = widgets.conv_explorer_figure(np.zeros((10, 10, 3), np.uint8), "identity")
    assert rgb.axes[2].get_title() == "output 8×8"
    with pytest.raises(ValueError, match="kernel"):
        widgets.conv_explorer_figure(image, "edge-x")  # the explorer takes convolution_demos.KERNELS' names
    live = widgets.conv_explorer(image)
    live.controls["stride"].value = 3
    assert live.values["stride"] == 3 and live.figure.axes[2].get_title() == "output 6×8"
