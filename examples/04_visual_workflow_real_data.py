# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The guide's visual workflow on a real series: New York taxi demand
#
# The guide — the article on LSTM autoencoders for anomaly detection that, with the seed
# tutorial, specifies npae (see the README's first section) — argues that an autoencoder's anomalies only convince when they
# are *shown*: the distribution of scores, typical low- and high-scoring windows side by side,
# the mean and spread of normal versus flagged windows, and inputs beside their
# reconstructions. Here we follow it on a real series: the number of New York taxi passengers
# every 30 minutes, July 2014 – January 2015, from the Numenta Anomaly Benchmark (NAB), whose
# labelled windows mark the NYC marathon, Thanksgiving, Christmas, New Year and a snowstorm.
#
# Protocol (from `../shared/evaldata/README.md`): fit the model, the scaler and the threshold on
# the opening 15 % of the series only; cut windows one day long (T = 48 half-hours); score every
# day of the whole series.
#
# Glossary: **T** time steps per window (48), **D** features (1), **H** hidden size (32),
# **L** latent size (16), **n** number of windows, **N** points in the series.
#
# Settings: `NPAE_EXAMPLE_EPOCHS` (default 20), `NPAE_EXAMPLE_OUT` or the first command-line
# argument (a folder for the PNG figures; without it they are only built), `NPAE_EVALDATA`
# (where the data lives; default `../shared/evaldata` next to the repository). When the data is
# absent the example says so and stops without error.

# %%
import json
import os
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from npae import plots
from npae.autoencoder import LSTMAutoencoder
from npae.data import StandardScaler, sliding_windows
from npae.io import iter_column, labels_from_time_ranges, read_series
from npae.scoring import Threshold, window_errors
from npae.train import fit

EPOCHS = int(os.environ.get("NPAE_EXAMPLE_EPOCHS", "20"))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NPAE_EXAMPLE_OUT")
REPO = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd().parent
EVALDATA = Path(os.environ.get("NPAE_EVALDATA", REPO / ".." / "shared" / "evaldata"))
KEY = "realKnownCause/nyc_taxi.csv"
T = 48  # one day of half-hours
SEED = 0
figures = {}

csv_path = EVALDATA / "nab" / "data" / KEY
labels_path = EVALDATA / "nab" / "labels" / "combined_windows.json"
if not (csv_path.is_file() and labels_path.is_file()):
    print(f"skipped: the NAB data is not at {EVALDATA} (expected {csv_path.name} there); "
          "set NPAE_EVALDATA to the evaldata folder to run this example")
    raise SystemExit(0)

# %% [markdown]
# ## The series and its labelled windows
#
# A CSV with a `timestamp,value` header; NAB's labels are windows of timestamps (inclusive
# bounds). We turn them into a boolean mask over the rows.

# %%
series = read_series(csv_path).values[:, 0]  # (N,): npae's CSV reader, as `npae detect` uses
stamp_text = list(iter_column(csv_path, "timestamp"))  # one pass over the file
stamps = [datetime.fromisoformat(ts[:19]) for ts in stamp_text]
labels = labels_from_time_ranges(stamp_text, json.loads(labels_path.read_text())[KEY])  # (N,) bool
n_train = int(0.15 * len(series))  # NAB's probationary period: train here only
print(f"{len(series)} points from {stamps[0]:%Y-%m-%d} to {stamps[-1]:%Y-%m-%d}; "
      f"{int(labels.sum())} labelled points; training on the first {n_train}")
assert not labels[:n_train].any(), "the training stretch must be free of labelled anomalies"
figures["series"] = plots.plot_series(series, labels, value_label="passengers per 30 min",
                                      title="NYC taxi passengers, NAB's labelled windows shaded")

# %% [markdown]
# ## Windows, scaling, training
#
# The scaler learns one mean and one standard deviation from the training stretch. Training
# windows overlap (a new one every 2 hours: stride 4); the windows we score are whole days (stride 48), so each day gets
# one score, as in the guide's "24-hour windows".

# %%
scaler = StandardScaler().fit(series[:n_train])
scaled = scaler.transform(series).astype(np.float32).reshape(-1, 1)  # (N, D)
train_windows = np.ascontiguousarray(sliding_windows(scaled[:n_train], T, stride=4))  # (n, T, D)
model = LSTMAutoencoder(1, 32, 16, seed=SEED)
history = fit(model, train_windows, epochs=EPOCHS, batch_size=32, lr=1e-3, seed=SEED,
              callback=lambda epoch, h: print(f"  epoch {epoch + 1}/{EPOCHS}: loss {h.train_loss[-1]:.4f}"))
print(f"trained on {train_windows.shape} windows in {history.total_seconds:.1f} s")

# %% [markdown]
# ## 4.1 From series to anomaly score, 4.2 from score to label
#
# The threshold is the 95th percentile of the *training* windows' scores: a day is flagged when
# the model reconstructs it worse than 95 % of the days it learnt from.

# %%
days = sliding_windows(scaled, T, stride=T)  # (n, T, D): one window per day
recon = model.reconstruct(days)
scores = window_errors(days, recon).window  # (n,)
threshold = Threshold("percentile", q=95)
threshold.fit(window_errors(train_windows, model.reconstruct(train_windows)).window)
flags = threshold.apply(scores)  # (n,)
day_labels = np.array([labels[i * T:(i + 1) * T].any() for i in range(len(days))])
print(f"{len(days)} days scored; threshold {threshold.value_:.4f}; {int(flags.sum())} days flagged, "
      f"{int((flags & day_labels).sum())} of them inside a labelled window "
      f"({int(day_labels.sum())} labelled days in all)")
assert np.isfinite(scores).all() and scores.shape == (len(days),)
print("highest-scoring days:")
for i in np.argsort(scores)[::-1][:5]:
    print(f"  {stamps[i * T]:%a %Y-%m-%d}  score {scores[i]:.3f}" + ("  (labelled)" if day_labels[i] else ""))

# %% [markdown]
# ## 5.2.1 The score distribution
#
# Which range of scores is normal, which is not, and how well separated they are; the outline
# shows the days inside NAB's labelled windows.

# %%
figures["score_distribution"] = plots.plot_score_distribution(scores, threshold.value_, day_labels,
                                                               title="Daily anomaly scores")

# %% [markdown]
# ## 5.2.2 Low-score versus high-score windows
#
# The three most ordinary days beside the three strangest, on one scale; then every day whose
# score falls in a "confidently normal" range and in the flagged range, overlaid.

# %%
figures["extreme_windows"] = plots.plot_extreme_windows(days, scores, k=3, stride=T)
normal_range = (float(np.percentile(scores, 5)), float(np.percentile(scores, 50)))
ranges = [normal_range]
if flags.any():
    ranges.append((float(threshold.value_), float(scores.max())))
figures["windows_by_range"] = plots.plot_windows_by_score_range(days, scores, ranges,
                                                                threshold=threshold.value_, stride=T)

# %% [markdown]
# ## 5.2.3 Mean and spread
#
# The average day and its variability, for the days left alone and for the flagged days.

# %%
figures["mean_spread"] = plots.plot_mean_spread(days, flags)

# %% [markdown]
# ## Input versus reconstruction
#
# Where, inside a day, the model failed: the lowest-, median- and highest-scoring days with the
# per-step error underneath.

# %%
figures["reconstruction"] = plots.plot_reconstruction(days, recon, scores=scores, stride=T)

# %%
if OUT:
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(out / f"04_{name}.png")
    print(f"saved {len(figures)} figures to {out}")
else:
    print(f"built {len(figures)} figures (give an output folder to save them)")
print("all checks passed")
