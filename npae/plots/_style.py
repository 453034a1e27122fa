"""The house look of every figure, and the drawing helpers the figure modules share.

:data:`STYLE` is the one place the look is decided; :func:`_styled` applies its sizes to one
call (nothing global changes); :func:`_figure` makes the constrained-layout Figure every
function draws on.  Below them: boxed notes, legends, integer ticks, the shading of runs and of
the training stretch, and log axes labelled with plain numbers.  matplotlib is imported inside
the functions, so importing this module needs only NumPy.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ShapeError
from ..metrics import runs

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
    from ._ticks import PlainLogFormatter

    getattr(ax, f"set_{axis}scale")("log")
    a = getattr(ax, f"{axis}axis")
    a.set_major_formatter(PlainLogFormatter(minor=False))
    a.set_minor_formatter(PlainLogFormatter(minor=True))
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
