"""Interactive explorers for convolution, pooling, stride and padding (ipywidgets).

In a live Jupyter session each explorer shows sliders and menus above one picture, and every
change of a control redraws that picture in place. The rendered book cannot run Python, so when
the environment variable ``CNNLAB_STATIC_WIDGETS=1`` is set (the book build sets it) each explorer
draws its figure once, at the default values, instead.

Either way the explorer is shown once by the call itself and also returned (an ``Explorer``
widget, or the static figure), so ``conv_explorer()``, ``conv_explorer();`` and
``w = conv_explorer()`` all show exactly one copy. The figure functions behind them
(``conv_explorer_figure`` ...) can be called directly.

Why the picture is an ``ipywidgets.Image`` and not ``ipywidgets.interactive`` with an Output
widget: ``interactive`` shows a matplotlib figure inside its Output widget only when it
recognises the inline backend by its module name, and after ``%matplotlib inline`` with
matplotlib 3.9+ the backend is called ``"inline"``. The figure then escaped the widget: at the
first call it appeared below it when the cell finished, and after a slider moved it was sent
after the Output widget had stopped capturing, so nothing on screen changed. Rendering the
figure to PNG ourselves does not depend on the backend, and closing it at once leaves nothing
for the inline backend to show a second time.
"""

import html
import io

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np

from cnnlab import reference
from cnnlab.course.convolution_demos import KERNELS
from cnnlab.data import photo
from cnnlab.reference.pool import POOL_MODES
from cnnlab.runtime import static_mode
from cnnlab.course.plots.windows import draw_cells, windows_figure

# Larger photos are downscaled to this many pixels on their longer side before an explorer uses
# them, so that a redraw stays well under a second; the input's title shows the size used.
MAX_SIDE = 512
CACHE_SIZE = 64  # redrawn pictures kept per explorer: going back to a setting is instant


def _grey_image(image, side):
    """Return a float (H, W) image in [0, 1]; the default is scikit-image's camera man at side x side."""
    from skimage.transform import resize

    if image is None:
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
    image = image / 255.0 if image.max() > 1 else image
    longest = max(image.shape)
    if longest > MAX_SIDE:
        scale = MAX_SIDE / longest
        image = resize(image, (round(image.shape[0] * scale), round(image.shape[1] * scale)), anti_aliasing=True)
    return image


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


def figure_png(fig, dpi=None):
    """PNG bytes of ``fig`` as Jupyter's inline backend would show it (tight bounding box).

    Args:
        fig: a matplotlib Figure.
        dpi: dots per inch; default ``rcParams["figure.dpi"]`` (the chapters set 80).

    Example:
        >>> figure_png(pooling_explorer_figure()).startswith(bytes([0x89]) + b"PNG")
        True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or plt.rcParams["figure.dpi"], bbox_inches="tight")
    return buffer.getvalue()


def figure_caption(fig):
    """The words a figure shows as titles: its suptitle, then each axes' title (or its texts).

    Example:
        >>> figure_caption(pooling_explorer_figure())
        'input 96×96 · max pool 2×2, stride 2 → 48×48'
    """
    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        title = ax.get_title()
        parts += [title] if title else [t.get_text() for t in ax.texts]
    return " · ".join(" ".join(part.split()) for part in parts if part.strip())  # one space, as HTML shows it


class Explorer(ipywidgets.VBox):
    """Controls above one picture; every change of a control redraws the picture in place.

    Args:
        draw: function of the controls' values (as keywords) returning a matplotlib Figure.
        controls: dict of keyword name -> ipywidget with a ``value``.

    Attributes:
        controls: the controls, by the keyword they set.
        image: the ``ipywidgets.Image`` showing the picture (PNG).
        caption: an ``ipywidgets.HTML`` line with the figure's titles, or the error when a
            setting cannot be drawn.
        figure: the last Figure drawn (closed: it lives on only as the PNG).
        values: the controls' current values.

    Example:
        >>> slider = ipywidgets.IntSlider(value=1, min=1, max=5, description="s")
        >>> explorer = Explorer(lambda s: stride_padding_figure(7, 3, s, 1), {"s": slider})
        >>> slider.value = 2          # what moving the slider does: the picture is redrawn
        >>> explorer.caption.value.split(" · ")[0][-4:]
        ' = 4'
    """

    def __init__(self, draw, controls):
        self._draw = draw
        self._cache = {}
        self.controls = dict(controls)
        # In a VBox an image is stretched to the full width of the notebook; keep it at the size
        # the inline backend would show (its own pixels), shrinking only on a narrow screen.
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(align_self="flex-start", max_width="100%",
                                                                              height="auto"))
        self.caption = ipywidgets.HTML()
        self.figure = None
        self.image.add_class("cnnlab-explorer-image")
        self.caption.add_class("cnnlab-explorer-caption")
        super().__init__(children=[*self.controls.values(), self.caption, self.image])
        self.add_class("cnnlab-explorer")
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    @property
    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, change=None):
        """Draw the picture for the controls' current values (called on every change)."""
        values = self.values
        key = tuple(values.items())
        if key not in self._cache:
            try:
                fig = self._draw(**values)
            except Exception as error:  # noqa: BLE001 - a callback's error must reach the screen, not the kernel log
                self.caption.value = ('<span style="color:#c44e52">cannot draw '
                                      f"{html.escape(str(values))}: {type(error).__name__}: "
                                      f"{html.escape(str(error))}</span>")
                return
            plt.close(fig)  # drawn here as a PNG; the inline backend must not show it again
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))  # the oldest setting
            self._cache[key] = (fig, figure_png(fig), figure_caption(fig))
        self.figure, png, caption = self._cache[key]
        self.image.value = png  # the picture first: once the caption changes on screen, it is there
        self.caption.value = html.escape(caption)


def _explorer(figure_function, controls, **fixed):
    """Show ``figure_function(**fixed, **values)`` under ``controls``: live, or once at the controls' start values."""

    def draw(**values):
        return figure_function(**fixed, **values)

    if static_mode():
        fig = draw(**{name: control.value for name, control in controls.items()})
        plt.close(fig)  # shown by _show_once below, not again by the inline backend
        return _show_once(fig)
    return _show_once(Explorer(draw, controls))


def _slider(value, low, high, description):
    """An integer slider that redraws when released (a redraw per step would lag behind the mouse)."""
    return ipywidgets.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False)


def _image_explorer(figure_function, image, menu, **sliders):
    """An explorer of ``figure_function(image, **values)`` with one menu and integer sliders.

    menu: (keyword, options, start value); sliders: keyword -> (start value, min, max, description).
    """
    keyword, options, value = menu
    controls = {keyword: ipywidgets.Dropdown(options=list(options), value=value, description=keyword)}
    controls.update({name: _slider(*spec) for name, spec in sliders.items()})
    return _explorer(figure_function, controls, image=image)


# -------------------------------------------------------------------- convolution


def conv_explorer_figure(image=None, kernel="sobel_x", stride=1, padding=0):
    """Input, kernel and output of a 2-D convolution, with the output's shape and size formula.

    Args:
        image: (H, W) or (H, W, 3) array or tensor (colour is turned to grey, values above 1 are
            read as 0-255, a longer side above ``MAX_SIDE`` is downscaled); default: the camera
            man, 128x128.
        kernel: a name in ``cnnlab.course.convolution_demos.KERNELS`` or a 2-D array (KH, KW).
        stride, padding: as in ``cnnlab.reference.conv2d``.

    Shape:
        output: (OH, OW) with OH = floor((H + 2 * padding - KH) / stride) + 1, likewise OW;
        the suptitle states this formula with the numbers filled in.

    Example:
        >>> fig = conv_explorer_figure(kernel="box_blur", stride=2, padding=1)
        >>> fig.axes[2].get_title()
        'output 64×64'
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
    draw_cells(ax_k, k)
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
    """A kernel menu (the names of ``convolution_demos.KERNELS``) and stride and padding sliders above the output.

    Args:
        image: as in ``conv_explorer_figure`` (default: the camera man, 128x128).

    Returns:
        an ``Explorer``, or the static Figure at sobel_x, stride 1, padding 0 (see the module docstring).

    Example:
        >>> explorer = conv_explorer(photo("chelsea"))
        >>> explorer.controls["stride"].value = 4   # the picture and caption now say stride 4
        >>> explorer.caption.value.split(":")[0]
        'stride 4, padding 0'
    """
    return _image_explorer(conv_explorer_figure, _grey_image(image, 128), ("kernel", KERNELS, "sobel_x"),
                           stride=(1, 1, 8, "stride"), padding=(0, 0, 8, "padding"))


# ------------------------------------------------------------------------ pooling


def pooling_explorer_figure(image=None, mode="max", kernel_size=2, stride=2):
    """An image before and after pooling, with both shapes.

    Args:
        image: as in ``conv_explorer_figure``; default: the camera man, 96x96.
        mode: "max", "avg" or "min".
        kernel_size, stride: the pooling window and its step, as in ``cnnlab.reference.max_pool2d``.

    Shape:
        output: (OH, OW) with OH = floor((H - kernel_size) / stride) + 1, likewise OW.

    Example:
        >>> pooling_explorer_figure(mode="avg", kernel_size=3, stride=3).axes[1].get_title()
        'avg pool 3×3, stride 3 → 32×32'
    """
    if mode not in POOL_MODES:
        raise ValueError(f"mode must be one of {tuple(POOL_MODES)}, got {mode!r}")
    image = _grey_image(image, 96)
    out = POOL_MODES[mode](image[None, None], kernel_size=kernel_size, stride=stride)[0, 0]
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
    """The pooling explorer: pick a mode (a key of ``reference.pool.POOL_MODES``), then move window and stride.

    Args:
        image: (H, W) grey or (H, W, 3) colour, in [0, 1] or 0-255; None takes the camera man at 96x96.

    Returns:
        a live ``Explorer``; when the book is built, the static Figure at max, 2x2, stride 2 instead.

    Example:
        >>> explorer = pooling_explorer()
        >>> explorer.controls["mode"].value = "min"   # the menu redraws the picture and its caption
        >>> explorer.caption.value.split(" · ")[1]
        'min pool 2×2, stride 2 → 48×48'
    """
    return _image_explorer(pooling_explorer_figure, _grey_image(image, 96), ("mode", POOL_MODES, "max"),
                           kernel_size=(2, 1, 8, "kernel"), stride=(2, 1, 8, "stride"))


# --------------------------------------------------------------- stride & padding


def stride_padding_figure(n=7, f=3, s=2, p=1):
    """``windows_figure`` for an n x n input, or a figure saying why the kernel does not fit.

    Args:
        n: input size; f: kernel size; s: stride; p: padding (all ints).

    Shape:
        output: o x o with o = floor((n + 2p - f) / s) + 1 (the suptitle), when f <= n + 2p.

    Example:
        >>> stride_padding_figure(n=5, f=3, s=1, p=1).get_suptitle()[-3:]
        '= 5'
    """
    if f > n + 2 * p:
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"kernel f={f} does not fit: n + 2p = {n} + {2 * p} = {n + 2 * p} < f",
                ha="center", va="center", fontsize=10, color="#c44e52", transform=ax.transAxes)
        return fig
    return windows_figure(n, f, s, p)


def stride_padding_explorer():
    """Sliders for input size n, kernel f, stride s and padding p; shows where the windows land
    and the output size floor((n + 2p - f) / s) + 1.

    Returns:
        an ``Explorer`` (live) or, with ``CNNLAB_STATIC_WIDGETS=1``, the Figure at the defaults
        (n=7, f=3, s=2, p=1).

    Example:
        >>> explorer = stride_padding_explorer()
        >>> explorer.controls["p"].value = 0
        >>> explorer.figure.get_suptitle()[-3:]
        '= 3'
    """
    controls = dict(
        n=_slider(7, 1, 16, "n (input)"),
        f=_slider(3, 1, 7, "f (kernel)"),
        s=_slider(2, 1, 5, "s (stride)"),
        p=_slider(1, 0, 4, "p (padding)"),
    )
    return _explorer(stride_padding_figure, controls)


__all__ = [
    "Explorer",
    "MAX_SIDE",
    "conv_explorer",
    "conv_explorer_figure",
    "figure_caption",
    "figure_png",
    "pooling_explorer",
    "pooling_explorer_figure",
    "stride_padding_explorer",
    "stride_padding_figure",
]
