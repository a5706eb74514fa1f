"""cnnlab.reference.conv against torch.nn.functional.conv2d (forward and autograd backward),
published vectors (CS231n, d2l) and its own loop version."""

import numpy as np
import pytest

from cnnlab import reference as R
from cnnlab.checks import conv_geometry
from cnnlab.gradcheck import rel_error

torch = pytest.importorskip("torch")
F = torch.nn.functional


def random_conv_case(seed):
    """Seeded random conv problem: non-square images and kernels, strides, paddings, with/without bias."""
    rng = np.random.default_rng(seed)
    while True:
        N, C, Fo = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 5)
        H, W = rng.integers(1, 10, size=2)
        KH, KW = rng.integers(1, 5, size=2)
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = [0, "valid", "same", int(rng.integers(0, 3)), (int(rng.integers(0, 3)), int(rng.integers(0, 3)))][
            rng.integers(0, 5)
        ]
        if padding == "same":
            stride = 1
        try:
            conv_geometry((N, C, H, W), (Fo, C, KH, KW), stride, padding)
        except ValueError:
            continue  # kernel larger than the padded input: draw again
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((Fo, C, KH, KW))
        b = rng.standard_normal(Fo) if rng.random() < 0.7 else None
        return x, w, b, stride, padding, rng


def torch_conv(x, w, b, stride, padding, dout):
    """Output and autograd gradients (dx, dw, db) from PyTorch."""
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    out.backward(torch.tensor(dout))
    db = None if bt is None else bt.grad.numpy()
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), db


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(20))
def test_conv2d_matches_torch_float64(seed):
    x, w, b, stride, padding, rng = random_conv_case(seed)
    out = R.conv2d(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    out_t, dx_t, dw_t, db_t = torch_conv(x, w, b, stride, padding, dout)
    assert out.shape == out_t.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, out_t, rtol=1e-7, atol=1e-12)
    dx, dw, db = R.conv2d_backward(dout, x, w, stride, padding)
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose(dx, dx_t, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(dw, dw_t, rtol=1e-7, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(db, db_t, rtol=1e-7, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(100, 108))
def test_conv2d_matches_torch_float32(seed):
    x, w, b, stride, padding, rng = random_conv_case(seed)
    x, w = x.astype(np.float32), w.astype(np.float32)
    b = None if b is None else b.astype(np.float32)
    out = R.conv2d(x, w, b, stride, padding)
    assert out.dtype == np.float32
    dout = rng.standard_normal(out.shape).astype(np.float32)
    out_t, dx_t, dw_t, _ = torch_conv(x, w, b, stride, padding, dout)
    dx, dw, db = R.conv2d_backward(dout, x, w, stride, padding)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_allclose(out, out_t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dw, dw_t, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(10))
def test_conv2d_naive_equals_vectorised(seed):
    x, w, b, stride, padding, _ = random_conv_case(seed)
    np.testing.assert_allclose(R.conv2d_naive(x, w, b, stride, padding), R.conv2d(x, w, b, stride, padding),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel", [(2, 2), (3, 4), (4, 1), (5, 5)])
def test_same_padding_keeps_size_and_matches_torch_for_even_kernels(kernel):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 6, 7))
    w = rng.standard_normal((4, 3, *kernel))
    out = R.conv2d(x, w, padding="same")
    assert out.shape == (2, 4, 6, 7)
    np.testing.assert_allclose(out, F.conv2d(torch.tensor(x), torch.tensor(w), padding="same").numpy(), rtol=1e-7, atol=1e-12)


def test_cs231n_conv_forward_naive_vector():
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    correct_out = np.array(
        [[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
          [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
          [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
         [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
          [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
          [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]]
    )
    for conv in (R.conv2d, R.conv2d_naive):
        assert rel_error(conv(x, w, b, stride=2, padding=1), correct_out) < 1e-7


def test_d2l_corr2d_vector():
    X = np.array([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = np.array([[0.0, 1], [2, 3]])
    np.testing.assert_array_equal(R.corr2d(X, K), [[19.0, 25.0], [37.0, 43.0]])


def test_corr2d_matches_torch_single_channel():
    rng = np.random.default_rng(3)
    X, K = rng.standard_normal((6, 9)), rng.standard_normal((2, 4))
    expected = F.conv2d(torch.tensor(X)[None, None], torch.tensor(K)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(R.corr2d(X, K), expected, rtol=1e-7, atol=1e-12)


def test_integer_input_is_promoted_to_float64():
    x = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4)
    w = np.ones((1, 1, 2, 2), dtype=np.int64)
    out = R.conv2d(x, w)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, F.conv2d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64)).numpy())


@pytest.mark.parametrize("n,f,s,p,expected", [(32, 3, 1, 1, 32), (32, 3, 2, 1, 16), (7, 3, 2, 0, 3), (5, 5, 1, 0, 1), (6, 2, 3, 1, 3)])
def test_output_size_formula_and_conv2d_shape(n, f, s, p, expected):
    # expected: floor((n + 2p - f) / s) + 1 worked by hand; conv2d's output must have that size, as torch's does
    assert R.output_size(n, f, s, p) == expected
    x, w = np.zeros((1, 1, n, n + 1)), np.zeros((1, 1, f, f))
    out = R.conv2d(x, w, stride=s, padding=p)
    assert out.shape == F.conv2d(torch.tensor(x), torch.tensor(w), stride=s, padding=p).shape
    assert out.shape[2] == expected and out.shape[3] == R.output_size(n + 1, f, s, p)


@pytest.mark.parametrize("chunk_bytes", [1, 3000])
def test_conv2d_in_small_image_batches_matches_torch(monkeypatch, chunk_bytes):
    # conv2d works through the batch in cache-sized chunks; force one image (or a few) per chunk
    import cnnlab.reference.conv as conv_module

    monkeypatch.setattr(conv_module, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((7, 3, 9, 8)), rng.standard_normal((5, 3, 3, 2)), rng.standard_normal(5)
    out = R.conv2d(x, w, b, stride=(2, 1), padding=1)
    dout = rng.standard_normal(out.shape)
    out_t, dx_t, dw_t, db_t = torch_conv(x, w, b, (2, 1), 1, dout)
    dx, dw, db = R.conv2d_backward(dout, x, w, stride=(2, 1), padding=1)
    for mine, theirs in [(out, out_t), (dx, dx_t), (dw, dw_t), (db, db_t)]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(200, 208))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stride1_input_gradient_by_shifts_matches_torch(monkeypatch, seed, dtype):
    # Stride 1 with at least SHIFT_MIN_CHANNELS input channels takes the shift-and-matmul input
    # gradient; a small CHUNK_BYTES splits its columns into several blocks.
    import cnnlab.reference.conv as conv_module

    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 4096)
    rng = np.random.default_rng(seed)
    while True:
        N, Fo = int(rng.integers(1, 4)), int(rng.integers(1, 6))
        C = conv_module.SHIFT_MIN_CHANNELS + int(rng.integers(0, 5))
        H, W = (int(v) for v in rng.integers(1, 12, size=2))
        KH, KW = (int(v) for v in rng.integers(1, 5, size=2))
        padding = [0, "same", (int(rng.integers(0, 3)), int(rng.integers(0, 3)))][rng.integers(0, 3)]
        try:
            conv_geometry((N, C, H, W), (Fo, C, KH, KW), 1, padding)
            break
        except ValueError:
            continue  # kernel larger than the padded input: draw again
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((Fo, C, KH, KW)).astype(dtype)
    out = R.conv2d(x, w, None, 1, padding)
    dout = rng.standard_normal(out.shape).astype(dtype)
    _, dx_t, dw_t, _ = torch_conv(x, w, None, 1, padding, dout)
    dx, dw, _ = R.conv2d_backward(dout, x, w, 1, padding)
    assert dx.shape == x.shape and dx.dtype == dw.dtype == dtype
    tol = dict(rtol=1e-7, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, dx_t, **tol)
    np.testing.assert_allclose(dw, dw_t, **tol)
