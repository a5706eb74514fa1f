"""Interactive explorers for convolution, pooling, stride and padding (ipywidgets).

In a live Jupyter session each explorer shows sliders and menus and redraws its figure when
they change. The rendered book cannot run Python, so when the environment variable
``CNNLAB_STATIC_WIDGETS=1`` is set (the book build sets it) each explorer draws its figure
once, at the default values, instead.

Either way the explorer is shown once by the call itself and also returned (the widget, or the
static figure), so ``conv_explorer()``, ``conv_explorer();`` and ``w = conv_explorer()`` all
show exactly one copy. The figure functions behind them (``conv_explorer_figure`` ...) can be
called directly.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from cnnlab import reference
from cnnlab.convolution_demos import KERNELS as demo_kernels
from cnnlab.data import photo
from cnnlab.plots.windows import _draw_cells, windows_figure

# The explorer's presets, by the names its dropdown shows; the kernels are the book's own.
KERNELS = {
    "edge-x": demo_kernels["sobel_x"],  # brightness changing along x: vertical edges
    "edge-y": demo_kernels["sobel_y"],
    "sharpen": demo_kernels["sharpen"],
    "blur": demo_kernels["box_blur"],
    "identity": demo_kernels["identity"],
}
POOL_MODES = ("max", "avg", "min")
POOL = {"max": reference.max_pool2d, "avg": reference.avg_pool2d, "min": reference.min_pool2d}


def static_mode():
    """True when explorers should draw a static figure (``CNNLAB_STATIC_WIDGETS=1``)."""
    return os.environ.get("CNNLAB_STATIC_WIDGETS") == "1"


def _grey_image(image, side):
    """Return a float (H, W) image in [0, 1]; the default is scikit-image's camera man at side x side."""
    if image is None:
        from skimage.transform import resize

        return resize(photo("camera") / 255.0, (side, side), anti_aliasing=True)
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        from skimage.color import rgb2gray

        image = rgb2gray(image[..., :3])
    elif image.ndim != 2:
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {image.shape}")
    image = image.astype(np.float64)
    return image / 255.0 if image.max() > 1 else image


def _show_once(obj):
    """Display ``obj`` now (inside IPython) and stop it being displayed again as a cell's value."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return obj
    if get_ipython() is None:
        return obj
    display(obj)
    # IPython asks _ipython_display_ before any other formatter; a no-op avoids a second copy
    # when the call is the last line of a cell.
    obj._ipython_display_ = lambda: None
    return obj


def _explorer(figure_function, defaults, controls):
    if static_mode():
        fig = figure_function(**defaults)
        plt.close(fig)  # shown by _show_once below, not again by the inline backend
        return _show_once(fig)
    import ipywidgets

    widget = ipywidgets.interactive(figure_function, **controls)
    return _show_once(widget)


# -------------------------------------------------------------------- convolution


def conv_explorer_figure(image=None, kernel="edge-x", stride=1, padding=0):
    """Input, kernel and output of a 2-D convolution, with the output's shape and size formula.

    image : (H, W) or (H, W, 3) (colour is turned to grey); default: the camera man, 128x128
    kernel : a name in ``KERNELS`` or a 2-D array
    """
    image = _grey_image(image, 128)
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {tuple(KERNELS)} or a 2-D array, got {kernel!r}")
        name, k = kernel, KERNELS[kernel]
    else:
        name, k = "custom", np.asarray(kernel, dtype=np.float64)
        if k.ndim != 2:
            raise ValueError(f"kernel must be 2-D (KH, KW), got shape {k.shape}")
    out = reference.conv2d(image[None, None], k[None, None], stride=stride, padding=padding)[0, 0]
    h, w = image.shape
    fig, (ax_in, ax_k, ax_out) = plt.subplots(1, 3, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 1.2, 3]})
    ax_in.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax_in.set_title(f"input {h}×{w}", fontsize=9)
    ax_in.axis("off")
    _draw_cells(ax_k, k)
    ax_k.set_title(f"kernel: {name}", fontsize=9)
    ax_out.imshow(out, cmap="gray")
    ax_out.set_title(f"output {out.shape[0]}×{out.shape[1]}", fontsize=9)
    ax_out.axis("off")
    kh = k.shape[0]
    fig.suptitle(f"stride {stride}, padding {padding}:  floor(({h} + 2·{padding} - {kh}) / {stride}) + 1 = {out.shape[0]}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def conv_explorer(image=None):
    """Pick a kernel (edge-x, edge-y, sharpen, blur, identity), stride and padding; see the output."""
    import ipywidgets

    image = _grey_image(image, 128)

    def draw(kernel="edge-x", stride=1, padding=0):
        return conv_explorer_figure(image, kernel, stride, padding)

    controls = dict(
        kernel=ipywidgets.Dropdown(options=list(KERNELS), value="edge-x", description="kernel"),
        stride=ipywidgets.IntSlider(value=1, min=1, max=8, description="stride"),
        padding=ipywidgets.IntSlider(value=0, min=0, max=8, description="padding"),
    )
    return _explorer(draw, dict(kernel="edge-x", stride=1, padding=0), controls)


# ------------------------------------------------------------------------ pooling


def pooling_explorer_figure(image=None, mode="max", kernel_size=2, stride=2):
    """An image before and after pooling, with both shapes. Default image: camera man, 96x96."""
    if mode not in POOL:
        raise ValueError(f"mode must be one of {POOL_MODES}, got {mode!r}")
    image = _grey_image(image, 96)
    out = POOL[mode](image[None, None], kernel_size=kernel_size, stride=stride)[0, 0]
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(7, 3.6))
    ax_in.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax_in.set_title(f"input {image.shape[0]}×{image.shape[1]}", fontsize=9)
    ax_out.imshow(out, cmap="gray", vmin=0, vmax=1)
    ax_out.set_title(f"{mode} pool {kernel_size}×{kernel_size}, stride {stride} → {out.shape[0]}×{out.shape[1]}",
                     fontsize=9)
    for ax in (ax_in, ax_out):
        ax.axis("off")
    fig.tight_layout()
    return fig


def pooling_explorer(image=None):
    """Pick the pooling mode (max, avg, min), window size and stride; see the pooled image."""
    import ipywidgets

    image = _grey_image(image, 96)

    def draw(mode="max", kernel_size=2, stride=2):
        return pooling_explorer_figure(image, mode, kernel_size, stride)

    controls = dict(
        mode=ipywidgets.Dropdown(options=list(POOL_MODES), value="max", description="mode"),
        kernel_size=ipywidgets.IntSlider(value=2, min=1, max=8, description="kernel"),
        stride=ipywidgets.IntSlider(value=2, min=1, max=8, description="stride"),
    )
    return _explorer(draw, dict(mode="max", kernel_size=2, stride=2), controls)


# --------------------------------------------------------------- stride & padding


def stride_padding_figure(n=7, f=3, s=2, p=1):
    """``windows_figure`` for an n x n input, or a figure saying why the kernel does not fit."""
    if f > n + 2 * p:
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"kernel f={f} does not fit: n + 2p = {n} + {2 * p} = {n + 2 * p} < f",
                ha="center", va="center", fontsize=10, color="#c44e52", transform=ax.transAxes)
        return fig
    return windows_figure(n, f, s, p)


def stride_padding_explorer():
    """Sliders for input size n, kernel f, stride s and padding p; shows where the windows land
    and the output size floor((n + 2p - f) / s) + 1."""
    import ipywidgets

    controls = dict(
        n=ipywidgets.IntSlider(value=7, min=1, max=16, description="n (input)"),
        f=ipywidgets.IntSlider(value=3, min=1, max=7, description="f (kernel)"),
        s=ipywidgets.IntSlider(value=2, min=1, max=5, description="s (stride)"),
        p=ipywidgets.IntSlider(value=1, min=0, max=4, description="p (padding)"),
    )
    return _explorer(stride_padding_figure, dict(n=7, f=3, s=2, p=1), controls)


__all__ = [
    "KERNELS",
    "conv_explorer",
    "conv_explorer_figure",
    "pooling_explorer",
    "pooling_explorer_figure",
    "stride_padding_explorer",
    "stride_padding_figure",
    "static_mode",
]
