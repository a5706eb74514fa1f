"""cnnlab.train: a tiny CNN on sklearn's digits learns, the history is complete, seeds repeat runs."""

import numpy as np
import pytest
from torch import nn

import cnnlab
from cnnlab import data
from cnnlab.augment import Augmenter
from cnnlab.train import History, evaluate, fit, predict


def tiny_cnn(num_outputs=10, seed=0):
    cnnlab.seed_everything(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 4 * 4, num_outputs),
    )


@pytest.fixture(scope="module")
def digits():
    images, labels = data.load_digits()
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    return (images[:1400], labels[:1400]), (images[1400:], labels[1400:])


def test_fit_learns_digits(digits):
    train, val = digits
    model = tiny_cnn()
    history = fit(model, train, val, epochs=3, lr=1e-2, batch_size=64, progress=False, device="cpu")
    assert isinstance(history, History)
    for key in ("loss", "acc", "val_loss", "val_acc"):
        assert len(history[key]) == 3
    assert history.epochs == [1, 2, 3] and len(history.seconds) == 3
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_acc"][-1] > 0.8  # chance is 0.1
    loss, acc = evaluate(model, val, device="cpu")
    assert acc == pytest.approx(history["val_acc"][-1]) and loss == pytest.approx(history["val_loss"][-1])
    epoch, best = history.best("val_acc")
    assert best == max(history["val_acc"]) and history["val_acc"][epoch - 1] == best
    assert history.best("val_loss")[1] == min(history["val_loss"])
    logits = predict(model, val[0], device="cpu")
    assert logits.shape == (len(val[1]), 10) and isinstance(logits, np.ndarray)
    assert np.mean(logits.argmax(1) == val[1]) == pytest.approx(acc)


def test_same_seed_same_losses(digits):
    train, _ = digits
    small = (train[0][:300], train[1][:300])
    runs = [fit(tiny_cnn(seed=1), small, epochs=2, lr=1e-2, seed=5, progress=False, device="cpu") for _ in range(2)]
    assert runs[0]["loss"] == runs[1]["loss"]
    other = fit(tiny_cnn(seed=1), small, epochs=2, lr=1e-2, seed=6, progress=False, device="cpu")
    assert other["loss"] != runs[0]["loss"]  # a different shuffle gives a different trajectory
    assert runs[0]["val_loss"] == [] and runs[0]["val_acc"] == []


def test_binary_task_uses_one_logit(digits):
    (images, labels), (val_images, val_labels) = digits
    keep, keep_val = np.isin(labels, [0, 1]), np.isin(val_labels, [0, 1])
    train = (images[keep], labels[keep])
    val = (val_images[keep_val], val_labels[keep_val].astype(np.float32))  # float labels work too
    history = fit(tiny_cnn(num_outputs=1), train, val, epochs=2, lr=1e-2, progress=False, device="cpu")
    assert history["val_acc"][-1] > 0.9
    assert history["loss"][-1] < history["loss"][0]


def test_uint8_channels_last_dataset_and_augment():
    rng = np.random.default_rng(0)
    # Two classes a CNN separates at once: bright left half vs bright right half (RGB, uint8, NHWC).
    images = np.zeros((128, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, 128)
    images[labels == 0, :, :4] = 200
    images[labels == 1, :, 4:] = 200
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 64, 2))
    calls = []

    def spy(batch):
        calls.append(batch.shape)
        return batch

    history = fit(model, (images, labels), epochs=2, batch_size=32, lr=1e-2, augment=spy, progress=False)
    assert len(calls) == 2 * 4 and calls[0] == (32, 3, 8, 8)
    assert history["acc"][-1] > 0.9
    dataset = data.as_tensor_dataset(images, labels)
    assert evaluate(model, dataset)[1] > 0.9
    # An Augmenter is accepted and used through its batched torch path.
    augmented = fit(model, dataset, epochs=1, augment=Augmenter(flip=False, rotation=5), progress=False)
    assert len(augmented["loss"]) == 1 and np.isfinite(augmented["loss"][0])


def test_progress_bar_and_bad_arguments(digits, capsys, monkeypatch):
    train, _ = digits
    small = (train[0][:64], train[1][:64])
    fit(tiny_cnn(), small, epochs=1, progress=True, device="cpu")
    assert "epoch 1/1" in capsys.readouterr().err
    # The book build cannot show a live bar: one line per epoch instead.
    monkeypatch.setenv("CNNLAB_STATIC_WIDGETS", "1")
    history = fit(tiny_cnn(), small, small, epochs=2, progress=True, device="cpu")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2  loss ")
    assert f"val_acc {history['val_acc'][-1]:.4f}" in lines[1]
    monkeypatch.delenv("CNNLAB_STATIC_WIDGETS")
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_cnn(), small, epochs=0)
    with pytest.raises(ValueError, match="labels"):
        fit(tiny_cnn(), (small[0], small[1][:10]), epochs=1)
    with pytest.raises(ValueError, match="optimizer"):
        fit(tiny_cnn(), small, epochs=1, optimizer="lbfgs2")
    with pytest.raises(TypeError, match="train"):
        fit(tiny_cnn(), small[0], epochs=1)
    with pytest.raises(ValueError, match="channels-last"):
        predict(tiny_cnn(), np.zeros((2, 8, 8, 1), np.float32))


def test_history_works_with_plot_history(digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.course.plots import plot_history

    train, val = digits
    history = fit(tiny_cnn(), (train[0][:200], train[1][:200]), (val[0][:100], val[1][:100]), epochs=2, progress=False)
    fig = plot_history({"run": history})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), history["loss"])
    plt.close(fig)
    assert "2 epochs" in repr(history)


def test_onecycle_and_cosine_schedules_and_weight_decay(digits):
    train, val = digits
    small = (train[0][:256], train[1][:256])
    onecycle = fit(tiny_cnn(), small, val, epochs=3, lr=1e-2, batch_size=16, schedule="onecycle",
                   optimizer="adamw", weight_decay=1e-2, progress=False, device="cpu")
    assert len(onecycle.lr) == 3
    # one-cycle: up to the peak within the run, then down to almost nothing at the end
    assert onecycle.lr[-1] < 1e-4 and max(onecycle.lr) <= 1e-2 + 1e-12 and onecycle.lr[0] > onecycle.lr[-1]
    cosine = fit(tiny_cnn(), small, epochs=2, lr=1e-2, schedule="cosine", progress=False, device="cpu")
    assert cosine.lr[0] == pytest.approx(1e-2 * (1 + np.cos(np.pi * 0.5)) / 2) and cosine.lr[-1] < 1e-8
    constant = fit(tiny_cnn(), small, epochs=2, lr=1e-2, progress=False, device="cpu")
    assert constant.lr == [1e-2, 1e-2]
    assert onecycle["val_acc"][-1] > 0.5
    # weight decay shrinks the weights: same run with a large decay ends with a smaller weight norm
    decayed_model, plain_model = tiny_cnn(), tiny_cnn()
    fit(decayed_model, small, epochs=2, lr=1e-2, optimizer="adamw", weight_decay=0.5, progress=False, device="cpu")
    fit(plain_model, small, epochs=2, lr=1e-2, optimizer="adamw", weight_decay=0.0, progress=False, device="cpu")
    norm = lambda m: float(sum((p.detach() ** 2).sum() for p in m.parameters()))
    assert norm(decayed_model) < norm(plain_model)
    with pytest.raises(ValueError, match="schedule"):
        fit(tiny_cnn(), small, epochs=1, schedule="linear", progress=False, device="cpu")
    with pytest.raises(ValueError, match="weight_decay"):
        fit(tiny_cnn(), small, epochs=1, weight_decay=-1, progress=False, device="cpu")
