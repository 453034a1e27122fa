"""What ``npae demo`` and ``npae detect`` share: the report's record of a run, output files, tables."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import atomic_write, make_output_dir
from .. import report
from ..report import ModelMetrics, ModelResult


def output_dir(path, *, protect=()) -> Path:
    """``path`` as a folder (created), refusing an existing file or a folder in ``protect``."""
    return make_output_dir(path, protect=protect)


def write_file(path: Path, text: str, *, protect=()) -> None:
    """Write ``text`` atomically to ``path`` (:func:`npae.io.atomic_write`), never over one of
    the ``protect`` files."""
    atomic_write(path, text, protect=protect)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    return v


def dump_json(obj) -> str:
    return json.dumps(_jsonable(obj), indent=2) + "\n"


def model_metrics(backend, history, tutorial=None, point=None, *, window_key="tutorial_metric") -> dict:
    """The summary.json ``M`` dict of one model: ``point_metric`` (the row flags against the
    labels) and, under ``window_key``, the tutorial's window metric (flagged windows mark all
    their points): ``tutorial_metric`` in ``npae demo`` (the tutorial's experiment),
    ``window_metric`` on a user's CSV."""
    m = {"backend": backend, "train_seconds": float(sum(history.seconds)),
         "final_loss": float(history.final_loss)}
    if tutorial is not None:
        m[window_key] = {k: float(tutorial[k]) for k in ("precision", "recall", "f1")}
    if point is not None:
        m["point_metric"] = {k: point.get(k) for k in (
            "precision", "recall", "f1", "roc_auc", "pr_auc", "events_found", "events_total",
            "false_alarm_events")}
    return m


def training_record(det) -> dict:
    """What training did, for summary.json: steps, epochs, stop reason, losses, the ratio."""
    h = det.history_
    return {"steps": int(h.steps), "epochs": int(h.epochs), "stop_reason": h.stop_reason,
            "best_epoch": h.best_epoch, "best_val_loss": h.best_val_loss,
            "final_lr": h.lr[-1] if h.lr else None, "window_size": int(det.window_size_),
            "loss_ratio": float(det.loss_ratio_), "undertrained": bool(det.undertrained_),
            "calibration": det.calibration_}


def undertrained_message(det, advice) -> str:
    """The under-training warning: the measured ratio, the limit, and what to try."""
    from ..detector import UNDERTRAINED_RATIO

    h = det.history_
    return (f"the {det.cell.upper()} autoencoder looks under-trained: its best validation loss is "
            f"{det.loss_ratio_:.2f} of the validation windows' variance (above "
            f"{UNDERTRAINED_RATIO:g}) after {h.steps} steps (stopped by {h.stop_reason}); its "
            f"scores are close to those of predicting the mean. Compare with the PCA row, and "
            f"{advice}")


def comparison_table(name, point, pca_point, flagged, pca_flagged, segments, pca_segments, *,
                     where="after the training part") -> str:
    """The autoencoder beside the PCA baseline, on the rows ``where`` says."""
    w = 12
    lines = [f"{where:<28}{name:>{w}}{'PCA':>{w}}",
             f"  {'flagged rows':<26}{flagged:>{w}}{pca_flagged:>{w}}",
             f"  {'events':<26}{segments:>{w}}{pca_segments:>{w}}"]
    if point is not None:
        for key, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("f1", "point F1")):
            lines.append(f"  {label:<26}{fmt(point[key], '.3f'):>{w}}{fmt(pca_point[key], '.3f'):>{w}}")
        ev = lambda p: f"{p['events_found']}/{p['events_total']}"  # noqa: E731
        lines.append(f"  {'events found':<26}{ev(point):>{w}}{ev(pca_point):>{w}}")
        lines.append(f"  {'false-alarm events':<26}{point['false_alarm_events']:>{w}}"
                     f"{pca_point['false_alarm_events']:>{w}}")
    return "\n".join(lines)


def pca_entry(pca, detection, metrics, *, window_threshold=None, window_flags=None) -> ModelResult:
    """The PCA baseline's :class:`npae.report.ModelResult` (no windows kept: its figures stay
    few); ``window_threshold`` / ``window_flags`` replace the detector's (the demo's are the
    tutorial's)."""
    thr = detection.threshold if window_threshold is None else window_threshold
    flags = detection.window_flags if window_flags is None else window_flags
    return ModelResult(
        cell="pca", backend="numpy", history=None,
        window_scores=detection.window_scores, threshold=float(thr),
        window_flags=np.asarray(flags, dtype=bool),
        point_scores=detection.point_scores,
        point_threshold=float(detection.point_threshold),
        point_flags=detection.point_flags, metrics=ModelMetrics.from_dict(metrics),
    )


def model_entry(det, detection, metrics, *, window_threshold=None, window_flags=None) -> ModelResult:
    """One model's :class:`npae.report.ModelResult` for :func:`npae.report.write_report`."""
    thr = detection.threshold if window_threshold is None else window_threshold
    flags = detection.window_flags if window_flags is None else window_flags
    return ModelResult(
        cell=det.cell, backend=det.backend, history=det.history_.to_dict(),
        window_scores=detection.window_scores, threshold=float(thr),
        window_flags=np.asarray(flags, dtype=bool),
        point_scores=detection.point_scores, point_threshold=float(detection.point_threshold),
        point_flags=detection.point_flags,
        windows=detection.windows, reconstructions=detection.reconstructions,
        step_errors=detection.step_errors, metrics=ModelMetrics.from_dict(metrics),
    )


def write_figures(out_dir, run, args, *, protect=()) -> list:
    """Figures + report.html via :mod:`npae.report`, unless ``--no-figures``; the paths written.
    Skipped with a note on stderr when matplotlib is missing."""
    if getattr(args, "no_figures", False):
        return []
    try:
        written = report.write_report(out_dir, run, fmt=args.format, protect=protect)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == "matplotlib":
            print("npae: figures skipped: matplotlib is not installed (pip install 'npae[cli]')",
                  file=sys.stderr)
            return []
        raise
    return list(written.values()) if isinstance(written, dict) else []


def add_output_options(parser, *, no_figures_help, quiet_help) -> None:
    """The options both ``demo`` and ``detect`` take for what they write and show."""
    parser.add_argument("--no-figures", action="store_true", help=no_figures_help)
    parser.add_argument("--format", choices=("png", "svg"), default="png",
                        help="figure format (default: png)")
    parser.add_argument("--quiet", action="store_true", help=quiet_help)


def fmt(v, spec=".4f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


def show_progress(args) -> bool:
    """Progress unless ``--quiet``: a bar on a terminal, a timed line every 10 s elsewhere
    (piped, in CI, in a notebook log), so a long run never looks frozen."""
    return not getattr(args, "quiet", False)


# ---------------------------------------------------------------------------------------------
# One vocabulary of options for every command (the same name for the same thing)
# ---------------------------------------------------------------------------------------------

DEFAULT_SEED = 42   # the seed tutorial's, for every command


def add_seed_option(parser, what) -> None:
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"{what} (default: {DEFAULT_SEED})")


def add_model_options(parser, *, cells=("lstm", "rnn", "gru", "dense")) -> None:
    """``--cell``, ``--hidden``, ``--latent``, ``--num-layers``, ``--dropout`` for ``npae
    detect`` (the old ``--hidden-size`` / ``--latent-size`` spellings stay as hidden aliases);
    ``--hidden`` / ``--latent`` default to None: the detector's "auto" sizes."""
    import argparse

    parser.add_argument("--cell", choices=cells, default="lstm",
                        help="the autoencoder: lstm, rnn or gru (the seed tutorial's recurrent "
                        "autoencoder) or dense (the guide's, on flattened windows); default lstm")
    parser.add_argument("--hidden", type=int, default=None, metavar="H",
                        help="hidden size H (default: 32, 64 for windows longer than 160)")
    parser.add_argument("--hidden-size", type=int, dest="hidden", help=argparse.SUPPRESS)
    parser.add_argument("--latent", type=int, default=None, metavar="L",
                        help="latent size L (default: half the hidden size)")
    parser.add_argument("--latent-size", type=int, dest="latent", help=argparse.SUPPRESS)
    parser.add_argument("--num-layers", type=int, default=1, metavar="K",
                        help="stacked recurrent layers (dense: hidden layers on each side of the "
                        "code); default 1")
    parser.add_argument("--dropout", type=float, default=0.0, metavar="P",
                        help="dropout between stacked layers, in training only (default: 0)")


def add_event_options(parser) -> None:
    parser.add_argument("--merge-gap", type=int, default=None, metavar="ROWS",
                        help="flagged runs at most ROWS rows apart are reported as one event "
                        "(default: a tenth of the window, at least 1; 0 keeps every run)")


def check_merge_gap(args) -> None:
    if args.merge_gap is not None and args.merge_gap < 0:
        raise DataError(f"--merge-gap must be >= 0 (rows between two flagged runs that are "
                        f"still one event), got {args.merge_gap}")


def written_message(paths, out) -> str:
    """The closing line: every file written, by name (inside ``out`` relative to it)."""
    names = []
    for p in paths:
        p = Path(p).resolve()
        try:
            names.append(str(p.relative_to(Path(out).resolve())))
        except ValueError:
            names.append(str(p))
    return f"wrote {len(names)} file(s) to {out}/: {', '.join(names)}"
