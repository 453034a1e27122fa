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
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..baselines import PCADetector
from ..data import auto_window_size
from ..detector import AnomalyDetector, parse_threshold, threshold_spec
from ..errors import DataError, import_reference
from ..metrics import evaluate, events, tutorial_metric
from ._common import (add_output_options, comparison_table, dump_json, fmt, model_entry,
                      model_metrics, output_dir, pca_entry, show_progress, training_record,
                      undertrained_message, write_figures, write_file)

HELP = "train on the start of a CSV series and flag anomalous rows"
DESCRIPTION = ("Train an RNN/LSTM autoencoder on the first rows of a CSV series (with a header; "
               "numeric columns are the values, a timestamp column is optional) and write "
               "scores.csv and summary.json with a score and a flag per row.")

MISSING = {"", "nan", "na", "n/a", "null", "none", "-"}
FILLS = ("ffill", "interpolate", "drop")
# columns never taken as values unless named with --column (numeric epoch times are common)
TIME_NAMES = {"timestamp", "time", "date", "datetime", "index", "row", "t"}


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
    parser.add_argument("--cell", choices=("lstm", "rnn"), default="lstm",
                        help="recurrent cell (default: lstm)")
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
    parser.add_argument("--epochs", type=int, default=100,
                        help="epoch budget, raised to --min-steps optimiser steps (default: 100)")
    parser.add_argument("--min-steps", type=int, default=1000, metavar="N",
                        help="train for at least N optimiser steps (default: 1000)")
    parser.add_argument("--max-steps", type=int, default=2000, metavar="N",
                        help="and at most N (default: 2000)")
    parser.add_argument("--patience", type=int, default=20, metavar="E",
                        help="stop after E epochs without a better validation loss and keep the "
                        "best weights (default: 20; 0 = no early stopping)")
    parser.add_argument("--val-fraction", type=float, default=0.2, metavar="F",
                        help="hold out the latest fraction F of the training windows for early "
                        "stopping and threshold calibration (default: 0.2)")
    parser.add_argument("--stride", type=int, default=1,
                        help="step between training windows (default: 1)")
    parser.add_argument("--score-stride", type=int, default=1, metavar="S",
                        help="score every S-th window only: S times faster on long series, each "
                        "row still covered by about W/S windows (default: 1)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size (default: 32)")
    parser.add_argument("--latent", type=int, default=16, help="latent size (default: 16)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--lr", type=float, default=1e-2,
                        help="Adam's starting learning rate, halved on a plateau (default: 1e-2)")
    parser.add_argument("--clip", type=float, default=1.0,
                        help="clip the gradient norm to this value (default: 1)")
    parser.add_argument("--backend", choices=("numpy", "torch"), default="numpy",
                        help="npae (numpy) or the PyTorch reference (default: numpy)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and batch order "
                        "(default: 0)")
    parser.add_argument("--out", default="npae-detect", metavar="DIR",
                        help="output folder (default: npae-detect)")
    add_output_options(parser, no_figures_help="no figures or report.html", quiet_help="no progress bar")


# ---------------------------------------------------------------------------------------------
# Reading the CSV
# ---------------------------------------------------------------------------------------------

def _float(cell):
    """A cell as a float; NaN for a missing cell; None for text."""
    text = cell.strip()
    if text.lower() in MISSING:
        return math.nan
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else math.nan


def read_table(path):
    """``(header, rows)`` of a CSV file, with clear errors for what cannot be a table."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"no such file: {path}")
    if p.is_dir():
        raise DataError(f"{path} is a folder; pass a CSV file")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            sample = f.read(65536)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = [r for r in csv.reader(f, dialect)]
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file; pass a CSV file") from None
    except csv.Error as e:
        raise DataError(f"{path} is not a readable CSV file ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path} is empty; it needs a header row and data rows")
    header = [h.strip() for h in rows[0]]
    if all(_float(h) is not None and h.strip() for h in header):
        raise DataError(f"{path} has no header row (its first line is numbers); add one, "
                        f"e.g. 'timestamp,value'")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: the header repeats the column name(s) {dup}; names must be unique")
    data = rows[1:]
    if not data:
        raise DataError(f"{path} has a header but no data rows")
    for i, r in enumerate(data):
        if len(r) != len(header):
            raise DataError(f"{path}: row {i} (line {i + 2}) has {len(r)} fields, the header has "
                            f"{len(header)}")
    return header, data


def _column(data, j):
    return [_float(r[j]) for r in data]


def select_columns(path, header, data, names, labels):
    """The value column indices: the named ones, or every numeric column except the labels."""
    if labels is not None and labels not in header:
        raise DataError(f"{path}: no column {labels!r} for --labels (columns: {', '.join(header)})")
    if names:
        wanted = [n.strip() for spec in names for n in spec.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in header]
        if unknown:
            raise DataError(f"{path}: no column {unknown[0]!r} (columns: {', '.join(header)})")
        if labels in wanted:
            raise DataError(f"column {labels!r} cannot be both a value (--column) and --labels")
        cols = [header.index(n) for n in wanted]
        for j in cols:
            _check_numeric(path, header, data, j, strict=True)
        return cols
    cols = []
    for j, name in enumerate(header):
        if name == labels or name.lower() in TIME_NAMES:
            continue
        if _check_numeric(path, header, data, j, strict=False):
            cols.append(j)
    if not cols:
        raise DataError(f"{path} has no numeric column (columns: {', '.join(header)}); it needs at "
                        f"least one column of numbers, or name one with --column")
    return cols


def _check_numeric(path, header, data, j, strict):
    """Whether column j holds numbers.  A mostly numeric column with a text cell is an error
    (so a typo is not silently dropped); with ``strict`` any text cell is."""
    values = _column(data, j)
    text = [i for i, v in enumerate(values) if v is None]
    numbers = sum(1 for v in values if v is not None and not math.isnan(v))
    if not text and numbers:
        return True
    if strict or (text and numbers > len(text)):
        if not text:
            raise DataError(f"{path}: column {header[j]!r} has no numbers (all cells empty)")
        i = text[0]
        raise DataError(f"{path}: column {header[j]!r} has a non-numeric value "
                        f"{data[i][j].strip()!r} at row {i} (line {i + 2}); fix it or empty it "
                        f"(then use --fill)")
    return False


def _fill(values, how):
    """Fill NaNs of one column (N,) by forward fill or linear interpolation (ends: nearest)."""
    ok = ~np.isnan(values)
    idx = np.arange(len(values))
    if how == "interpolate":
        return np.interp(idx, idx[ok], values[ok])
    last = np.maximum.accumulate(np.where(ok, idx, -1))
    first = np.flatnonzero(ok)[0]
    last[last < 0] = first  # leading gap: the first value (back-fill)
    return values[last]


def load_series(path, names=None, labels=None, fill=None):
    """``(values (N, D), value_names, label_mask or None, rows (N,) original row numbers)``."""
    header, data = read_table(path)
    cols = select_columns(path, header, data, names, labels)
    values = np.array([[_float(r[j]) for j in cols] for r in data], dtype=np.float64)
    value_names = [header[j] for j in cols]
    lab = None
    if labels is not None:
        j = header.index(labels)
        raw = [r[j].strip().lower() for r in data]
        mapping = {"0": False, "1": True, "0.0": False, "1.0": True, "false": False, "true": True}
        bad = [i for i, v in enumerate(raw) if v not in mapping]
        if bad:
            i = bad[0]
            raise DataError(f"{path}: --labels column {labels!r} must hold 0 or 1; row {i} "
                            f"(line {i + 2}) has {data[i][j].strip()!r}")
        lab = np.array([mapping[v] for v in raw], dtype=bool)
    rows = np.arange(len(data))
    missing = np.isnan(values)
    if missing.any():
        if fill is None:
            i, k = (int(v) for v in np.argwhere(missing)[0])
            raise DataError(
                f"{path}: {int(missing.sum())} empty or NaN cell(s) in the value column(s), the "
                f"first at row {i} (line {i + 2}), column {value_names[k]!r}; fill them with "
                f"--fill ffill, --fill interpolate or --fill drop")
        empty = [value_names[k] for k in range(len(cols)) if missing[:, k].all()]
        if empty:
            raise DataError(f"{path}: column {empty[0]!r} has no value at all; drop it or name "
                            f"the value columns with --column")
        if fill == "drop":
            keep = ~missing.any(axis=1)
            values, rows = values[keep], rows[keep]
            lab = None if lab is None else lab[keep]
        else:
            values = np.column_stack([_fill(values[:, k], fill) for k in range(values.shape[1])])
    return values, value_names, lab, rows


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
    if args.patience < 0:
        raise DataError(f"--patience must be >= 0, got {args.patience}")
    if not 0 <= args.val_fraction < 1:
        raise DataError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.min_steps > args.max_steps:
        raise DataError(f"--min-steps ({args.min_steps}) must not exceed --max-steps "
                        f"({args.max_steps})")
    for name in ("epochs", "stride", "score_stride", "hidden", "latent", "batch_size",
                 "min_steps", "max_steps"):
        if getattr(args, name) < 1:
            raise DataError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.clip is not None and not args.clip > 0:
        raise DataError(f"--clip must be positive, got {args.clip}")
    if not args.lr > 0:
        raise DataError(f"--lr must be positive, got {args.lr}")
    parse_threshold(args.threshold)
    if args.backend == "torch":  # before reading and training, not after
        import_reference("--backend torch")


UNDERTRAINED_ADVICE = ("train longer (--min-steps / --max-steps), try --lr 3e-3 or a larger "
                       "--hidden, or check that the training rows are one regime")


def run(args) -> int:
    _check_args(args)
    src = Path(args.file)
    values, names, labels, rows = load_series(args.file, args.column, args.labels, args.fill)
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
    protect = (src,)
    for name in ("scores.csv", "summary.json", "report.html"):
        if (Path(args.out) / name).resolve() == src.resolve():
            raise DataError(f"--out {args.out} would overwrite the input file {args.file} with "
                            f"{name}; choose another --out")
    out = output_dir(args.out, protect=protect)

    det = AnomalyDetector(cell=args.cell, window_size=T, hidden_size=args.hidden,
                          latent_size=args.latent, epochs=args.epochs, batch_size=args.batch_size,
                          lr=args.lr, point_threshold=args.threshold, stride=args.stride,
                          score_stride=args.score_stride, aggregate=args.aggregate,
                          clip=args.clip, min_steps=args.min_steps, max_steps=args.max_steps,
                          patience=args.patience or None, val_fraction=args.val_fraction,
                          backend=args.backend, seed=args.seed, progress=show_progress(args))
    pca = PCADetector(window_size=T, point_threshold=args.threshold, stride=args.stride,
                      score_stride=args.score_stride, aggregate=args.aggregate,
                      val_fraction=args.val_fraction)
    print(f"npae detect: {args.file}: {N} rows, {D} value column(s) ({', '.join(names)}); training "
          f"on rows {int(rows[0])}–{int(rows[n_train - 1])} ({n_train} rows), window {T} "
          f"({window_rule}), {args.cell}, {args.min_steps}–{args.max_steps} steps")
    start = time.perf_counter()
    det.fit(values[:n_train])
    d = det.detect(values, keep_windows=not args.no_figures)
    seconds = time.perf_counter() - start
    pca.fit(values[:n_train])
    dp = pca.detect(values)

    flags = d.point_flags
    test = np.zeros(N, dtype=bool)
    test[n_train:] = True
    segments = _segments(flags, rows)
    test_segments = _segments(flags & test, rows)
    metrics = model_metrics(det.backend, det.history_)
    pca_metrics = {"backend": "numpy", "train_seconds": float(pca.fit_seconds_),
                   "n_components": int(pca.n_components_)}
    point = tut = pca_point = None
    if labels is not None:
        lab_t = labels[n_train:]
        point = evaluate(lab_t, d.point_scores[n_train:], flags[n_train:])
        if N - n_train >= T and args.score_stride == 1:
            tut = tutorial_metric(d.window_flags[n_train:], lab_t, T, N - n_train)
        metrics = model_metrics(det.backend, det.history_, tut, point)
        metrics["point_metric"]["point_adjusted_f1"] = point["point_adjusted_f1"]
        pca_point = evaluate(lab_t, dp.point_scores[n_train:], dp.point_flags[n_train:])
        pca_metrics["point_metric"] = {k: pca_point.get(k) for k in (
            "precision", "recall", "f1", "roc_auc", "pr_auc", "events_found", "events_total",
            "false_alarm_events")}
    training = training_record(det)
    metrics["training"] = training
    warnings = []
    if det.undertrained_:
        warnings.append(undertrained_message(det, UNDERTRAINED_ADVICE))

    # scores.csv: never over the input file
    lines = ["row,score,flag,threshold,pca_score,pca_flag," + ",".join(f"error_{_csv_name(n)}"
                                                                    for n in names)]
    for i in range(N):
        errs = ",".join(f"{v:.6g}" for v in d.feature_errors[i])
        lines.append(f"{int(rows[i])},{d.point_scores[i]:.6g},{int(flags[i])},"
                     f"{d.point_thresholds[i]:.6g},{dp.point_scores[i]:.6g},"
                     f"{int(dp.point_flags[i])},{errs}")
    write_file(out / "scores.csv", "\n".join(lines) + "\n", protect=protect)

    settings = {
        "file": str(args.file), "columns": names, "rows": int(N), "train_rows": int(n_train),
        "train_last_row": int(rows[n_train - 1]), "window": T, "window_rule": window_rule,
        "score_stride": args.score_stride, "cell": args.cell,
        "epochs": args.epochs, "min_steps": args.min_steps, "max_steps": args.max_steps,
        "patience": args.patience, "val_fraction": args.val_fraction, "stride": args.stride,
        "hidden_size": args.hidden, "latent_size": args.latent, "batch_size": args.batch_size,
        "lr": args.lr, "clip": args.clip, "lr_schedule": "ReduceLROnPlateau(factor 0.5, "
        "patience 5) on the validation loss",
        "backend": args.backend, "seed": args.seed, "fill": args.fill, "labels": args.labels,
        "point_threshold_rule": threshold_spec(det.point_threshold_obj_),
        "window_threshold_rule": f"percentile:{det.q:g} of the calibration windows",
        "calibration": det.calibration_,
        "aggregate": det.aggregate, "repair": det.repair,
    }
    summary = {
        "settings": settings,
        "models": {args.cell: metrics, "pca": pca_metrics},
        "threshold": float(det.threshold_), "point_threshold": float(det.point_threshold_),
        "seconds": seconds, "flagged_rows": int(flags.sum()),
        "flagged_rows_after_training": int((flags & test).sum()),
        "flagged_segments": segments,
        "pca": {"threshold": float(pca.threshold_), "point_threshold": float(pca.point_threshold_),
                "flagged_rows": int(dp.point_flags.sum()),
                "flagged_rows_after_training": int((dp.point_flags & test).sum()),
                "flagged_segments": _segments(dp.point_flags, rows)},
        "warnings": warnings,
    }
    write_file(out / "summary.json", dump_json(summary), protect=protect)

    h = det.history_
    print(f"trained in {metrics['train_seconds']:.1f} s: {h.steps} steps, {h.epochs} epochs, "
          f"stopped by {h.stop_reason}, best validation loss {fmt(h.best_val_loss, '.5f')} "
          f"({det.loss_ratio_:.2f} of the variance); point threshold {det.point_threshold_:.4g} "
          f"({settings['point_threshold_rule']}, calibrated on {det.calibration_})")
    for w in warnings:
        print(f"npae detect: warning: {w}", file=sys.stderr)
    print(f"flagged {int(flags.sum())} of {N} rows, {len(test_segments)} segment(s) after the "
          f"training part" + (":" if test_segments else ""))
    for a, b in test_segments[:20]:
        top = int(np.argmax(np.where((rows >= a) & (rows <= b), d.point_scores, -np.inf)))
        print(f"  rows {a}–{b}  (peak score {d.point_scores[top]:.4g} at row {int(rows[top])})")
    if len(test_segments) > 20:
        print(f"  … and {len(test_segments) - 20} more (see scores.csv)")
    if point is not None:
        print(f"against --labels {args.labels} (rows after the training part), beside the PCA "
              f"baseline ({pca.n_components_} components):")
    print(comparison_table(args.cell.upper(), point, pca_point,
                           int((flags & test).sum()), int((dp.point_flags & test).sum()),
                           len(test_segments), len(_segments(dp.point_flags & test, rows))))

    if not args.no_figures:
        run_dict = {
            "title": f"npae detect: {src.name}", "command": "detect", "settings": settings,
            "series": values if D > 1 else values[:, 0], "feature_names": names,
            "labels": labels, "window_size": T, "stride": args.score_stride,
            "models": {args.cell: model_entry(det, d, metrics),
                       "pca": pca_entry(pca, dp, pca_metrics)},
            "warnings": warnings,
        }
        write_figures(out, run_dict, args)
    print(f"wrote {out / 'scores.csv'} and {out / 'summary.json'}")
    return 0


def _csv_name(name):
    return name.replace(",", "_").replace('"', "_").replace("\n", "_")
