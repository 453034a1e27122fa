"""The data itself: the series, one row per feature, labelled anomalies and the training stretch shaded."""

from __future__ import annotations

import numpy as np

from ._inputs import _as_mask, _as_series
from ._style import (LABEL_MIN_FRAC, STYLE, _feature_names, _figure, _fmt, _legend,
                     _message_figure, _note, _shade_runs, _shade_training, _styled)


@_styled
def plot_series(series, labels=None, *, feature_names=None, title="Series with labelled anomalies",
                value_label="value", max_features=6, train_end=None):
    """The raw series, one row per feature, with labelled anomalies shaded (tutorial).

    ``series`` (N,) or (N, D); ``labels`` bool (N,) or None; ``train_end``: the training stretch
    is points ``0 … train_end - 1``, shaded grey.  Shows at most ``max_features`` rows.
    """
    s = _as_series(series)
    N, D = s.shape
    if N == 0:
        return _message_figure(title, "The series is empty: there is nothing to plot.")
    lab = _as_mask(labels, N, "labels")
    names = _feature_names(feature_names, D)
    rows = min(D, max_features)
    fig, axes = _figure(rows, 1, height=1.0 + (2.8 if rows == 1 else 1.9 * rows), sharex=True)
    x = np.arange(N)
    n_runs = 0
    for j in range(rows):
        ax = axes[j, 0]
        ax.plot(x, s[:, j], color=STYLE["normal"], linewidth=STYLE["line_width"],
                label="series" if D == 1 else names[j])
        _shade_training(ax, train_end, N)
        if lab is not None:
            n_runs = _shade_runs(ax, lab, color=STYLE["labelled"], label="labelled anomaly",
                                 min_frac=LABEL_MIN_FRAC)
        ax.set_ylabel(names[j] if D > 1 else value_label)
        if np.nanmax(s[:, j]) == np.nanmin(s[:, j]):
            _note(ax, f"constant {'series' if D == 1 else 'feature'} (every value = {_fmt(s[0, j])})")
        _legend(ax)
    axes[-1, 0].set_xlabel("time step")
    if lab is None:
        sub = "no labels given"
        _note(axes[0, 0], "no labels given: no anomaly is shaded")
    elif n_runs == 0:
        sub = "no labelled anomaly"
        _note(axes[0, 0], "the labels mark no anomaly")
    else:
        sub = f"{n_runs} labelled segment{'s' * (n_runs != 1)}, {int(lab.sum())} points"
    extra = f", {rows} of {D} features shown" if rows < D else ""
    axes[0, 0].set_title(f"{title}: {N} points, {sub}{extra}")
    return fig
