"""How training went: the train and validation loss per epoch of one or several models."""

from __future__ import annotations

import numpy as np

from ._inputs import _finite, _seq
from ._style import (_auto_log, _figure, _int_ticks, _legend, _log_scale, _message_figure,
                     _model_colour, _note, _styled)


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
