"""Figures of a detection run: the seed tutorial's plots and the guide's visual explanation.

Every function takes plain data (NumPy arrays, lists, dicts) and returns a
``matplotlib.figure.Figure``.  Nothing here calls ``pyplot``, opens a window or writes a file:
figures are built with ``Figure()`` directly, so no global state leaks, and only the command
line (``npae.report``) saves them.  matplotlib is imported inside the functions, so
``import npae.plots`` needs only NumPy.

Shapes (the glossary of the rest of npae, plus the series length)::

    N   points in the series            series (N,) or (N, D), labels / flags / point scores (N,)
    n   windows                         window scores / flags (n,); window i starts at i*stride
    T   steps per window                windows, reconstructions, step errors (n, T, D)
    D   features

The look comes from one dict, :data:`STYLE`: one colour for normal data, one for what the
detector flags, one for the threshold (always a dashed line) and one for the labelled (true)
anomalies.  Degenerate input — an empty series, no anomaly detected, a single window, a
constant series, no labels — gives a figure that says so in words, never an exception.
Malformed input (a label mask of the wrong length, windows that are not 2-D or 3-D) raises
:class:`npae.errors.ShapeError`.

Figures, in the order a report shows them:

==============================  ============================================================
``plot_series``                 the series with its labelled anomalies shaded (tutorial)
``plot_training_curves``        train / validation loss of one or several models, log scale
``plot_model_comparison``       metric bars with printed values + the models' error curves
``plot_anomaly_map``            detected versus labelled anomalies on the time axis
``plot_window_errors``          window error, threshold line, flagged windows shaded
``plot_point_scores``           series with flagged points above the per-point scores
``plot_score_distribution``     histogram of scores, threshold, normal / anomalous counts
``plot_extreme_windows``        the lowest- and highest-scoring windows side by side
``plot_windows_by_score_range`` windows picked by score range, overlaid
``plot_mean_spread``            mean and spread bands of normal versus flagged windows
``plot_reconstruction``         input versus reconstruction with the per-step error below
``plot_feature_heatmaps``       features x steps heat maps of windows and of their error
==============================  ============================================================
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .errors import ShapeError
from .metrics import runs

__all__ = [
    "STYLE", "plot_series", "plot_training_curves", "plot_model_comparison", "plot_anomaly_map",
    "plot_window_errors", "plot_point_scores", "plot_score_distribution", "plot_extreme_windows",
    "plot_windows_by_score_range", "plot_mean_spread", "plot_reconstruction",
    "plot_feature_heatmaps",
]

#: The one place the look is decided.  Colours are from the Okabe-Ito palette (safe for the
#: common colour-vision deficiencies); sizes are in points / inches at ``dpi`` 100, so a figure
#: ``width`` 11 inches wide is 1100 pixels: readable at 100 % on a laptop screen.
STYLE = {
    "normal": "#0072b2",          # blue: the series, windows the detector leaves alone
    "anomalous": "#d55e00",       # vermillion: what the detector flags
    "threshold": "#000000",       # black, dashed: a threshold
    "labelled": "#009e73",        # green: the labelled (true) anomalies
    "training": "#bbbbbb",        # light grey: the stretch the model was trained on
    "reconstruction": "#e69f00",  # amber, dashed: the model's reconstruction
    "models": ("#0072b2", "#cc79a7", "#009e73", "#e69f00", "#56b4e9", "#d55e00", "#000000"),
    "value_cmap": "viridis",      # heat maps of values
    "error_cmap": "YlOrRd",       # heat maps of errors: darker red = worse
    "shade_alpha": 0.25,
    "threshold_style": "--",
    "line_width": 1.2,
    "width": 11.0,                # inches
    "row_height": 2.6,            # inches per row of axes
    "dpi": 100,
    "font_size": 10,
    "title_size": 11,
    "tick_size": 9,
    "legend_size": 9,
    "note_size": 9,
}

_SCORE_LABEL = "reconstruction error (MSE)"
_SCALED_LABEL = "scaled value"
_WINDOW_X_LABEL = "window start (time step)"


# ---------------------------------------------------------------------------------------- helpers
def _styled(func):
    """Run ``func`` inside an rc_context holding :data:`STYLE`'s sizes (nothing global changes)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        rc = {
            "font.size": STYLE["font_size"],
            "axes.titlesize": STYLE["title_size"],
            "axes.labelsize": STYLE["font_size"],
            "legend.fontsize": STYLE["legend_size"],
            "xtick.labelsize": STYLE["tick_size"],
            "ytick.labelsize": STYLE["tick_size"],
            "figure.titlesize": STYLE["title_size"] + 1,
            "axes.titlelocation": "left",
            "legend.framealpha": 0.85,
            "text.parse_math": False,  # labels are data (column names): "$" is a dollar sign
        }
        with matplotlib.rc_context(rc):
            return func(*args, **kwargs)

    return wrapper


def _figure(nrows=1, ncols=1, *, height=None, width=None, sharex=False, sharey=False, **gridspec):
    """A constrained-layout Figure and its axes as a 2-D array, each axes given the house look."""
    from matplotlib.figure import Figure

    if height is None:
        height = 0.8 + STYLE["row_height"] * nrows
    fig = Figure(figsize=(width or STYLE["width"], height), dpi=STYLE["dpi"], layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False,
                        gridspec_kw=gridspec or None)
    for ax in axes.flat:
        # set explicitly: ticks are created lazily at draw time, outside the rc_context
        ax.tick_params(labelsize=STYLE["tick_size"])
        ax.grid(True, alpha=0.3, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _note(ax, text):
    """A boxed remark in the axes' upper-left corner, for what the reader would otherwise miss."""
    ax.text(0.01, 0.97, text, transform=ax.transAxes, ha="left", va="top",
            fontsize=STYLE["note_size"], zorder=10,
            bbox=dict(boxstyle="round,pad=0.3", facecolor="#fff8e1", edgecolor="#b0a070", alpha=0.92))


def _message_figure(title, message):
    """A small figure that only says why there is nothing to plot."""
    fig, axes = _figure(1, 1, height=2.2)
    ax = axes[0, 0]
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            fontsize=STYLE["font_size"] + 1, wrap=True)
    return fig


def _legend(ax, **kw):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc=kw.pop("loc", "best"), fontsize=STYLE["legend_size"], **kw)


def _int_ticks(ax, axis="x"):
    """Integer tick positions (steps, epochs)."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def _fmt(v):
    """A number short enough for a label: 4 significant digits."""
    return f"{v:.4g}"


def _as_series(series, name="series"):
    """``series`` as a float array (N, D)."""
    s = np.asarray(series, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ShapeError(f"{name} must have shape (N,) or (N, D), got {s.shape}; "
                         "pass one column per feature")
    return s


def _as_vector(x, name):
    """``x`` as a float vector; a scalar becomes length 1."""
    if np.ndim(x) > 1:
        raise ShapeError(f"{name} must be one-dimensional, got shape {np.shape(x)}")
    return np.asarray(x, dtype=float).reshape(-1)


def _seq(d, key):
    """``d[key]`` as a float vector, empty when missing or None."""
    v = d.get(key) if d else None
    return np.zeros(0) if v is None else np.asarray(v, dtype=float).reshape(-1)


def _as_mask(mask, n, name):
    """``mask`` as a bool array (n,), or None when it is None or empty (no labels given)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.size == 0:
        return None
    m = m.reshape(-1) if m.ndim <= 1 else m
    if m.ndim != 1 or m.shape[0] != n:
        raise ShapeError(f"{name} must be a boolean array of length {n} (one value per point "
                         f"or window plotted), got shape {np.shape(mask)}")
    return m.astype(bool)


def _as_windows(windows, name="windows"):
    """``windows`` as a float array (n, T, D); (n, T) is read as D = 1."""
    w = np.asarray(windows, dtype=float)
    if w.ndim == 2:
        w = w[:, :, None]
    if w.ndim != 3:
        raise ShapeError(f"{name} must have shape (n, T) or (n, T, D), got {w.shape}")
    return w


def _spans(mask):
    """The runs of True of ``mask`` as ``[(start, stop), ...]`` of ints (stop exclusive)."""
    return [(int(a), int(b)) for a, b in zip(*runs(mask))]


LABEL_MIN_FRAC = 0.004  # a labelled band is at least 0.4 % of the x range wide


def _shade_runs(ax, mask, x=None, *, width=1.0, color, label=None, alpha=None, min_frac=0.0):
    """Shade each run of ``mask`` as a vertical band; one legend entry at most.  Returns the count.

    A band is drawn at least ``min_frac`` of the x range wide (centred on its run); labelled
    anomalies use ``LABEL_MIN_FRAC``: a 12-point anomaly in a 7,500-point series would otherwise
    be thinner than a pixel and invisible."""
    spans = _spans(mask)
    x = np.arange(len(mask)) * 1.0 if x is None else np.asarray(x, dtype=float)
    floor = min_frac * (x[-1] - x[0] + width) if len(x) else 0.0
    for k, (a, b) in enumerate(spans):
        lo, hi = x[a] - width / 2, x[b - 1] + width / 2
        if hi - lo < floor:
            mid = (lo + hi) / 2
            lo, hi = mid - floor / 2, mid + floor / 2
        ax.axvspan(lo, hi, color=color, linewidth=0,
                   alpha=STYLE["shade_alpha"] if alpha is None else alpha,
                   label=label if k == 0 else None)
    return len(spans)


def _shade_training(ax, train_end, N):
    """Shade points ``0 … train_end - 1`` (the training stretch) light grey, behind the data."""
    if train_end is None:
        return
    end = int(train_end)
    if not 0 < end <= N:
        raise ShapeError(f"train_end must be in 1 … {N} (the training stretch's length), got {end}")
    ax.axvspan(-0.5, end - 0.5, color=STYLE["training"], alpha=0.35, linewidth=0, zorder=0,
               label=f"training stretch ({end} points)")


def _auto_log(values, log):
    """Decide a log axis: asked for, or ``None`` = when the positive values span > 2 decades.

    Returns ``(use_log, note)``: a note when a log axis was asked for but some value is <= 0.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return False, None
    positive = bool((v > 0).all())
    if log is None:
        return positive and v.max() / v.min() > 100.0, None
    if log and not positive:
        return False, "linear scale: some values are <= 0, a log scale cannot show them"
    return bool(log), None


def _log_scale(ax, axis="y", *, floor=None):
    """A log axis labelled with plain numbers (0.5, 0.01, 1e-05), not 5×10⁻¹; with ``floor``,
    the axis starts there (values far below a threshold are not what the reader looks at)."""
    from matplotlib.ticker import Formatter

    class PlainLog(Formatter):
        def __init__(self, minor):
            self.minor = minor

        def __call__(self, x, pos=None):
            if x <= 0:
                return ""
            if self.minor:  # label 2× and 5× ticks, and only when the axis spans < 1.5 decades
                lo, hi = sorted(self.axis.get_view_interval())
                if lo <= 0 or hi / lo > 10 ** 1.5 or round(x / 10 ** math.floor(math.log10(x))) not in (2, 5):
                    return ""
            return f"{x:g}"

    getattr(ax, f"set_{axis}scale")("log")
    a = getattr(ax, f"{axis}axis")
    a.set_major_formatter(PlainLog(False))
    a.set_minor_formatter(PlainLog(True))
    if floor is not None and floor > 0:
        lo, hi = getattr(ax, f"get_{axis}lim")()
        if floor > lo:
            getattr(ax, f"set_{axis}lim")(floor, hi)


def _log_floor(values, threshold, decades=4.0):
    """Where a log axis of scores should start: ``decades`` below the threshold, or lower if
    every positive value is above that."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0 or not threshold or threshold <= 0 or not np.isfinite(threshold):
        return None
    return max(float(v.min()), threshold * 10.0 ** -decades) * 0.7


def _finite(values, what):
    """Drop non-finite values; return ``(kept_mask, note_or_None)``."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    bad = int((~ok).sum())
    note = f"{bad} {what} with NaN or infinite value left out" if bad else None
    return ok, note


def _model_colour(i):
    cols = STYLE["models"]
    return cols[i % len(cols)]


def _feature_names(names, d):
    if names is None or len(names) != d:
        return ["value"] if d == 1 else [f"feature {j}" for j in range(d)]
    return [str(n) for n in names]


def _window_span(i, stride, T):
    start = i * stride
    return f"t = {start}\u2026{start + T - 1}"


def _pick_indices(scores, n, indices, default):
    """Window indices to show: the given ones (checked), else ``default(order)``."""
    if indices is not None:
        idx = [int(i) for i in np.atleast_1d(indices)]
        for i in idx:
            if not -n <= i < n:
                raise ShapeError(f"window index {i} is out of range for {n} windows")
        return [i % n for i in idx]
    if scores is None:
        return [0]
    s = np.where(np.isfinite(scores), scores, -np.inf)
    return default(np.argsort(s, kind="stable"))


def _rank_words(scores, idx):
    """"lowest score: ", "median score: ", "highest score: " (or "") for the picked windows."""
    if scores is None:
        return [""] * len(idx)
    s = np.where(np.isfinite(scores), scores, -np.inf)
    out = []
    for i in idx:
        if s[i] == s.min():
            out.append("lowest score: ")
        elif s[i] == s.max():
            out.append("highest score: ")
        elif s[i] == np.sort(s)[len(s) // 2]:
            out.append("median score: ")
        else:
            out.append("")
    return out


def _low_median_high(order):
    """The lowest-, median- and highest-scoring window (duplicates removed, order kept)."""
    picks = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
    return list(dict.fromkeys(picks))


# ------------------------------------------------------------------------------------- 1. series
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


# ---------------------------------------------------------------------------- 2. training curves
@_styled
def plot_training_curves(histories, *, title="Training loss per epoch"):
    """Train (solid) and validation (dashed) loss per epoch of one or several models.

    ``histories`` is one history dict (``train_loss``, optional ``val_loss`` and ``seconds``) or
    ``{model name: history}``.  Log scale when every loss is positive.
    """
    if isinstance(histories, dict) and "train_loss" in histories:
        histories = {"model": histories}
    curves = []
    for name, h in (histories or {}).items():
        train, val, secs = _seq(h, "train_loss"), _seq(h, "val_loss"), _seq(h, "seconds")
        if train.size or val.size:
            curves.append((str(name), train, val, float(secs.sum()) if secs.size else None))
    if not curves:
        return _message_figure(title, "No training history to show (the models were loaded, "
                                      "not trained, or trained for zero epochs).")
    fig, axes = _figure(1, 1, height=4.0)
    ax = axes[0, 0]
    everything = np.concatenate([np.concatenate([t, v]) for _, t, v, _ in curves])
    use_log, note = _auto_log(everything, True)
    max_epochs = 0
    for i, (name, train, val, secs) in enumerate(curves):
        col = _model_colour(i)
        timing = f" ({secs:.1f} s)" if secs is not None else ""
        for loss, style, what in ((train, "-", "train"), (val, "--", "validation")):
            if loss.size:
                e = np.arange(1, loss.size + 1)
                ax.plot(e, loss, style, color=col, linewidth=1.6, marker="o" if loss.size <= 30 else None,
                        markersize=3, label=f"{name} {what}{timing if what == 'train' else ''}")
                max_epochs = max(max_epochs, loss.size)
    ok, bad = _finite(everything, "loss values")
    notes = [n for n in (note, bad) if n]
    if use_log:
        _log_scale(ax)
    if max_epochs == 1:
        notes.append("a single epoch: no curve to follow")
    if notes:
        _note(ax, "; ".join(notes))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE, scaled units\u00b2)")
    has_val = any(v.size for _, _, v, _ in curves)
    ax.set_title(f"{title}{' (log scale)' if use_log else ''}"
                 + (": solid = train, dashed = validation" if has_val else ": training loss"))
    _int_ticks(ax)
    _legend(ax, ncols=2 if len(curves) > 2 else 1)
    return fig


# --------------------------------------------------------------------------- 3. window errors
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
    ax.axhline(threshold, color=STYLE["threshold"], linestyle=STYLE["threshold_style"], linewidth=1.5,
               label=f"threshold = {_fmt(threshold)}")
    k = int(fl.sum())
    _shade_runs(ax, fl, x, width=float(stride), color=STYLE["anomalous"])
    if k:
        ax.scatter(x[fl], scores[fl], s=14, color=STYLE["anomalous"], zorder=3,
                   label=f"flagged: {k} of {n} windows")
    use_log, note = _auto_log(np.append(scores, threshold), log)
    if use_log:
        _log_scale(ax, floor=_log_floor(scores, threshold))
    notes = [m for m in (note, _finite(scores, "scores")[1]) if m]
    if k == 0:
        notes.append("no window is above the threshold: nothing detected")
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


# --------------------------------------------------------------------------- 3b. point scores
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
    bottom.axhline(thr, color=STYLE["threshold"], linestyle=STYLE["threshold_style"], linewidth=1.5,
                   label=f"threshold = {_fmt(thr)}")
    _shade_runs(bottom, fl, color=STYLE["anomalous"])
    use_log, note = _auto_log(np.append(scores, thr), log)
    if use_log:
        _log_scale(bottom, floor=_log_floor(scores, thr))
    notes = [m for m in (note, _finite(scores, "scores")[1]) if m]
    if k == 0:
        notes.append("no point is above the threshold: nothing detected")
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


# ---------------------------------------------------------------------------- 4. anomaly map
@_styled
def plot_anomaly_map(detected, labels=None, *, title="Anomaly map"):
    """Detected versus labelled anomalies on the time axis, one row per detector.

    ``detected`` is a bool array (N,) or ``{name: bool (N,)}`` for several models; ``labels``
    bool (N,) or None.  Each contiguous run of flagged points is drawn as one bar.
    """
    rows = dict(detected) if isinstance(detected, dict) else {"detected": detected}
    masks = {}
    N = None
    for name, m in rows.items():
        m = np.asarray(m, dtype=bool).reshape(-1)
        if N is None:
            N = m.size
        elif m.size != N:
            raise ShapeError(f"detections of {name!r} have {m.size} points, the others {N}; "
                             "pass point flags of one series")
        masks[str(name)] = m
    if N is None and labels is not None:
        N = np.asarray(labels).size
    if not N:
        return _message_figure(title, "No points: the series is empty.")
    lab = _as_mask(labels, N, "labels")
    entries = [(name, m, STYLE["anomalous"]) for name, m in masks.items()]
    if lab is not None:
        entries.append(("labelled", lab, STYLE["labelled"]))
    fig, axes = _figure(1, 1, height=1.5 + 0.55 * len(entries))
    ax = axes[0, 0]
    ticks, ticklabels = [], []
    for r, (name, m, col) in enumerate(reversed(entries)):
        spans = _spans(m)
        y = float(r)
        if spans:
            ax.broken_barh([(a - 0.5, b - a) for a, b in spans], (y - 0.35, 0.7), facecolors=col)
        else:
            ax.text(N / 2, y, "none", ha="center", va="center", color="#555555",
                    fontsize=STYLE["note_size"])
        ticks.append(y)
        ticklabels.append(f"{name}\n{len(spans)} segments, {int(m.sum())} pts")
    ax.set_yticks(ticks, ticklabels)
    ax.set_ylim(-0.6, len(entries) - 0.4)
    ax.set_xlim(-0.5, N - 0.5)
    ax.grid(False, axis="y")
    ax.set_xlabel("time step")
    notes = []
    if not any(m.any() for m in masks.values()):
        notes.append("no point was flagged as anomalous")
    if lab is None:
        notes.append("no labels given: nothing to compare with")
    elif not lab.any():
        notes.append("the labels mark no anomaly")
    if notes:
        _note(ax, "; ".join(notes))
    ax.set_title(f"{title}: points flagged by each model versus the labelled anomalies, {N} points")
    return fig


# ------------------------------------------------------------------------ 5. model comparison
@_styled
def plot_model_comparison(metrics=None, window_scores=None, thresholds=None, *, stride=1,
                          metric_names=None, log=None, title="Model comparison"):
    """Metric bars of several models side by side, values printed, and their error curves.

    ``metrics`` ``{model: {metric label: value in [0, 1] or None}}`` (left panel);
    ``window_scores`` ``{model: (n,)}`` and ``thresholds`` ``{model: float}`` (right panel,
    threshold dashed in the model's colour).  Either panel may be left out.
    """
    metrics = {str(k): dict(v or {}) for k, v in (metrics or {}).items() if v}
    window_scores = {str(k): _as_vector(v, f"window_scores[{k!r}]") for k, v in (window_scores or {}).items()}
    thresholds = {str(k): v for k, v in (thresholds or {}).items()}
    if metric_names is None:
        metric_names = list(dict.fromkeys(m for v in metrics.values() for m in v))
    panels = (["bars"] if metrics and metric_names else []) + (["curves"] if window_scores else [])
    if not panels:
        return _message_figure(title, "Nothing to compare: no metrics (no labels?) and no scores.")
    models = list(dict.fromkeys(list(metrics) + list(window_scores)))
    colour = {m: _model_colour(i) for i, m in enumerate(models)}
    ratios = [1.0, 1.35] if len(panels) == 2 else [1.0]
    fig, axes = _figure(1, len(panels), height=4.4, width_ratios=ratios)
    if "bars" in panels:
        ax = axes[0, 0]
        names = [m for m in models if m in metrics]
        width = 0.8 / len(names)
        x = np.arange(len(metric_names))
        many = len(names) * len(metric_names) > 8  # then the printed values stand upright
        for i, m in enumerate(names):
            vals = [metrics[m].get(k) for k in metric_names]
            heights = [float(v) if v is not None and np.isfinite(float(v)) else 0.0 for v in vals]
            texts = [f"{float(v):.2f}" if v is not None and np.isfinite(float(v)) else "n/a" for v in vals]
            bars = ax.bar(x - 0.4 + width * (i + 0.5), heights, width * 0.92, color=colour[m], label=m)
            ax.bar_label(bars, labels=texts, padding=2, fontsize=STYLE["note_size"] - (1 if many else 0),
                         rotation=90 if many else 0)
        tilt = len(metric_names) > 4
        ax.set_xticks(x, metric_names, rotation=20 if tilt else 0, ha="right" if tilt else "center")
        ax.set_ylim(0, 1.3 if many else 1.2)  # room for the printed values and the legend
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel("metric value (0 to 1, higher is better)")
        ax.set_title(f"{title}: metrics")
        ax.grid(False, axis="x")
        _legend(ax, loc="upper left", ncols=min(len(names), 4))
    if "curves" in panels:
        ax = axes[0, len(panels) - 1]
        allv = []
        for m, sc in window_scores.items():
            x = np.arange(sc.size) * float(stride)
            ax.plot(x, sc, color=colour[m], linewidth=1.0, alpha=0.85, label=f"{m}")
            allv.append(sc)
            if m in thresholds and thresholds[m] is not None:
                t = float(thresholds[m])
                ax.axhline(t, color=colour[m], linestyle=STYLE["threshold_style"], linewidth=1.4,
                           label=f"{m} threshold = {_fmt(t)}")
                allv.append(np.array([t]))
        use_log, note = _auto_log(np.concatenate(allv), log)
        if use_log:
            finite_t = [float(t) for t in thresholds.values() if t is not None]
            _log_scale(ax, floor=_log_floor(np.concatenate(allv), min(finite_t)) if finite_t else None)
        if note:
            _note(ax, note)
        ax.set_xlabel(_WINDOW_X_LABEL)
        ax.set_ylabel(_SCORE_LABEL + (", log scale" if use_log else ""))
        ax.set_title(f"{title}: window errors, thresholds dashed")
        # below the axes: several curves leave no empty corner inside
        _legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False)
    return fig


# ---------------------------------------------------------------------- 6. score distribution
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


# ------------------------------------------------------------------- 7. extreme windows
def _plot_window(ax, w, colour, names, *, style="-", label_features=False):
    """One window (T, D): one line per feature (the normal/anomalous colour when D = 1)."""
    T, D = w.shape
    for j in range(D):
        ax.plot(np.arange(T), w[:, j], style, color=colour if D == 1 else _model_colour(j),
                linewidth=STYLE["line_width"], label=names[j] if label_features else None)


def _distinct(order, k, stride, T):
    """The first ``k`` windows of ``order`` that overlap none picked before (so the picks show
    ``k`` different stretches of the series, not one event shifted by a step), topped up in
    ``order`` when there are fewer than ``k`` such windows."""
    picked = []
    for i in order:
        if all(abs(int(i) - j) * stride >= T for j in picked):
            picked.append(int(i))
            if len(picked) == k:
                return picked
    rest = [int(i) for i in order if int(i) not in picked]
    return picked + rest[:k - len(picked)]


@_styled
def plot_extreme_windows(windows, scores, *, k=3, stride=1, distinct=True, feature_names=None,
                         title="Lowest- and highest-scoring windows"):
    """The ``k`` lowest-scoring windows (left column) beside the ``k`` highest (right column),
    on one shared y scale so their shapes compare directly (guide 5.2.2).

    ``windows`` (n, T, D) (the scaled model inputs) and ``scores`` (n,).  ``distinct=True`` skips
    windows overlapping one already shown (window i covers steps ``i*stride … i*stride+T-1``).
    """
    w = _as_windows(windows)
    n, T, D = w.shape
    sc = _as_vector(scores, "scores")
    if sc.size != n:
        raise ShapeError(f"{sc.size} scores for {n} windows; pass one score per window")
    if n == 0:
        return _message_figure(title, "No windows to show.")
    k = max(1, min(int(k), n))
    order = np.argsort(np.where(np.isfinite(sc), sc, np.inf), kind="stable")
    if distinct:
        low, high = _distinct(order, k, stride, T), _distinct(order[::-1], k, stride, T)
    else:
        low, high = order[:k], order[::-1][:k]
    names = _feature_names(feature_names, D)
    fig, axes = _figure(k, 2, height=1.2 + 1.75 * k, sharex=True, sharey=True)
    for col, (idx, colour, what) in enumerate(((low, STYLE["normal"], "lowest"),
                                                (high, STYLE["anomalous"], "highest"))):
        for r, i in enumerate(idx):
            ax = axes[r, col]
            _plot_window(ax, w[i], colour, names, label_features=(D > 1 and r == 0 and col == 0))
            ax.set_title(f"{what} #{r + 1}: window {int(i)} ({_window_span(int(i), stride, T)}), "
                         f"score {_fmt(sc[i])}", fontsize=STYLE["tick_size"] + 0.5)
        axes[k - 1, col].set_xlabel("step in window")
        _int_ticks(axes[k - 1, col])
    for r in range(k):
        axes[r, 0].set_ylabel(_SCALED_LABEL)
    if D > 1:
        _legend(axes[0, 0], loc="best", ncols=min(D, 3))
    if n < 2 * k:
        _note(axes[0, 0], "a single window: it is both the lowest and the highest" if n == 1
              else f"only {n} windows: the two columns share some")
    fig.suptitle(f"{title}: left = most normal (lowest score), right = most anomalous (highest)")
    return fig


@_styled
def plot_windows_by_score_range(windows, scores, ranges, *, threshold=None, max_windows=30,
                                stride=1, feature=0, feature_names=None,
                                title="Windows by score range"):
    """For each ``(low, high)`` in ``ranges``, the windows whose score lies in it, overlaid
    (guide 5.2.2).  Up to ``max_windows`` per panel, evenly spaced in
    score order.  A range entirely above ``threshold`` is drawn in the anomalous colour.
    Multivariate windows show feature ``feature``.
    """
    w = _as_windows(windows)
    n, T, D = w.shape
    sc = _as_vector(scores, "scores")
    if sc.size != n:
        raise ShapeError(f"{sc.size} scores for {n} windows; pass one score per window")
    ranges = [(float(a), float(b)) for a, b in ranges]
    if n == 0 or not ranges:
        return _message_figure(title, "No windows or no score range to show.")
    if not 0 <= feature < D:
        raise ShapeError(f"feature {feature} is out of range for {D} features")
    names = _feature_names(feature_names, D)
    fig, axes = _figure(1, len(ranges), height=3.8, sharey=True)
    for c, (a, b) in enumerate(ranges):
        ax = axes[0, c]
        inside = np.flatnonzero((sc >= a) & (sc <= b))
        colour = STYLE["anomalous"] if threshold is not None and a >= float(threshold) else STYLE["normal"]
        if inside.size:
            chosen = inside[np.argsort(sc[inside], kind="stable")]
            if chosen.size > max_windows:
                chosen = chosen[np.linspace(0, chosen.size - 1, max_windows).round().astype(int)]
            for i in chosen:
                ax.plot(np.arange(T), w[i, :, feature], color=colour, linewidth=1.0, alpha=0.5)
            shown = f", {chosen.size} drawn" if chosen.size < inside.size else ""
        else:
            _note(ax, "no window has a score in this range")
            shown = ""
        ax.set_title(f"{inside.size} windows with score in [{_fmt(a)}, {_fmt(b)}]{shown}",
                     fontsize=STYLE["tick_size"] + 1)
        ax.set_xlabel("step in window")
        _int_ticks(ax)
    axes[0, 0].set_ylabel(_SCALED_LABEL + ("" if D == 1 else f" ({names[feature]})"))
    fig.suptitle(title)
    return fig


# ------------------------------------------------------------------------ 8. mean and spread
@_styled
def plot_mean_spread(windows, flags, *, feature_names=None, max_features=4,
                     title="Mean and spread of normal versus flagged windows"):
    """Per step in the window: the mean (line), ±1 standard deviation (dark band) and the 5–95 %
    range (light band) of the windows not flagged (left) and flagged (right) (guide 5.2.3).

    ``windows`` (n, T, D), ``flags`` bool (n,).  One row per feature, at most ``max_features``.
    """
    w = _as_windows(windows)
    n, T, D = w.shape
    if n == 0:
        return _message_figure(title, "No windows to summarise.")
    fl = _as_mask(flags, n, "flags")
    if fl is None:
        fl = np.zeros(n, dtype=bool)
    names = _feature_names(feature_names, D)
    rows = min(D, max_features)
    fig, axes = _figure(rows, 2, height=1.2 + 2.4 * rows, sharex=True, sharey=True)
    t = np.arange(T)
    groups = ((~fl, STYLE["normal"], "not flagged"), (fl, STYLE["anomalous"], "flagged as anomalous"))
    for c, (g, colour, what) in enumerate(groups):
        for j in range(rows):
            ax = axes[j, c]
            if g.any():
                x = w[g, :, j]
                mean, std = x.mean(axis=0), x.std(axis=0)
                p5, p95 = np.percentile(x, [5, 95], axis=0)
                ax.fill_between(t, p5, p95, color=colour, alpha=0.15, linewidth=0)
                ax.fill_between(t, mean - std, mean + std, color=colour, alpha=0.35, linewidth=0)
                ax.plot(t, mean, color=colour, linewidth=2.0)
                if int(g.sum()) == 1 and j == 0:
                    _note(ax, "a single window: no spread")
            elif j == 0:
                _note(ax, f"no window is {what}" + (": nothing detected" if c == 1 else ""))
            if c == 0:
                ax.set_ylabel(_SCALED_LABEL + ("" if D == 1 else f"\n{names[j]}"))
        axes[0, c].set_title(f"{what} ({int(g.sum())} windows)")
        axes[rows - 1, c].set_xlabel("step in window")
        _int_ticks(axes[rows - 1, c])
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grey = "#555555"
    handles = [Line2D([], [], color=grey, linewidth=2.0), Patch(color=grey, alpha=0.35, linewidth=0),
               Patch(color=grey, alpha=0.15, linewidth=0)]
    fig.legend(handles, ["mean", "mean \u00b1 1 standard deviation", "5\u201395 % of windows"],
               loc="outside lower center", ncols=3, fontsize=STYLE["legend_size"])
    fig.suptitle(title + (f" ({rows} of {D} features shown)" if rows < D else ""))
    return fig


# ------------------------------------------------------------------------ 9. reconstruction
@_styled
def plot_reconstruction(windows, reconstructions, step_errors=None, *, indices=None, scores=None,
                        stride=1, feature_names=None, title="Input versus reconstruction"):
    """Chosen windows: input (solid) and reconstruction (dashed) on top, the per-step squared
    error (mean over features) as bars below, so the reader sees *where* the model failed.

    ``windows``, ``reconstructions``, ``step_errors`` (n, T, D); ``step_errors`` defaults to
    ``(windows - reconstructions)**2``.  ``indices``: windows to show (default, with ``scores``:
    the lowest-, median- and highest-scoring; without: window 0).  At most 4 columns.
    """
    w = _as_windows(windows)
    r = _as_windows(reconstructions, "reconstructions")
    if r.shape != w.shape:
        raise ShapeError(f"reconstructions {r.shape} and windows {w.shape} differ in shape; pass "
                         "the model's output for exactly these windows")
    e = (w - r) ** 2 if step_errors is None else _as_windows(step_errors, "step_errors")
    if e.shape != w.shape:
        raise ShapeError(f"step_errors {e.shape} and windows {w.shape} differ in shape")
    n, T, D = w.shape
    if n == 0:
        return _message_figure(title, "No windows to show.")
    sc = None if scores is None else _as_vector(scores, "scores")
    idx = _pick_indices(sc, n, indices, _low_median_high)[:4]
    kinds = _rank_words(sc, idx)
    names = _feature_names(feature_names, D)
    fig, axes = _figure(2, len(idx), height=5.2, sharex=True, sharey="row", height_ratios=[2, 1])
    t = np.arange(T)
    for c, i in enumerate(idx):
        top, bottom = axes[0, c], axes[1, c]
        for j in range(D):
            col_in = STYLE["normal"] if D == 1 else _model_colour(j)
            top.plot(t, w[i, :, j], color=col_in, linewidth=1.6, label="input" if D == 1 else names[j])
            top.plot(t, r[i, :, j], STYLE["threshold_style"], color=STYLE["reconstruction"] if D == 1 else col_in,
                     linewidth=1.6, label="reconstruction" if D == 1 else None)
        err = e[i].mean(axis=1)
        bottom.bar(t, err, width=0.85, color=STYLE["anomalous"], alpha=0.85)
        label = f"{kinds[c]}window {i} ({_window_span(i, stride, T)})"
        if sc is not None:
            label += f"\nscore {_fmt(sc[i])}"
        top.set_title(label, fontsize=STYLE["tick_size"] + 1)
        bottom.set_xlabel("step in window")
        _int_ticks(bottom)
        if c == 0:
            top.set_ylabel(_SCALED_LABEL)
            bottom.set_ylabel("squared error" + ("" if D == 1 else "\n(mean of features)"))
            if D == 1:
                _legend(top)
            elif D <= 12:  # features by colour, below the figure (solid/dashed is in the title)
                handles, labels = top.get_legend_handles_labels()
                fig.legend(handles, labels, loc="outside lower center", ncols=min(D, 6),
                           fontsize=STYLE["legend_size"])
        if not err.any():
            _note(bottom, "perfect reconstruction: zero error")
    fig.suptitle(f"{title}: solid = input, dashed = reconstruction; bars = error per step")
    return fig


# ------------------------------------------------------------------------ 10. heat maps
@_styled
def plot_feature_heatmaps(windows, step_errors, *, indices=None, scores=None, stride=1,
                          feature_names=None, title="Windows and their reconstruction error, per feature"):
    """For chosen windows, a features x steps heat map of the input (top row) and of the squared
    reconstruction error (bottom row), one colour scale per row, so a reader sees which feature
    at which step is anomalous (guide section 6).

    ``windows``, ``step_errors`` (n, T, D).  ``indices`` default (with ``scores``): the lowest-,
    median- and highest-scoring windows.  At most 4 columns.
    """
    w = _as_windows(windows)
    e = _as_windows(step_errors, "step_errors")
    if e.shape != w.shape:
        raise ShapeError(f"step_errors {e.shape} and windows {w.shape} differ in shape")
    n, T, D = w.shape
    if n == 0:
        return _message_figure(title, "No windows to show.")
    sc = None if scores is None else _as_vector(scores, "scores")
    idx = _pick_indices(sc, n, indices, _low_median_high)[:4]
    kinds = _rank_words(sc, idx)
    names = _feature_names(feature_names, D)
    fig, axes = _figure(2, len(idx), height=1.6 + 2.0 * (1.0 + min(D, 12) / 6.0), sharex=True, sharey=True)
    vmin, vmax = float(np.min(w[idx])), float(np.max(w[idx]))
    emax = float(np.max(e[idx])) or 1.0
    for c, i in enumerate(idx):
        im_v = axes[0, c].imshow(w[i].T, aspect="auto", interpolation="nearest", cmap=STYLE["value_cmap"],
                                 vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1.0)
        im_e = axes[1, c].imshow(e[i].T, aspect="auto", interpolation="nearest", cmap=STYLE["error_cmap"],
                                 vmin=0.0, vmax=emax)
        label = f"{kinds[c]}window {i} ({_window_span(i, stride, T)})"
        if sc is not None:
            label += f"\nscore {_fmt(sc[i])}"
        axes[0, c].set_title(label, fontsize=STYLE["tick_size"] + 0.5)
        axes[1, c].set_xlabel("step in window")
        _int_ticks(axes[1, c])
        for ax in axes[:, c]:
            ax.grid(False)
    if D <= 20:
        axes[0, 0].set_yticks(np.arange(D), names)
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("squared error")
    fig.colorbar(im_v, ax=list(axes[0, :]), label=_SCALED_LABEL, shrink=0.9)
    fig.colorbar(im_e, ax=list(axes[1, :]), label="squared error", shrink=0.9)
    if not e[idx].any():
        _note(axes[1, 0], "zero error everywhere")
    if D == 1:
        _note(axes[0, 0], "a single feature: the line plots show it better")
    fig.suptitle(title)
    return fig
