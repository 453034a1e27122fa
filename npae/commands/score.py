"""``npae score --model PATH FILE.csv``: score a CSV with a detector ``npae detect`` saved.

``npae detect FILE.csv --save-model det.npz`` trains and saves the detector (and its PCA
baseline as ``det.pca.npz``); ``npae score --model det.npz NEW.csv`` reads the same value
columns of another file — a later stretch of the series, another machine's log — and writes
the same outputs as ``npae detect``: ``scores.csv``, ``summary.json``, figures and
``report.html``.  Nothing is trained: scoring the training file again gives ``detect``'s scores
exactly.  Every row of the file is scored and, with ``--labels``, evaluated.
"""

from __future__ import annotations

from pathlib import Path

from ..baselines import PCADetector
from ..detector import AnomalyDetector
from ..errors import DataError
from ..io import read_series
from ._common import add_event_options, add_output_options, check_merge_gap, output_dir
from .detect import FILLS, _check_outputs, baseline_path, report

HELP = "score a CSV with a detector saved by 'npae detect --save-model'"
DESCRIPTION = ("Score every row of a CSV with a detector saved by 'npae detect --save-model' "
               "(no training): the same value columns, the same outputs as 'npae detect'.")


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE.csv", help="CSV file with a header row")
    parser.add_argument("--model", required=True, metavar="PATH.npz",
                        help="a detector saved by 'npae detect --save-model PATH.npz' (its PCA "
                        "baseline PATH.pca.npz is used when it is there)")
    parser.add_argument("--column", action="append", metavar="NAME",
                        help="value column(s) (default: the columns the detector was trained on)")
    parser.add_argument("--labels", metavar="COL",
                        help="a 0/1 column of known anomalies, to evaluate the flags")
    parser.add_argument("--fill", choices=FILLS,
                        help="how to handle empty or NaN cells (default: refuse)")
    add_event_options(parser)
    parser.add_argument("--out", default="npae-score", metavar="DIR",
                        help="output folder (default: npae-score)")
    add_output_options(parser, no_figures_help="no figures or report.html", quiet_help="no progress")


def run(args) -> int:
    check_merge_gap(args)
    src = Path(args.file)
    _check_outputs(src, Path(args.out), not args.no_figures)
    det = AnomalyDetector.load(args.model)
    pca_path = baseline_path(args.model)
    pca = PCADetector.load(pca_path) if pca_path.exists() else None
    columns = args.column or getattr(det, "feature_names_in_", None)
    data = read_series(args.file, columns, args.labels, args.fill)
    if data.values.shape[1] != det.n_features_in_:
        raise DataError(f"{args.file} has {data.values.shape[1]} value column(s) "
                        f"({', '.join(data.names)}), but the detector in {args.model} was trained "
                        f"on {det.n_features_in_}; name them with --column")
    if len(data.values) < det.window_size_:
        raise DataError(f"{args.file} has {len(data.values)} usable rows, fewer than the "
                        f"detector's window ({det.window_size_})")
    for model_file in (Path(args.model), pca_path):   # inputs too: never written over
        _check_outputs(model_file, Path(args.out), not args.no_figures)
    out = output_dir(args.out, protect=(src,))
    print(f"npae score: {args.file}: {len(data.values)} rows, {len(data.names)} value column(s) "
          f"({', '.join(data.names)}), with the {det.cell} detector of {args.model} (window "
          f"{det.window_size_})" + ("" if pca is not None else "; no PCA baseline beside it"))
    settings = {"file": str(args.file), "model": str(args.model), "columns": data.names,
                "rows": int(len(data.values)), "window": int(det.window_size_), "cell": det.cell,
                "fill": args.fill, "labels": args.labels}
    return report(args, out, src, data, det, pca, 0, settings, command="score")
