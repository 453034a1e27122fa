"""Files in and out: a streaming, typed CSV reader and the one way npae writes a file.

Reading (:func:`read_series`).  A CSV with a header row becomes a float64 series (N, D).  The file
is read one row at a time and each value column goes straight into a typed buffer (8 bytes a
value), so the peak memory is a small multiple of the numeric data, not of the text: a
timestamp or other text column costs nothing, and no row is kept as a list of strings.  Which
columns are values is decided as the rows stream past:

    (CSV 1) a column named with ``columns`` is a value column; any text cell in it is an error
    (CSV 2) otherwise every column except ``labels`` and one named like a time (``TIME_NAMES``) is a
         candidate: all numbers (or empty) → a value column; a text cell → not one, unless the
         column is mostly numbers, which is an error (a typo is never dropped silently)
    (CSV 3) empty cells and the ``MISSING`` markers are NaN, handled by ``fill`` (or refused)

Writing (:func:`atomic_file`, :func:`atomic_write`).  Every file npae writes (``scores.csv``,
``summary.json``, figures, ``report.html``, a saved detector) goes to a temporary file created
exclusively (``O_EXCL``, a random name nobody else holds) in the destination folder, and is
renamed over the destination only once complete.  So an interrupted or failed write leaves the
old file (or none) and no stray temporary file; two writers never share a temporary file; and a
symlink planted at a predictable name cannot redirect the write.  ``protect`` lists the inputs:
a destination equal to one of them, or resolving to one (a symlink, a hard link), is refused
before anything is written.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import tempfile
from array import array
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import DataError, OutputError

__all__ = ["read_series", "CSVSeries", "timestamp_column", "iter_column", "atomic_file", "atomic_write", "check_output_path",
           "make_output_dir", "MISSING", "FILLS", "TIME_NAMES", "MAX_LINE_CHARS", "MAX_COLUMNS"]

MISSING = {"", "nan", "na", "n/a", "null", "none", "-"}
FILLS = ("ffill", "interpolate", "drop")
# columns never taken as values unless named (numeric epoch times are common)
TIME_NAMES = {"timestamp", "time", "date", "datetime", "index", "row", "t"}
MAX_LINE_CHARS = 1 << 22  # 4 Mi characters: a longer line is refused before csv splits it
MAX_COLUMNS = 100_000     # a wider header is refused (each column keeps a little state)
_LABELS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they point
        return a.resolve() == b.resolve()


def check_output_path(path, protect=()) -> Path:
    """``path`` as a Path that can be written: not a folder, its folder exists, not an input.

    Raises :class:`~npae.errors.OutputError` (before anything is written) naming the problem.
    """
    path = Path(path)
    for p in protect:
        if _same_file(path, Path(p)):
            raise OutputError(f"refusing to write {path}: it is the input file {p}; choose "
                              f"another output folder")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: a folder of that name exists; remove it or "
                          f"choose another output path")
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"cannot write {path}: the folder {parent} does not exist; create it "
                          f"first")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is a file, not a folder")
    return path


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_file(path, mode="wb", *, protect=(), encoding="utf-8", newline=None):
    """Open a new exclusive temporary file beside ``path``; rename it to ``path`` on success.

    ``mode``: ``"wb"`` (binary) or ``"w"`` (text, ``encoding``/``newline``).  On any error inside
    the ``with`` block, or while writing, the temporary file is removed and ``path`` is left as
    it was.  OS errors (read-only or full disk, no permission) become :class:`OutputError`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = check_output_path(path, protect)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    kw = {} if mode == "wb" else {"encoding": encoding, "newline": newline}
    try:
        try:
            with os.fdopen(fd, mode, **kw) as f:
                yield f
            os.chmod(tmp, 0o666 & ~_UMASK)  # what a plain open() would have given
            os.replace(tmp, path)
        except OSError as e:
            if isinstance(e, OutputError):
                raise
            raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path, data, *, protect=()) -> Path:
    """Write ``data`` (bytes, or str written as UTF-8) to ``path`` through :func:`atomic_file`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_file(path, "wb", protect=protect) as f:
        f.write(data)
    return Path(path)


def make_output_dir(path, *, protect=(), what="--out") -> Path:
    """``path`` as a folder, created if missing; an :class:`OutputError` when it cannot be (a
    file in the way, a read-only file system, no permission) or is one of the ``protect`` files."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{what} {path} is a file (an existing file, not a folder); pass a "
                          f"folder path (it will be created)")
    for p in protect:
        if _same_file(out, Path(p)):
            raise OutputError(f"{what} {path} would overwrite the input; choose another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder {what} {path}: "
                          f"{e.strerror or e}") from None
    return out


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

class CSVSeries(NamedTuple):
    """What :func:`read_series` returns.

    values (N, D) float64, names (D,) the value columns' names, labels (N,) bool or None,
    rows (N,) int64: each row's 0-based data-row number in the file (rows dropped by
    ``fill="drop"`` and blank lines are missing from it).
    """

    values: np.ndarray
    names: list
    labels: np.ndarray | None
    rows: np.ndarray


def _cell_kind(cell):
    """``"missing"`` for an empty/NaN marker, ``"text"`` for anything that is not a number."""
    return "missing" if cell.strip().lower() in MISSING else "text"


def _lines(f, path):
    """The file's lines, refusing one longer than :data:`MAX_LINE_CHARS` before it is split."""
    for line in f:
        if len(line) > MAX_LINE_CHARS:
            raise DataError(f"{path} has a line of more than {MAX_LINE_CHARS} characters; it is "
                            f"not a CSV series (one row per line)")
        yield line


class _Column:
    """Streaming state of one column: counts, the first text / missing cell, stored or not."""

    __slots__ = ("j", "name", "strict", "stored", "text", "missing", "first_text", "first_missing")

    def __init__(self, j, name, strict, stored):
        self.j, self.name, self.strict, self.stored = j, name, strict, stored
        self.text = self.missing = 0
        self.first_text = self.first_missing = None  # (row, line, cell)


def _count(col, cell, i, line):
    """Count a cell that is not a finite number: missing (CSV 3) or text (CSV 1)/(CSV 2)."""
    if _cell_kind(cell) == "missing":
        col.missing += 1
        if col.first_missing is None:
            col.first_missing = (i, line, cell)
    else:
        col.text += 1
        if col.first_text is None:
            col.first_text = (i, line, cell)


def _store_row(path, r, stored, buf, i, line) -> bool:
    """Append row ``r``'s stored cells to ``buf`` (NaN for a missing or text cell); True, with
    nothing appended, for a blank row."""
    for k, col in enumerate(stored):
        cell = r[col.j]
        try:
            v = float(cell)
        except ValueError:
            v = None
        if v is not None and v - v == 0:
            buf.append(v)
            continue
        if k == 0 and not any(c.strip() for c in r):
            return True  # a blank row has every cell empty, so its first one tells
        if v is not None and v == v:  # ±inf: a number out of float64's range
            raise DataError(f"{path}: column {col.name!r} holds {cell.strip()!r} at row {i} "
                            f"(line {line}), which is not a finite float64 number; fix it or "
                            f"empty it")
        _count(col, "" if v is not None else cell, i, line)  # float("nan") counts as missing
        if col.strict and col.first_text is not None:
            raise _text_error(path, col)
        buf.append(math.nan)
    if not stored and not any(c.strip() for c in r):
        return True
    return False


def _no_header(header):
    def number(h):
        try:
            float(h)
        except ValueError:
            return False
        return True

    return all(h and number(h) for h in header)


def read_series(path, columns=None, labels=None, fill=None) -> CSVSeries:
    """Read a CSV series: the value columns (CSV 1)–(CSV 3), an optional 0/1 ``labels`` column.

    ``columns``: value column names (a list, each item may be comma-separated) or None for
    (CSV 2).  ``fill``: None (refuse empty or NaN cells), ``"ffill"``, ``"interpolate"`` or
    ``"drop"``.  Every problem with the file is a :class:`~npae.errors.DataError` naming the row
    and line (messages name ``npae detect``'s options, ``--column`` / ``--fill`` / ``--labels``).
    """
    if fill is not None and fill not in FILLS:
        raise DataError(f"fill must be one of {FILLS} or None, got {fill!r}")
    with _csv_reader(path) as reader:
        return _read_rows(path, reader, columns, labels, fill)


@contextlib.contextmanager
def _csv_reader(path):
    """A ``csv.reader`` over ``path`` (dialect sniffed, over-long lines refused), every problem
    reading it a :class:`DataError`."""
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
            yield csv.reader(_lines(f, path), dialect)
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file; pass a CSV file") from None
    except csv.Error as e:
        raise DataError(f"{path} is not a readable CSV file ({e})") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None


def _header(reader):
    """The first non-blank row, stripped (None for an empty file)."""
    for r in reader:
        if any(c.strip() for c in r):
            return [h.strip() for h in r]
    return None


# the columns taken as the timestamp, in order of preference (numeric "index" / "row" / "t"
# columns are row counters, not times)
TIMESTAMP_NAMES = ("timestamp", "datetime", "date", "time")


def timestamp_column(path):
    """The name of ``path``'s timestamp column — the first header cell named (any case) one of
    :data:`TIMESTAMP_NAMES` — or None.  Reads the header only."""
    with _csv_reader(path) as reader:
        header = _header(reader) or []
    lower = [h.lower() for h in header]
    for want in TIMESTAMP_NAMES:
        if want in lower:
            return header[lower.index(want)]
    return None


def iter_column(path, name):
    """The cells of column ``name``, stripped, one per data row in :func:`read_series`' row
    numbering (blank lines skipped), streamed: nothing of the file is kept in memory."""
    with _csv_reader(path) as reader:
        header = _header(reader)
        if header is None or name not in header:
            raise DataError(f"{path}: no column {name!r}")
        j, n = header.index(name), len(header)
        for r in reader:
            if len(r) != n or not any(c.strip() for c in r):
                continue  # blank lines (read_series refuses any other short row)
            yield r[j].strip()


def _wanted(path, header, columns, labels):
    """The (CSV 1) names, or None for (CSV 2); checks the names against the header."""
    if labels is not None and labels not in header:
        raise DataError(f"{path}: no column {labels!r} for --labels (columns: {', '.join(header)})")
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    wanted = [n.strip() for spec in columns for n in str(spec).split(",") if n.strip()]
    if not wanted:
        raise DataError(f"--column {','.join(map(str, columns))!r} names no column; give one or "
                        f"more names (columns: {', '.join(header)})")
    unknown = [n for n in wanted if n not in header]
    if unknown:
        raise DataError(f"{path}: no column {unknown[0]!r} (columns: {', '.join(header)})")
    if labels in wanted:
        raise DataError(f"column {labels!r} cannot be both a value (--column) and --labels")
    if len(set(wanted)) != len(wanted):
        raise DataError(f"--column names a column twice ({', '.join(wanted)})")
    return wanted


def _text_error(path, col):
    i, line, cell = col.first_text
    return DataError(f"{path}: column {col.name!r} has a non-numeric value {cell.strip()!r} at "
                     f"row {i} (line {line}); fix it or empty it (then use --fill)")


def _read_rows(path, reader, columns, labels, fill):
    header = _header(reader)
    if header is None:
        raise DataError(f"{path} is empty; it needs a header row and data rows")
    if len(header) > MAX_COLUMNS:
        raise DataError(f"{path} has {len(header)} columns; npae reads at most {MAX_COLUMNS}")
    if _no_header(header):
        raise DataError(f"{path} has no header row (its first line is numbers); add one, "
                        f"e.g. 'timestamp,value'")
    if len(set(header)) != len(header):
        dup = sorted(h for h, k in Counter(header).items() if k > 1)
        raise DataError(f"{path}: the header repeats the column name(s) {dup}; names must be unique")
    wanted = _wanted(path, header, columns, labels)
    if wanted is not None:
        cols = [_Column(header.index(n), n, True, True) for n in wanted]
    else:
        cols = [_Column(j, h, False, True) for j, h in enumerate(header)
                if h != labels and h.lower() not in TIME_NAMES]
    lab_j = None if labels is None else header.index(labels)
    n = len(header)
    buf = array("d")   # the stored columns, row-major: one float64 per (row, stored column)
    lab = array("b")
    bad_label = None
    stored = cols
    i = 0              # data rows so far (blank lines do not count)
    for r in reader:
        if len(r) != n:
            if not any(c.strip() for c in r):
                continue
            raise DataError(f"{path}: row {i} (line {reader.line_num}) has {len(r)} fields, the "
                            f"header has {n}")
        if i == 0 and wanted is None:  # (CSV 2): a column whose first cell is text is only counted
            for col in cols:
                try:
                    float(r[col.j])
                except ValueError:
                    col.stored = _cell_kind(r[col.j]) == "missing"
            stored = [c for c in cols if c.stored]
        if _store_row(path, r, stored, buf, i, reader.line_num):
            continue  # a blank row (every cell empty): skipped
        if lab_j is not None:
            code = _LABELS.get(r[lab_j].strip().lower(), -1)
            if code < 0 and bad_label is None:
                bad_label = (i, reader.line_num, r[lab_j])
            lab.append(code)
        for col in cols:
            if not col.stored:
                try:
                    float(r[col.j])
                except ValueError:
                    _count(col, r[col.j], i, reader.line_num)
        i += 1
    N = i
    if N == 0:
        raise DataError(f"{path} has a header but no data rows")
    table = np.frombuffer(buf, dtype=np.float64).reshape(N, len(stored))
    # (CSV 2): which candidates are value columns
    chosen = []
    for col in cols:
        numbers = N - col.text - col.missing
        if col.text == 0 and numbers:
            chosen.append(col)
        elif col.strict or (col.text and numbers > col.text):
            if not col.text:
                raise DataError(f"{path}: column {col.name!r} has no numbers (all cells empty)")
            raise _text_error(path, col)
    if not chosen:
        raise DataError(f"{path} has no numeric column (columns: {', '.join(header)}); it needs at "
                        f"least one column of numbers, or name one with --column")
    if bad_label is not None:
        k, line, cell = bad_label
        raise DataError(f"{path}: --labels column {labels!r} must hold 0 or 1; row {k} "
                        f"(line {line}) has {cell.strip()!r}")
    pos = [stored.index(c) for c in chosen]
    if pos == list(range(len(stored))):
        values = table                     # every stored column is a value: no copy
    else:
        values = np.ascontiguousarray(table[:, pos])
        del table
        buf = None
    names = [c.name for c in chosen]
    y = None if lab_j is None else np.frombuffer(lab, dtype=np.int8).astype(bool)
    rows = np.arange(N)
    missing = np.isnan(values)
    if missing.any():
        if fill is None:
            total = sum(c.missing for c in chosen)
            c = min((c for c in chosen if c.missing), key=lambda c: c.first_missing[0])
            k, line, _ = c.first_missing
            raise DataError(
                f"{path}: {total} empty or NaN cell(s) in the value column(s), the first in "
                f"column {c.name!r} at row {k} (line {line}); fill them with --fill ffill, "
                f"--fill interpolate or --fill drop")
        empty = [c.name for c in chosen if c.missing == N]
        if empty:
            raise DataError(f"{path}: column {empty[0]!r} has no value at all; drop it or name "
                            f"the value columns with --column")
        if fill == "drop":
            keep = ~missing.any(axis=1)
            values, rows = values[keep], rows[keep]
            y = None if y is None else y[keep]
        else:
            if not values.flags.writeable:
                values = values.copy()
            for k in range(values.shape[1]):
                values[:, k] = _fill(values[:, k], fill)
    return CSVSeries(values, names, y, rows)


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


def labels_from_time_ranges(timestamps, ranges, *, prefix=19):
    """A (N,) bool mask of the rows whose timestamp lies in one of ``ranges``, a list of inclusive
    ``(start, end)`` timestamp pairs (NAB's labelled windows, ``combined_windows.json``).

    Timestamps are compared on their first ``prefix`` characters (19: ``YYYY-MM-DD HH:MM:SS``, so
    ``.000000`` suffixes do not matter) and by *row*: a range covers the rows from the first row
    stamped ``start`` to the first row stamped ``end``, both included — one NAB file steps back
    in time once, where comparing times would mark rows outside the range.  A bound that names no
    row is a :class:`DataError`.
    """
    first, n = {}, 0
    for n, ts in enumerate(timestamps, start=1):  # any iterable: iter_column streams the file
        first.setdefault(str(ts)[:prefix], n - 1)
    mask = np.zeros(n, dtype=bool)
    for start, end in ranges:
        try:
            lo, hi = first[str(start)[:prefix]], first[str(end)[:prefix]]
        except KeyError as e:
            raise DataError(f"the labelled range {start} – {end} names a time ({e.args[0]}) that "
                            "no row has; check the labels file against the series") from None
        mask[lo:hi + 1] = True
    return mask
