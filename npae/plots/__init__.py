"""Figures of a detection run: the seed tutorial's plots and the guide's visual explanation.

Every function takes plain data (NumPy arrays, lists, dicts) and returns a
``matplotlib.figure.Figure``.  Nothing here calls ``pyplot``, opens a window or writes a file:
figures are built with ``Figure()`` directly, so no global state leaks, and only the command
line (``npae.report``) saves them.  matplotlib is imported inside the functions, so
``import npae.plots`` needs only NumPy.  Every figure is importable from here; the modules
below hold them by family.

Shapes (the glossary of the rest of npae, plus the series length)::

    N   points in the series            series (N,) or (N, D), labels / flags / point scores (N,)
    n   windows                         window scores / flags (n,); window i starts at i*stride
    T   steps per window                windows, reconstructions, step errors (n, T, D)
    D   features

The look comes from one dict, :data:`STYLE` (in ``_style``): one colour for normal data, one
for what the detector flags, one for the threshold (always a dashed line) and one for the
labelled (true) anomalies.  Degenerate input — an empty series, no anomaly detected, a single window, a
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

One module per family of figures, in the order a report shows them::

    series          the data: plot_series
    training        how training went: plot_training_curves
    detection       what each model flagged: plot_model_comparison, plot_anomaly_map
    scores          scores against their threshold: plot_window_errors, plot_point_scores,
                    plot_score_distribution
    windows         windows picked by score: plot_extreme_windows,
                    plot_windows_by_score_range, plot_mean_spread
    reconstruction  inside the model: plot_reconstruction, plot_feature_heatmaps
    _style          STYLE and the drawing helpers the families share (notes, legends,
                    shading, log axes; _ticks: the log axis's tick labels)
    _inputs         the checks and conversions of what the figures accept
"""

from __future__ import annotations

from ._style import STYLE
from .detection import plot_anomaly_map, plot_model_comparison
from .reconstruction import plot_feature_heatmaps, plot_reconstruction
from .scores import plot_point_scores, plot_score_distribution, plot_window_errors
from .series import plot_series
from .training import plot_training_curves
from .windows import plot_extreme_windows, plot_mean_spread, plot_windows_by_score_range

__all__ = [
    "STYLE", "plot_series", "plot_training_curves", "plot_model_comparison", "plot_anomaly_map",
    "plot_window_errors", "plot_point_scores", "plot_score_distribution", "plot_extreme_windows",
    "plot_windows_by_score_range", "plot_mean_spread", "plot_reconstruction",
    "plot_feature_heatmaps",
]
