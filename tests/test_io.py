"""npae.io: the streaming CSV reader and the atomic writer.

Oracles: the csv module plus float() on the same text (what the old whole-file reader did), the
bytes left on disk, and tracemalloc for the reader's peak memory.
"""

import csv
import os
import threading
import tracemalloc

import numpy as np
import pytest

from npae.commands.detect import load_series
from npae.errors import DataError, NpaeError, OutputError
from npae.io import atomic_file, atomic_write, read_series


def _oracle(path, names):
    """The value columns parsed the plain way: every row in memory, float() per cell."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    header = rows[0]
    return np.array([[float(r[header.index(n)]) for n in names] for r in rows[1:]])


def test_reader_equals_the_plain_parse(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)) * [1.0, 1e-5, 1e6]
    path = tmp_path / "s.csv"
    with open(path, "w") as f:
        f.write("timestamp,a,name,b,c\n")
        for i, (a, b, c) in enumerate(x):
            f.write(f"2020-01-01 00:{i % 60:02d},{float(a)!r},row{i},{float(b)!r},{float(c)!r}\n")
            if i == 100:
                f.write(",,,,\n\n")  # blank rows are skipped
    s = read_series(path)
    assert s.names == ["a", "b", "c"]          # the text column and the timestamp are skipped
    np.testing.assert_array_equal(s.values, _oracle(path, ["a", "b", "c"]))
    np.testing.assert_array_equal(s.values, x)  # repr round-trips exactly
    np.testing.assert_array_equal(s.rows, np.arange(300))
    one = read_series(path, columns=["c,a"])
    np.testing.assert_array_equal(one.values, x[:, [2, 0]])


def test_reader_messages_name_row_and_line(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("t,v,w\n" + "".join(f"{i},{i % 5},{i}\n" for i in range(50)) + "\n50,oops,1\n")
    with pytest.raises(DataError, match=r"'oops' at row 50 \(line 53\)"):  # the blank line counts
        read_series(p)
    p.write_text("v\n1\n1e400\n2\n")
    with pytest.raises(DataError, match=r"'1e400' at row 1 \(line 3\), which is not a finite"):
        read_series(p)
    p.write_text("v,w\n1,2\n3,4\n")
    with pytest.raises(DataError, match="--column ','.*names no column"):
        read_series(p, columns=[","])
    p.write_text("v,y\n1,0\n2,1\n3,2\n")
    with pytest.raises(DataError, match=r"must hold 0 or 1; row 2 \(line 4\) has '2'"):
        read_series(p, labels="y")
    p.write_text("v\n1\n\n,\n")
    s = read_series(p)
    assert s.values.shape == (1, 1)


def test_fill_matches_numpy_interp(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("v,w\n,1\n2,\n,3\n4,4\nnan,5\n6,6\n")
    s = read_series(p, fill="interpolate")
    np.testing.assert_array_equal(s.values[:, 0], [2, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(s.values[:, 1], [1, 2, 3, 4, 5, 6])
    d = read_series(p, fill="drop")
    np.testing.assert_array_equal(d.rows, [3, 5])
    with pytest.raises(DataError, match=r"4 empty or NaN cell\(s\).*column 'v' at row 0 \(line 2\)"):
        read_series(p)


def test_reader_peak_memory_is_a_small_multiple_of_the_numbers(tmp_path):
    """The issue's acceptance on a smaller file (the 5-million-row measurement is
    ``python -m benchmarks.csv_memory``): reading adds at most 4x the numeric data to the peak.
    The old reader kept every row as a list of strings (about 20x the file's size)."""
    n = 200_000
    path = tmp_path / "big.csv"
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        f.write("timestamp,value\n")
        v = rng.normal(size=n)
        for s in range(0, n, 10_000):
            f.write("".join(f"2020-01-01T{i % 86400:06d},{v[i]:.10g}\n" for i in range(s, s + 10_000)))
    numeric = n * 8
    tracemalloc.start()
    try:
        values, names, _, rows = load_series(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values.shape == (n, 1) and names == ["value"]
    assert peak <= 4 * numeric, f"peak {peak / numeric:.1f}x the numeric data"


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(path, "w") as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    atomic_write(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_never_follows_a_planted_symlink(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    for name in ("out.txt.tmp", ".out.txt.tmp"):
        (tmp_path / name).symlink_to(precious)
    atomic_write(tmp_path / "out.txt", "data")
    assert precious.read_text() == "keep me"
    assert (tmp_path / "out.txt").read_text() == "data"


def test_concurrent_writers_never_mix(tmp_path):
    """Two writers of one path at once: the result is one of them, whole (the fixed
    'path.tmp' name made them share a file)."""
    path = tmp_path / "scores.csv"
    a, b = atomic_file(path, "w"), atomic_file(path, "w")
    fa, fb = a.__enter__(), b.__enter__()
    for i in range(1000):
        fa.write(f"a{i}\n")
        fb.write(f"b{i}\n")
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert path.read_text() == "".join(f"a{i}\n" for i in range(1000))
    assert os.listdir(tmp_path) == ["scores.csv"]

    def write(tag):
        for _ in range(20):
            atomic_write(path, "".join(f"{tag}{i}\n" for i in range(2000)))

    threads = [threading.Thread(target=write, args=(t,)) for t in "xy"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = path.read_text().splitlines()
    assert len(text) == 2000 and len({line[0] for line in text}) == 1


def test_bad_destinations_are_output_errors_that_leave_nothing(tmp_path):
    (tmp_path / "d").mkdir()
    inp = tmp_path / "in.csv"
    inp.write_text("v\n1\n")
    link = tmp_path / "link.csv"
    link.symlink_to(inp)
    cases = [(tmp_path / "d", "a folder of that name exists"),
             (tmp_path / "nope" / "x.txt", "does not exist"),
             (inp / "x.txt", "is a file, not a folder"),
             (link, "it is the input file")]
    for path, words in cases:
        with pytest.raises(OutputError, match=words) as info:
            atomic_write(path, "x", protect=(inp,))
        assert ".tmp" not in str(info.value)
        assert isinstance(info.value, NpaeError)
    assert inp.read_text() == "v\n1\n"
    assert sorted(os.listdir(tmp_path)) == ["d", "in.csv", "link.csv"]


def test_a_failing_disk_is_an_output_error(tmp_path, monkeypatch):
    import errno

    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system", str(dst))

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.raises(OutputError, match="Read-only file system"):
        atomic_write(tmp_path / "x.txt", "x")
    assert os.listdir(tmp_path) == []



def test_long_lines_and_wide_headers_are_refused_before_they_are_split(tmp_path, monkeypatch):
    import npae.io

    monkeypatch.setattr(npae.io, "MAX_LINE_CHARS", 1000)
    monkeypatch.setattr(npae.io, "MAX_COLUMNS", 50)
    p = tmp_path / "s.csv"
    p.write_text("v,w\n1,2\n" + "1," * 600 + "\n")
    with pytest.raises(DataError, match="a line of more than 1000 characters"):
        read_series(p)
    p.write_text(",".join(f"c{i}" for i in range(51)) + "\n" + ",".join("1" * 51) + "\n")
    with pytest.raises(DataError, match="51 columns; npae reads at most 50"):
        read_series(p)


def test_written_files_get_the_permissions_a_plain_open_gives(tmp_path):
    atomic_write(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")  # mkstemp alone would leave 0o600
    assert (tmp_path / "a.txt").stat().st_mode == (tmp_path / "b.txt").stat().st_mode


def test_labels_from_time_ranges_marks_rows_between_the_first_rows_of_each_bound():
    """By row, not by time: the series steps back in time once (as one NAB file does); the range
    covers rows 1–4, where a time comparison would also take row 5 and drop row 3."""
    from npae.io import labels_from_time_ranges

    stamps = ["2020-01-01 00:00:00", "2020-01-01 01:00:00", "2020-01-01 02:00:00.000",
              "2020-01-01 00:30:00", "2020-01-01 03:00:00", "2020-01-01 01:30:00",
              "2020-01-01 04:00:00"]
    mask = labels_from_time_ranges(iter(stamps), [("2020-01-01 01:00:00.000000", "2020-01-01 03:00:00")])
    assert mask.tolist() == [False, True, True, True, True, False, False]
    assert labels_from_time_ranges(stamps, []).tolist() == [False] * 7
    with pytest.raises(DataError, match="no row has"):
        labels_from_time_ranges(stamps, [("2020-01-01 00:00:00", "2021-01-01 00:00:00")])
