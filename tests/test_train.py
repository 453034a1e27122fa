"""npae.train.fit: one loop for an npae model and its torch twin.

Oracles: the torch twin trained by the same loop (torch autograd + torch.optim, float64), a
hand-written tutorial-style torch loop (batch order and epoch averaging), and the model's own
reconstruction for the validation loss.  Runtime: about 5 s.
"""

import json

import numpy as np
import pytest
import torch

import npae
import reference
from npae.errors import DataError, NonFiniteError, ShapeError, TrainingDivergedError
from npae.train import History, fit


def _windows(n=40, T=12, D=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n + T)
    base = np.stack([np.sin(t / 3.0 + k) for k in range(D)], axis=1) + 0.1 * rng.normal(size=(n + T, D))
    return np.stack([base[i:i + T] for i in range(n)])  # (n, T, D)


def _state_close(npae_model, torch_model, tol):
    sd = torch_model.state_dict()
    for name, v in npae_model.state_dict().items():
        ref = sd[name].detach().numpy()
        err = np.max(np.abs(v - ref)) / max(np.max(np.abs(ref)), 1e-30)
        assert err <= tol, f"{name}: relative difference {err:.2e}"


@pytest.mark.parametrize("cls", [npae.RNNAutoencoder, npae.LSTMAutoencoder])
@pytest.mark.parametrize("opts", [dict(), dict(clip=0.05, val_fraction=0.25, optimizer="sgd")])
def test_numpy_and_torch_train_in_lockstep(cls, opts):
    x = _windows()
    model = cls(2, 8, 4, dtype=np.float64, seed=1)
    twin = reference.to_torch(model)  # identical initial weights
    h_np = fit(model, x, epochs=3, batch_size=8, lr=1e-2, seed=5, **opts)
    h_t = fit(twin, x, epochs=3, batch_size=8, lr=1e-2, seed=5, **opts)
    assert len(h_np.train_loss) == len(h_t.train_loss) == 3
    np.testing.assert_allclose(h_np.train_loss, h_t.train_loss, rtol=1e-9, atol=0)
    np.testing.assert_allclose(h_np.val_loss, h_t.val_loss, rtol=1e-9, atol=0)
    assert len(h_np.val_loss) == (3 if opts.get("val_fraction") else 0)
    assert h_np.train_loss[-1] < h_np.train_loss[0]  # it does learn
    _state_close(model, twin, 1e-9)


def test_torch_side_equals_a_tutorial_style_loop():
    """Batch order (one Generator, a permutation per epoch) and the epoch loss (mean of batch
    losses) as the tutorial's loop computes them, written out by hand."""
    x = _windows(n=37)
    start = reference.LSTMAutoencoder(2, 6, 3, dtype=torch.float64, seed=3)
    a = reference.LSTMAutoencoder(2, 6, 3, dtype=torch.float64)
    a.load_state_dict(start.state_dict())
    hist = fit(a, x, epochs=2, batch_size=10, lr=5e-3, seed=11)

    b = reference.LSTMAutoencoder(2, 6, 3, dtype=torch.float64)
    b.load_state_dict(start.state_dict())
    opt = torch.optim.Adam(b.parameters(), lr=5e-3)
    rng = np.random.default_rng(11)
    xt = torch.from_numpy(x)
    expected = []
    for _ in range(2):
        order = rng.permutation(len(x))
        losses = []
        for s in range(0, len(x), 10):
            xb = xt[torch.from_numpy(order[s:s + 10])]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(b(xb), xb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        expected.append(sum(losses) / len(losses))
    np.testing.assert_allclose(hist.train_loss, expected, rtol=1e-12)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=1e-12, atol=0, msg=k)


def test_validation_loss_is_the_loss_of_the_last_windows():
    x = _windows(n=40)
    model = npae.RNNAutoencoder(2, 8, 4, dtype=np.float64, seed=0)
    hist = fit(model, x, epochs=2, batch_size=8, lr=1e-2, val_fraction=0.25, seed=0)
    held = x[30:]
    assert hist.val_loss[-1] == pytest.approx(np.mean((model.reconstruct(held) - held) ** 2), rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_diverging_loss_raises_with_advice(backend):
    x = _windows(n=16, D=1)
    model = npae.RNNAutoencoder(1, 8, 4, dtype=np.float64, seed=1)
    if backend == "torch":
        model = reference.to_torch(model)
    with pytest.raises(NonFiniteError) as e:
        fit(model, x, epochs=40, batch_size=8, lr=1e6, optimizer="sgd", seed=0)
    msg = str(e.value)
    assert "learning rate" in msg and "clip" in msg and backend in msg
    assert "epoch 1 " in msg  # the same epoch on both backends: they train in lockstep


def test_nan_from_the_data_scale_is_reported_too():
    x = _windows(n=8, D=1) * 1e160  # squares overflow to inf
    with pytest.raises(NonFiniteError, match="lower the learning rate"):
        fit(npae.RNNAutoencoder(1, 4, 2, dtype=np.float64, seed=0), x, epochs=1, batch_size=4)


def test_patience_stops_and_restores_the_best_weights():
    x = _windows(n=40, D=1)
    model = npae.RNNAutoencoder(1, 8, 4, dtype=np.float64, seed=0)
    states = []
    hist = fit(model, x, epochs=30, batch_size=8, lr=0.2, optimizer="sgd", val_fraction=0.25,
               patience=2, seed=0, callback=lambda epoch, h: states.append(model.state_dict()))
    assert hist.stopped_early and hist.epochs < 30 and hist.stop_reason == "early_stopping"
    best = int(np.argmin(hist.val_loss))
    assert hist.best_epoch == best and best < hist.epochs - 1
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, states[best][k])


def test_callback_can_stop_and_history_is_json():
    x = _windows(n=16, D=1)
    calls = []
    hist = fit(npae.RNNAutoencoder(1, 4, 2, seed=0), x, epochs=10, batch_size=8, seed=0,
               callback=lambda epoch, h: calls.append(epoch) or epoch == 2)
    assert calls == [0, 1, 2] and hist.epochs == 3
    d = json.loads(json.dumps(hist.to_dict()))
    assert set(d) >= {"train_loss", "val_loss", "seconds"}
    assert d["train_loss"] == hist.train_loss and d["val_loss"] == [] and len(d["seconds"]) == 3
    assert History.from_dict(d).to_dict() == d


def test_progress_bar_only_when_asked(capsys):
    x = _windows(n=16, D=1)
    fit(npae.RNNAutoencoder(1, 4, 2, seed=0), x, epochs=2, batch_size=8, seed=0)
    assert capsys.readouterr().err == ""
    fit(npae.RNNAutoencoder(1, 4, 2, seed=0), x, epochs=2, batch_size=8, seed=0, progress=True,
        desc="rnn")
    err = capsys.readouterr().err
    assert "rnn" in err and "2/2" in err and "loss=" in err


def test_same_seed_same_training_different_seed_different_order():
    x = _windows(n=24, D=1)
    runs = [fit(npae.RNNAutoencoder(1, 4, 2, dtype=np.float64, seed=0), x, epochs=2,
                batch_size=5, seed=s).train_loss for s in (7, 7, 8)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_bad_arguments():
    x = _windows(n=8, D=1)
    m = npae.RNNAutoencoder(1, 4, 2, seed=0)
    with pytest.raises(ShapeError, match=r"\[\.\.\., None\]"):
        fit(m, x[..., 0])
    for kw in (dict(epochs=0), dict(batch_size=0), dict(lr=-1.0), dict(optimizer="rmsprop"),
               dict(clip=0), dict(val_fraction=1.0), dict(val_fraction=0.01), dict(patience=0)):
        with pytest.raises(DataError):
            fit(m, x, **kw)
    bad = x.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"\(1, 2, 0\)"):
        fit(m, bad)
    with pytest.raises(TypeError, match="npae autoencoder"):
        fit(object(), x)


def test_progress_without_a_terminal_prints_timed_lines_not_carriage_returns():
    import io

    from npae.train import LineProgress, _progress_bar

    class Clock:
        t = 0.0

        def __call__(self):
            return self.t

    out, clock = io.StringIO(), Clock()
    bar = LineProgress(100, "lstm (numpy)", out, interval=10.0, clock=clock)
    for epoch in range(100):
        clock.t += 1.5                       # 1.5 s an epoch: a line every 7th epoch
        bar.set_postfix({"loss": f"{1 / (epoch + 1):.3g}"})
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "lstm (numpy): epoch 7/100, loss=0.143, 10 s elapsed"
    assert len(lines) == 100 // 7 + 1 and lines[-1].startswith("lstm (numpy): epoch 100/100")
    # not a terminal -> lines; a terminal -> tqdm's bar
    assert isinstance(_progress_bar(3, "x", io.StringIO()), LineProgress)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert not isinstance(_progress_bar(3, "x", Tty()), LineProgress)


# ---------------------------------------------------------------------------------------------
# Budgets, the plateau schedule, stop reasons, divergence under Adam
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lr", [1e3, 1e6])
def test_adam_divergence_to_a_finite_loss_raises(lr):
    """Adam at lr 1e3 / 1e6 ends with a finite loss of ~1e7 / ~1e12 (no NaN): it must still be
    reported as divergence, with advice, not returned as a trained model."""
    x = _windows(n=16, D=1)
    model = npae.LSTMAutoencoder(1, 8, 4, seed=0)
    with pytest.raises(TrainingDivergedError, match="diverged.*lower the learning rate"):
        fit(model, x, epochs=5, batch_size=8, lr=lr, seed=0)


def test_min_steps_raises_the_epoch_budget_and_max_steps_caps_it():
    x = _windows(n=24, D=1)                  # batch 16: 2 steps an epoch
    h = fit(npae.RNNAutoencoder(1, 4, 2, seed=0), x, epochs=3, batch_size=16, min_steps=50, seed=0)
    assert h.steps == 50 and h.epochs == 25 and h.stop_reason == "epochs"
    assert len(h.lr) == 25 and set(h.lr) == {1e-3}
    h = fit(npae.RNNAutoencoder(1, 4, 2, seed=0), x, epochs=100, batch_size=16, max_steps=7, seed=0)
    assert h.steps == 7 and h.epochs == 4 and h.stop_reason == "max_steps"


def test_no_epoch_budget_trains_to_max_steps_on_the_same_trajectory():
    """``epochs=None``: ``max_steps`` ends training.  Its first epochs are those of a run with an
    epoch budget (same seed, same batches, same schedule), so with the best weights kept its best
    validation loss is never above the shorter run's — the argument for the detector's default."""
    x = _windows(n=40, D=1)                  # 30 training windows at batch 8: 4 steps an epoch
    kw = dict(batch_size=8, lr=0.05, val_fraction=0.25, patience=50, lr_patience=2, seed=0)
    short = fit(npae.RNNAutoencoder(1, 8, 4, dtype=np.float64, seed=0), x, epochs=5, **kw)
    long = fit(npae.RNNAutoencoder(1, 8, 4, dtype=np.float64, seed=0), x, epochs=None,
               max_steps=42, **kw)
    assert short.steps == 20 and short.stop_reason == "epochs"
    assert long.steps == 42 and long.stop_reason == "max_steps" and long.epochs == 11
    np.testing.assert_array_equal(long.train_loss[:5], short.train_loss)
    np.testing.assert_array_equal(long.val_loss[:5], short.val_loss)
    assert long.best_val_loss <= short.best_val_loss


def test_no_epoch_budget_needs_max_steps():
    with pytest.raises(DataError, match="epochs=None.*needs max_steps"):
        fit(npae.RNNAutoencoder(1, 4, 2, seed=0), _windows(n=8, D=1), epochs=None)
    with pytest.raises(DataError, match="epochs=None.*needs max_steps"):
        npae.AnomalyDetector(max_steps=None).fit(np.sin(np.arange(200) / 3.0))


def test_early_stopping_waits_for_min_steps():
    x = _windows(n=40, D=1)
    h = fit(npae.RNNAutoencoder(1, 8, 4, dtype=np.float64, seed=0), x, epochs=30, batch_size=8,
            lr=0.2, optimizer="sgd", val_fraction=0.25, patience=2, min_steps=40, seed=0)
    assert h.steps >= 40                     # 4 steps an epoch: at least 10 epochs
    assert h.best_epoch == int(np.argmin(h.val_loss))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_lr_schedule_in_fit_follows_torch_reduce_lr_on_plateau(backend):
    """The per-epoch learning rates that fit records equal those of torch's scheduler stepped on
    the same monitored (validation) losses."""
    x = _windows(n=40, D=1)
    model = npae.RNNAutoencoder(1, 8, 4, dtype=np.float64, seed=0)
    if backend == "torch":
        model = reference.to_torch(model)
    h = fit(model, x, epochs=25, batch_size=8, lr=0.05, val_fraction=0.25, lr_patience=1,
            lr_factor=0.5, seed=0)
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.05)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    expected = []
    for v in h.val_loss:
        expected.append(opt.param_groups[0]["lr"])
        sched.step(v)
    assert h.lr == expected
    assert min(h.lr) < 0.05                  # the schedule did lower the rate here


def test_history_round_trips_and_reads_old_dicts():
    x = _windows(n=16, D=1)
    h = fit(npae.RNNAutoencoder(1, 4, 2, seed=0), x, epochs=2, batch_size=8, seed=0)
    d = json.loads(json.dumps(h.to_dict()))
    assert History.from_dict(d) == h
    old = {"train_loss": [1.0], "val_loss": [], "seconds": [0.1], "best_epoch": 0,
           "stopped_early": False}       # a version-1 file's history
    assert History.from_dict(old).stop_reason is None and History.from_dict(old).lr == []


# ---------------------------------------------------------------------------------------------
# A last batch of one window joins the batch before it (batch norm cannot train on one row)
# ---------------------------------------------------------------------------------------------

def test_a_last_batch_of_one_joins_the_previous_batch():
    from npae.data import iterate_batches
    from npae.train import steps_per_epoch, training_batches

    for n, B in [(17, 8), (9, 8), (33, 32), (16, 8), (15, 8), (1, 8), (5, 1)]:
        got = training_batches(n, B, np.random.default_rng(3))
        plain = list(iterate_batches(n, B, rng=np.random.default_rng(3)))
        np.testing.assert_array_equal(np.concatenate(got), np.concatenate(plain))  # same order
        sizes = [len(b) for b in got]
        assert len(got) == steps_per_epoch(n, B)
        if n % B == 1 and n > 1 and B > 1:
            assert sizes == [B] * (n // B - 1) + [B + 1]
        else:
            assert sizes == [len(b) for b in plain]
    assert [len(b) for b in training_batches(5, 1, np.random.default_rng(0))] == [1] * 5


def test_dense_batch_norm_trains_when_the_last_batch_would_hold_one_window():
    x = _windows(n=17, T=6, D=1)                            # 17 = 2·8 + 1
    model = npae.DenseAutoencoder(1, 6, [8, 3, 8], dropout=0.0, dtype=np.float64, seed=0)
    model.train()
    with pytest.raises(ShapeError, match="at least 2 rows"):
        model.forward(x[:1])                                # what a one-window batch would do
    twin = reference.to_torch(model)
    h = fit(model, x, epochs=3, batch_size=8, lr=1e-2, seed=0)
    assert h.steps == 6                                     # 2 steps an epoch, not 3
    h_t = fit(twin, x, epochs=3, batch_size=8, lr=1e-2, seed=0)   # torch raises on one row too
    np.testing.assert_allclose(h.train_loss, h_t.train_loss, rtol=1e-9, atol=0)
