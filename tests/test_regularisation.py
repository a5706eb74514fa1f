"""cnnlab.course.regularisation: paired runs measured on named test sets, and moved copies of a test set."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.course.regularisation import disagreement, moved_copy, plot_accuracies, run_seeds_tested
from cnnlab.train import evaluate


def linear_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def separable(n, seed):
    """Two classes told apart by the sign of the top-left pixel: learnable by a linear layer."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 4, 4, generator=g)
    y = (x[:, 0, 0, 0] > 0).long()
    return x, y


def test_moved_copy_shifts_and_mirrors_each_image_within_the_padding():
    images = torch.zeros(32, 1, 12, 12)
    images[:, 0, 4:8, 3:9] = torch.rand(32, 4, 6, generator=torch.Generator().manual_seed(0)) + 0.5
    labels = torch.arange(32)
    moved, same_labels = moved_copy((images, labels), padding=2, flip=True, seed=3)
    assert moved.shape == images.shape and moved.dtype == images.dtype and torch.equal(same_labels, labels)
    padded = nn.functional.pad(images, (2, 2, 2, 2))
    moves = set()
    for i in range(len(images)):
        found = [(dy, dx, f) for dy in range(5) for dx in range(5) for f in (False, True)
                 if torch.equal(moved[i], (lambda w: w.flip(-1) if f else w)(padded[i, :, dy:dy + 12, dx:dx + 12]))]
        assert found, f"image {i} is not a shift of at most 2 pixels (optionally mirrored) of the original"
        moves.add(found[0])
    assert len(moves) > 8  # random moves, not one fixed shift
    assert any(f for _, _, f in moves) and not all(f for _, _, f in moves)


def test_moved_copy_is_fixed_by_its_seed_and_identity_without_moves():
    images = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    data = (images, torch.zeros(16))
    assert torch.equal(moved_copy(data, 2, seed=5)[0], moved_copy(data, 2, seed=5)[0])
    assert not torch.equal(moved_copy(data, 2, seed=5)[0], moved_copy(data, 2, seed=6)[0])
    assert torch.equal(moved_copy(data, 0, flip=False)[0], images)
    with pytest.raises(TypeError):
        moved_copy((images.numpy(), np.zeros(16)), 2)
    with pytest.raises(ValueError):
        moved_copy(data, -1)


def test_run_seeds_tested_pairs_the_seeds_and_measures_every_test_set():
    train = lambda seed: separable(64, seed)
    tests = {"test": separable(200, 100), "other": separable(200, 101)}
    variants = {
        "untrained": {"model": linear_model, "lr": 0.0},
        "trained": {"model": linear_model, "lr": 0.05},
        "trained again": {"model": linear_model, "lr": 0.05},
    }
    runs = run_seeds_tested(variants, train, tests, epochs=10, seeds=[0, 1, 2], progress=False, device="cpu",
                            batch_size=8)
    for name in variants:
        assert set(runs.results[name]) == {"test_acc", "test_loss", "test_gap", "other_acc", "other_loss",
                                           "other_gap", "train_acc"}
        assert all(len(values) == 3 for values in runs.results[name].values())
        assert all(not h["val_acc"] for h in runs.histories[name])  # no per-epoch validation asked for
    # same seed, same spec: identical networks, so the paired difference is exactly zero
    same = runs.paired("trained", "trained again", "test_acc")
    assert np.all(same["differences"] == 0)
    # training beats not training on both test sets, beyond the seed noise
    assert runs.paired("untrained", "trained", "test_acc")["low"] > 0.1
    assert runs.paired("untrained", "trained", "other_acc")["low"] > 0.1
    gap = runs.values("trained", "train_acc") - runs.values("trained", "test_acc")
    np.testing.assert_allclose(runs.values("trained", "test_gap"), gap)
    # the stored predictions are the answers the accuracies count
    for i, predicted in enumerate(runs.predictions["trained"]["test"]):
        assert predicted.shape == (200,)
        assert np.mean(predicted == tests["test"][1].numpy()) == pytest.approx(runs.values("trained", "test_acc")[i])
    np.testing.assert_array_equal(disagreement(runs, "trained", "trained again", "test"), 0.0)
    apart = disagreement(runs, "untrained", "trained", "other")
    assert apart.shape == (3,) and np.all(apart > 0.1)
    with pytest.raises(KeyError):
        disagreement(runs, "trained", "nobody", "test")
    fig = plot_accuracies(runs, {"test": "test", "other": "other"})
    bars = fig.axes[0].patches
    assert len(bars) == 6  # 3 variants x 2 test sets
    assert bars[0].get_height() == pytest.approx(runs.values("untrained", "test_acc").mean())
    assert bars[-1].get_height() == pytest.approx(runs.values("trained again", "other_acc").mean())


def test_run_seeds_tested_matches_evaluate_and_records_val_curves():
    data, test, val = separable(64, 0), separable(100, 1), separable(40, 2)
    built = []

    def model():
        built.append(linear_model())
        return built[-1]

    runs = run_seeds_tested({"m": {"model": model}}, data, {"test": test}, epochs=3, seeds=[4, 7], val=val,
                            measure_train=False, progress=False, device="cpu", lr=0.05)
    assert len(built) == 2 and sorted(runs.results["m"]) == ["test_acc", "test_loss", "val_acc", "val_loss"]
    for i, net in enumerate(built):
        loss, acc = evaluate(net, test, device="cpu")
        assert runs.values("m", "test_acc")[i] == pytest.approx(acc)
        assert runs.values("m", "test_loss")[i] == pytest.approx(loss)
        assert len(runs.histories["m"][i]["val_acc"]) == 3
        assert runs.values("m", "val_acc")[i] == runs.histories["m"][i]["val_acc"][-1]


def test_run_seeds_tested_rejects_bad_arguments():
    data = separable(8, 0)
    ok = {"m": {"model": linear_model}}
    with pytest.raises(TypeError):
        run_seeds_tested(ok, data, {}, epochs=1, seeds=[0, 1], progress=False)
    with pytest.raises(TypeError):
        run_seeds_tested(ok, data, {"test": data[0]}, epochs=1, seeds=[0, 1], progress=False)
    with pytest.raises(ValueError):
        run_seeds_tested(ok, data, {"test": data}, epochs=1, seeds=[0], progress=False)
    with pytest.raises(TypeError):
        run_seeds_tested({"m": {"lr": 0.1}}, data, {"test": data}, epochs=1, seeds=[0, 1], progress=False)


def test_digits_split_keeps_one_test_set_apart_from_every_training_set():
    from cnnlab.course.regularisation import digits_split
    from cnnlab.data import load_digits

    images, _ = load_digits()
    (x0, y0), (x_test, y_test) = digits_split(100, seed=0)
    (x1, _), (x_test1, _) = digits_split(100, seed=1)
    assert x0.shape == (100, 1, 8, 8) and x_test.shape == (len(images) - 800, 1, 8, 8)
    assert torch.equal(x_test, x_test1)  # the same test digits for every seed
    assert not torch.equal(x0, x1)  # each seed draws its own training digits
    flat = lambda x: {bytes(row.numpy().tobytes()) for row in x.reshape(len(x), -1)}
    assert not flat(x0) & flat(x_test) and not flat(x1) & flat(x_test)  # no test digit is ever trained on
    assert set(y_test.tolist()) == set(range(10))
    with pytest.raises(ValueError, match="n_train"):
        digits_split(801)
    with pytest.raises(ValueError, match="pool_size"):
        digits_split(10, pool_size=len(images))
    with pytest.raises(TypeError, match="n_train"):
        digits_split(2.5)


def test_run_seeds_tested_keeps_seeds_given_as_a_generator():
    train = separable(32, seed=0)
    runs = run_seeds_tested({"a": {"model": linear_model}}, train, {"test": separable(16, seed=1)}, epochs=1,
                            seeds=(s for s in [3, 4]), progress=False, device="cpu")
    assert runs.seeds == [3, 4]
    assert len(runs.values("a", "test_acc")) == 2 and len(runs.predictions["a"]["test"]) == 2
