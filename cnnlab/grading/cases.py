"""Seeded random test cases for the exercises (NumPy only).

This module is copied unchanged into the grading sandbox: the student's side and the trusted side
draw the *same* inputs from the same seeds, so only the student's outputs have to cross the
sandbox boundary. Nothing here may import the answer key (``cnnlab.reference`` and friends).
"""

import functools

import numpy as np

__all__ = [
    "random_array",
    "corr2d_cases",
    "conv_cases",
    "pool_cases",
    "pad_cases",
    "batch_norm_cases",
    "image_cases",
    "gradient_cases",
    "shift_cases",
    "output_size_cases",
    "hidden_seed",
    "hidden_rng",
    "smooth_array_function",
    "smooth_scalar_function",
    "conv_output_shape",
    "pool_output_shape",
    "VGG11",
    "VGG16",
    "TINY",
]

# VGG configurations of exercise 08 (channel counts, "M" = 2x2 max pool). The test cells use these,
# not the notebook's copies, which a submission could change.
VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
TINY = [8, "M", 16, 16, "M", 32, "M"]


def random_array(rng, shape, dtype=np.float64):
    """Standard-normal values of ``dtype`` (integers: 0..255).

    Args:
        rng (np.random.Generator): where the values come from.
        shape (tuple of int): the array's shape.
        dtype: a float or integer dtype.

    Example:
        >>> a = random_array(np.random.default_rng(0), (2, 3), np.uint8)
        >>> a.shape, a.dtype, bool(a.max() <= 255)
        ((2, 3), dtype('uint8'), True)
    """
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 256, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def conv_output_shape(x_shape, w_shape, stride=1, padding=0):
    """(N, F, OH, OW) of a convolution: the shape formula only, so that backward cases can be drawn
    without the answer key.

    Args:
        x_shape (tuple of int): (N, C, H, W).
        w_shape (tuple of int): (F, C, KH, KW).
        stride (int or pair): (sh, sw).
        padding (int, pair, "same" or "valid"): (ph, pw); "same" keeps H and W.

    Shape:
        OH = (H + 2 * ph - KH) // sh + 1 and OW = (W + 2 * pw - KW) // sw + 1.

    Example:
        >>> conv_output_shape((2, 3, 8, 8), (4, 3, 3, 3), stride=2, padding=1)
        (2, 4, 4, 4)
    """
    n, _, h, w = x_shape
    f, _, kh, kw = w_shape
    if padding == "same":
        return (n, f, h, w)
    ph, pw = (0, 0) if padding == "valid" else _pair(padding)
    sh, sw = _pair(stride)
    return (n, f, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


def pool_output_shape(x_shape, kernel_size, stride=None, padding=0):
    """(N, C, OH, OW) of a pooling layer.

    Args:
        x_shape (tuple of int): (N, C, H, W).
        kernel_size (int or pair): (KH, KW).
        stride (int, pair or None): (sh, sw); None: the window size.
        padding (int or pair): (ph, pw).

    Shape:
        OH = (H + 2 * ph - KH) // sh + 1 and OW = (W + 2 * pw - KW) // sw + 1.

    Example:
        >>> pool_output_shape((1, 3, 7, 7), 2)
        (1, 3, 3, 3)
    """
    n, c, h, w = x_shape
    kh, kw = _pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    ph, pw = _pair(padding)
    return (n, c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


def corr2d_cases(seed=0, n=4, square=True, dtype=np.float64):
    """(x, k) pairs: 2-D input and kernel, kernel no larger than the input.

    Args:
        seed (int): the cases are the same for the same seed (on both sides of the sandbox).
        n (int): how many cases.
        square (bool): square inputs and kernels only.
        dtype: of x and k.

    Example:
        >>> cases = corr2d_cases(seed=0, n=4)
        >>> all(x.shape[0] == x.shape[1] >= k.shape[0] == k.shape[1] for x, k in cases)
        True
        >>> all(np.array_equal(x, again) for (x, _), (again, _) in zip(cases, corr2d_cases(seed=0, n=4)))
        True
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        h = int(rng.integers(3, 9))
        w = h if square else int(rng.integers(3, 9))
        kh = int(rng.integers(1, h + 1))
        kw = kh if square else int(rng.integers(1, w + 1))
        if square:
            kh = kw = min(kh, w)
        cases.append((random_array(rng, (h, w), dtype), random_array(rng, (kh, kw), dtype)))
    return cases


def conv_cases(seed=0, n=4, stride=(1,), padding=(0,), bias=(True, False), square=True, dtype=np.float64,
               backward=False, max_size=9):
    """Random conv2d cases: dicts with x (N,C,H,W), w (F,C,KH,KW), b, stride, padding.

    Sizes are small so that a loop-based solution stays fast.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        stride, padding (tuple): the values case i takes, in turn (a padding may be "same" or "valid").
        bias (tuple of bool): whether case i has a bias, in turn.
        square (bool): square inputs and kernels only.
        dtype: of every array.
        backward (bool): cases for conv2d_backward instead: dout, x, w, stride, padding.
        max_size (int): inputs are smaller than this.

    Example:
        >>> case = conv_cases(seed=0, n=1, stride=(2,), padding=(1,))[0]
        >>> sorted(case), case["stride"], case["padding"]
        (['b', 'padding', 'stride', 'w', 'x'], 2, 1)
        >>> sorted(conv_cases(seed=0, n=1, backward=True)[0])
        ['dout', 'padding', 'stride', 'w', 'x']
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        s = stride[i % len(stride)]
        p = padding[i % len(padding)]
        N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
        kh = int(rng.integers(1, 4))
        kw = kh if square else int(rng.integers(1, 5))
        if p == "same":
            s = 1
        h = int(rng.integers(max(kh, 3), max_size))
        w = h if square else int(rng.integers(max(kw, 3), max_size))
        x = random_array(rng, (N, C, h, w), dtype)
        wt = random_array(rng, (F, C, kh, kw), dtype)
        b = random_array(rng, (F,), dtype) if bias[i % len(bias)] else None
        if backward:
            out_shape = conv_output_shape(x.shape, wt.shape, stride=s, padding=p)
            cases.append({"dout": random_array(rng, out_shape, dtype), "x": x, "w": wt, "stride": s, "padding": p})
        else:
            case = {"x": x, "w": wt, "b": b}
            if not (s == 1 and p == 0):
                case.update(stride=s, padding=p)
            cases.append(case)
    return cases


def pool_cases(seed=0, n=4, kernel_size=(2,), stride=(None,), padding=(0,), square=True, dtype=np.float64,
               backward=False, ties=False):
    """Random pooling cases: dicts with x (and dout for backward), kernel_size, stride, padding.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        kernel_size, stride, padding (tuple): the values case i takes, in turn.
        square (bool): square inputs only.
        dtype: of every array.
        backward (bool): add dout, of the output's shape.
        ties (bool): draw small integers so that windows contain equal values (the gradient of
            max/min pooling must go to the FIRST extreme value in each window, like PyTorch).

    Example:
        >>> case = pool_cases(seed=0, n=1, backward=True)[0]
        >>> pool_output_shape(case["x"].shape, 2) == case["dout"].shape
        True
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        k = kernel_size[i % len(kernel_size)]
        s = stride[i % len(stride)]
        p = padding[i % len(padding)]
        kh, kw = (k, k) if isinstance(k, int) else k
        N, C = (int(v) for v in rng.integers(1, 4, size=2))
        h = int(rng.integers(kh + 1, kh + 7))
        w = h if square else int(rng.integers(kw + 1, kw + 7))
        if ties:
            x = rng.integers(0, 3, size=(N, C, h, w)).astype(dtype)
        else:
            x = random_array(rng, (N, C, h, w), dtype)
        case = {"x": x, "kernel_size": k, "stride": s, "padding": p}
        if backward:
            out_shape = pool_output_shape(x.shape, k, s, p)
            case = {"dout": random_array(rng, out_shape, dtype), **case}
        cases.append(case)
    return cases


def pad_cases(seed=0, n=4, padding=(1,), mode=("zeros",), square=True, dtype=np.float64):
    """Random pad2d cases: dicts with x (N,C,H,W), padding, mode.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        padding, mode (tuple): the values case i takes, in turn.
        square (bool): square inputs only.
        dtype: of x.

    Example:
        >>> [(c["padding"], c["mode"]) for c in pad_cases(n=2, padding=(1, 2), mode=("zeros", "reflect"))]
        [(1, 'zeros'), (2, 'reflect')]
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        N, C = (int(v) for v in rng.integers(1, 4, size=2))
        h = int(rng.integers(2, 7))
        w = h if square else int(rng.integers(2, 7))
        cases.append({"x": random_array(rng, (N, C, h, w), dtype), "padding": padding[i % len(padding)],
                      "mode": mode[i % len(mode)]})
    return cases


def batch_norm_cases(seed=0, n=4, training=(True,), momentum=(0.1,), eps=(1e-5,), square=True, dtype=np.float64,
                     backward=False, max_size=6):
    """Random batch_norm2d cases: dicts with x (N,C,H,W), gamma, beta, running_mean, running_var,
    training, momentum, eps; or, for the backward pass, dout, x, gamma, eps.

    Every channel of x has a mean and a spread of its own (statistics over the wrong axes show), the
    running variances are positive, and each channel holds M = N * H * W >= 2 values.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        training, momentum, eps (tuple): the values case i takes, in turn.
        square (bool): square inputs only.
        dtype: of every array.
        backward (bool): cases for batch_norm2d_backward instead.
        max_size (int): H and W are at most this.

    Example:
        >>> case = batch_norm_cases(seed=0, n=2, training=(True, False))[1]
        >>> sorted(case), case["training"], bool(case["running_var"].min() > 0)
        (['beta', 'eps', 'gamma', 'momentum', 'running_mean', 'running_var', 'training', 'x'], False, True)
        >>> sorted(batch_norm_cases(seed=0, n=1, backward=True)[0])
        ['dout', 'eps', 'gamma', 'x']
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        N, C = (int(v) for v in rng.integers(1, 5, size=2))
        h = int(rng.integers(1, max_size + 1))
        w = h if square else int(rng.integers(1, max_size + 1))
        if N * h * w < 2:
            h = w = 2
        loc = rng.normal(0.0, 3.0, size=C)
        spread = rng.uniform(0.5, 3.0, size=C)
        x = (loc[None, :, None, None] + spread[None, :, None, None] * rng.standard_normal((N, C, h, w))).astype(dtype)
        gamma = random_array(rng, (C,), dtype)
        e = eps[i % len(eps)]
        if backward:
            cases.append({"dout": random_array(rng, x.shape, dtype), "x": x, "gamma": gamma, "eps": e})
            continue
        cases.append({"x": x, "gamma": gamma, "beta": random_array(rng, (C,), dtype),
                      "running_mean": random_array(rng, (C,), dtype),
                      "running_var": rng.uniform(0.5, 2.0, size=C).astype(dtype),
                      "training": training[i % len(training)], "momentum": momentum[i % len(momentum)], "eps": e})
    return cases


def image_cases(seed=0, n=4, layout="NHWC", dtype=np.uint8, channels=(3,), square=True):
    """Random image batches as 1-tuples ``(images,)``; float images lie in [0, 1].

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        layout (str): "NHWC", "NCHW", "NHW" (grayscale) or "HWC" (one image).
        dtype: of the images (uint8: 0..255).
        channels (tuple of int): the channel count of case i, in turn.
        square (bool): square images only.

    Example:
        >>> (images,) = image_cases(seed=0, n=1, layout="HWC", dtype=np.float32)[0]
        >>> images.ndim, images.shape[-1], images.dtype, bool(0 <= images.min() and images.max() <= 1)
        (3, 3, dtype('float32'), True)
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        c = channels[i % len(channels)]
        N = int(rng.integers(1, 5))
        h = int(rng.integers(2, 9))
        w = h if square else int(rng.integers(2, 9))
        shape = {"NHWC": (N, h, w, c), "NCHW": (N, c, h, w), "NHW": (N, h, w), "HWC": (h, w, c)}[layout]
        images = random_array(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            images = rng.random(shape).astype(dtype)  # images in [0, 1]
        cases.append((images,))
    return cases


def smooth_array_function(x, weights):
    """tanh(x) * weights + x**2 (elementwise): a smooth test function for numerical gradients.

    Example:
        >>> smooth_array_function(np.array([0.0, 1.0]), np.array([2.0, 0.0])).tolist()
        [0.0, 1.0]
    """
    return np.tanh(x) * weights + x**2


def smooth_scalar_function(x, weights):
    """sum(sin(x) * weights): a smooth scalar test function for numerical gradients.

    Example:
        >>> smooth_scalar_function(np.array([0.0, np.pi / 2]), np.array([1.0, 3.0]))
        3.0
    """
    return float(np.sum(np.sin(x) * weights))


def gradient_cases(seed=0, n=3, dtype=np.float64):
    """numerical_gradient cases: smooth functions, array-valued (with dout) and scalar (without) in turn.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        dtype: of x, the weights and dout.

    Example:
        >>> [sorted(case) for case in gradient_cases(seed=0, n=2)]
        [['dout', 'f', 'x'], ['f', 'x']]
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 4))))
        x = random_array(rng, shape, dtype)
        weights = random_array(rng, shape, dtype)
        if i % 2 == 0:
            cases.append({"f": functools.partial(smooth_array_function, weights=weights), "x": x,
                          "dout": random_array(rng, shape, dtype)})
        else:
            cases.append({"f": functools.partial(smooth_scalar_function, weights=weights), "x": x})
    return cases


def shift_cases(seed=0, n=4, channels=(None, 3), max_shift=3):
    """shift_image cases ``(image, dy, dx)``: one image (H, W) or (H, W, C) and integer shifts, some negative.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.
        channels (tuple): the channel count of case i, in turn (None: a 2-D image).
        max_shift (int): |dy| and |dx| are at most this.

    Example:
        >>> [image.ndim for image, dy, dx in shift_cases(seed=0, n=2)]
        [2, 3]
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        c = channels[i % len(channels)]
        h, w = (int(v) for v in rng.integers(3, 9, size=2))
        shape = (h, w) if c is None else (h, w, c)
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
        cases.append((random_array(rng, shape), dy, dx))
    return cases


def hidden_seed(k):
    """The seed of the hidden case set ``k`` of the test cell that runs now.

    A hidden test cell writes ``seed=grading.hidden_seed(21)``, never ``seed=21``: a fixed seed is
    public (the course and its answer key are open), so a table of answers computed at home for it
    would score without any implementation. While grading, the trusted side draws the seed from a
    secret that never enters the sandbox and from the submission itself, and hands the drawn seeds of
    each test cell into the sandbox right before that cell runs (``nbgrader_glue``); the sandbox's
    and the trusted side's ``grading`` return them (``record.hidden_seed``,
    ``trusted.TrustedGrading.hidden_seed``). Here, in a learner's or an instructor's kernel, the
    seed is ``k`` itself: a preview of the kind of cases the hidden tests draw.

    Args:
        k (int): which case set of the cell (its label, not its seed).

    Returns:
        int: the seed.

    Example:
        >>> hidden_seed(21)
        21
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k should be an int label, got {type(k).__name__}")
    return k


def hidden_rng(k):
    """``np.random.default_rng(hidden_seed(k))``: a generator for the hidden inputs a cell draws itself.

    Example:
        >>> bool(hidden_rng(3).random() == np.random.default_rng(3).random())
        True
    """
    return np.random.default_rng(hidden_seed(k))


def output_size_cases(seed=0, n=5):
    """Random ``(n, kernel_size, stride, padding)`` tuples of a convolution whose kernel fits.

    Args:
        seed (int): the cases are the same for the same seed.
        n (int): how many cases.

    Example:
        >>> all(size + 2 * p >= k for size, k, s, p in output_size_cases(seed=0, n=20))
        True
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        kernel = int(rng.integers(1, 8))
        padding = int(rng.integers(0, 4))
        size = int(rng.integers(max(1, kernel - 2 * padding), 64))
        cases.append((size, kernel, int(rng.integers(1, 5)), padding))
    return cases


def as_case(case):
    """One test case as ``(args, kwargs)``: a dict is keywords, a tuple or list positional arguments.

    Example:
        >>> as_case({"stride": 2}), as_case((1, 2)), as_case(((1,), {"p": 0.5})), as_case(7)
        (((), {'stride': 2}), ((1, 2), {}), ((1,), {'p': 0.5}), ((7,), {}))
    """
    if isinstance(case, dict):
        return (), dict(case)
    if isinstance(case, tuple) and len(case) == 2 and isinstance(case[0], tuple) and isinstance(case[1], dict):
        return case
    return tuple(case) if isinstance(case, (tuple, list)) else (case,), {}
