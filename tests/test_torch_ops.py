"""cnnlab.torchops against torch.nn.functional: forward values and autograd gradients.

Both sides are differentiated by autograd with the same random upstream gradient, on random
shapes, strides and paddings (non-square inputs and kernels). float64 must agree to ~1e-7
relative; float32 more loosely. Everything runs on ``cnnlab.device()``. A second, weaker check
compares the forward pass with the NumPy reference on the same inputs.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnlab
import cnnlab.reference as ref
import cnnlab.torchops as ct

DEVICE = cnnlab.device()
SEEDS = range(10)


def tensor(array, dtype=torch.float64, grad=False):
    return torch.tensor(np.asarray(array), dtype=dtype, device=DEVICE, requires_grad=grad)


def assert_close(actual, expected, dtype=torch.float64):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.device == expected.device
    if dtype == torch.float64:
        torch.testing.assert_close(actual, expected, rtol=1e-7, atol=1e-10)
    else:
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def forward_and_grads(fn, inputs, dout):
    """Run ``fn(*inputs)``, backpropagate ``dout``, return (output, [grad of each input])."""
    leaves = [t.detach().clone().requires_grad_(True) if t is not None else None for t in inputs]
    out = fn(*leaves)
    out.backward(dout)
    return out.detach(), [leaf.grad if leaf is not None else None for leaf in leaves]


def compare(ours, theirs, inputs, rng, dtype=torch.float64):
    """Forward and autograd gradients of ``ours`` and ``theirs`` must agree."""
    with torch.no_grad():
        shape = theirs(*inputs).shape
    dout = tensor(rng.standard_normal(shape), dtype)
    out_a, grads_a = forward_and_grads(ours, inputs, dout)
    out_b, grads_b = forward_and_grads(theirs, inputs, dout)
    assert_close(out_a, out_b, dtype)
    for grad_a, grad_b in zip(grads_a, grads_b):
        if grad_b is not None:
            assert_close(grad_a, grad_b, dtype)
    return out_a


def random_conv_case(rng):
    N, C, n_filters = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 6)
    KH, KW = rng.integers(1, 6, size=2)
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    H = rng.integers(max(1, KH - 2 * padding[0]), KH + 8)
    W = rng.integers(max(1, KW - 2 * padding[1]), KW + 8)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((n_filters, C, KH, KW))
    b = rng.standard_normal(n_filters)
    return x, w, b, stride, padding


# ---------------------------------------------------------------- conv2d


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_matches_torch_float64(seed):
    rng = np.random.default_rng(seed)
    x, w, b, stride, padding = random_conv_case(rng)
    if seed % 3 == 0:  # ints as well as pairs
        stride, padding = stride[0], padding[0]
    compare(
        lambda x, w, b: ct.conv2d(x, w, b, stride=stride, padding=padding),
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding),
        [tensor(x), tensor(w), tensor(b)],
        rng,
    )


@pytest.mark.parametrize("seed", range(4))
def test_conv2d_matches_torch_float32(seed):
    rng = np.random.default_rng(100 + seed)
    x, w, b, stride, padding = random_conv_case(rng)
    f32 = torch.float32
    compare(
        lambda x, w, b: ct.conv2d(x, w, b, stride=stride, padding=padding),
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding),
        [tensor(x, f32), tensor(w, f32), tensor(b, f32)],
        rng,
        f32,
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note on its copy
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4), (5, 2), (1, 1), (4, 4)])
def test_conv2d_same_and_valid_padding(padding, kernel):
    rng = np.random.default_rng(sum(kernel))
    x = tensor(rng.standard_normal((2, 3, 9, 7)))
    w = tensor(rng.standard_normal((4, 3) + kernel))
    out = compare(
        lambda x, w: ct.conv2d(x, w, padding=padding),
        lambda x, w: F.conv2d(x, w, padding=padding),
        [x, w],
        rng,
    )
    if padding == "same":  # the point of "same": the image keeps its size, even kernels included
        assert out.shape[2:] == x.shape[2:]


def test_conv2d_without_bias_and_output_size_formula():
    rng = np.random.default_rng(7)
    for _ in range(20):
        x, w, _, stride, padding = random_conv_case(rng)
        out = ct.conv2d(tensor(x), tensor(w), stride=stride, padding=padding)
        expected = tuple(
            ct.output_size(n, k, s, p) for n, k, s, p in zip(x.shape[2:], w.shape[2:], stride, padding)
        )
        assert out.shape == (x.shape[0], w.shape[0]) + expected
        torch.testing.assert_close(out, F.conv2d(tensor(x), tensor(w), stride=stride, padding=padding))


# ---------------------------------------------------------------- pooling


def random_pool_case(rng, integers=False):
    KH, KW = (int(k) for k in rng.integers(1, 5, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = (int(rng.integers(0, KH // 2 + 1)), int(rng.integers(0, KW // 2 + 1)))
    H, W = rng.integers(KH, KH + 7), rng.integers(KW, KW + 7)
    shape = (rng.integers(1, 3), rng.integers(1, 4), H, W)
    # small integers make many ties: the gradient must still go to the first maximum, like torch
    x = rng.integers(-2, 3, size=shape).astype(float) if integers else rng.standard_normal(shape)
    return x, (KH, KW), stride, padding


POOLS = {
    "max": (ct.max_pool2d, F.max_pool2d),
    "avg": (ct.avg_pool2d, lambda x, *settings: F.avg_pool2d(x, *settings, count_include_pad=True)),
    "min": (ct.min_pool2d, lambda x, *settings: -F.max_pool2d(-x, *settings)),  # torch has no min pool
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("kind", POOLS)
def test_pool2d_matches_torch(kind, seed, ties):
    ours, theirs = POOLS[kind]
    rng = np.random.default_rng(seed)
    x, kernel, stride, padding = random_pool_case(rng, integers=ties)
    compare(
        lambda x: ours(x, kernel, stride, padding),
        lambda x: theirs(x, kernel, stride, padding),
        [tensor(x)],
        rng,
    )


def test_pool_defaults_and_float32():
    rng = np.random.default_rng(3)
    x = tensor(rng.standard_normal((2, 3, 9, 6)), torch.float32)
    for ours, theirs in [(ct.max_pool2d, F.max_pool2d), (ct.avg_pool2d, F.avg_pool2d)]:
        compare(ours, lambda x: theirs(x, 2), [x], rng, torch.float32)  # stride None -> kernel_size
    assert ct.max_pool2d(x).shape == (2, 3, 4, 3)


def test_max_pool_gradient_goes_to_first_maximum():
    x = tensor([[[[1.0, 1.0], [1.0, 1.0]]]], grad=True)
    ct.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


# ---------------------------------------------------------------- small ops


@pytest.mark.parametrize("seed", range(3))
def test_relu_matches_torch_including_zero(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 5))
    x[0, 0, :3] = 0.0  # the kink: both must pass no gradient at exactly 0
    compare(ct.relu, F.relu, [tensor(x)], rng)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_matches_torch(axis):
    rng = np.random.default_rng(axis + 5)
    x = rng.standard_normal((4, 6)) * 10
    x[0, 0] = 1000.0  # would overflow exp without the shift
    out = compare(lambda x: ct.softmax(x, axis=axis), lambda x: torch.softmax(x, dim=axis), [tensor(x)], rng)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_softmax_cross_entropy_matches_torch(dtype):
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((8, 5)) * 3
    logits[1, 2] = 500.0
    labels = torch.tensor(rng.integers(0, 5, size=8), device=DEVICE)
    compare(
        lambda z: ct.softmax_cross_entropy(z, labels),
        lambda z: F.cross_entropy(z, labels),
        [tensor(logits, dtype)],
        rng,
        dtype,
    )


@pytest.mark.parametrize("seed", range(3))
def test_linear_and_flatten_match_torch(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rng.integers(1, 5), 2, 3, 2))
    w = rng.standard_normal((rng.integers(1, 7), 12))
    b = rng.standard_normal(w.shape[0])
    compare(
        lambda x, w, b: ct.linear(ct.flatten(x), w, b),
        lambda x, w, b: F.linear(torch.flatten(x, 1), w, b),
        [tensor(x), tensor(w), tensor(b)],
        rng,
    )
    compare(lambda x, w: ct.linear(x, w), lambda x, w: F.linear(x, w), [tensor(x).flatten(1), tensor(w)], rng)
    # leading dimensions (*, in_features), as nn.Linear allows
    compare(ct.linear, F.linear, [tensor(x).reshape(-1, 3, 4), tensor(w[:, :4]), tensor(b)], rng)


@pytest.mark.parametrize("padding", [1, (2, 0), (0, 3), (1, 2, 0, 3)])
@pytest.mark.parametrize("mode, torch_mode", [("zeros", "constant"), ("edge", "replicate")])
def test_pad2d_matches_torch(padding, mode, torch_mode):
    rng = np.random.default_rng(0)
    if isinstance(padding, int):
        top = bottom = left = right = padding
    elif len(padding) == 2:
        (top, left), (bottom, right) = padding, padding
    else:
        top, bottom, left, right = padding
    compare(
        lambda x: ct.pad2d(x, padding, mode=mode),
        lambda x: F.pad(x, (left, right, top, bottom), mode=torch_mode),
        [tensor(rng.standard_normal((2, 3, 4, 5)))],
        rng,
    )


def test_output_size_formula():
    assert ct.output_size(32, 3) == 30
    assert ct.output_size(150, 2, stride=2) == 75
    assert ct.output_size(7, 3, stride=2, padding=1) == 4
    assert ct.output_size(224, 3, stride=1, padding=1) == 224


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics(p):
    generator = torch.Generator(device="cpu").manual_seed(0)
    x = torch.ones(200_000, dtype=torch.float64, device=DEVICE)
    out, mask = ct.dropout(x, p=p, generator=generator)
    n = x.numel()
    dropped = (mask == 0).double().mean().item()
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)  # binomial, 5 standard deviations
    kept = mask[mask != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))  # inverted: kept ones scaled up
    assert abs(out.mean().item() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)  # E[out] = x
    torch.testing.assert_close(out, x * mask)
    assert out.device == x.device and mask.device == x.device


def test_dropout_eval_is_identity_and_gradient_is_mask():
    x = tensor(np.random.default_rng(0).standard_normal((4, 5)), grad=True)
    out, mask = ct.dropout(x, p=0.5, training=False)
    assert torch.equal(out, x) and torch.equal(mask, torch.ones_like(x))
    out, mask = ct.dropout(x, p=0.5, generator=torch.Generator().manual_seed(1))
    out.sum().backward()
    torch.testing.assert_close(x.grad, mask)


def test_dropout_generator_is_reproducible():
    x = torch.ones(3, 7, device=DEVICE)
    _, mask_a = ct.dropout(x, 0.3, generator=torch.Generator().manual_seed(42))
    _, mask_b = ct.dropout(x, 0.3, generator=torch.Generator().manual_seed(42))
    _, mask_c = ct.dropout(x, 0.3, generator=torch.Generator().manual_seed(43))
    assert torch.equal(mask_a, mask_b) and not torch.equal(mask_a, mask_c)
    assert torch.equal(ct.dropout(x, 0.3, generator=42)[1], mask_a)  # an int seed means the same


# ---------------------------------------------------------------- against the NumPy reference


@pytest.mark.parametrize("seed", range(4))
def test_forward_agrees_with_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    x, w, b, stride, padding = random_conv_case(rng)
    np.testing.assert_allclose(
        ct.conv2d(tensor(x), tensor(w), tensor(b), stride, padding).cpu().numpy(),
        ref.conv2d(x, w, b, stride, padding),
        rtol=1e-7,
        atol=1e-10,
    )
    xp, kernel, pstride, ppad = random_pool_case(rng)
    for name in ("max_pool2d", "avg_pool2d", "min_pool2d"):
        np.testing.assert_allclose(
            getattr(ct, name)(tensor(xp), kernel, pstride, ppad).cpu().numpy(),
            getattr(ref, name)(xp, kernel, pstride, ppad),
            rtol=1e-7,
            atol=1e-12,
        )
    np.testing.assert_allclose(ct.relu(tensor(x)).cpu().numpy(), ref.relu(x))
    np.testing.assert_allclose(ct.pad2d(tensor(x), (1, 2), "edge").cpu().numpy(), ref.pad2d(x, (1, 2), "edge"))
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)
    np.testing.assert_allclose(ct.softmax(tensor(logits)).cpu().numpy(), ref.softmax(logits), rtol=1e-12)
    loss_ref, _ = ref.softmax_cross_entropy(logits, labels)
    loss = ct.softmax_cross_entropy(tensor(logits), torch.tensor(labels, device=DEVICE))
    np.testing.assert_allclose(loss.item(), loss_ref, rtol=1e-12)
    weights, bias = rng.standard_normal((3, 4)), rng.standard_normal(3)
    np.testing.assert_allclose(
        ct.linear(tensor(logits), tensor(weights), tensor(bias)).cpu().numpy(),
        ref.linear(logits, weights, bias),
        rtol=1e-10,
    )
    np.testing.assert_array_equal(ct.flatten(tensor(x)).cpu().numpy(), ref.flatten(x))


def test_gradients_agree_with_numpy_reference_backward():
    """Autograd through cnnlab.torchops equals the reference's hand-written backward passes."""
    rng = np.random.default_rng(0)
    x, w, b, stride, padding = random_conv_case(rng)
    dout = tensor(rng.standard_normal(ref.conv2d(x, w, b, stride, padding).shape))
    _, (dx, dw, db) = forward_and_grads(
        lambda x, w, b: ct.conv2d(x, w, b, stride, padding), [tensor(x), tensor(w), tensor(b)], dout
    )
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(dout.cpu().numpy(), x, w, stride, padding)
    for ours, theirs in [(dx, dx_ref), (dw, dw_ref), (db, db_ref)]:
        np.testing.assert_allclose(ours.cpu().numpy(), theirs, rtol=1e-7, atol=1e-10)
    xp, kernel, stride, padding = random_pool_case(rng, integers=True)  # ties: both pick the first maximum
    for name in ("max_pool2d", "avg_pool2d", "min_pool2d"):
        dout = tensor(rng.standard_normal(getattr(ref, name)(xp, kernel, stride, padding).shape))
        _, (dx,) = forward_and_grads(lambda x: getattr(ct, name)(x, kernel, stride, padding), [tensor(xp)], dout)
        dx_ref = getattr(ref, name + "_backward")(dout.cpu().numpy(), xp, kernel, stride, padding)
        np.testing.assert_allclose(dx.cpu().numpy(), dx_ref, rtol=1e-7, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- devices


def test_outputs_stay_on_the_input_device():
    x = torch.randn(2, 3, 6, 6, device=DEVICE)
    w = torch.randn(4, 3, 3, 3, device=DEVICE)
    for out in [
        ct.conv2d(x, w, padding="same"),
        ct.max_pool2d(x),
        ct.avg_pool2d(x),
        ct.min_pool2d(x),
        ct.relu(x),
        ct.pad2d(x, 1),
        ct.dropout(x)[0],
        ct.softmax(x),
    ]:
        assert out.device == x.device


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_conv2d_on_cuda():
    rng = np.random.default_rng(0)
    x, w, b, stride, padding = random_conv_case(rng)
    cuda = torch.device("cuda")
    args = [torch.tensor(a, device=cuda, requires_grad=True) for a in (x, w, b)]
    out = ct.conv2d(*args, stride=stride, padding=padding)
    assert out.is_cuda
    out.square().sum().backward()
    cpu = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    F.conv2d(*cpu, stride=stride, padding=padding).square().sum().backward()
    torch.testing.assert_close(out.cpu(), F.conv2d(*[t.detach() for t in cpu], stride=stride, padding=padding))
    for on_gpu, on_cpu in zip(args, cpu):
        torch.testing.assert_close(on_gpu.grad.cpu(), on_cpu.grad)


# ---------------------------------------------------------------- bad input


def _x(*shape):
    return torch.zeros(*shape, device=DEVICE)


BAD_INPUTS = [
    ("conv numpy x", lambda: ct.conv2d(np.zeros((1, 1, 3, 3)), _x(1, 1, 2, 2)), TypeError, "x"),
    ("conv int x", lambda: ct.conv2d(torch.zeros(1, 1, 3, 3, dtype=torch.long), _x(1, 1, 2, 2)), TypeError, "x"),
    ("conv rank", lambda: ct.conv2d(_x(3, 3), _x(1, 1, 2, 2)), ValueError, "x"),
    ("conv channels", lambda: ct.conv2d(_x(1, 3, 5, 5), _x(2, 4, 3, 3)), ValueError, "(1, 3, 5, 5)"),
    ("conv bias", lambda: ct.conv2d(_x(1, 3, 5, 5), _x(2, 3, 3, 3), _x(3)), ValueError, "b"),
    ("conv big kernel", lambda: ct.conv2d(_x(1, 1, 2, 2), _x(1, 1, 3, 3)), ValueError, "kernel"),
    ("conv same stride", lambda: ct.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=2, padding="same"), ValueError, "same"),
    ("conv padding word", lambda: ct.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), padding="full"), ValueError, "padding"),
    ("conv stride 0", lambda: ct.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=0), ValueError, "stride"),
    ("conv float stride", lambda: ct.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=1.5), TypeError, "stride"),
    (
        "conv dtype",
        lambda: ct.conv2d(_x(1, 1, 5, 5), torch.zeros(1, 1, 3, 3, dtype=torch.float64, device=DEVICE)),
        TypeError,
        "dtype",
    ),
    ("pool rank", lambda: ct.max_pool2d(_x(4, 4)), ValueError, "x"),
    ("pool padding", lambda: ct.max_pool2d(_x(1, 1, 4, 4), 2, padding=2), ValueError, "padding"),
    ("pool kernel", lambda: ct.avg_pool2d(_x(1, 1, 2, 2), 3), ValueError, "kernel_size"),
    ("pool list x", lambda: ct.min_pool2d([[1.0]]), TypeError, "x"),
    ("pad mode", lambda: ct.pad2d(_x(1, 1, 2, 2), 1, mode="reflect"), ValueError, "mode"),
    ("pad negative", lambda: ct.pad2d(_x(1, 1, 2, 2), -1), ValueError, "padding"),
    ("linear features", lambda: ct.linear(_x(2, 5), _x(3, 4)), ValueError, "(3, 4)"),
    ("linear leading dims", lambda: ct.linear(_x(2, 5, 4), _x(3, 5)), ValueError, "(2, 5, 4)"),
    ("linear w rank", lambda: ct.linear(_x(2, 5), _x(3, 5, 1)), ValueError, "w"),
    ("linear bias", lambda: ct.linear(_x(2, 5), _x(3, 5), _x(4)), ValueError, "b"),
    ("dropout p", lambda: ct.dropout(_x(3), p=1.0), ValueError, "p"),
    ("dropout p type", lambda: ct.dropout(_x(3), p="half"), TypeError, "p"),
    ("dropout generator", lambda: ct.dropout(_x(3), generator="seed"), TypeError, "generator"),
    ("softmax axis", lambda: ct.softmax(_x(2, 3), axis=2), ValueError, "axis"),
    ("xent labels range", lambda: ct.softmax_cross_entropy(_x(2, 3), torch.tensor([0, 3])), ValueError, "labels"),
    ("xent labels count", lambda: ct.softmax_cross_entropy(_x(2, 3), torch.tensor([0, 1, 2])), ValueError, "labels"),
    ("xent float labels", lambda: ct.softmax_cross_entropy(_x(2, 3), torch.tensor([0.0, 1.0])), TypeError, "labels"),
    ("xent logits rank", lambda: ct.softmax_cross_entropy(_x(6), torch.tensor([0])), ValueError, "logits"),
    ("output_size", lambda: ct.output_size(2, 5), ValueError, "kernel_size"),
]


@pytest.mark.parametrize("call, error, fragment", [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_raises_with_argument_name(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)
