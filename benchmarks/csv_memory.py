"""Peak memory of reading a big CSV series, and of a whole ``npae detect`` run on it.

    python -m benchmarks.csv_memory                    # 5 million rows: the reader (tracemalloc)
    python -m benchmarks.csv_memory --detect           # ... and npae detect under /usr/bin/time -v
    python -m benchmarks.csv_memory --rows 200000      # quicker

The file is ``timestamp,value`` (an ISO timestamp and a float with 10 significant digits, about
36 bytes a row), written to a temporary folder and removed afterwards.  "Numeric data" is what
the series holds once read: N rows x D value columns x 8 bytes.  The reader's number is the peak
that tracemalloc sees while :func:`npae.io.read_series` runs (NumPy and the ``array`` buffers
report to it), minus what was allocated before; the time is of a separate, untraced read.  The detect run trains on the first rows only
(``--train-rows 2000 --epochs 1``) and scores every 50th window, so that it measures reading,
scaling, scoring and writing ``scores.csv`` rather than training; its peak is the maximum
resident set size that ``/usr/bin/time -v`` reports (the whole process: Python, NumPy, the
series and everything derived from it).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def write_csv(path: Path, rows: int, seed: int = 0, chunk: int = 500_000) -> None:
    """A ``timestamp,value`` CSV of ``rows`` rows: a seasonal series with noise."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01T00:00:00")
    with open(path, "w") as f:
        f.write("timestamp,value\n")
        for s in range(0, rows, chunk):
            i = np.arange(s, min(rows, s + chunk))
            v = 10 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 0.5, len(i))
            stamps = (start + i.astype("timedelta64[m]") * 5).astype(str)
            f.write("".join(f"{t},{x:.10g}\n" for t, x in zip(stamps.tolist(), v.tolist())))


def measure_reader(path: Path) -> dict:
    from npae.io import read_series

    t0 = time.perf_counter()
    read_series(path)
    seconds = time.perf_counter() - t0      # untraced: tracemalloc slows Python code ~10x
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    s = read_series(path)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    numeric = s.values.size * 8
    return {"rows": len(s.values), "columns": s.values.shape[1], "numeric_bytes": numeric,
            "peak_bytes": peak, "ratio": peak / numeric, "seconds": seconds}


def measure_detect(path: Path, out: Path) -> dict:
    """``npae detect`` under ``/usr/bin/time -v``: its maximum resident set size and wall time."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "npae", "detect", str(path), "--out",
           str(out), "--train-rows", "2000", "--epochs", "1", "--score-stride", "50",
           "--no-figures", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"npae detect failed ({r.returncode}):\n{r.stderr}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", r.stderr).group(1)
    return {"max_rss_bytes": rss * 1024, "wall": wall, "command": " ".join(cmd[2:]),
            "scores_rows": sum(1 for _ in open(out / "scores.csv")) - 1}


def _threads() -> str:
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
           if k in os.environ}
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info())
    except ImportError:  # pragma: no cover
        blas = "threadpoolctl not installed"
    return f"{os.cpu_count()} CPU(s); BLAS: {blas or 'none loaded'}; env: {env or 'no thread variables'}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.csv_memory", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000, help="rows of the CSV (default 5,000,000)")
    ap.add_argument("--detect", action="store_true", help="also run npae detect under /usr/bin/time -v")
    args = ap.parse_args(argv)
    print(_threads())
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.csv"
        t0 = time.perf_counter()
        write_csv(path, args.rows)
        size = path.stat().st_size
        print(f"wrote {args.rows:,} rows, {size / 1e6:.1f} MB, in {time.perf_counter() - t0:.1f} s")
        r = measure_reader(path)
        print(f"read_series: {r['rows']:,} rows x {r['columns']} column(s) in {r['seconds']:.1f} s "
              f"(without tracemalloc); "
              f"numeric data {r['numeric_bytes'] / 2**20:.1f} MiB; peak added (tracemalloc) "
              f"{r['peak_bytes'] / 2**20:.1f} MiB = {r['ratio']:.2f}x the numeric data, "
              f"{r['peak_bytes'] / size:.2f}x the file")
        if args.detect:
            m = measure_detect(path, Path(d) / "out")
            print(f"npae detect: maximum resident set size {m['max_rss_bytes'] / 2**20:.0f} MiB "
                  f"({m['max_rss_bytes'] / r['numeric_bytes']:.1f}x the numeric data), wall "
                  f"{m['wall']}, {m['scores_rows']:,} rows in scores.csv\n  command: {m['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
