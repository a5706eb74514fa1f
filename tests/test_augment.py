"""cnnlab.augment: NumPy transforms, the batched torch warp, and the two agreeing with each other."""

import numpy as np
import pytest
import torch

from cnnlab import augment


def dot_image(h=9, w=11, row=4, col=5):
    image = np.zeros((h, w), dtype=np.float64)
    image[row, col] = 1.0
    return image


def test_flip_twice_is_identity():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (8, 6, 7, 3), dtype=np.uint8)
    once = augment.warp(batch, flip=True)
    np.testing.assert_array_equal(once, batch[:, :, ::-1])
    np.testing.assert_array_equal(augment.warp(once, flip=True), batch)
    flipped = augment.random_flip(batch, np.random.default_rng(3))
    changed = [not np.array_equal(a, b) for a, b in zip(flipped, batch)]
    assert 0 < sum(changed) < len(batch)  # some flipped, some not
    for a, b, c in zip(flipped, batch, changed):
        np.testing.assert_array_equal(a, b[:, ::-1] if c else b)


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 3), (4, 9, 11), (4, 9, 11, 1)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_zero_transforms_are_identity_and_shapes_dtypes_kept(shape, dtype):
    rng = np.random.default_rng(1)
    img = rng.random(shape).astype(np.float32)
    img = (img * 255).astype(np.uint8) if dtype == np.uint8 else img
    for out in (augment.random_shift(img, 0.0, rng), augment.random_rotation(img, 0.0, rng),
                augment.random_zoom(img, 0.0, rng), augment.adjust_brightness(img, 0.0),
                augment.adjust_contrast(img, 1.0), augment.warp(img)):
        assert out.shape == img.shape and out.dtype == img.dtype
        np.testing.assert_array_equal(out, img)
    out = augment.Augmenter()(img, rng)
    assert out.shape == img.shape and out.dtype == img.dtype


def test_shift_moves_a_bright_pixel_numpy():
    image = dot_image()
    out = augment.warp(image, shift=(2, -3))
    assert np.argwhere(out == 1.0).tolist() == [[6, 2]]
    assert out.sum() == 1.0
    # Integer max_shift draws whole-pixel shifts, so the dot stays one exact pixel.
    batch = np.stack([image] * 6)
    moved = augment.random_shift(batch, 2, np.random.default_rng(0), fill="constant")
    for img in moved:
        (r, c), = np.argwhere(img == 1.0)
        assert abs(r - 4) <= 2 and abs(c - 5) <= 2


def test_rotation_by_90_degrees_moves_right_to_top():
    image = dot_image(7, 7, row=3, col=5)
    out = augment.warp(image, degrees=90)
    assert np.argwhere(out > 0.999).tolist() == [[1, 3]]


def test_zoom_enlarges_about_the_centre():
    image = dot_image(9, 9, row=4, col=6)  # 2 pixels right of the centre
    out = augment.warp(image, zoom=2.0)
    assert out[4, 8] == pytest.approx(1.0)  # now 4 pixels right


def torch_shift(image_hw, dy, dx):
    batch = torch.tensor(image_hw)[None, None]
    theta = augment.affine_theta(torch.tensor([0.0], dtype=torch.float64), torch.tensor([float(dy)], dtype=torch.float64),
                                 torch.tensor([float(dx)], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64),
                                 torch.tensor([False]), *image_hw.shape)
    return augment.warp_torch(batch, theta, fill="constant")[0, 0].numpy()


def test_shift_moves_a_bright_pixel_torch():
    out = torch_shift(dot_image(), 2, -3)
    assert np.argwhere(np.isclose(out, 1.0)).tolist() == [[6, 2]]
    assert out.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("fill", augment.FILL_MODES)
def test_numpy_and_torch_warps_agree(fill):
    rng = np.random.default_rng(2)
    images = rng.random((4, 8, 13, 2))  # not square, to catch aspect-ratio mistakes
    params = dict(degrees=np.array([0.0, 30.0, -45.0, 10.0]), dy=np.array([1.0, -2.5, 0.0, 0.3]),
                  dx=np.array([3.0, 0.5, -1.0, 0.0]), zoom=np.array([1.0, 1.2, 0.8, 1.1]),
                  flip=np.array([False, True, True, False]))
    expected = augment.warp(images, params["degrees"], (params["dy"], params["dx"]), params["zoom"], params["flip"], fill)
    theta = augment.affine_theta(*(torch.tensor(params[k]) for k in ("degrees", "dy", "dx", "zoom", "flip")), 8, 13)
    got = augment.warp_torch(torch.tensor(images).permute(0, 3, 1, 2), theta, fill).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_brightness_and_contrast():
    img = np.array([[0.2, 0.4], [0.6, 0.8]])
    np.testing.assert_allclose(augment.adjust_brightness(img, 0.1), img + 0.1)
    np.testing.assert_allclose(augment.adjust_brightness(img, 0.5), np.minimum(img + 0.5, 1.0))
    np.testing.assert_allclose(augment.adjust_contrast(img, 2.0), [[0.0, 0.3], [0.7, 1.0]])
    u8 = np.array([[250, 10]], dtype=np.uint8)
    np.testing.assert_array_equal(augment.adjust_brightness(u8, 0.1), [[255, 36]])


def test_augmenter_numpy_reproducible_and_in_range():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    aug = augment.Augmenter(flip=True, shift=0.2, rotation=30, zoom=0.2, brightness=0.3, contrast=0.3)
    a = aug(batch, np.random.default_rng(7))
    b = aug(batch, np.random.default_rng(7))
    c = aug(batch, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.uint8 and a.shape == batch.shape
    floats = aug(batch / 255.0, 1)
    assert floats.min() >= 0.0 and floats.max() <= 1.0


def test_augmenter_torch_reproducible_in_range_and_on_device():
    x = torch.rand(6, 3, 12, 10)
    aug = augment.Augmenter(shift=0.2, rotation=40, zoom=0.2, brightness=0.5, contrast=0.5)
    a = aug.torch(x, generator=torch.Generator().manual_seed(0))
    b = aug.torch(x, generator=torch.Generator().manual_seed(0))
    c = aug.torch(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype and a.device == x.device
    assert a.min() >= 0 and a.max() <= 1
    identity = augment.Augmenter(flip=False, shift=0, rotation=0, zoom=0, brightness=0, contrast=0)
    assert torch.equal(identity.torch(x), x)


def test_augmenter_torch_shift_only_moves_dot_within_range():
    image = torch.zeros(32, 1, 21, 21)
    image[:, :, 10, 10] = 1.0
    aug = augment.Augmenter(flip=False, shift=0.2, rotation=0, zoom=0, brightness=0, contrast=0, fill="constant")
    out = aug.torch(image, generator=torch.Generator().manual_seed(0))
    # Mass is conserved by bilinear interpolation when the dot stays inside; its centre of mass
    # moves by at most 0.2 * 21 = 4.2 pixels and the shifts are not all zero.
    ys, xs = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing="ij")
    mass = out.sum(dim=(1, 2, 3))
    assert torch.allclose(mass, torch.ones(32), atol=1e-5)
    cy = (out[:, 0] * ys).sum(dim=(1, 2)) / mass
    cx = (out[:, 0] * xs).sum(dim=(1, 2)) / mass
    assert ((cy - 10).abs() <= 4.2 + 1e-4).all() and ((cx - 10).abs() <= 4.2 + 1e-4).all()
    assert (cx - 10).abs().max() > 1.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(shift=1.5), "shift"), (dict(rotation=-1), "rotation"), (dict(zoom=1.0), "zoom"),
    (dict(brightness=2), "brightness"), (dict(contrast=-0.1), "contrast"), (dict(fill="wrap"), "fill"),
])
def test_augmenter_validates_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        augment.Augmenter(**kwargs)


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match="flip"):
        augment.Augmenter(flip="yes")
    with pytest.raises(ValueError, match="img"):
        augment.warp(np.zeros((1, 2, 3, 4, 5)))
    with pytest.raises(TypeError, match="img"):
        augment.warp(np.zeros((4, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="degrees"):
        augment.warp(np.zeros((3, 4, 4)), degrees=np.zeros(2))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        augment.Augmenter().torch(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="max_degrees"):
        augment.random_rotation(np.zeros((4, 4)), -5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augmenter_torch_runs_on_the_gpu_and_matches_cpu():
    x = torch.rand(8, 3, 16, 16)
    aug = augment.Augmenter(shift=0.2, rotation=30, zoom=0.2, brightness=0.2, contrast=0.2)
    on_cpu = aug.torch(x, generator=torch.Generator().manual_seed(0))
    on_gpu = aug.torch(x.to("cuda"), generator=torch.Generator().manual_seed(0))
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-5, rtol=1e-5)


def test_random_crop_is_an_integer_shift_with_zero_fill():
    generator = torch.Generator().manual_seed(0)
    batch = torch.rand(64, 2, 9, 11)
    out = augment.RandomCrop(2).torch(batch, generator=generator)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    padded = torch.nn.functional.pad(batch, (2, 2, 2, 2))
    shifts = set()
    for k in range(64):
        # each output is exactly one window of the zero-padded input: find it by comparison
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(out[k], padded[k, :, dy:dy + 9, dx:dx + 11])]
        assert matches, k
        shifts.add(matches[0])
    assert len(shifts) > 10  # the offsets really vary
    assert torch.equal(augment.RandomCrop(0).torch(batch), batch)


def test_random_crop_flip_mirrors_half_and_numpy_version_agrees_in_kind():
    batch = torch.rand(200, 1, 6, 6)
    out = augment.RandomCrop(0, flip=True).torch(batch, generator=torch.Generator().manual_seed(1))
    flipped = [torch.equal(o, b.flip(-1)) for o, b in zip(out, batch)]
    same = [torch.equal(o, b) for o, b in zip(out, batch)]
    assert all(f or s for f, s in zip(flipped, same)) and 60 < sum(flipped) < 140
    images = np.random.default_rng(0).random((20, 6, 7))
    crops = augment.RandomCrop(1)(images, np.random.default_rng(0))
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1)])
    for k in range(20):
        assert any(np.array_equal(crops[k], padded[k, dy:dy + 6, dx:dx + 7]) for dy in range(3) for dx in range(3))
    with pytest.raises(ValueError, match="padding"):
        augment.RandomCrop(-1)
    with pytest.raises(ValueError, match="batch"):
        augment.RandomCrop(1).torch(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="batch"):
        augment.RandomCrop(1)(np.zeros((3, 4)))


def test_gaussian_noise_has_the_asked_spread_and_stays_in_range():
    batch = torch.full((100, 1, 20, 20), 0.5)
    noisy = augment.GaussianNoise(0.1).torch(batch, generator=torch.Generator().manual_seed(0))
    assert float((noisy - batch).std()) == pytest.approx(0.1, rel=0.05)
    assert float(noisy.min()) >= 0 and float(noisy.max()) <= 1
    clipped = augment.GaussianNoise(1.0).torch(torch.zeros(4, 1, 5, 5))
    assert float(clipped.min()) == 0.0
    with pytest.raises(ValueError, match="std"):
        augment.GaussianNoise(-0.1)
