"""cnnlab.grading: failure messages, cheat detection (static and tripwires), time limits, the checks."""

import time

import numpy as np
import pytest

import cnnlab.reference as reference
from cnnlab import grading
from cnnlab.grading import CheatingError, MismatchError, TimeLimitError
from course_copy import recorded_then_trusted
from cnnlab.reference import conv2d as aliased_reference_conv2d


# Honest implementations, written here (not imported) so that the checks have something to pass.
def honest_corr2d(x, k):
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1), dtype=np.result_type(x, k))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i : i + kh, j : j + kw] * k)
    return out


def honest_conv2d(x, w, b=None):
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    out = np.zeros((n, f, h - kh + 1, width - kw + 1), dtype=np.result_type(x, w))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.tensordot(x[:, :, i : i + kh, j : j + kw], w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b.reshape(1, f, 1, 1)
    return out


# --------------------------------------------------------------------------------------------- messages


def test_assert_matches_passes_on_equal_and_close_values():
    x = np.random.default_rng(0).standard_normal((2, 3))
    grading.assert_matches(x, x + 1e-12, "x")
    grading.assert_matches((x, 3), (x.copy(), 3), "pair")
    grading.assert_matches(2.0, 2.0 + 1e-12, "scalar")


def test_assert_matches_names_first_wrong_index_and_largest_error():
    expected = np.zeros((2, 3, 4))
    actual = expected.copy()
    actual[0, 1, 2] = 0.5
    actual[1, 2, 3] = -3.0
    with pytest.raises(MismatchError) as info:
        grading.assert_matches(actual, expected, "conv2d(x)")
    message = str(info.value)
    assert "conv2d(x)" in message
    assert "2 of 24 values differ" in message
    assert "First wrong value at index (0, 1, 2): got 0.5, expected 0" in message
    assert "Largest error 3 at index (1, 2, 3)" in message


@pytest.mark.parametrize(
    "actual, expected, fragment",
    [
        (np.zeros((2, 3)), np.zeros((3, 2)), "wrong shape: got (2, 3), expected (3, 2)"),
        (np.zeros(3), np.zeros(3, dtype=np.float32), "wrong dtype: got float64, expected float32"),
        (None, np.zeros(3), "returned None"),
        ([0.0, 0.0], np.zeros(2), "expected a NumPy array of shape (2,), got list"),
        (4, 5, "got 4, expected 5"),
        (4.0, 5, "expected an int"),
        ((np.zeros(2),), (np.zeros(2), np.zeros(2)), "expected 2 values, got 1"),
        (np.array([np.nan]), np.array([1.0]), "1 of 1 values differ"),
    ],
)
def test_assert_matches_says_what_differs(actual, expected, fragment):
    with pytest.raises(MismatchError) as info:
        grading.assert_matches(actual, expected, "f")
    assert fragment in str(info.value)
    assert str(info.value).startswith("f")


def test_assert_matches_compares_torch_tensors():
    torch = pytest.importorskip("torch")
    grading.assert_matches(torch.ones(2, 3), np.ones((2, 3), dtype=np.float32), "t")
    with pytest.raises(MismatchError, match="wrong shape"):
        grading.assert_matches(torch.ones(3), np.ones(2, dtype=np.float32), "t")


# --------------------------------------------------------------------------------------------- check


def test_check_accepts_an_honest_implementation_and_prints():
    grading.check(honest_corr2d, "cnnlab.reference.corr2d", grading.corr2d_cases(seed=1, n=4, square=False))
    grading.check(honest_conv2d, reference.conv2d, grading.conv_cases(seed=2, n=4, square=False))


def test_check_reports_the_failing_case():
    def off_by_one(x, w, b=None):
        out = honest_conv2d(x, w, b)
        out[..., -1, -1] += 1.0
        return out

    with pytest.raises(MismatchError) as info:
        grading.check(off_by_one, "cnnlab.reference.conv2d", grading.conv_cases(seed=3, n=2))
    message = str(info.value)
    assert message.startswith("off_by_one(x=float64 (")
    assert "First wrong value at index" in message


def test_check_gives_each_call_its_own_copy_of_the_inputs():
    def destroys_input(x, k):
        result = honest_corr2d(x, k)
        x[...] = 0  # must not affect the expected value or the next call
        return result

    grading.check(destroys_input, "cnnlab.reference.corr2d", grading.corr2d_cases(seed=4, n=3))


def test_expect_error():
    def output_size(n, kernel_size, stride=1, padding=0):
        if kernel_size > n + 2 * padding:
            raise ValueError("too big")
        return (n + 2 * padding - kernel_size) // stride + 1

    grading.expect_error(output_size, (2, 5))
    with pytest.raises(MismatchError, match="should raise ValueError or TypeError, but returned normally"):
        grading.expect_error(output_size, (5, 2))


# --------------------------------------------------------------------------------------------- cheating


def cheat_alias(x, w, b=None):
    return aliased_reference_conv2d(x, w, b)


def cheat_module(x, w, b=None):
    return reference.conv2d(x, w, b)


def cheat_import_inside(x, w, b=None):
    from cnnlab.reference import conv2d

    return conv2d(x, w, b)


def cheat_import_module_inside(x, w, b=None):
    import cnnlab

    return cnnlab.reference.conv2d(x, w, b)


def cheat_importlib(x, w, b=None):
    import importlib

    return importlib.import_module("cnnlab.reference").conv2d(x, w, b)


def _hidden_helper(x, w, b):
    return reference.conv2d(x, w, b)


def cheat_through_helper(x, w, b=None):
    return _hidden_helper(x, w, b)


def cheat_default_argument(x, w, b=None, _impl=aliased_reference_conv2d):
    return _impl(x, w, b)


def cheat_torch(x, w, b=None):
    import torch

    return torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()


@pytest.mark.parametrize(
    "student",
    [cheat_alias, cheat_module, cheat_import_inside, cheat_import_module_inside, cheat_importlib,
     cheat_through_helper, cheat_default_argument, cheat_torch, aliased_reference_conv2d],
)
def test_static_check_catches_the_usual_shortcuts(student):
    assert grading.find_forbidden(student), student.__name__
    with pytest.raises(CheatingError):
        grading.check(student, "cnnlab.reference.conv2d", grading.conv_cases(seed=5, n=1, bias=(False,)))


def test_static_check_passes_numpy_only_code_and_notebook_helpers():
    def helper(x, k):
        return honest_corr2d(x, k)

    def student(x, k):
        return helper(np.asarray(x), k)

    assert grading.find_forbidden(student) == []


def test_tripwires_catch_what_the_static_check_cannot_see():
    # A call hidden from the static check (the module is reached through an argument).
    def sneaky(module, x, w):
        return module.conv2d(x, w)

    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    with pytest.raises(CheatingError, match="cnnlab.reference.conv.conv2d"):
        with grading.tripwires():
            sneaky(reference, x, w)
    # the answer key works again afterwards, also through the alias taken at import time
    assert aliased_reference_conv2d(x, w).sum() == 16.0
    assert reference.conv2d(x, w).sum() == 16.0


def test_tripwires_block_imports_and_torch_entry_points():
    torch = pytest.importorskip("torch")
    original = torch.from_numpy
    with grading.tripwires():
        with pytest.raises(CheatingError):
            __import__("torch")
        with pytest.raises(CheatingError):
            torch.from_numpy(np.zeros(2))
    assert torch.from_numpy is original
    with grading.tripwires(("cnnlab.models",)):
        import numpy  # noqa: F401 - allowed imports still work
        with pytest.raises(CheatingError):
            __import__("cnnlab.models")


def test_torch_exercises_allow_torch_but_not_the_course_models():
    torch = pytest.importorskip("torch")
    from torch import nn

    import cnnlab.models

    def honest_count(model):
        return sum(p.numel() for p in model.parameters())

    def cheat_count(model):
        return cnnlab.models.count_parameters(model)

    probe = [(nn.Linear(3, 2),)]
    grading.check(honest_count, "cnnlab.models.count_parameters", probe, forbidden=grading.TORCH_FORBIDDEN)
    with pytest.raises(CheatingError):
        grading.check(cheat_count, "cnnlab.models.count_parameters", probe, forbidden=grading.TORCH_FORBIDDEN)

    class SubclassCheat(cnnlab.models.VGG):
        pass

    with pytest.raises(CheatingError, match="subclasses cnnlab.models.VGG"):
        grading.check_model(SubclassCheat, "cnnlab.models.VGG", [{"cfg": [4, "M"], "image_size": 8, "hidden": 4}])
    # the tripwire on the class itself (reached without a global name)
    with grading.tripwires(grading.TORCH_FORBIDDEN):
        with pytest.raises(CheatingError):
            cnnlab.models.VGG([4, "M"], image_size=8, hidden=4)
    assert isinstance(cnnlab.models.VGG([4, "M"], image_size=8, hidden=4), torch.nn.Module)


# --------------------------------------------------------------------------------------------- time limits


def test_time_limit_stops_an_endless_loop():
    def endless(x, k):
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(TimeLimitError, match="endless loop"):
        grading.check(endless, "cnnlab.reference.corr2d", grading.corr2d_cases(seed=6, n=1), seconds=0.5)
    assert time.perf_counter() - start < 5


# --------------------------------------------------------------------------------------------- property checks


def test_check_dropout_accepts_inverted_dropout_and_rejects_mistakes():
    def honest(x, p=0.5, training=True, rng=None):
        if not training:
            return x.copy(), np.ones_like(x)
        rng = np.random.default_rng() if rng is None else rng
        mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
        return x * mask, mask

    def not_scaled(x, p=0.5, training=True, rng=None):
        if not training:
            return x.copy(), np.ones_like(x)
        mask = (rng.random(x.shape) >= p).astype(x.dtype)
        return x * mask, mask

    def wrong_rate(x, p=0.5, training=True, rng=None):
        out, mask = honest(x, p / 2, training, rng)  # drops half as often, scales as if p
        mask = np.where(mask > 0, 1 / (1 - p), 0).astype(x.dtype)
        return x * mask, mask

    grading.check_dropout(honest)
    grading.check_dropout(honest, dtype=np.float32, shape=(4, 3, 10, 10), p_values=(0.5,))
    with pytest.raises(MismatchError, match="mask values must be 0 or 1/\\(1-p\\)"):
        grading.check_dropout(not_scaled)
    with pytest.raises(MismatchError, match="dropped a fraction"):
        grading.check_dropout(wrong_rate)


def test_check_dropout_rejects_a_fixed_pattern_that_ignores_the_rng():
    # Passes every per-mask property (values 0 or 1/(1-p), rate p, same result for the same seed),
    # but draws nothing from rng: another seed must give another mask.
    def fixed_pattern(x, p=0.5, training=True, rng=None):
        if not training:
            return x.copy(), np.ones_like(x)
        keep = (np.arange(x.size).reshape(x.shape) % 100) >= round(100 * p)
        mask = keep.astype(x.dtype) / x.dtype.type(1 - p)
        return x * mask, mask

    with pytest.raises(MismatchError, match="another seed gave the same mask"):
        grading.check_dropout(fixed_pattern)


def test_check_random_augmentation():
    image = np.arange(12.0).reshape(3, 4)
    flips = [image, image[:, ::-1]]
    grading.check_random_augmentation(lambda r: image[:, ::-1] if r.random() < 0.5 else image, flips, "flip")
    with pytest.raises(MismatchError, match="not random enough"):
        grading.check_random_augmentation(lambda r: image.copy(), flips, "never flips")
    with pytest.raises(MismatchError, match="not one of"):
        grading.check_random_augmentation(lambda r: image[::-1], flips, "wrong axis")


def test_check_random_augmentation_rejects_a_counter_that_ignores_the_rng():
    # Alternating results pass "random enough" (half and half), but another seed gives the same sequence.
    image = np.arange(12.0).reshape(3, 4)
    flips = [image, image[:, ::-1]]
    calls = iter(range(10**6))
    with pytest.raises(MismatchError, match="another seed gave the same 200 choices"):
        grading.check_random_augmentation(lambda r: flips[next(calls) % 2], flips, "counter flip")


def test_answer_keys_for_shift_and_vgg_shapes():
    image = np.arange(1.0, 7.0).reshape(2, 3)
    assert grading.answers.shift_image(image, 1, -1).tolist() == [[0, 0, 0], [2, 3, 0]]
    assert grading.answers.shift_image(image, 0, 3).tolist() == [[0, 0, 0], [0, 0, 0]]
    assert grading.answers.feature_shapes([8, "M", 16], 1, 7) == [(8, 7, 7), (8, 3, 3), (16, 3, 3)]
    assert grading.answers.conv_params(3, 64) == 64 * 27 + 64


def test_check_model_counts_parameters_even_for_full_size_vgg():
    pytest.importorskip("torch")
    from torch import nn

    def features(cfg, in_channels=3, batch_norm=False):
        layers, c = [], in_channels
        for item in cfg:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, item, 3, padding=1)] + ([nn.BatchNorm2d(item)] if batch_norm else []) + [nn.ReLU()]
                c = item
        return nn.Sequential(*layers)

    grading.check_model(features, grading.reference_vgg_features, [{"cfg": [4, "M", 8], "batch_norm": True}], input_size=16)

    def too_small(cfg, in_channels=3, batch_norm=False):
        return features(cfg[:-1], in_channels, batch_norm)

    with pytest.raises(MismatchError, match="parameters, expected"):
        grading.check_model(too_small, grading.reference_vgg_features, [{"cfg": [4, "M", 8]}], input_size=16)


def test_checks_return_nothing_because_nbgrader_reads_numbers_as_partial_credit():
    # A test cell whose last line shows a number would be scored with that number.
    image = np.arange(12.0).reshape(3, 4)
    results = [
        grading.check(honest_corr2d, "cnnlab.reference.corr2d", grading.corr2d_cases(seed=7, n=1)),
        grading.assert_matches(image, image, "image"),
        grading.check_random_augmentation(lambda r: image.copy(), [image], "identity", calls=3),
        grading.check_losses([2.0, 1.0], epochs=2),
        grading.check_cpu_budget(2, cpu_seconds=1.0),
    ]
    assert results == [None] * len(results)


# --------------------------------------------------------------------------------------------- the trusted side


def test_the_trusted_checker_judges_recorded_models_as_the_learner_side_does(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from torch import nn

    def features(cfg, in_channels=3, batch_norm=False):
        layers, c = [], in_channels
        for item in cfg:
            layers += [nn.MaxPool2d(2)] if item == "M" else [nn.Conv2d(c, item, 3, padding=1), nn.ReLU()]
            c = c if item == "M" else item
        return nn.Sequential(*layers)

    def too_small(cfg, in_channels=3, batch_norm=False):
        return features(cfg[:-1], in_channels, batch_norm)

    cases = [{"cfg": [4, "M", 8]}]
    honest_cell = lambda g: g.check_model(features, grading.reference_vgg_features, cases, input_size=16)  # noqa: E731
    assert recorded_then_trusted(tmp_path, monkeypatch, honest_cell) is None
    small_cell = lambda g: g.check_model(too_small, grading.reference_vgg_features, cases, input_size=16)  # noqa: E731
    error = recorded_then_trusted(tmp_path, monkeypatch, small_cell)
    with pytest.raises(MismatchError) as learner_error:
        small_cell(grading)
    assert error is not None and str(error) == str(learner_error.value)
    assert "parameters, expected" in str(error)

    def cnn():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    def no_pooling():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 1, 3, padding=1), nn.Flatten(),
                             nn.Linear(784, 10))

    for build, message in ((cnn, None), (no_pooling, "never shrinks the feature maps")):
        def cell(g, build=build):
            model = g.call_student(build, forbidden=grading.TORCH_FORBIDDEN)
            g.check_cnn(model)

        error = recorded_then_trusted(tmp_path, monkeypatch, cell)
        assert (error is None) if message is None else (message in str(error)), error
        if message is not None:
            with pytest.raises(MismatchError, match=message):
                cell(grading)


def test_a_crash_in_the_students_function_names_the_case_and_keeps_its_traceback():
    from cnnlab.grading import learner

    def conv2d(x, w, b=None):
        if w.shape[2] > 1:
            return x[:, :, w.shape[2] * 10]  # an IndexError on the case with the larger kernel only
        return reference.conv2d(x, w, b)  # (a stand-in for the student's code on the first case)

    cases = [(np.ones((1, 1, 30, 30)), np.ones((2, 1, 1, 1))), (np.ones((1, 1, 4, 5)), np.ones((2, 1, 3, 3)))]
    with pytest.raises(MismatchError) as info:
        learner.check(conv2d, "cnnlab.reference.conv2d", cases, forbidden=())
    message = str(info.value)
    assert message.startswith("conv2d(float64 (1, 1, 4, 5), float64 (2, 1, 3, 3)) raised IndexError"), message
    assert isinstance(info.value.__cause__, IndexError)  # the student's own traceback is shown above it
