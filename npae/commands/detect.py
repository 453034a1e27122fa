"""``npae detect FILE.csv``: train a detector on the start of a CSV series and score every row.

Reads a CSV with a header row.  Value columns are the numeric ones (or those named with
``--column``); a non-numeric column such as a timestamp is skipped; several value columns make a
multivariate series.  The detector trains on the first rows (``--train-rows`` / ``--train-fraction``,
default the first 15 %, NAB's probationary period), which should be free of anomalies, and scores
all rows.  Writes to ``--out``:

* ``scores.csv``: ``row`` (0-based data row of the input), ``score`` (the point score), ``flag``
  (1 = anomalous), ``error_<column>`` per value column (its own aggregated error);
* ``summary.json``: settings, thresholds, training time, flagged segments, and the metrics when
  ``--labels COL`` names a 0/1 column (evaluated on the rows after the training part);
* unless ``--no-figures``: the figures and ``report.html``.
"""

from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path

import numpy as np

from ..baselines import PCADetector
from ..data import auto_window_size
from ..detector import AnomalyDetector, parse_threshold, threshold_spec
from ..backends import import_reference
from ..errors import DataError, OutputError
from ..io import (FILLS, MISSING, TIME_NAMES, atomic_file, check_output_path,  # noqa: F401
                  iter_column, read_series, timestamp_column)
from ..metrics import default_merge_gap, evaluate, events, tutorial_metric  # noqa: F401
from ..report import ReportRun
from ._common import (add_event_options, add_model_options, add_output_options, add_seed_option,
                      check_merge_gap, comparison_table, dump_json, fmt, model_entry,
                      model_metrics, output_dir, pca_entry, show_progress, training_record,
                      undertrained_message, write_figures, write_file, written_message)

# what detect may write into --out: checked against the input before anything is written
OUTPUT_NAMES = ("scores.csv", "summary.json", "report.html")
FIGURE_NAME = re.compile(r"\d\d_.+\.(png|svg)")

HELP = "train on the start of a CSV series and flag anomalous rows"
DESCRIPTION = ("Train an RNN/LSTM autoencoder on the first rows of a CSV series (with a header; "
               "numeric columns are the values, a timestamp column is optional) and write "
               "scores.csv and summary.json with a score and a flag per row.")


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE.csv", help="CSV file with a header row")
    parser.add_argument("--column", action="append", metavar="NAME",
                        help="value column (repeat, or comma-separate, for several; default: "
                        "every numeric column except the labels and one named timestamp, time, "
                        "date, datetime, index, row or t)")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--train-rows", type=int, metavar="N",
                      help="train on the first N rows")
    part.add_argument("--train-fraction", type=float, metavar="F",
                      help="train on the first fraction F of the rows (default: 0.15)")
    parser.add_argument("--window", type=_window_arg, default="auto", metavar="W",
                        help="window length in rows, about one seasonal period, or 'auto' (default): "
                        "the dominant period of the training rows by autocorrelation, clipped to "
                        "8-300 rows")
    add_model_options(parser)
    parser.add_argument("--threshold", default="max", metavar="RULE",
                        help="point threshold fitted on the training rows' scores: 'max' "
                        "(default), 'percentile:Q', 'mad:K', 'mean_std:K' or 'contamination:C'")
    parser.add_argument("--aggregate", choices=("min", "mean", "max"), default="min",
                        help="a row's score from the windows covering it: min localises an "
                        "anomaly to its rows (default), mean/max spread it over the window")
    parser.add_argument("--labels", metavar="COL",
                        help="a 0/1 column of known anomalies, to evaluate the flags")
    parser.add_argument("--fill", choices=FILLS,
                        help="how to handle empty or NaN cells: forward-fill, linear "
                        "interpolation, or drop those rows (default: refuse)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="an epoch budget, raised to --min-steps optimiser steps and capped "
                        "at --max-steps (default: none, --max-steps or early stopping ends "
                        "training)")
    parser.add_argument("--min-steps", type=int, default=1000, metavar="N",
                        help="train for at least N optimiser steps (default: 1000)")
    parser.add_argument("--max-steps", type=int, default=2000, metavar="N",
                        help="and at most N (default: 2000)")
    parser.add_argument("--patience", type=int, default=None, metavar="E",
                        help="stop after E epochs without a better validation loss and keep the "
                        "best weights (default: as many epochs as 500 optimiser steps, at least "
                        "20; 0 = no early stopping)")
    parser.add_argument("--val-fraction", type=float, default=0.2, metavar="F",
                        help="hold out the latest fraction F of the training windows for early "
                        "stopping and threshold calibration (default: 0.2)")
    parser.add_argument("--stride", type=int, default=1,
                        help="step between training windows (default: 1)")
    parser.add_argument("--score-stride", type=int, default=1, metavar="S",
                        help="score every S-th window only: S times faster on long series, each "
                        "row still covered by about W/S windows (default: 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam's starting learning rate, halved on a plateau (default: 1e-3 "
                        "for rnn, else 1e-2)")
    parser.add_argument("--clip", type=float, default=1.0,
                        help="clip the gradient norm to this value (default: 1)")
    parser.add_argument("--scaler", choices=("standard", "minmax", "none"), default="standard",
                        help="per-column scaling fitted on the training rows (default: standard)")
    parser.add_argument("--backend", choices=("numpy", "torch"), default="numpy",
                        help="npae (numpy) or the PyTorch reference (default: numpy)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="floating-point precision of the model (default: float32)")
    add_seed_option(parser, "initial weights and batch order")
    parser.add_argument("--save-model", metavar="PATH.npz",
                        help="save the trained detector to PATH.npz (and its PCA baseline to "
                        "PATH.pca.npz), to score other files with 'npae score --model PATH.npz'")
    add_event_options(parser)
    parser.add_argument("--out", default="npae-detect", metavar="DIR",
                        help="output folder (default: npae-detect)")
    add_output_options(parser, no_figures_help="no figures or report.html", quiet_help="no progress")


# ---------------------------------------------------------------------------------------------
# Reading the CSV (streamed into typed arrays by npae.io)
# ---------------------------------------------------------------------------------------------

def load_series(path, names=None, labels=None, fill=None):
    """``(values (N, D), value_names, label_mask or None, rows (N,) original row numbers)``:
    :func:`npae.io.read_series`."""
    return tuple(read_series(path, names, labels, fill))


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------

def _segments(mask, rows):
    """Runs of True in ``mask`` as ``[[first_row, last_row], ...]`` in original row numbers."""
    return [[int(rows[s]), int(rows[e - 1])] for s, e in events(mask)]


def _window_arg(text):
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of rows, got {text!r}") from None


def _check_args(args):
    if args.window != "auto" and args.window < 2:
        raise DataError(f"--window must be at least 2 (a window is a run of rows), got {args.window}")
    if args.window != "auto" and args.score_stride > args.window:
        raise DataError(f"--score-stride ({args.score_stride}) must be at most --window "
                        f"({args.window}), or some rows would be in no scored window")
    if args.train_rows is not None and args.train_rows < 1:
        raise DataError(f"--train-rows must be positive, got {args.train_rows}")
    if args.train_fraction is not None and not 0 < args.train_fraction <= 1:
        raise DataError(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    if args.patience is not None and args.patience < 0:
        raise DataError(f"--patience must be >= 0, got {args.patience}")
    if not 0 <= args.val_fraction < 1:
        raise DataError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.min_steps > args.max_steps:
        raise DataError(f"--min-steps ({args.min_steps}) must not exceed --max-steps "
                        f"({args.max_steps})")
    for name in ("epochs", "stride", "score_stride", "hidden", "latent", "batch_size",
                 "min_steps", "max_steps", "num_layers"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise DataError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.clip is not None and not args.clip > 0:
        raise DataError(f"--clip must be positive, got {args.clip}")
    if args.lr is not None and not args.lr > 0:
        raise DataError(f"--lr must be positive, got {args.lr}")
    if args.seed < 0:
        raise DataError(f"--seed must be >= 0, got {args.seed}")
    if not 0 <= args.dropout < 1:
        raise DataError(f"--dropout must be in [0, 1), got {args.dropout}")
    check_merge_gap(args)
    parse_threshold(args.threshold)
    if args.backend == "torch":  # before reading and training, not after
        import_reference("--backend torch")


def _check_outputs(src: Path, out: Path, figures: bool) -> None:
    """Refuse, before anything is read or written, an --out where detect would write over the
    input: the input (or what it links to) inside --out under a name detect writes."""
    if not src.exists() or not out.is_dir():
        return
    real = src.resolve()
    candidates = [out / name for name in OUTPUT_NAMES]
    if figures and real.parent == out.resolve() and FIGURE_NAME.fullmatch(real.name):
        candidates.append(out / real.name)
    for path in candidates:
        if path.resolve() == real or (path.exists() and path.samefile(src)):
            raise OutputError(f"--out {out} would overwrite the input file {src} with "
                              f"{path.name}; choose another --out")


def _write_scores(path, d, dp, rows, names, stamps, protect, chunk=65536):
    """scores.csv, streamed in chunks of rows (never the whole table as text in memory): the
    row (and its timestamp when the input has one), the autoencoder's score, flag and
    threshold, the PCA baseline's score and flag, per-feature errors."""
    times = stamps.stream() if stamps else None
    with atomic_file(path, "w", protect=protect, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["row"] + ([stamps.column] if times else []) + ["score", "flag", "threshold"]
                   + (["pca_score", "pca_flag"] if dp is not None else [])
                   + [f"error_{n}" for n in names])
        for s in range(0, len(rows), chunk):
            part = slice(s, s + chunk)
            cols = [rows[part].tolist()]
            if times:
                cols.append([next(times) for _ in range(len(cols[0]))])
            cols += [[f"{v:.6g}" for v in d.point_scores[part].tolist()],
                     d.point_flags[part].astype(int).tolist(),
                     [f"{v:.6g}" for v in d.point_thresholds[part].tolist()]]
            if dp is not None:
                cols += [[f"{v:.6g}" for v in dp.point_scores[part].tolist()],
                         dp.point_flags[part].astype(int).tolist()]
            errors = [[f"{v:.6g}" for v in e] for e in d.feature_errors[part].tolist()]
            w.writerows([*head, *err] for *head, err in zip(*cols, errors))


UNDERTRAINED_ADVICE = ("train longer (--min-steps / --max-steps), try --lr 3e-3 or a larger "
                       "--hidden, or check that the training rows are one regime")


def run(args) -> int:
    _check_args(args)
    src = Path(args.file)
    protect = (src,)
    _check_outputs(src, Path(args.out), not args.no_figures)
    data = read_series(args.file, args.column, args.labels, args.fill)
    values, names, rows = data.values, data.names, data.rows
    N, D = values.shape
    if args.train_rows is not None:
        if args.train_rows > N:
            raise DataError(f"--train-rows {args.train_rows} is more than the {N} rows of {args.file}")
        n_train = args.train_rows
    else:
        n_train = int(round(N * (0.15 if args.train_fraction is None else args.train_fraction)))
    if n_train < 2:
        raise DataError(f"the training part has {n_train} rows; train on more rows "
                        f"(--train-rows / --train-fraction)")
    if args.window == "auto":
        T = auto_window_size(values[:n_train])
        window_rule = "auto: the dominant period of the training rows (autocorrelation)"
        if args.score_stride > T:
            raise DataError(f"--score-stride ({args.score_stride}) must be at most the window "
                            f"({T}, chosen by --window auto); lower --score-stride")
    else:
        T, window_rule = args.window, "--window"
    if N < T:
        raise DataError(f"{args.file} has {N} usable rows, fewer than one window (--window {T}); "
                        f"use a smaller --window or a longer series")
    if n_train < T:
        raise DataError(f"the training part has {n_train} rows, fewer than one window "
                        f"(--window {T}); train on more rows (--train-rows / --train-fraction) "
                        f"or use a smaller --window")
    out = output_dir(args.out, protect=protect)
    if args.save_model is not None:   # before training: a bad path fails now, not in minutes
        for path in (args.save_model, baseline_path(args.save_model)):
            check_output_path(path, protect=protect)

    auto = lambda value: "auto" if value is None else value  # noqa: E731
    det = AnomalyDetector(cell=args.cell, window_size=T, hidden_size=auto(args.hidden),
                          latent_size=auto(args.latent), num_layers=args.num_layers,
                          dropout=args.dropout, epochs=args.epochs, batch_size=args.batch_size,
                          lr=auto(args.lr), point_threshold=args.threshold, stride=args.stride,
                          score_stride=args.score_stride, aggregate=args.aggregate,
                          clip=args.clip, min_steps=args.min_steps, max_steps=args.max_steps,
                          patience="auto" if args.patience is None else args.patience or None,
                          val_fraction=args.val_fraction, scaler=args.scaler, dtype=args.dtype,
                          backend=args.backend, seed=args.seed, progress=show_progress(args))
    pca = PCADetector(window_size=T, point_threshold=args.threshold, stride=args.stride,
                      score_stride=args.score_stride, aggregate=args.aggregate,
                      val_fraction=args.val_fraction, scaler=args.scaler)
    print(f"npae detect: {args.file}: {N} rows, {D} value column(s) ({', '.join(names)}); training "
          f"on rows {int(rows[0])}–{int(rows[n_train - 1])} ({n_train} rows), window {T} "
          f"({window_rule}), {args.cell}, {args.min_steps}–{args.max_steps} steps")
    det.fit(values[:n_train])
    pca.fit(values[:n_train])
    det.feature_names_in_ = pca.feature_names_in_ = list(names)
    saved = []
    if args.save_model is not None:
        saved = save_pair(det, pca, args.save_model, protect)
    settings = {
        "file": str(args.file), "columns": names, "rows": int(N), "train_rows": int(n_train),
        "train_last_row": int(rows[n_train - 1]), "window": T, "window_rule": window_rule,
        "score_stride": args.score_stride, "cell": args.cell, "num_layers": args.num_layers,
        "dropout": args.dropout, "epochs": args.epochs, "min_steps": args.min_steps,
        "max_steps": args.max_steps, "patience": det.patience_epochs(det.n_train_windows_)[0],
        "val_fraction": args.val_fraction, "stride": args.stride,
        "hidden_size": det.hidden_size_, "latent_size": det.latent_size_,
        "batch_size": args.batch_size, "lr": det.learning_rate(), "clip": args.clip,
        "lr_schedule": f"ReduceLROnPlateau(factor 0.5, patience "
        f"{det.patience_epochs(det.n_train_windows_)[1]} epochs) on the validation loss",
        "scaler": args.scaler, "dtype": args.dtype, "backend": args.backend, "seed": args.seed,
        "fill": args.fill, "labels": args.labels, "merge_gap": None, "saved_model": args.save_model,
    }
    return report(args, out, src, data, det, pca, n_train, settings, saved, command="detect")


def save_pair(det, pca, path, protect=()) -> list:
    """Save the autoencoder detector to ``path`` and its PCA baseline beside it
    (:func:`baseline_path`); the two paths written."""
    path = Path(path)
    det.save(check_output_path(path, protect=protect))
    pca_path = baseline_path(path)
    pca.save(check_output_path(pca_path, protect=protect))
    return [path, pca_path]


def baseline_path(path) -> Path:
    """Where ``--save-model PATH`` keeps the PCA baseline: ``PATH`` with ``.pca.npz`` for its
    ``.npz`` suffix (``det.npz`` → ``det.pca.npz``)."""
    path = Path(path)
    stem = path.name[:-4] if path.name.endswith(".npz") else path.name
    return path.with_name(stem + ".pca.npz")


def report(args, out, src, data, det, pca, n_train, settings, saved=(), *, command) -> int:
    """Score every row with the fitted ``det`` and ``pca``; write scores.csv, summary.json and
    (unless --no-figures) the figures and report.html; print the summary.  Shared by
    ``npae detect`` (``n_train`` = the training rows) and ``npae score`` (``n_train`` = 0: every
    row is new)."""
    protect = (src,)
    values, names, labels, rows = data.values, data.names, data.labels, data.rows
    N, D = values.shape
    T = det.window_size_
    start = time.perf_counter()
    d = det.detect(values, keep_windows=not args.no_figures)
    seconds = time.perf_counter() - start
    dp = pca.detect(values) if pca is not None else None
    stamps = Timestamps(src, rows)
    gap = default_merge_gap(T) if args.merge_gap is None else args.merge_gap
    settings["merge_gap"] = gap

    flags = d.point_flags
    test = np.zeros(N, dtype=bool)
    test[n_train:] = True
    # the events of both models, overall and after training: the timestamps in one pass
    masks = [(flags, d.point_scores), (flags & test, d.point_scores)]
    if pca is not None:
        masks += [(dp.point_flags, dp.point_scores), (dp.point_flags & test, dp.point_scores)]
    found = _events(masks, rows, stamps, gap)
    events_all, events_test = found[0], found[1]
    metrics = model_metrics(det.backend, det.history_)
    pca_metrics = None
    if pca is not None:
        pca_metrics = {"backend": "numpy", "train_seconds": float(pca.fit_seconds_),
                       "n_components": int(pca.n_components_)}
    point = win = pca_point = None
    if labels is not None:
        lab_t = labels[n_train:]
        point = evaluate(lab_t, d.point_scores[n_train:], flags[n_train:])
        if N - n_train >= T and det.score_stride == 1:
            win = tutorial_metric(d.window_flags[n_train:], lab_t, T, N - n_train)
        metrics = model_metrics(det.backend, det.history_, win, point, window_key="window_metric")
        metrics["point_metric"]["point_adjusted_f1"] = point["point_adjusted_f1"]
        if pca is not None:
            pca_point = evaluate(lab_t, dp.point_scores[n_train:], dp.point_flags[n_train:])
            pca_metrics["point_metric"] = {k: pca_point.get(k) for k in (
                "precision", "recall", "f1", "roc_auc", "pr_auc", "events_found", "events_total",
                "false_alarm_events")}
    metrics["training"] = training_record(det)
    warnings = []
    if det.undertrained_:
        warnings.append(undertrained_message(det, UNDERTRAINED_ADVICE))

    _write_scores(out / "scores.csv", d, dp, rows, names, stamps, protect)  # never over the input
    settings.update({
        "point_threshold_rule": threshold_spec(det.point_threshold_obj_),
        "window_threshold_rule": f"percentile:{det.q:g} of the calibration windows",
        "calibration": det.calibration_, "aggregate": det.aggregate, "repair": det.repair,
    })
    name = det.cell
    summary = {
        "settings": settings,
        "models": {name: metrics, **({"pca": pca_metrics} if pca is not None else {})},
        "point_threshold": float(det.point_threshold_),
        "window_threshold": float(det.threshold_),
        "thresholds": THRESHOLDS_EXPLAINED,
        "seconds": seconds, "flagged_rows": int(flags.sum()),
        "flagged_rows_after_training": int((flags & test).sum()),
        "flagged_windows": int(d.window_flags.sum()),
        "events": events_all,
        "warnings": warnings,
    }
    if pca is not None:
        summary["pca"] = {
            "point_threshold": float(pca.point_threshold_), "window_threshold": float(pca.threshold_),
            "flagged_rows": int(dp.point_flags.sum()),
            "flagged_rows_after_training": int((dp.point_flags & test).sum()),
            "events": found[2]}
    write_file(out / "summary.json", dump_json(summary), protect=protect)

    h = det.history_
    if command == "detect":
        print(f"trained in {metrics['train_seconds']:.1f} s: {h.steps} steps, {h.epochs} epochs, "
              f"stopped by {h.stop_reason}, best validation loss {fmt(h.best_val_loss, '.5f')} "
              f"({det.loss_ratio_:.2f} of the variance)")
    for w in warnings:
        print(f"npae {command}: warning: {w}", file=sys.stderr)
    print(f"point flags (scores.csv's flag column): a row is flagged when its score is above "
          f"the point threshold {det.point_threshold_:.4g} ({settings['point_threshold_rule']} "
          f"of the calibration rows' scores, {det.calibration_})")
    print(f"  (window threshold {det.threshold_:.4g}, {settings['window_threshold_rule']}: "
          f"{int(d.window_flags.sum())} of {len(d.window_flags)} windows above it; window flags "
          f"mark whole windows, the tutorial's metric, and are not the row flags)")
    where = "after the training part" if n_train else "in the file"
    print(f"flagged {int(flags.sum())} of {N} rows, {len(events_test)} event(s) {where} "
          f"(flagged runs at most {gap} rows apart are one event)" + (":" if events_test else ""))
    for e in events_test[:20]:
        span = f"rows {e['first_row']}–{e['last_row']}"
        if e.get("start") is not None:
            span += f"  {e['start']} – {e['end']}"
        peak = f"at {e['peak_time']}" if e.get("peak_time") is not None else f"at row {e['peak_row']}"
        print(f"  {span}  (peak score {e['peak_score']:.4g} {peak})")
    if len(events_test) > 20:
        print(f"  … and {len(events_test) - 20} more (see summary.json and scores.csv)")
    if pca is not None:
        if point is not None:
            print(f"against --labels {args.labels} (rows {where}), beside the PCA baseline "
                  f"({pca.n_components_} components):")
        print(comparison_table(name.upper(), point, pca_point,
                               int((flags & test).sum()), int((dp.point_flags & test).sum()),
                               len(events_test),
                               len(found[3]),
                               where=where))

    written = [out / "scores.csv", out / "summary.json"]
    if not args.no_figures:
        models = {name: model_entry(det, d, metrics)}
        if pca is not None:
            models["pca"] = pca_entry(pca, dp, pca_metrics)
        run_record = ReportRun(
            title=f"npae {command}: {src.name}", command=command, settings=settings,
            series=values if D > 1 else values[:, 0], feature_names=names,
            labels=labels, window_size=T, stride=det.score_stride,
            train_rows=n_train or None, models=models, warnings=warnings,
        )
        written += write_figures(out, run_record, args, protect=protect)
    written += list(saved)
    print(written_message(written, out))
    return 0


THRESHOLDS_EXPLAINED = {
    "point_threshold": "the rows' flags (scores.csv 'flag', 'events'): a row is flagged when its "
                       "point score is above it (rows near either end are compared with a "
                       "threshold fitted with as few windows: scores.csv 'threshold')",
    "window_threshold": "the windows' flags (the tutorial's metric, 'window_metric'): a window is "
                        "flagged when its mean reconstruction error is above it",
}


class Timestamps:
    """The input's timestamp column, read again only where it is needed (never all in memory):
    ``at(rows)`` for a few rows, ``stream()`` for scores.csv; empty without such a column."""

    def __init__(self, path, rows):
        self.path, self.rows = path, rows
        self.column = timestamp_column(path)

    def __bool__(self):
        return self.column is not None

    def stream(self):
        """One timestamp per entry of ``rows`` (the rows read_series kept), in order."""
        keep = iter(self.rows.tolist())
        want = next(keep, None)
        for i, cell in enumerate(iter_column(self.path, self.column)):
            if i == want:
                yield cell
                want = next(keep, None)
                if want is None:
                    return

    def at(self, rows) -> dict:
        """``{row: timestamp}`` for the given original row numbers."""
        wanted = set(int(r) for r in rows)
        if not self or not wanted:
            return {}
        found = {}
        for i, cell in enumerate(iter_column(self.path, self.column)):
            if i in wanted:
                found[i] = cell
                if len(found) == len(wanted):
                    break
        return found


def _events(masks, rows, stamps, gap) -> list:
    """For each ``(mask, scores)``: the flagged runs at most ``gap`` rows apart merged into
    events — first/last row, start/end timestamps (when the input has them), peak score and
    where it is.  The timestamps of all of them come from one pass over the file."""
    spans = [[(s, e, s + int(np.argmax(scores[s:e]))) for s, e in events(mask, gap=gap)]
             for mask, scores in masks]
    wanted = {int(rows[i]) for runs in spans for run in runs for i in (run[0], run[1] - 1, run[2])}
    times = stamps.at(wanted) if stamps else {}
    out = []
    for runs, (_, scores) in zip(spans, masks):
        evs = []
        for s, e, p in runs:
            ev = {"first_row": int(rows[s]), "last_row": int(rows[e - 1]),
                  "peak_row": int(rows[p]), "peak_score": float(scores[p])}
            if stamps:
                ev.update(start=times.get(int(rows[s])), end=times.get(int(rows[e - 1])),
                          peak_time=times.get(int(rows[p])))
            evs.append(ev)
        out.append(evs)
    return out
