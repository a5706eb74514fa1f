"""Sliding-window pictures with the numbers drawn in the cells.

- ``conv_steps_figure``: a kernel sliding over a (padded) input, one row per step, the output
  filling in cell by cell;
- ``padding_figure``: an input and its padded version, the added border shaded;
- ``pooling_figure``: every pooling window in its own colour, the value each window keeps, and
  the pooled output in the matching colours;
- ``windows_figure``: where the windows of a kernel f with stride s and padding p land on an
  n x n input, and which cells no window ever reaches (the floor in the output-size formula).

Every number shown is computed by ``cnnlab.reference`` (the course's NumPy layers).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from cnnlab import reference
from cnnlab.checks import conv_geometry, pair, pool_geometry, positive_int

CELL = 0.42  # inches per drawn cell
PAD_COLOUR = "#d9d9d9"
WINDOW_COLOUR = "#ff7f0e"
KERNEL_COLOUR = "#dbe9f6"
DONE_COLOUR = "#fde0c5"
MAX_CELLS = 24  # larger grids become unreadable; refuse them with a clear message

from cnnlab.reference.pool import POOL_MODES  # noqa: E402


def cell_text(value):
    """A number as a grid cell shows it: integers without a point, others to 2 decimals, trailing zeros dropped.

    Example:
        >>> cell_text(3.0), cell_text(-0.125), cell_text(0.5), cell_text(float("nan"))
        ('3', '-0.12', '0.5', 'nan')
    """
    if not np.isfinite(value):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _matrix(x, name):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (H, W), got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")
    if max(x.shape) > MAX_CELLS or min(x.shape) < 1:
        raise ValueError(f"{name} of shape {x.shape} is too large to draw cell by cell (at most {MAX_CELLS} per side)")
    return x.astype(np.float64)


def draw_cells(ax, values, colours=None, numbers=True, bold=None, fontsize=None):
    """Draw a grid of cells, one per entry of ``values``, row 0 at the top, on ``ax``.

    Args:
        ax: the matplotlib Axes to draw on (its limits and aspect are set to fit the grid).
        values: (H, W) array; each cell shows its value unless ``numbers`` is False or it is NaN.
        colours: H lists of W face colours (None: white), or None for all white.
        numbers: write the values in the cells.
        bold: (H, W) bool array of values to write in bold, or None.
        fontsize: text size; default 9 for grids up to 8 cells a side, else 7.

    Shape:
        values: (H, W); the grid spans x in [-0.5, W - 0.5] and y in [-0.5, H - 0.5].

    Example:
        >>> fig, ax = plt.subplots()
        >>> draw_cells(ax, np.arange(6).reshape(2, 3))
    """
    h, w = values.shape
    fontsize = fontsize or (9 if max(h, w) <= 8 else 7)
    # The readable version is one Rectangle per cell; one PatchCollection of them draws the same
    # picture several times faster (a 24 x 24 grid is 576 artists otherwise), which keeps the
    # explorers' redraws quick.
    faces = []
    for r in range(h):
        for c in range(w):
            faces.append("white" if colours is None or colours[r][c] is None else colours[r][c])
    cells = [Rectangle((c - 0.5, r - 0.5), 1, 1) for r in range(h) for c in range(w)]
    ax.add_collection(PatchCollection(cells, facecolors=faces, edgecolors="#888888", linewidths=0.6))
    if numbers:
        for r in range(h):
            for c in range(w):
                if not np.isnan(values[r, c]):
                    weight = "bold" if bold is not None and bold[r, c] else "normal"
                    ax.text(c, r, cell_text(values[r, c]), ha="center", va="center", fontsize=fontsize, fontweight=weight)
    ax.set_xlim(-0.6, w - 0.4)
    ax.set_ylim(h - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.axis("off")


def _hatch(ax, mask, colour="#c44e52"):
    """Hatch the cells where ``mask`` (H, W) is True: the cells no window reaches."""
    rows, cols = np.nonzero(mask)
    cells = [Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in zip(rows, cols)]
    if cells:
        hatched = PatchCollection(cells, facecolors="none", edgecolors=colour, linewidths=0, hatch="///")
        hatched.set_gid("unreached")
        ax.add_collection(hatched)


def _outline(ax, top, left, height, width, colour, linewidth=2.5, inset=0.0, fill_alpha=0.0):
    ax.add_patch(Rectangle((left - 0.5 + inset, top - 0.5 + inset), width - 2 * inset, height - 2 * inset,
                           facecolor="none", edgecolor=colour, linewidth=linewidth, zorder=3))
    if fill_alpha:
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, facecolor=colour,
                               alpha=fill_alpha, edgecolor="none", zorder=2))


def _padding_colours(shape, pads):
    top, bottom, left, right = pads
    h, w = shape
    colours = [[PAD_COLOUR] * w for _ in range(h)]
    for r in range(top, h - bottom):
        for c in range(left, w - right):
            colours[r][c] = None
    return colours


# ------------------------------------------------------------------ convolution


def conv_steps_figure(x, k, stride=1, padding=0, steps=4):
    """Show a 2-D cross-correlation (what deep-learning libraries call convolution) step by step.

    x : (H, W) input; k : (KH, KW) kernel; stride, padding as in ``cnnlab.reference.conv2d``
    (int, pair, "valid" or "same"); steps : how many output cells to show, in reading order
    (None = all of them).

    Each row shows the padded input (padding shaded) with the window at its next position and
    the sum of products it computes, the kernel, and the output filled in so far, the newest
    cell highlighted. Output shape: OH = floor((H + 2p - KH) / s) + 1, likewise OW.

    Returns:
        the Figure.
    """
    x, k = _matrix(x, "x"), _matrix(k, "k")
    geometry = conv_geometry((1, 1) + x.shape, (1, 1) + k.shape, stride, padding)
    (sh, sw), pads, (oh, ow) = geometry
    x_padded = reference.pad2d(x[None, None], pads)[0, 0]
    out = reference.conv2d(x[None, None], k[None, None], stride=(sh, sw), padding=padding)[0, 0]
    total = oh * ow
    if steps is None:
        steps = total
    steps = min(positive_int(steps, "steps"), total)
    kh, kw = k.shape
    hp, wp = x_padded.shape
    widths = [wp, kw, ow]
    row_height = CELL * max(hp, kh, oh) + 0.7
    fig, axes = plt.subplots(steps, 3, figsize=(CELL * sum(widths) + 2.0, row_height * steps),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    pad_colours = _padding_colours(x_padded.shape, pads)
    for step, (ax_in, ax_k, ax_out) in enumerate(axes):
        i, j = divmod(step, ow)
        top, left = i * sh, j * sw
        draw_cells(ax_in, x_padded, pad_colours)
        _outline(ax_in, top, left, kh, kw, WINDOW_COLOUR, fill_alpha=0.25)
        window = x_padded[top:top + kh, left:left + kw]
        terms = [f"{cell_text(a)}×{cell_text(b)}" for a, b in zip(window.ravel(), k.ravel())]
        products = " + ".join(terms) if len(terms) <= 9 else "sum of window × kernel"
        ax_in.set_title(f"step {step + 1}: window at rows {top}-{top + kh - 1}, cols {left}-{left + kw - 1}",
                        fontsize=8, loc="left")
        ax_in.text(-0.5, hp - 0.1, f"{products} = {cell_text(out[i, j])}", fontsize=7, va="top", ha="left",
                   color="#b35806")
        draw_cells(ax_k, k, [[KERNEL_COLOUR] * kw for _ in range(kh)])
        shown = np.full(out.shape, np.nan)
        flat = shown.reshape(-1)
        flat[:step + 1] = out.reshape(-1)[:step + 1]
        colours = [[DONE_COLOUR if not np.isnan(shown[r, c]) else None for c in range(ow)] for r in range(oh)]
        colours[i][j] = WINDOW_COLOUR
        draw_cells(ax_out, shown, colours)
        if step == 0:
            ax_k.set_title("kernel", fontsize=8)
            ax_out.set_title(f"output {oh}×{ow}", fontsize=8)
    pad_text = f"padding {pads[0]}" if len(set(pads)) == 1 else f"padding {pads} (top, bottom, left, right)"
    fig.suptitle(f"input {x.shape[0]}×{x.shape[1]}, kernel {kh}×{kw}, stride {(sh, sw) if sh != sw else sh}, "
                 f"{pad_text} → output {oh}×{ow}", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- padding


def padding_figure(x, padding, mode="zeros"):
    """Show ``x`` (H, W) beside its padded version, the added border shaded.

    padding : int p, (ph, pw) or (top, bottom, left, right); mode : "zeros" or "edge"
    (repeat the border values), as in ``cnnlab.reference.pad2d``.
    Output shape: (H + top + bottom, W + left + right).

    Returns:
        the Figure.
    """
    x = _matrix(x, "x")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = tuple(int(p) for p in padding)
    else:
        ph, pw = pair(padding, "padding")
        pads = (ph, ph, pw, pw)
    padded = reference.pad2d(x[None, None], pads, mode=mode)[0, 0]
    h, w = x.shape
    hp, wp = padded.shape
    fig, (ax_x, ax_p) = plt.subplots(1, 2, figsize=(CELL * (w + wp) + 1.5, CELL * hp + 0.9),
                                     gridspec_kw={"width_ratios": [w, wp]})
    draw_cells(ax_x, x)
    ax_x.set_title(f"input {h}×{w}", fontsize=9)
    draw_cells(ax_p, padded, _padding_colours(padded.shape, pads))
    _outline(ax_p, pads[0], pads[2], h, w, "#1f77b4", linewidth=1.5)
    ax_p.set_title(f'padded ({mode!r}) {hp}×{wp}', fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- pooling


def pooling_figure(x, kernel_size=2, stride=2, mode="max"):
    """Show pooling of ``x`` (H, W): every window in its own colour and the output it produces.

    mode : "max", "avg" or "min". For max/min the kept value is bold in each window. Cells no
    window covers (when (H - f) is not a multiple of the stride) are hatched: pooling drops them.
    Output shape: OH = floor((H - f) / s) + 1, likewise OW.

    Returns:
        the Figure.
    """
    if mode not in POOL_MODES:
        raise ValueError(f"mode must be one of {tuple(POOL_MODES)}, got {mode!r}")
    x = _matrix(x, "x")
    (kh, kw), (sh, sw), _, (oh, ow) = pool_geometry((1, 1) + x.shape, kernel_size, stride, 0)
    out = POOL_MODES[mode](x[None, None], kernel_size=(kh, kw), stride=(sh, sw))[0, 0]
    h, w = x.shape
    overlapping = sh < kh or sw < kw
    palette = plt.get_cmap("tab10" if oh * ow <= 10 else "tab20").colors
    fig, (ax_x, ax_o) = plt.subplots(1, 2, figsize=(CELL * (w + ow) + 2.0, CELL * max(h, oh) + 1.0),
                                     gridspec_kw={"width_ratios": [w, max(ow, 1)]})
    bold = np.zeros(x.shape, dtype=bool)
    covered = np.zeros(x.shape, dtype=bool)
    out_colours = [[None] * ow for _ in range(oh)]
    outlines = []
    for i in range(oh):
        for j in range(ow):
            colour = palette[(i * ow + j) % len(palette)]
            top, left = i * sh, j * sw
            window = x[top:top + kh, left:left + kw]
            covered[top:top + kh, left:left + kw] = True
            if mode != "avg":
                # The first extreme in reading order, which is the one torch's backward routes to.
                r, c = np.unravel_index(np.argmax(window) if mode == "max" else np.argmin(window), window.shape)
                bold[top + r, left + c] = True
            outlines.append((top, left, colour))
            out_colours[i][j] = colour + (0.35,)
    x_colours = [[None if covered[r, c] else "white" for c in range(w)] for r in range(h)]
    draw_cells(ax_x, x, x_colours, bold=bold)
    for r, c in zip(*np.nonzero(~covered)):
        ax_x.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#c44e52", linewidth=0))
    for n, (top, left, colour) in enumerate(outlines):
        inset = 0.06 * (n % 3) if overlapping else 0.0
        _outline(ax_x, top, left, kh, kw, colour, linewidth=2.2, inset=inset,
                 fill_alpha=0.0 if overlapping else 0.22)
    draw_cells(ax_o, out, out_colours)
    names = {"max": "max", "avg": "average", "min": "min"}
    ax_x.set_title(f"input {h}×{w}, {kh}×{kw} windows, stride {sh if sh == sw else (sh, sw)}", fontsize=9)
    ax_o.set_title(f"{names[mode]} pool → {oh}×{ow}", fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ stride and padding


def windows_figure(n, kernel_size, stride=1, padding=0):
    """Where a kernel f x f with stride s and padding p lands on an n x n input.

    Left: the padded input; the windows of the first output row outlined in colour, a dot at
    the top-left corner of every window, padding shaded, and cells no window reaches hatched.
    Right: the output grid, ``o = floor((n + 2p - f) / s) + 1`` on a side.

    Returns:
        the Figure.
    """
    o = reference.output_size(n, kernel_size, stride, padding)
    f, s, p = kernel_size, stride, padding
    size = n + 2 * p
    if size > MAX_CELLS * 2:
        raise ValueError(f"n + 2*padding = {size} is too large to draw (at most {MAX_CELLS * 2})")
    fig, (ax_x, ax_o) = plt.subplots(1, 2, figsize=(CELL * 0.8 * (size + o) + 2.0, CELL * 0.8 * size + 1.3),
                                     gridspec_kw={"width_ratios": [size, max(o, 1)]})
    blank = np.full((size, size), np.nan)
    draw_cells(ax_x, blank, _padding_colours((size, size), (p, p, p, p)), numbers=False)
    covered = np.zeros((size, size), dtype=bool)
    corners = []
    for i in range(o):
        for j in range(o):
            covered[i * s:i * s + f, j * s:j * s + f] = True
            corners.append((j * s, i * s))
    xs, ys = zip(*corners)
    ax_x.plot(xs, ys, "o", linestyle="none", color="black", markersize=3, zorder=4)  # one artist, not o*o
    _hatch(ax_x, ~covered)
    palette = plt.get_cmap("tab10").colors
    for j in range(o):
        _outline(ax_x, 0, j * s, f, f, palette[j % 10], linewidth=2.0, inset=0.05 * (j % 3))
    draw_cells(ax_o, np.full((o, o), np.nan), [[KERNEL_COLOUR] * o for _ in range(o)], numbers=False)
    for j in range(o):
        _outline(ax_o, 0, j, 1, 1, palette[j % 10], linewidth=2.0)
    unused = int((n + 2 * p - f) % s)
    ax_x.set_title(f"n={n}, p={p} (shaded), f={f}, s={s}", fontsize=9)
    if unused:
        ax_x.text(-0.5, size - 0.2, f"hatched: the last {unused} row(s) and column(s) are never reached",
                  fontsize=7, va="top", ha="left", color="#c44e52")
    ax_o.set_title(f"output {o}×{o}", fontsize=9)
    fig.suptitle(f"o = floor((n + 2p - f) / s) + 1 = floor(({n} + {2 * p} - {f}) / {s}) + 1 = {o}", fontsize=9)
    fig.tight_layout()
    return fig


__all__ = ["cell_text", "conv_steps_figure", "draw_cells", "padding_figure", "pooling_figure", "windows_figure"]
