"""Data augmentation: random flips, shifts, rotations, zoom, brightness and contrast.

Two implementations of the same geometry:

- NumPy functions for looking at single images or small batches (``random_shift``, ``warp`` ...),
  taking images HW / HWC or batches NHW / NHWC, uint8 (0-255) or float (0-1);
- ``Augmenter.torch`` for training: one batched affine warp of an NCHW tensor with
  ``torch.nn.functional.affine_grid`` + ``grid_sample`` on the tensor's own device, so a GPU
  batch never goes back to the CPU.

How a warp works (both versions): for every *output* pixel we ask "which input location lands
here?", which is the inverse of the transform we want to see, and read that location with
bilinear interpolation. Coordinates are pixel centres measured from the image centre, x to the
right and y down. For a shift (dx, dy), rotation by ``degrees`` (counter-clockwise on screen)
and zoom factor z (> 1 enlarges the content)::

    source = R(-degrees) @ (output - (dx, dy)) / z

Points that come from outside the image are filled with the nearest edge pixel
(``fill="nearest"``, Keras' default) or with 0 (``fill="constant"``).

A 3-D NumPy array is read as one colour image (H, W, C) when its last axis is 1, 3 or 4 and as
a batch of grey images (N, H, W) otherwise.
"""

import math

import numpy as np
from cnnlab.checks import as_rng

FILL_MODES = ("nearest", "constant")


# ------------------------------------------------------------------ helpers


def _to_batch(img):
    """Return (float64 NHWC batch, restore function) for HW, HWC, NHW or NHWC input."""
    img = np.asarray(img)
    if img.dtype != np.uint8 and img.dtype.kind != "f":
        raise TypeError(f"img must be uint8 or float, got dtype {img.dtype}")
    if img.ndim == 2:
        batch, undo = img[None, :, :, None], (lambda b: b[0, :, :, 0])
    elif img.ndim == 3 and img.shape[-1] in (1, 3, 4):
        batch, undo = img[None], (lambda b: b[0])
    elif img.ndim == 3:
        batch, undo = img[..., None], (lambda b: b[..., 0])
    elif img.ndim == 4:
        batch, undo = img, (lambda b: b)
    else:
        raise ValueError(f"img must be HW, HWC, NHW or NHWC, got shape {img.shape}")
    if batch.shape[1] < 1 or batch.shape[2] < 1:
        raise ValueError(f"img has an empty spatial axis: shape {img.shape}")
    dtype = img.dtype

    def restore(result):
        result = undo(result)
        if dtype == np.uint8:
            return np.clip(np.rint(result), 0, 255).astype(np.uint8)
        return result.astype(dtype)

    return batch.astype(np.float64), restore


def _draw_device(batch, generator):
    """Check that ``batch`` is a float tensor (N, C, H, W); return the device its random numbers come from.

    That is the generator's device (the CPU for PyTorch's global generator), so a seeded draw is the same
    whether the batch itself lives on the CPU or a GPU.
    """
    import torch as pytorch

    if not isinstance(batch, pytorch.Tensor):
        raise TypeError(f"batch must be a torch.Tensor, got {type(batch).__name__}")
    if batch.ndim != 4 or not batch.is_floating_point():
        raise ValueError(f"batch must be a float tensor (N, C, H, W), got {batch.dtype} of shape {tuple(batch.shape)}")
    return generator.device if generator is not None else pytorch.device("cpu")


def _value_range(img):
    return (0.0, 255.0) if np.asarray(img).dtype == np.uint8 else (0.0, 1.0)


def _per_image(value, n, name):
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0:
        return np.full(n, float(value))
    if value.shape != (n,):
        raise ValueError(f"{name} must be a number or have one value per image ({n},), got shape {value.shape}")
    return value


def _check_fill(fill):
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {FILL_MODES}, got {fill!r}")


def _check_nonneg(name, value, upper=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (upper is not None and value >= upper):
        bound = f"in [0, {upper})" if upper is not None else ">= 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def inverse_affine(degrees, dx, dy, zoom, flip):
    """Per-image matrices ``A`` (N, 2, 2) and offsets ``t`` (N, 2) with source = A @ output + t.

    Coordinates are (x, y) in pixels from the image centre.

    Args:
        degrees: rotation, counter-clockwise on screen.
        dx, dy: shift in pixels, right and down.
        zoom: factor > 1 enlarges the content.
        flip: bools; mirror left-right before the rest of the transform.

    Shape:
        every argument ``(N,)``; returns ``A (N, 2, 2)`` and ``t (N, 2)``.

    Example:
        >>> A, t = inverse_affine(np.array([90.0]), np.array([3.0]), np.array([0.0]), np.array([2.0]),
        ...                       np.array([False]))
        >>> A[0].round(3) + 0.0, t[0].round(3) + 0.0  # a 3-pixel shift right, then undo a 90-degree turn and 2x
        (array([[ 0. , -0.5],
               [ 0.5,  0. ]]), array([ 0. , -1.5]))
    """
    theta = np.deg2rad(degrees)
    cos, sin = np.cos(theta), np.sin(theta)
    # Inverse rotation (counter-clockwise on screen, y pointing down), then undo the zoom.
    A = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2) / zoom[:, None, None]
    # Mirroring came first in the forward transform, so it is applied last here: negate source x.
    A[:, 0, :] *= np.where(flip, -1.0, 1.0)[:, None]
    t = -np.einsum("nij,nj->ni", A, np.stack([dx, dy], -1))
    return A, t


def _sample_bilinear(batch, src_x, src_y, fill):
    """Read NHWC ``batch`` at fractional pixel positions (N, H, W) with bilinear weights."""
    n, h, w, _ = batch.shape
    if fill == "nearest":
        src_x = np.clip(src_x, 0, w - 1)
        src_y = np.clip(src_y, 0, h - 1)
    x0, y0 = np.floor(src_x).astype(np.int64), np.floor(src_y).astype(np.int64)
    fx, fy = src_x - x0, src_y - y0
    out = np.zeros((n, h, w, batch.shape[3]))
    index_n = np.arange(n)[:, None, None]
    for ox, oy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                           (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + ox, y0 + oy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        # Neighbours outside the image contribute 0, exactly like grid_sample(padding_mode="zeros").
        values = batch[index_n, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        out += (weight * inside)[..., None] * values
    return out


def warp(img, degrees=0.0, shift=(0.0, 0.0), zoom=1.0, flip=False, fill="nearest"):
    """Apply a flip / rotation / shift / zoom to an image or batch (the deterministic core).

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        degrees: rotation, counter-clockwise on screen (a number, or one per image).
        shift: ``(dy, dx)`` in pixels, positive = down / right (a pair, or arrays of one per image).
        zoom: factor > 1 enlarges the content, < 1 shrinks it.
        flip: mirror left-right first.
        fill: "nearest" (repeat the edge) or "constant" (zeros).

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> img = np.arange(9.0).reshape(3, 3)
        >>> warp(img, shift=(0, 1), fill="constant")  # one pixel to the right, zeros come in
        array([[0., 0., 1.],
               [0., 3., 4.],
               [0., 6., 7.]])
        >>> np.allclose(warp(img, degrees=90), np.rot90(img))  # counter-clockwise, as np.rot90
        True
    """
    _check_fill(fill)
    batch, restore = _to_batch(img)
    n, h, w, _ = batch.shape
    if len(shift) != 2:
        raise ValueError(f"shift must be a pair (dy, dx), got {shift!r}")
    dy, dx = _per_image(shift[0], n, "shift[0]"), _per_image(shift[1], n, "shift[1]")
    zoom = _per_image(zoom, n, "zoom")
    if np.any(zoom <= 0):
        raise ValueError(f"zoom must be > 0, got {zoom}")
    flip = np.broadcast_to(np.asarray(flip, dtype=bool), (n,))
    A, t = inverse_affine(_per_image(degrees, n, "degrees"), dx, dy, zoom, flip)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    xc, yc = xs - (w - 1) / 2, ys - (h - 1) / 2
    src_x = A[:, 0, 0, None, None] * xc + A[:, 0, 1, None, None] * yc + t[:, 0, None, None] + (w - 1) / 2
    src_y = A[:, 1, 0, None, None] * xc + A[:, 1, 1, None, None] * yc + t[:, 1, None, None] + (h - 1) / 2
    return restore(_sample_bilinear(batch, src_x, src_y, fill))


# ------------------------------------------------------- random NumPy versions


def _batch_size(img):
    img = np.asarray(img)
    if img.ndim == 4 or (img.ndim == 3 and img.shape[-1] not in (1, 3, 4)):
        return img.shape[0]
    return None


def random_flip(img, rng=None, horizontal=True):
    """Mirror each image with probability 1/2 (left-right, or top-bottom if ``horizontal=False``).

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        rng: a ``np.random.Generator``, an int seed or None.
        horizontal: mirror left-right (True) or top-bottom (False).

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> batch = np.arange(40.0).reshape(4, 2, 5)  # four grey 2x5 images
        >>> out = random_flip(batch, rng=0)  # flips where rng.random(4) < 0.5: 0.64, 0.27, 0.04, 0.02
        >>> [bool(np.array_equal(o, b[:, ::-1])) for o, b in zip(out, batch)]
        [False, True, True, True]
    """
    rng = as_rng(rng)
    batch, restore = _to_batch(img)
    axis = 2 if horizontal else 1
    flips = rng.random(batch.shape[0]) < 0.5
    out = batch.copy()
    out[flips] = np.flip(batch[flips], axis=axis)
    return restore(out)


def random_shift(img, max_shift, rng=None, fill="nearest"):
    """Shift each image by a random (dy, dx).

    ``max_shift`` < 1 is a fraction of the height / width (Keras' ``width_shift_range=0.1``)
    and shifts are drawn uniformly from [-max_shift, max_shift] of the size; ``max_shift`` >= 1
    is a whole number of pixels and shifts are random integers in that range.

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        max_shift: a fraction of the size (< 1) or a number of pixels (>= 1).
        rng: a ``np.random.Generator``, an int seed or None.
        fill: "nearest" or "constant".

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> img = np.zeros((5, 5)); img[2, 2] = 1.0
        >>> moved = random_shift(img, 2, rng=0, fill="constant")
        >>> moved.shape, float(moved.sum()), len(np.flatnonzero(moved))  # the dot moved whole pixels
        ((5, 5), 1.0, 1)
    """
    max_shift = _check_nonneg("max_shift", max_shift)
    rng = as_rng(rng)
    batch, _ = _to_batch(img)
    n, h, w, _ = batch.shape
    if max_shift < 1:
        dy = rng.uniform(-max_shift, max_shift, n) * h
        dx = rng.uniform(-max_shift, max_shift, n) * w
    else:
        limit = int(max_shift)
        dy = rng.integers(-limit, limit + 1, n).astype(float)
        dx = rng.integers(-limit, limit + 1, n).astype(float)
    single = _batch_size(img) is None
    return warp(img, shift=(dy[0], dx[0]) if single else (dy, dx), fill=fill)


def random_rotation(img, max_degrees, rng=None, fill="nearest"):
    """Rotate each image by an angle drawn uniformly from [-max_degrees, max_degrees].

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        max_degrees: largest angle, in [0, 360).
        rng: a ``np.random.Generator``, an int seed or None.
        fill: "nearest" or "constant".

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> img = np.full((8, 8), 200, np.uint8)
        >>> out = random_rotation(img, 30, rng=0)
        >>> out.dtype, bool((out == 200).all())  # a flat image stays flat ("nearest" fill)
        (dtype('uint8'), True)
    """
    max_degrees = _check_nonneg("max_degrees", max_degrees, upper=360)
    rng = as_rng(rng)
    n = _batch_size(img)
    degrees = rng.uniform(-max_degrees, max_degrees, n or 1)
    return warp(img, degrees=degrees[0] if n is None else degrees, fill=fill)


def random_zoom(img, max_zoom, rng=None, fill="nearest"):
    """Zoom each image by a factor drawn uniformly from [1 - max_zoom, 1 + max_zoom].

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        max_zoom: in [0, 1).
        rng: a ``np.random.Generator``, an int seed or None.
        fill: "nearest" or "constant".

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> img = np.random.default_rng(0).random((3, 6, 6))
        >>> np.allclose(random_zoom(img, 0.0, rng=0), img)  # a factor of exactly 1 changes nothing
        True
    """
    max_zoom = _check_nonneg("max_zoom", max_zoom, upper=1)
    rng = as_rng(rng)
    n = _batch_size(img)
    factors = rng.uniform(1 - max_zoom, 1 + max_zoom, n or 1)
    return warp(img, zoom=factors[0] if n is None else factors, fill=fill)


def adjust_brightness(img, delta):
    """Add ``delta`` times the full range (255 for uint8, 1 for floats) and clip to that range.

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        delta: a number or, for a batch, one number per image.

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> adjust_brightness(np.array([[0, 100, 250]], np.uint8), 0.1)  # + 25.5, clipped at 255
        array([[ 26, 126, 255]], dtype=uint8)
    """
    batch, restore = _to_batch(img)
    delta = _per_image(delta, batch.shape[0], "delta")
    low, high = _value_range(img)
    return restore(np.clip(batch + delta[:, None, None, None] * high, low, high))


def adjust_contrast(img, factor):
    """Scale each image's distance from its own per-channel mean by ``factor``, then clip.

    Args:
        img: HW, HWC, NHW or NHWC, uint8 or float.
        factor: >= 0; > 1 raises contrast, < 1 lowers it, 1 changes nothing (as ``tf.image.adjust_contrast``).
            A number or, for a batch, one number per image.

    Shape:
        the output has the shape and dtype of ``img``.

    Example:
        >>> adjust_contrast(np.array([[0.2, 0.4, 0.6]]), 2.0)  # twice as far from the mean 0.4
        array([[0. , 0.4, 0.8]])
    """
    batch, restore = _to_batch(img)
    factor = _per_image(factor, batch.shape[0], "factor")
    if np.any(factor < 0):
        raise ValueError(f"factor must be >= 0, got {factor}")
    low, high = _value_range(img)
    mean = batch.mean(axis=(1, 2), keepdims=True)
    return restore(np.clip(mean + (batch - mean) * factor[:, None, None, None], low, high))


# ------------------------------------------------------------------- Augmenter


class Augmenter:
    """Random augmentation of training batches, like Keras' ``ImageDataGenerator``.

    ``aug(batch, rng)`` augments a NumPy batch (NHWC / NHW, uint8 or float in [0, 1]);
    ``aug.torch(batch)`` augments a float tensor (N, C, H, W) in [0, 1] on its own device.
    Each image gets its own random parameters.

    Args:
        flip: mirror left-right with probability 1/2.
        shift: largest shift as a fraction of height / width, in [0, 1).
        rotation: largest rotation in degrees, in [0, 180].
        zoom: zoom factors drawn from [1 - zoom, 1 + zoom], zoom in [0, 1).
        brightness: add a value drawn from [-brightness, brightness] (times 255 for uint8).
        contrast: contrast factors drawn from [1 - contrast, 1 + contrast], contrast in [0, 1).
        fill: "nearest" or "constant" (zeros) for pixels that come from outside the image.

    Shape:
        shapes and dtypes are preserved: NHWC / NHW (or one HWC / HW image) for NumPy, (N, C, H, W) for torch.

    Example:
        >>> import torch
        >>> aug = Augmenter(rotation=10)
        >>> aug(np.zeros((4, 28, 28), np.uint8), rng=0).shape
        (4, 28, 28)
        >>> out = aug.torch(torch.rand(4, 3, 16, 16), generator=torch.Generator().manual_seed(0))
        >>> out.shape, bool(out.min() >= 0 and out.max() <= 1)
        (torch.Size([4, 3, 16, 16]), True)
    """

    def __init__(self, flip=True, shift=0.1, rotation=15, zoom=0.1, brightness=0.1, contrast=0.1,
                 fill="nearest"):
        if not isinstance(flip, (bool, np.bool_)):
            raise TypeError(f"flip must be True or False, got {flip!r}")
        self.flip = bool(flip)
        self.shift = _check_nonneg("shift", shift, upper=1)
        self.rotation = _check_nonneg("rotation", rotation)
        if self.rotation > 180:
            raise ValueError(f"rotation must be in [0, 180] degrees, got {rotation!r}")
        self.zoom = _check_nonneg("zoom", zoom, upper=1)
        self.brightness = _check_nonneg("brightness", brightness, upper=1)
        self.contrast = _check_nonneg("contrast", contrast, upper=1)
        _check_fill(fill)
        self.fill = fill

    def __repr__(self):
        return (f"Augmenter(flip={self.flip}, shift={self.shift}, rotation={self.rotation}, zoom={self.zoom}, "
                f"brightness={self.brightness}, contrast={self.contrast}, fill={self.fill!r})")

    @property
    def _geometric(self):
        return self.flip or self.shift > 0 or self.rotation > 0 or self.zoom > 0

    def sample(self, n, uniform):
        """Draw per-image parameters from ``uniform(low, high, n)``; returns a dict of arrays.

        Args:
            n: the number of images.
            uniform: ``(low, high, n) -> n`` draws: ``rng.uniform`` for NumPy, a torch version in :meth:`torch`.
        """
        return {
            "flip": uniform(0.0, 1.0, n) < 0.5 if self.flip else uniform(0.0, 0.0, n) > 1,
            "dx": uniform(-self.shift, self.shift, n),  # fractions of the width
            "dy": uniform(-self.shift, self.shift, n),
            "degrees": uniform(-self.rotation, self.rotation, n),
            "zoom": uniform(1 - self.zoom, 1 + self.zoom, n),
            "brightness": uniform(-self.brightness, self.brightness, n),
            "contrast": uniform(1 - self.contrast, 1 + self.contrast, n),
        }

    def __call__(self, batch, rng=None):
        """Augment a NumPy batch NHWC or NHW (a single HWC / HW image also works).

        Args:
            batch: uint8 or float in [0, 1].
            rng: a ``np.random.Generator``, an int seed or None.
        """
        rng = as_rng(rng)
        single = _batch_size(batch) is None
        images = np.asarray(batch)
        if single:
            images = images[None] if images.ndim == 3 else images[None, :, :]
        h, w = images.shape[1], images.shape[2]
        p = self.sample(images.shape[0], rng.uniform)
        out = images
        if self._geometric:
            out = warp(out, degrees=p["degrees"], shift=(p["dy"] * h, p["dx"] * w), zoom=p["zoom"],
                       flip=p["flip"], fill=self.fill)
        if self.brightness > 0:
            out = adjust_brightness(out, p["brightness"])
        if self.contrast > 0:
            out = adjust_contrast(out, p["contrast"])
        return out[0] if single else out

    def torch(self, batch, generator=None):
        """Augment a float tensor (N, C, H, W) in [0, 1] on its own device with one batched warp.

        ``generator`` (a ``torch.Generator``) makes the draw repeatable; by default PyTorch's
        global generator is used (seeded by ``cnnlab.seed_everything``). Returns a new tensor of
        the same shape, dtype and device, clamped to [0, 1].

        Args:
            batch: float tensor ``(N, C, H, W)`` in [0, 1].
            generator: a ``torch.Generator`` or None.
        """
        import torch as pytorch

        draw_device = _draw_device(batch, generator)
        n, _, h, w = batch.shape

        def uniform(low, high, size):
            u = pytorch.rand(size, generator=generator, device=draw_device, dtype=pytorch.float64)
            return (low + (high - low) * u).to(batch.device)

        p = self.sample(n, uniform)
        out = batch
        if self._geometric:
            theta = affine_theta(p["degrees"], p["dy"] * h, p["dx"] * w, p["zoom"], p["flip"], h, w)
            out = warp_torch(out, theta, fill=self.fill)
        if self.brightness > 0:
            out = out + p["brightness"].to(out.dtype).view(n, 1, 1, 1)
        if self.contrast > 0:
            mean = out.mean(dim=(2, 3), keepdim=True)
            out = mean + (out - mean) * p["contrast"].to(out.dtype).view(n, 1, 1, 1)
        return out.clamp(0.0, 1.0)


def affine_theta(degrees, dy, dx, zoom, flip, height, width):
    """Build ``theta`` (N, 2, 3) for ``affine_grid`` from per-image tensors (pixels, degrees).

    ``affine_grid`` works in normalised coordinates (-1 .. 1 across the image, align_corners=False),
    where a pixel offset of ``d`` is ``2 d / size``. With S = diag(W/2, H/2) mapping normalised to
    centred pixel coordinates, theta = [S^-1 A S | S^-1 t].

    Args:
        degrees, dy, dx, zoom: float tensors, as for :func:`inverse_affine` (pixels, degrees).
        flip: a bool tensor.
        height, width: the image size in pixels.

    Shape:
        every tensor argument ``(N,)``; returns ``(N, 2, 3)``.

    Example:
        >>> import torch
        >>> zeros, ones = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
        >>> affine_theta(zeros, zeros, zeros, ones, torch.tensor([False]), 8, 8) + 0  # the identity (+ 0: no -0.)
        tensor([[[1., 0., 0.],
                 [0., 1., 0.]]], dtype=torch.float64)
    """
    import torch as pytorch

    rad = pytorch.deg2rad(degrees)
    cos, sin = pytorch.cos(rad), pytorch.sin(rad)
    sign = pytorch.where(flip, -1.0, 1.0).to(cos.dtype)
    # Same matrix as inverse_affine: inverse rotation / zoom, mirroring negates the source x row.
    a00, a01 = sign * cos / zoom, -sign * sin / zoom
    a10, a11 = sin / zoom, cos / zoom
    tx = -(a00 * dx + a01 * dy)
    ty = -(a10 * dx + a11 * dy)
    sx, sy = width / 2.0, height / 2.0
    row0 = pytorch.stack([a00, a01 * sy / sx, tx / sx], dim=-1)
    row1 = pytorch.stack([a10 * sx / sy, a11, ty / sy], dim=-1)
    return pytorch.stack([row0, row1], dim=1)


def warp_torch(batch, theta, fill="nearest"):
    """Warp a float tensor (N, C, H, W) with ``theta`` (N, 2, 3) using affine_grid + grid_sample.

    Args:
        batch: float tensor ``(N, C, H, W)``.
        theta: ``(N, 2, 3)`` from :func:`affine_theta` (normalised coordinates, align_corners=False).
        fill: "nearest" (``padding_mode="border"``) or "constant" (zeros).

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 5, 5)
        >>> identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)
        >>> torch.allclose(warp_torch(x, identity), x, atol=1e-6)
        True
    """
    import torch.nn.functional as F

    _check_fill(fill)
    theta = theta.to(device=batch.device, dtype=batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", align_corners=False,
                         padding_mode="border" if fill == "nearest" else "zeros")


# ------------------------------------------------------------- crops and noise


class RandomCrop:
    """Pad by ``padding`` pixels of zeros, then cut a random window of the original size (integer shifts).

    The augmentation of the CIFAR-10 ResNets (pad 4, crop 32): every image moves by up to ``padding``
    pixels in each direction, with no interpolation, so pixel values are never blurred. With
    ``flip=True`` half of the images are also mirrored left-right.

    ``crop.torch(batch, generator)`` works on a float tensor (N, C, H, W) on its own device (what
    ``cnnlab.train.fit(augment=...)`` calls); ``crop(batch, rng)`` on a NumPy batch (N, H, W) or (N, H, W, C).

    Shape:
        (N, C, H, W) -> (N, C, H, W): the output at ``(i, j)`` is the input at ``(i + dy, j + dx)``, with
        ``dy, dx`` drawn uniformly from ``-padding .. padding`` per image, and 0 outside the image.

    Args:
        padding: largest shift in pixels (a non-negative int).
        flip: also mirror half of the images left-right.

    Example:
        >>> import torch
        >>> batch = torch.rand(8, 1, 28, 28)
        >>> out = RandomCrop(2).torch(batch, generator=torch.Generator().manual_seed(0))
        >>> out.shape, torch.equal(RandomCrop(0).torch(batch), batch)
        (torch.Size([8, 1, 28, 28]), True)
    """

    def __init__(self, padding, flip=False):
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"padding must be a non-negative int (pixels), got {padding!r}")
        if not isinstance(flip, (bool, np.bool_)):
            raise TypeError(f"flip must be True or False, got {flip!r}")
        self.padding = int(padding)
        self.flip = bool(flip)

    def __repr__(self):
        return f"RandomCrop(padding={self.padding}, flip={self.flip})"

    def torch(self, batch, generator=None):
        """Crop a float tensor (N, C, H, W) on its own device; ``generator`` (a ``torch.Generator``) seeds the draw."""
        import torch as pytorch
        import torch.nn.functional as F

        draw_device = _draw_device(batch, generator)
        n, c, h, w = batch.shape
        p = self.padding
        offsets = pytorch.randint(0, 2 * p + 1, (2, n), generator=generator, device=draw_device).to(batch.device)
        flips = pytorch.rand(n, generator=generator, device=draw_device).to(batch.device) < 0.5
        padded = F.pad(batch, (p, p, p, p))
        # one gather for the whole batch: row index dy + i and column index dx + j of the padded image
        rows = (offsets[0].view(n, 1) + pytorch.arange(h, device=batch.device).view(1, h))  # (N, H)
        cols = (offsets[1].view(n, 1) + pytorch.arange(w, device=batch.device).view(1, w))  # (N, W)
        if self.flip:
            cols = pytorch.where(flips.view(n, 1), cols.flip(1), cols)
        out = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2 * p))
        return out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))

    def __call__(self, batch, rng=None):
        """Crop a NumPy batch (N, H, W) or (N, H, W, C); the loop version of ``torch``."""
        rng = as_rng(rng)
        images = np.asarray(batch)
        if images.ndim not in (3, 4):
            raise ValueError(f"batch must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
        p = self.padding
        pad = [(0, 0), (p, p), (p, p)] + [(0, 0)] * (images.ndim - 3)
        padded = np.pad(images, pad)
        h, w = images.shape[1:3]
        out = np.empty_like(images)
        for k in range(images.shape[0]):
            dy, dx = rng.integers(0, 2 * p + 1, size=2)
            out[k] = padded[k, dy:dy + h, dx:dx + w]
            if self.flip and rng.random() < 0.5:
                out[k] = out[k][:, ::-1]
        return out


class GaussianNoise:
    """Add independent Gaussian noise of standard deviation ``std`` to every pixel, then clip to [0, 1].

    The "augmentation" that lecture note 003 says "will not help": it changes pixel values but never
    the geometry, so the network sees no new shapes or positions.

    Args:
        std: the standard deviation, >= 0.

    Shape:
        (N, C, H, W) -> (N, C, H, W), float in [0, 1].

    Example:
        >>> import torch
        >>> noisy = GaussianNoise(0.1).torch(torch.full((4, 1, 32, 32), 0.5), generator=torch.Generator().manual_seed(0))
        >>> round(float(noisy.std()), 2), bool(noisy.min() >= 0)
        (0.1, True)
    """

    def __init__(self, std):
        if isinstance(std, bool) or not isinstance(std, (int, float)) or std < 0:
            raise ValueError(f"std must be a non-negative number, got {std!r}")
        self.std = float(std)

    def __repr__(self):
        return f"GaussianNoise(std={self.std})"

    def torch(self, batch, generator=None):
        """Add the noise to a float tensor (N, C, H, W); ``generator`` (a ``torch.Generator``) seeds the draw."""
        import torch as pytorch

        draw_device = _draw_device(batch, generator)
        noise = pytorch.randn(batch.shape, generator=generator, device=draw_device, dtype=batch.dtype)
        return (batch + self.std * noise.to(batch.device)).clamp(0.0, 1.0)
