"""cnnlab.course.experiments' multi-seed harness: paired t-intervals, run_seeds and learning_curve."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from cnnlab.course.experiments import SeedRuns, learning_curve, paired_interval, run_seeds


def test_paired_interval_matches_scipy_and_hand_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(0.8, 0.02, size=7)
    b = a + rng.normal(0.01, 0.005, size=7)
    result = paired_interval(a, b, confidence=0.9)
    d = b - a
    half = stats.t.ppf(0.95, 6) * d.std(ddof=1) / np.sqrt(7)
    assert result["mean"] == pytest.approx(d.mean())
    assert result["low"] == pytest.approx(d.mean() - half) and result["high"] == pytest.approx(d.mean() + half)
    assert result["n"] == 7 and result["sd"] == pytest.approx(d.std(ddof=1))
    # scipy's own paired t-test agrees on which side of 0 the interval lies
    test = stats.ttest_rel(b, a)
    assert (result["low"] > 0) == (test.pvalue < 0.1 and test.statistic > 0)
    ci = test.confidence_interval(0.9)
    assert (ci.low, ci.high) == pytest.approx((result["low"], result["high"]))


def test_paired_interval_sees_through_shared_seed_noise():
    # Seeds move both variants a lot, the variant adds a small constant: only pairing detects it.
    seeds_effect = np.array([0.70, 0.78, 0.74, 0.81, 0.76])
    a, b = seeds_effect, seeds_effect + np.array([0.010, 0.012, 0.009, 0.011, 0.010])
    paired = paired_interval(a, b)
    assert paired["low"] > 0
    unpaired = stats.ttest_ind(b, a)
    assert unpaired.pvalue > 0.05  # an unpaired test would call it noise
    # an effect of zero is not "significant"
    rng = np.random.default_rng(1)
    null = paired_interval(a, a + rng.normal(0, 0.01, 5))
    assert null["low"] < 0 < null["high"] or abs(null["mean"]) < 0.02


def test_paired_interval_bad_input():
    with pytest.raises(ValueError, match="paired"):
        paired_interval([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        paired_interval([1.0], [2.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_interval([1, 2], [2, 3], confidence=1.5)


def separable(n, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=generator) * 0.2
    y = torch.arange(n) % 2
    x[y == 1, :, :, :4] += 0.5
    return x, y


def net():
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(128, 2))


def test_run_seeds_pairs_variants_by_seed_and_summarises():
    val = separable(64, 100)
    variants = {"a": {"model": net}, "a again": {"model": net}, "frozen": {"model": net, "lr": 1e-9}}
    runs = run_seeds(variants, lambda seed: separable(48, seed), val, epochs=3, seeds=[0, 1, 2],
                     progress=False, lr=5e-2, batch_size=8, device="cpu")
    assert isinstance(runs, SeedRuns) and runs.variants == ["a", "a again", "frozen"]
    assert len(runs.histories["a"]) == 3 and len(runs.histories["a"][0]["val_acc"]) == 3
    # same seed, same variant -> identical run; different seeds -> different runs
    for h1, h2 in zip(runs.histories["a"], runs.histories["a again"]):
        assert h1["loss"] == h2["loss"]
    assert runs.histories["a"][0]["loss"] != runs.histories["a"][1]["loss"]
    acc = runs.values("a", "val_acc")
    assert acc.shape == (3,) and acc.min() > 0.9
    assert np.allclose(runs.values("a", "gap"), runs.values("a", "train_acc") - acc)
    mean, sd = runs.mean_sd("a")
    assert mean == pytest.approx(acc.mean()) and sd == pytest.approx(acc.std(ddof=1))
    same = runs.paired("a", "a again")
    assert same["mean"] == 0 and same["sd"] == 0
    learned = runs.paired("frozen", "a")  # training beats a learning rate of 1e-9, on every seed
    assert learned["low"] > 0.2
    assert "frozen" in runs.table() and "3 seeds" in runs.table()
    fig = runs.plot(("loss", "acc"))
    assert len(fig.axes) == 2 and len(fig.axes[0].collections) == 6  # a band per variant and split
    assert runs.seconds > 0


def test_run_seeds_rejects_bad_arguments():
    data = separable(16, 0)
    with pytest.raises(TypeError, match="variants"):
        run_seeds({}, data, data, epochs=1)
    with pytest.raises(TypeError, match="callable 'model'"):
        run_seeds({"x": {"model": 3}}, data, data, epochs=1)
    with pytest.raises(ValueError, match="at least 2 different seeds"):
        run_seeds({"x": {"model": net}}, data, data, epochs=1, seeds=[0])
    with pytest.raises(ValueError, match="at least 2 different seeds"):
        run_seeds({"x": {"model": net}}, data, data, epochs=1, seeds=[1, 1])
    with pytest.raises(ValueError, match="epochs"):
        run_seeds({"x": {"model": net}}, data, data, epochs=0)


def test_learning_curve_grows_with_size_and_shares_images_per_seed():
    seen = []

    def make(size, seed):
        seen.append((size, seed))
        return separable(size, seed)

    curve = learning_curve({"a": {"model": net}}, [8, 64], make, separable(64, 100), epochs=lambda n: 2 if n > 8 else 4,
                           seeds=[0, 1], progress=False, lr=5e-2, batch_size=8, device="cpu")
    assert list(curve) == [8, 64]
    assert len(curve[8].histories["a"][0]["loss"]) == 4 and len(curve[64].histories["a"][0]["loss"]) == 2
    assert seen == [(8, 0), (8, 1), (64, 0), (64, 1)]  # one draw per (size, seed), shared by variants
    with pytest.raises(ValueError, match="sizes"):
        learning_curve({"a": {"model": net}}, [0], make, separable(8, 1), epochs=1)
    with pytest.raises(TypeError, match="make_train"):
        learning_curve({"a": {"model": net}}, [8], None, separable(8, 1), epochs=1)
