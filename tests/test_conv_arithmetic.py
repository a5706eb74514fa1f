"""Dilated and transposed convolution (cnnlab.reference and cnnlab.torchops) against torch.nn.functional,
finite differences and the adjoint identity with conv2d_backward; bad input."""

import numpy as np
import pytest

import cnnlab.torchops as ct
from cnnlab import reference as R
from cnnlab.course.conv_arithmetic import dilated_taps, overlap_counts
from cnnlab.course.conv_cost import block_cost, bottleneck_block, conv_cost, measured_macs, plain_block, torch_block
from cnnlab.course.receptive_field import Layer, conv, measured_field, pool, receptive_fields
from cnnlab.models import count_parameters
from cnnlab.gradcheck import numerical_gradient

torch = pytest.importorskip("torch")
F = torch.nn.functional


def random_case(seed, kind):
    """Seeded random problem that torch accepts: kind "transpose" (the extra argument is output_padding)
    or "dilated" (the extra argument is the dilation, and the dilated kernel fits the padded input).

    Returns x, w, b, stride, padding, extra, rng.
    """
    rng = np.random.default_rng(seed)
    transpose = kind == "transpose"
    while True:
        N, C_in, C_out = (int(v) for v in rng.integers(1, 4, size=3))
        size = tuple(int(v) for v in rng.integers(*((1, 7) if transpose else (3, 14)), size=2))
        kernel = tuple(int(v) for v in rng.integers(1, 5 if transpose else 4, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 4 if transpose else 3, size=2))
        padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
        if transpose:
            extra = tuple(int(rng.integers(0, s)) for s in stride)
            fits = all((n - 1) * s - 2 * p + k + op >= 1 for n, s, p, k, op in zip(size, stride, padding, kernel, extra))
        else:
            extra = tuple(int(v) for v in rng.integers(1, 4, size=2))
            fits = all(d * (k - 1) + 1 <= n + 2 * p for d, k, n, p in zip(extra, kernel, size, padding))
        if not fits:
            continue
        x = rng.standard_normal((N, C_in, *size))
        w = rng.standard_normal((C_in, C_out, *kernel) if transpose else (C_out, C_in, *kernel))
        b = rng.standard_normal(C_out) if rng.random() < 0.7 else None
        return x, w, b, stride, padding, extra, rng


# kind -> (cnnlab.torchops function, its torch.nn.functional counterpart), both called (x, w, b, s, p, extra)
TORCH_PAIRS = {
    "transpose": (ct.conv_transpose2d, lambda x, w, b, s, p, op: F.conv_transpose2d(x, w, b, s, p, op)),
    "dilated": (ct.conv2d_dilated, lambda x, w, b, s, p, d: F.conv2d(x, w, b, stride=s, padding=p, dilation=d)),
}


def tensors(*arrays):
    return [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("seed", range(25))
def test_conv_transpose2d_matches_torch(seed):
    x, w, b, s, p, op, _ = random_case(seed, "transpose")
    expected = F.conv_transpose2d(*(None if a is None else torch.tensor(a) for a in (x, w, b)), s, p, op).numpy()
    for fn in (R.conv_transpose2d, R.conv_transpose2d_naive):
        out = fn(x, w, b, s, p, op)
        assert out.shape == expected.shape and out.dtype == np.float64
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(25))
def test_conv2d_dilated_matches_torch(seed):
    x, w, b, s, p, d, _ = random_case(seed, "dilated")
    expected = F.conv2d(*(None if a is None else torch.tensor(a) for a in (x, w, b)), stride=s, padding=p,
                        dilation=d).numpy()
    out = R.conv2d_dilated(x, w, b, s, p, d)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", TORCH_PAIRS)
@pytest.mark.parametrize("seed", range(10))
def test_torch_versions_match_functional_forward_and_autograd(seed, kind):
    x, w, b, s, p, extra, rng = random_case(seed, kind)
    ours_fn, theirs_fn = TORCH_PAIRS[kind]
    ours, theirs = tensors(x, w, b), tensors(x, w, b)
    out = ours_fn(*ours, s, p, extra)
    expected = theirs_fn(*theirs, s, p, extra)
    dout = torch.tensor(rng.standard_normal(tuple(out.shape)))
    out.backward(dout)
    expected.backward(dout)
    torch.testing.assert_close(out, expected)
    for a, e in zip(ours, theirs):
        if a is not None:
            torch.testing.assert_close(a.grad, e.grad)


@pytest.mark.parametrize("seed", range(10))
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(seed):
    # the adjoint identity: conv2d(x, w, s, p) has input gradient conv_transpose2d(dout, w, s, p, op),
    # with output_padding op giving back the rows that the floor of conv2d's output size dropped
    rng = np.random.default_rng(100 + seed)
    N, C, Fo = (int(v) for v in rng.integers(1, 4, size=3))
    KH, KW = (int(v) for v in rng.integers(1, 4, size=2))
    s = tuple(int(v) for v in rng.integers(1, 4, size=2))
    p = tuple(int(rng.integers(0, k)) for k in (KH, KW))
    H, W = (int(v) for v in rng.integers(max(KH, KW), 12, size=2))
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((Fo, C, KH, KW))
    out = R.conv2d(x, w, stride=s, padding=p)
    dout = rng.standard_normal(out.shape)
    dx, _, _ = R.conv2d_backward(dout, x, w, stride=s, padding=p)
    op = tuple(n + 2 * pad - k - (o - 1) * st for n, pad, k, o, st in zip((H, W), p, (KH, KW), out.shape[2:], s))
    np.testing.assert_allclose(R.conv_transpose2d(dout, w, stride=s, padding=p, output_padding=op), dx,
                               rtol=1e-9, atol=1e-12)


def test_conv_transpose2d_gradient_matches_finite_differences():
    x, w, b, s, p, op, rng = random_case(3, "transpose")
    out = ct.conv_transpose2d(*tensors(x, w, b), s, p, op)
    dout = rng.standard_normal(tuple(out.shape))
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    ct.conv_transpose2d(xt, wt, None, s, p, op).backward(torch.tensor(dout))
    numeric_x = numerical_gradient(lambda a: R.conv_transpose2d(a, w, None, s, p, op), x.copy(), dout)
    numeric_w = numerical_gradient(lambda a: R.conv_transpose2d(x, a, None, s, p, op), w.copy(), dout)
    np.testing.assert_allclose(xt.grad.numpy(), numeric_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(wt.grad.numpy(), numeric_w, rtol=1e-6, atol=1e-8)


def test_dilate2d_places_entries_dilation_apart():
    a = np.arange(1.0, 7.0).reshape(1, 2, 3)
    out = R.dilate2d(a, (2, 3))
    assert out.shape == (1, 3, 7)
    np.testing.assert_array_equal(out[0, ::2, ::3], a[0])
    assert np.count_nonzero(out) == 6
    torch.testing.assert_close(ct.dilate2d(torch.tensor(a), (2, 3)), torch.tensor(out))
    np.testing.assert_array_equal(R.dilate2d(a, 1), a)


def test_float32_is_kept():
    x = np.ones((1, 2, 4, 4), np.float32)
    assert R.conv_transpose2d(x, np.ones((2, 3, 3, 3), np.float32), stride=2).dtype == np.float32
    assert R.conv2d_dilated(x, np.ones((3, 2, 2, 2), np.float32), dilation=2).dtype == np.float32


def test_bad_input_names_the_argument_and_shapes():
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"C_in=2.*\(3, 1, 3, 3\)"):
        R.conv_transpose2d(x, np.zeros((3, 1, 3, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        R.conv_transpose2d(x, np.zeros((2, 1, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        R.conv_transpose2d(np.zeros((1, 2, 1, 1)), np.zeros((2, 1, 1, 1)), padding=1)
    with pytest.raises(ValueError, match=r"b must have shape \(C_out,\)"):
        R.conv_transpose2d(x, np.zeros((2, 4, 3, 3)), b=np.zeros(3))
    with pytest.raises(ValueError, match="dilation must be at least 1"):
        R.conv2d_dilated(x, np.zeros((1, 2, 3, 3)), dilation=0)
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        R.conv2d_dilated(x, np.zeros((1, 2, 3, 3)), dilation=3)  # spans 7 > 5
    with pytest.raises(TypeError, match="dilation must be an int"):
        R.conv2d_dilated(x, np.zeros((1, 2, 3, 3)), dilation=1.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        R.dilate2d(np.zeros(3), 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        ct.conv_transpose2d(x, torch.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match="dilation must be at least 1"):
        ct.conv2d_dilated(torch.zeros(1, 2, 5, 5), torch.zeros(1, 2, 3, 3), dilation=(1, 0))
    with pytest.raises(ValueError, match=r"C_in=2"):
        ct.conv_transpose2d(torch.zeros(1, 2, 5, 5), torch.zeros(3, 1, 3, 3))


# ---- cnnlab.course helpers of the chapter "Convolution arithmetic" ----



def test_receptive_fields_known_values():
    assert receptive_fields([conv(3), conv(3), pool(2), conv(3)]) == [(1, 1), (3, 1), (5, 1), (6, 2), (10, 2)]
    vgg16 = []
    for n in (2, 2, 3, 3, 3):
        vgg16 += [conv(3)] * n + [pool(2)]
    assert receptive_fields(vgg16)[-1] == (212, 32)  # the published value for VGG-16's pool5
    assert receptive_fields([conv(3, dilation=2 ** i) for i in range(3)])[-1] == (15, 1)


@pytest.mark.parametrize("seed", range(8))
def test_formula_matches_autograd_on_random_stacks(seed):
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(int(rng.integers(1, 5))):
        if rng.random() < 0.3:
            k = int(rng.integers(2, 4))
            layers.append(pool(k, stride=int(rng.integers(1, k + 1))))
        else:
            layers.append(conv(int(rng.integers(1, 5)), stride=int(rng.integers(1, 3)),
                               dilation=int(rng.integers(1, 3))))
    r, j = receptive_fields(layers)[-1]
    field = measured_field(layers)
    assert field["side"] == (r, r)
    assert field["rows"][0] == field["unit"] * j and field["cols"][0] == field["unit"] * j


@pytest.mark.parametrize("layers, side, dense", [
    ([conv(3)], 3, True), ([conv(3)] * 2, 5, True), ([conv(3)] * 3, 7, True), ([conv(5)], 5, True),
    ([conv(7)], 7, True),
    ([conv(3, dilation=2)], 5, False),  # taps 0, 2, 4: a 5x5 field with holes
    ([conv(3, stride=2), conv(3)], 7, True),  # 3 + (3 - 1) * 2
    ([conv(3), pool(2), conv(3)], 8, True),   # 3 + 1 * 1, then + (3 - 1) * 2
])
def test_measured_field_by_hand(layers, side, dense):
    field = measured_field(layers, margin=1)
    assert field["side"] == (side, side) and field["dense"] == dense
    assert field["gradient"].shape == (side + 2 * field["jump"],) * 2


def test_measured_field_rejects_a_negative_margin():
    with pytest.raises(ValueError, match="margin"):
        measured_field([conv(3)], margin=-1)


def test_measured_field_sees_holes_of_a_gridded_dilated_stack():
    # two dilation-2 convolutions only ever reach even offsets: the field has holes, and we report them
    field = measured_field([conv(3, dilation=2), conv(3, dilation=2)])
    assert field["side"] == (9, 9) and not field["dense"]


def test_layer_rejects_bad_geometry():
    with pytest.raises(ValueError, match="kind"):
        Layer("dense", 3)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        conv(3, stride=0)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        conv(2.5)
    with pytest.raises(TypeError, match="Layer"):
        receptive_fields([(3, 1)])


@pytest.mark.parametrize("seed", range(5))
def test_conv_cost_matches_torch_counts(seed):
    rng = np.random.default_rng(seed)
    c_in, c_out, k = (int(v) for v in rng.integers(1, 9, size=3))
    n = int(rng.integers(1, 12))
    cost = conv_cost(c_in, c_out, k, n)
    layer = torch.nn.Conv2d(c_in, c_out, k)
    assert cost.params == count_parameters(layer)
    assert cost.macs == measured_macs(layer, (1, c_in, n + k - 1, n + k - 1))  # valid conv: n + k - 1 -> n
    assert conv_cost(c_in, c_out, k, n, bias=False).params == count_parameters(torch.nn.Conv2d(c_in, c_out, k, bias=False))


def test_bottleneck_is_cheaper_and_counts_match_torch():
    for block in (plain_block(32, 8), bottleneck_block(32, 8, 8)):
        params, macs = block_cost(block)
        model = torch_block(block)
        assert params == count_parameters(model) and macs == measured_macs(model, (1, 32, 8, 8))
    assert block_cost(bottleneck_block())[0] * 8 < block_cost(plain_block())[0]
    with pytest.raises(ValueError, match="c_in must be a positive int, got 0"):
        conv_cost(0, 4, 3, 5)


def test_overlap_counts_and_taps():
    assert np.ptp(overlap_counts(4, 2)[2:-2, 2:-2]) == 0 and np.ptp(overlap_counts(3, 2)[2:-2, 2:-2]) > 0
    assert dilated_taps(3, 3, 7).sum() == 9 and dilated_taps(3, 3, 7)[0, 0] == 1
    with pytest.raises(ValueError, match="spans 9"):
        dilated_taps(3, 4, 7)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_dilated_and_transposed_on_cuda():
    cuda = torch.device("cuda")
    for kind, (ours, theirs) in TORCH_PAIRS.items():
        x, w, b, s, p, extra, _ = random_case(1, kind)
        on_gpu = [None if a is None else torch.tensor(a, device=cuda, requires_grad=True) for a in (x, w, b)]
        on_cpu = tensors(x, w, b)
        out = ours(*on_gpu, s, p, extra)
        assert out.is_cuda
        out.square().sum().backward()
        expected = theirs(*on_cpu, s, p, extra)
        expected.square().sum().backward()
        torch.testing.assert_close(out.detach().cpu(), expected.detach())
        for g, c in zip(on_gpu, on_cpu):
            if g is not None:
                torch.testing.assert_close(g.grad.cpu(), c.grad)
