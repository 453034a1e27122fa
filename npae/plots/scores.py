"""Scores against their threshold: window errors over time, point scores under the series, and
the distribution of window scores with the threshold cutting it."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._inputs import _as_mask, _as_series, _as_vector, _finite
from ._style import (_SCORE_LABEL, _WINDOW_X_LABEL, LABEL_MIN_FRAC, STYLE, _auto_log,
                     _feature_names, _figure, _fmt, _legend, _log_floor, _log_scale,
                     _message_figure, _model_colour, _note, _shade_runs, _shade_training, _styled)


def _threshold_panel(ax, scores, threshold, log, k, what):
    """The dashed threshold line, a log scale when the scores span decades, and the panel's first
    notes (``k`` flagged ``what``s): ``(use_log, notes)``."""
    ax.axhline(threshold, color=STYLE["threshold"], linestyle=STYLE["threshold_style"], linewidth=1.5,
               label=f"threshold = {_fmt(threshold)}")
    use_log, note = _auto_log(np.append(scores, threshold), log)
    if use_log:
        _log_scale(ax, floor=_log_floor(scores, threshold))
    notes = [m for m in (note, _finite(scores, "scores")[1]) if m]
    if k == 0:
        notes.append(f"no {what} is above the threshold: nothing detected")
    return use_log, notes


@_styled
def plot_window_errors(window_scores, threshold, flags=None, *, stride=1, log=None,
                       title="Window reconstruction error"):
    """Each window's score against its start time, the threshold (dashed) and flagged windows.

    ``window_scores`` (n,); ``flags`` bool (n,) (default ``score > threshold``); window i starts
    at ``i * stride``.  ``log=None`` picks a log axis when the scores span > 2 decades.
    """
    scores = _as_vector(window_scores, "window_scores")
    n = scores.size
    if n == 0:
        return _message_figure(title, "No window scores: the series is shorter than one window.")
    threshold = float(threshold)
    fl = _as_mask(flags, n, "flags")
    if fl is None:
        fl = scores > threshold
    x = np.arange(n) * float(stride)
    fig, axes = _figure(1, 1, height=3.8)
    ax = axes[0, 0]
    ax.plot(x, scores, color=STYLE["normal"], linewidth=STYLE["line_width"], marker="o" if n <= 3 else None,
            label="window score")
    k = int(fl.sum())
    use_log, notes = _threshold_panel(ax, scores, threshold, log, k, "window")
    _shade_runs(ax, fl, x, width=float(stride), color=STYLE["anomalous"])
    if k:
        ax.scatter(x[fl], scores[fl], s=14, color=STYLE["anomalous"], zorder=3,
                   label=f"flagged: {k} of {n} windows")
    finite = scores[np.isfinite(scores)]
    if n == 1:
        notes.append("a single window: nothing to compare it with")
    elif finite.size and finite.min() == finite.max():
        notes.append("every window has the same score")
    if notes:
        _note(ax, "\n".join(notes))
    ax.set_xlabel(_WINDOW_X_LABEL)
    ax.set_ylabel(_SCORE_LABEL + (", log scale" if use_log else ""))
    ax.set_title(f"{title}: {k} of {n} windows above the threshold")
    _legend(ax)
    return fig


@_styled
def plot_point_scores(series, point_scores, point_threshold, point_flags=None, labels=None, *,
                      feature_names=None, log=None, title="Point scores", train_end=None):
    """Top: the series with labelled anomalies shaded and flagged points marked; bottom: each
    point's score with the point threshold (dashed).  All arrays have length N.  ``train_end``:
    the training stretch (points ``0 … train_end - 1``) is shaded grey in both panels."""
    s = _as_series(series)
    N, D = s.shape
    if N == 0:
        return _message_figure(title, "The series is empty: there is nothing to plot.")
    scores = _as_vector(point_scores, "point_scores")
    if scores.size != N:
        raise ShapeError(f"point_scores has {scores.size} values for a series of {N} points; "
                         "pass one score per point")
    thr = float(point_threshold)
    fl = _as_mask(point_flags, N, "point_flags")
    if fl is None:
        fl = scores > thr
    lab = _as_mask(labels, N, "labels")
    names = _feature_names(feature_names, D)
    fig, axes = _figure(2, 1, height=5.6, sharex=True, height_ratios=[3, 2])
    top, bottom = axes[0, 0], axes[1, 0]
    x = np.arange(N)
    for j in range(D):
        top.plot(x, s[:, j], color=STYLE["normal"] if D == 1 else _model_colour(j),
                 linewidth=STYLE["line_width"], label="series" if D == 1 else names[j])
    _shade_training(top, train_end, N)
    _shade_training(bottom, train_end, N)
    if lab is not None:
        _shade_runs(top, lab, color=STYLE["labelled"], label="labelled anomaly",
                    min_frac=LABEL_MIN_FRAC)
    k = int(fl.sum())
    if k:
        for j in range(D):
            top.scatter(x[fl], s[fl, j], s=10, color=STYLE["anomalous"], zorder=3,
                        label=f"flagged: {k} points" if j == 0 else None)
    top.set_ylabel("value" if D == 1 else "value (per feature)")
    _legend(top, ncols=2 if D > 3 else 1)
    bottom.plot(x, scores, color=STYLE["normal"], linewidth=STYLE["line_width"], label="point score")
    use_log, notes = _threshold_panel(bottom, scores, thr, log, k, "point")
    _shade_runs(bottom, fl, color=STYLE["anomalous"])
    if lab is None:
        notes.append("no labels given")
    if notes:
        _note(bottom, "\n".join(notes))
    bottom.set_ylabel("point score (MSE)")
    bottom.set_xlabel("time step")
    _legend(bottom)
    top.set_title(f"{title}: {k} of {N} points flagged" + (
        f", {int(lab.sum())} labelled" if lab is not None else ""))
    return fig


@_styled
def plot_score_distribution(scores, threshold, labels=None, *, bins=40, log=None,
                            title="Distribution of window scores"):
    """Histogram of scores split at the threshold (stacked: below = normal colour, above =
    anomalous colour), the threshold as a dashed vertical line, and the counts in the legend.

    ``labels`` bool (n,) (one per score, e.g. "the window covers a labelled point") adds an
    outline histogram of the labelled-anomalous scores.  Log-spaced bins when the scores span
    more than two decades (``log=None``).
    """
    sc = _as_vector(scores, "scores")
    n_all = sc.size
    lab = _as_mask(labels, n_all, "labels")
    ok, bad = _finite(sc, "scores")
    sc = sc[ok]
    lab = lab[ok] if lab is not None else None
    if sc.size == 0:
        return _message_figure(title, "No finite scores to show.")
    thr = float(threshold)
    above = sc > thr
    n_hi, n_lo = int(above.sum()), int((~above).sum())
    use_log, note = _auto_log(np.append(sc, thr) if np.isfinite(thr) else sc, log)
    lo, hi = float(sc.min()), float(sc.max())
    notes = [m for m in (note, bad) if m]
    if lo == hi:
        pad = abs(lo) * 0.5 or 0.5
        edges = np.linspace(lo - pad, hi + pad, 12)
        use_log = use_log and lo - pad > 0
        notes.append("every score is the same")
    elif use_log:
        edges = np.geomspace(lo, hi, bins + 1)
    else:
        edges = np.linspace(lo, hi, bins + 1)
    fig, axes = _figure(1, 1, height=4.0)
    ax = axes[0, 0]
    ax.hist([sc[~above], sc[above]], bins=edges, stacked=True,
            color=[STYLE["normal"], STYLE["anomalous"]],
            label=[f"at or below threshold: {n_lo} windows", f"above threshold: {n_hi} windows"])
    if lab is not None and lab.any():
        ax.hist(sc[lab], bins=edges, histtype="step", color=STYLE["labelled"], linewidth=1.8,
                label=f"labelled anomalous: {int(lab.sum())} windows")
    elif lab is not None:
        notes.append("no window is labelled anomalous")
    ax.axvline(thr, color=STYLE["threshold"], linestyle=STYLE["threshold_style"], linewidth=1.5,
               label=f"threshold = {_fmt(thr)}")
    if use_log:
        _log_scale(ax, "x")
    if n_hi == 0:
        notes.append("no score is above the threshold: nothing detected")
    if sc.size == 1:
        notes.append("a single score: no distribution to speak of")
    if notes:
        _note(ax, "\n".join(notes))
    ax.set_xlabel("window score: " + _SCORE_LABEL + (", log scale" if use_log else ""))
    ax.set_ylabel("number of windows")
    ax.set_title(f"{title}: {n_hi} of {sc.size} above the threshold")
    _legend(ax)
    return fig
