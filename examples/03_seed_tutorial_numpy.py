# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The seed tutorial, in NumPy
#
# "The seed tutorial" is the PyTorch tutorial npae is built from: it trains an RNN and an LSTM
# autoencoder on a synthetic series and flags the windows they reconstruct worst (the README's
# first section says more; `npae demo` runs the same experiment). Here is its experiment step by
# step — with npae instead of PyTorch: a synthetic series with
# five injected spikes, sliding windows, standard scaling, an RNN and an LSTM autoencoder
# (hidden 32, latent 16), Adam at 1e-3 with batches of 32, the reconstruction error of every
# window, a 95th-percentile threshold and the tutorial's precision / recall / F1.
#
# Glossary: **T** time steps per window (50), **B** batch size (32), **D** features (1),
# **H** hidden size (32), **L** latent size (16), **n** number of windows.
#
# Settings from the environment (so the test suite can run it in seconds):
# `NPAE_EXAMPLE_EPOCHS` (default 50, the tutorial's) and `NPAE_EXAMPLE_OUT` (a folder: the
# figures are saved there as PNG; without it they are only built). The first command-line
# argument, if any, is used as the output folder too.

# %%
import os
import sys
from pathlib import Path

import numpy as np

from npae import plots
from npae.autoencoder import LSTMAutoencoder, RNNAutoencoder
from npae.data import StandardScaler, inject_anomalies, sliding_windows, synthetic_series
from npae.metrics import tutorial_metric
from npae.scoring import Threshold, window_errors
from npae.train import fit

EPOCHS = int(os.environ.get("NPAE_EXAMPLE_EPOCHS", "50"))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NPAE_EXAMPLE_OUT")
SEED = 42
WINDOW_SIZE = 50
figures = {}  # name -> matplotlib Figure; saved at the end only when OUT is given

# %% [markdown]
# ## Data: a normal series, then the same series with five spikes
#
# One `numpy.random.Generator` feeds every random draw, so the run is reproducible without
# touching NumPy's global random state.

# %%
rng = np.random.default_rng(SEED)
normal_series = synthetic_series(1000, rng=rng)  # 0.01·t + 5·sin(2πt/50) + N(0, 0.5²)
series_with_anomalies, anomaly_starts, labels = inject_anomalies(normal_series, 5, "spike", rng=rng)
print(f"series: {normal_series.shape[0]} points; spikes start at {anomaly_starts.tolist()}")
figures["series"] = plots.plot_series(series_with_anomalies, labels,
                                      title="Synthetic series with five injected spikes")

# %% [markdown]
# ## Sliding windows and scaling
#
# The tutorial scales its (n, T) windows with scikit-learn's `StandardScaler`, which keeps one
# mean and one standard deviation per *position* in the window; `per="position"` does the same.
# The scaler is fitted on the normal windows only.

# %%
normal_windows = sliding_windows(normal_series, WINDOW_SIZE)  # (n, T, D) = (951, 50, 1), a view
scaler = StandardScaler(per="position").fit(normal_windows)
train_x = scaler.transform(normal_windows).astype(np.float32)
print(f"training windows: {train_x.shape} (n, T, D); mean {train_x.mean():+.3f}, std {train_x.std():.3f}")

# %% [markdown]
# ## The two autoencoders
#
# Same architecture and parameter names as the tutorial's PyTorch classes: a recurrent encoder,
# `encoder_fc` to the latent code, `decoder_fc` back to H, a recurrent decoder fed the same
# vector at every step, and `output_fc` at every step (`docs/bptt.md`, section 7).

# %%
models = {"RNN": RNNAutoencoder(1, 32, 16, seed=SEED), "LSTM": LSTMAutoencoder(1, 32, 16, seed=SEED)}
for name, model in models.items():
    print(f"{name} autoencoder: {model.num_parameters():,} parameters")
print(models["LSTM"])

# %% [markdown]
# ## Training
#
# `npae.train.fit` is the tutorial's `train_autoencoder`: shuffled batches of 32, MSE, Adam at
# 1e-3. Each step is the four lines of `docs/bptt.md` section 10 (example 02 takes one apart):
#
#     optimizer.zero_grad()
#     loss = loss_fn(model(xb), xb)          # (A1)–(A5), then (M)
#     model.backward(loss_fn.backward())     # (M'), then (A5')–(A1')
#     optimizer.step()                       # Adam

# %%
def report(epoch, history):
    if (epoch + 1) % 10 == 0 or epoch + 1 == EPOCHS:
        print(f"  epoch {epoch + 1}/{EPOCHS}: loss {history.train_loss[-1]:.6f}")


histories = {}
for name, model in models.items():
    print(f"training the {name} autoencoder for {EPOCHS} epoch(s)")
    histories[name] = fit(model, train_x, epochs=EPOCHS, batch_size=32, lr=1e-3, seed=SEED,
                          callback=report)
    print(f"  {histories[name].total_seconds:.1f} s, final loss {histories[name].final_loss:.6f}")
    assert len(histories[name].train_loss) == EPOCHS and np.isfinite(histories[name].final_loss)
figures["training"] = plots.plot_training_curves(
    {name: h.to_dict() for name, h in histories.items()}, title="Training curves")

# %% [markdown]
# ## Detection: reconstruction error per window, 95th-percentile threshold
#
# Each window of the series *with* anomalies is scaled with the training scaler and
# reconstructed; its score is its mean squared error. As in the tutorial, the threshold is the
# 95th percentile of these same scores, so about 5 % of the windows are flagged.

# %%
test_x = scaler.transform(sliding_windows(series_with_anomalies, WINDOW_SIZE)).astype(np.float32)
scores, thresholds, flags = {}, {}, {}
for name, model in models.items():
    scores[name] = window_errors(test_x, model.reconstruct(test_x)).window  # (n,)
    threshold = Threshold("percentile", q=95)
    flags[name] = threshold.fit_apply(scores[name])
    thresholds[name] = threshold.value_
    print(f"{name}: threshold {thresholds[name]:.6f}, {int(flags[name].sum())} of {len(flags[name])} windows flagged")
    figures[f"window_errors_{name.lower()}"] = plots.plot_window_errors(
        scores[name], thresholds[name], flags[name], title=f"{name} autoencoder: reconstruction error")

# %% [markdown]
# ## The tutorial's metrics
#
# Each flagged window marks all of its 50 points as anomalous; each spike marks 10 points as
# true. That is generous to recall and harsh on precision: even a perfect window detector gets a
# low precision with this metric (npae's `point_metrics` and `evaluate` give point-wise ones).

# %%
metrics = {name: tutorial_metric(flags[name], anomaly_starts, WINDOW_SIZE, len(series_with_anomalies))
           for name in models}
print(f"{'metric':<12} {'RNN':>10} {'LSTM':>10}")
for key in ("precision", "recall", "f1", "tp", "fp", "fn"):
    r, m = metrics["RNN"][key], metrics["LSTM"][key]
    print(f"{key:<12} {r:>10.4f} {m:>10.4f}" if isinstance(r, float) else f"{key:<12} {r:>10} {m:>10}")
for name in models:  # recall is 1 once every spike is inside at least one flagged window
    m = metrics[name]
    assert 0.0 <= m["precision"] <= 1.0 and 0.0 <= m["recall"] <= 1.0
    assert m["tp"] + m["fn"] == int(labels.sum()), "the tutorial marks 10 points per spike"
figures["comparison"] = plots.plot_model_comparison(
    {n: {"Precision": m["precision"], "Recall": m["recall"], "F1-Score": m["f1"]} for n, m in metrics.items()},
    scores, thresholds, title="RNN versus LSTM autoencoder")
best = max(models, key=lambda n: metrics[n]["f1"])
print(f"best model by the tutorial's F1: {best}")

# %% [markdown]
# ## Figures
#
# Built above as `matplotlib.figure.Figure` objects (nothing is shown); saved only when an
# output folder was given.

# %%
if OUT:
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(out / f"03_{name}.png")
    print(f"saved {len(figures)} figures to {out}")
else:
    print(f"built {len(figures)} figures (give an output folder to save them)")
print("all checks passed")
