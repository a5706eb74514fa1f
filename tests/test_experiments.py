"""cnnlab.course.experiments: the data, model and bookkeeping behind the dropout / augmentation / VGG chapters."""

import numpy as np
import pytest
import torch
from torch import nn

from test_seed_runs import separable  # two classes told apart by the left half's brightness

from cnnlab.course.experiments import (
    compare_training,
    eval_accuracies,
    fashion_subsets,
    generalization_gap,
    tail_mean,
)


def fashion_available():
    try:
        from cnnlab.data import load_fashion_mnist

        load_fashion_mnist("test", limit=1)
        return True
    except FileNotFoundError:
        return False


needs_fashion = pytest.mark.skipif(not fashion_available(), reason="Fashion-MNIST IDX files not installed")


@needs_fashion
def test_fashion_subsets_are_balanced_disjoint_splits_and_repeatable():
    (x_train, y_train), (x_val, y_val) = fashion_subsets(5, 3, seed=1, pool=2000)
    assert x_train.shape == (50, 1, 28, 28) and x_train.dtype == torch.float32
    assert x_val.shape == (30, 1, 28, 28) and y_val.dtype == torch.int64
    assert 0.0 <= float(x_train.min()) and float(x_train.max()) <= 1.0
    assert np.bincount(y_train.numpy(), minlength=10).tolist() == [5] * 10
    assert np.bincount(y_val.numpy(), minlength=10).tolist() == [3] * 10
    (again, _), _ = fashion_subsets(5, 3, seed=1, pool=2000)
    assert torch.equal(again, x_train)
    (other, _), _ = fashion_subsets(5, 3, seed=2, pool=2000)
    assert not torch.equal(other, x_train)


@needs_fashion
def test_fashion_subsets_validate_on_training_images_that_no_subset_trains_on():
    from cnnlab import data
    from cnnlab.course.experiments import VALIDATION_START

    _, (x_val, _) = fashion_subsets(1, 20, seed=3)
    train_images, _ = data.load_fashion_mnist("train")
    test_images, _ = data.load_fashion_mnist("test")
    as_bytes = lambda images: {image.tobytes() for image in images}
    val = as_bytes((x_val[:, 0].numpy() * 255).round().astype(np.uint8))
    assert val <= as_bytes(train_images[VALIDATION_START:])
    assert not val & as_bytes(train_images[:VALIDATION_START])
    assert not val & as_bytes(test_images)
    with pytest.raises(ValueError, match="pool must be at most"):
        fashion_subsets(1, 1, pool=VALIDATION_START + 1)


@needs_fashion
def test_fashion_test_is_the_whole_test_split_or_a_balanced_draw():
    from cnnlab import data
    from cnnlab.course.experiments import fashion_test

    x_test, y_test = fashion_test()
    images, labels = data.load_fashion_mnist("test")
    assert x_test.shape == (10_000, 1, 28, 28) and torch.equal(y_test, torch.from_numpy(labels).long())
    assert np.allclose(x_test[:, 0].numpy() * 255, images, atol=1e-3)
    _, y_some = fashion_test(per_class=7, seed=1)
    assert np.bincount(y_some.numpy(), minlength=10).tolist() == [7] * 10


@needs_fashion
def test_seed_offset_moves_every_draw(monkeypatch):
    (plain, _), (plain_val, _) = fashion_subsets(5, 3, seed=1, pool=2000)
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "1000")
    (moved, _), (moved_val, _) = fashion_subsets(5, 3, seed=1, pool=2000)
    (again, _), _ = fashion_subsets(5, 3, seed=1, pool=2000)
    assert not torch.equal(plain, moved) and not torch.equal(plain_val, moved_val)
    assert torch.equal(again, moved)
    monkeypatch.setenv("CNNLAB_SEED_OFFSET", "0")
    (at_1001, _), _ = fashion_subsets(5, 3, seed=1001, pool=2000)
    assert torch.equal(at_1001, moved)  # offset 1000 with seed 1 is seed 1001 without offset


@needs_fashion
def test_fashion_subsets_refuses_more_than_the_pool_holds():
    with pytest.raises(ValueError, match="per class"):
        fashion_subsets(50, 1, pool=100)


def test_tail_mean_and_gap_read_the_last_epochs():
    history = {"acc": [0.5, 0.9, 1.0, 1.0], "val_acc": [0.5, 0.7, 0.8, 0.6]}
    assert tail_mean(history, "val_acc", last=2) == pytest.approx(0.7)
    assert tail_mean(history, "acc", last=10) == pytest.approx(0.85)
    assert generalization_gap(history, last=2) == pytest.approx(1.0 - 0.7)
    with pytest.raises(ValueError, match="empty"):
        tail_mean({"val_acc": []})
    with pytest.raises(ValueError, match="equally long"):
        generalization_gap({"acc": [1.0], "val_acc": []})


def tiny_net():
    # tanh, not ReLU: with two channels a ReLU net can start dead and never learn
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Dropout(0.0), nn.Linear(128, 2))


def test_compare_training_same_seed_gives_same_run_and_variants_differ():
    train, val = separable(64, 0), separable(64, 1)
    variants = {
        "a": {"model": tiny_net},
        "b": {"model": tiny_net},
        "slow": {"model": tiny_net, "lr": 1e-5},
    }
    histories, models = compare_training(variants, train, val, epochs=3, progress=False, lr=1e-2, batch_size=8, device="cpu")
    assert set(histories) == set(models) == {"a", "b", "slow"}
    assert len(histories["a"]["val_acc"]) == 3
    assert histories["a"]["loss"] == histories["b"]["loss"]  # identical start, data order and updates
    assert histories["slow"]["loss"] != histories["a"]["loss"]  # the override reached fit
    assert histories["a"]["val_acc"][-1] > 0.9
    result = eval_accuracies(models["a"], train, val, device="cpu")
    assert set(result) == {"train_acc", "val_acc", "gap"}
    assert result["gap"] == pytest.approx(result["train_acc"] - result["val_acc"])
    assert result["val_acc"] == pytest.approx(histories["a"]["val_acc"][-1])


def test_compare_training_rejects_malformed_variants():
    train = separable(64, 0)
    with pytest.raises(TypeError, match="variants"):
        compare_training({}, train, train, epochs=1)
    with pytest.raises(TypeError, match="callable 'model'"):
        compare_training({"x": {"model": None}}, train, train, epochs=1)


def test_seeded_runs_yields_each_run_in_seed_order_and_pairs_by_seed():
    from cnnlab.course.experiments import seeded_runs

    seen_seeds = []

    def train(seed):
        seen_seeds.append(seed)
        return separable(32, seed)

    variants = {"a": {"model": tiny_net}, "twin": {"model": tiny_net}, "slow": {"model": tiny_net, "lr": 1e-6}}
    runs = list(seeded_runs(variants, train, separable(32, 9), epochs=2, seeds=[3, 4], progress=False,
                            batch_size=8, device="cpu"))
    assert [(run.seed, run.name) for run in runs] == [(s, n) for s in (3, 4) for n in variants]
    assert seen_seeds == [3, 4]  # one training set per seed, shared by its variants
    by_key = {(run.seed, run.name): run for run in runs}
    assert by_key[3, "a"].history["loss"] == by_key[3, "twin"].history["loss"]  # same seed: same run
    assert by_key[3, "a"].history["loss"] != by_key[4, "a"].history["loss"]
    assert by_key[3, "slow"].options["lr"] == 1e-6 and by_key[3, "slow"].options["epochs"] == 2
    with pytest.raises(ValueError, match="2 different seeds"):
        seeded_runs(variants, train, None, epochs=1, seeds=[1, 1])  # checked before any training
