"""Property: whatever a CSV file or a saved detector holds, npae either works or raises an
:class:`~npae.errors.NpaeError` — never another exception, never unbounded memory.

Hypothesis mutates a valid CSV (bytes replaced, inserted, deleted; lines repeated) and a valid
saved detector (bytes; JSON values of the config; ``.npy`` headers: shape, dtype, order; members
dropped, added, inflating).  Memory is bounded with tracemalloc (NumPy reports its allocations to
it).  Profiles: ``ci`` 25 examples per property, ``dev`` 300.
"""

import functools
import io
import json
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from npae.cli import main
from npae.data import synthetic_series
from npae.detector import AnomalyDetector
from npae.errors import NpaeError
from npae.io import read_series

LIMIT = 64 << 20  # bytes a single read or load may add to the peak

_x = synthetic_series(60, period=10, seed=0)
BASE_CSV = ("timestamp,value,other,label\n" + "".join(
    f"2024-01-01 00:{i:02d},{v:.5f},{2 * v + 1:.3f},{int(i % 17 == 0)}\n"
    for i, v in enumerate(_x))).encode()
FUZZ_BYTES = b',;\t\n\r" x-e.9 0\x00\xff$'


@st.composite
def mutated_bytes(draw, base, max_ops=8):
    raw = bytearray(base)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "repeat_line"]))
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "replace" and raw:
            raw[pos] = draw(st.sampled_from(FUZZ_BYTES))
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=4) | st.sampled_from(
                [b"nan", b"1e400", b"-inf", b'"', b"\n\n", b",,", b"\xef\xbb\xbf"]))
        elif op == "delete" and raw:
            raw[pos:pos + draw(st.integers(1, 40))] = b""
        else:
            lines = bytes(raw).split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines[k:k] = [lines[k]] * draw(st.integers(1, 3))
            raw = bytearray(b"\n".join(lines))
    return bytes(raw)


def _bounded(call):
    tracemalloc.start()
    try:
        try:
            return call()
        except NpaeError:
            return None
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < LIMIT, f"peak {peak / 2**20:.0f} MiB"
    finally:
        tracemalloc.stop()


@given(raw=mutated_bytes(BASE_CSV),
       kw=st.fixed_dictionaries({
           "columns": st.sampled_from([None, ["value"], ["value,other"], ["timestamp"]]),
           "labels": st.sampled_from([None, "label"]),
           "fill": st.sampled_from([None, "ffill", "interpolate", "drop"])}))
def test_any_csv_reads_or_raises_an_npae_error(raw, kw):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.csv"
        path.write_bytes(raw)
        s = _bounded(lambda: read_series(path, **kw))
    if s is not None:
        assert s.values.dtype == np.float64 and s.values.ndim == 2
        assert np.isfinite(s.values).all()
        assert len(s.rows) == len(s.values) and np.all(np.diff(s.rows) > 0)
        assert s.labels is None or s.labels.shape == (len(s.values),)


@given(raw=mutated_bytes(BASE_CSV, max_ops=4))
def test_npae_detect_on_any_csv_exits_0_or_2_with_one_line(raw):
    import contextlib

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.csv"
        path.write_bytes(raw)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["detect", str(path), "--out", str(Path(d) / "out"), "--window", "5",
                         "--epochs", "1", "--hidden", "2", "--latent", "1", "--train-rows", "20",
                         "--cell", "rnn", "--no-figures", "--quiet"])
        assert code in (0, 2)
        if code == 2:
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("npae: error: ")
        leftovers = [p.name for p in Path(d).rglob("*.tmp")]
        assert leftovers == []
        assert path.read_bytes() == raw


# ------------------------------------------------------------------ saved detectors

@functools.lru_cache(maxsize=1)
def _saved() -> bytes:
    det = AnomalyDetector(cell="lstm", window_size=6, hidden_size=3, latent_size=2, epochs=1,
                          seed=0).fit(synthetic_series(40, seed=0))
    with tempfile.TemporaryDirectory() as d:
        det.save(Path(d) / "det.npz")
        return (Path(d) / "det.npz").read_bytes()


def _members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


HOSTILE = st.one_of(
    st.integers(-10, 10), st.sampled_from([10**12, 10**9, -1, 0, 2**63, 10**400]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 5e-324]),
    st.text(max_size=5), st.none(), st.booleans(), st.lists(st.integers(0, 3), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2))


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list) and obj and len(obj) < 8:
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    yield path


@st.composite
def mutated_detector(draw):
    members = _members(_saved())
    kind = draw(st.sampled_from(["bytes", "json", "json_text", "header", "members"]))
    if kind == "bytes":
        return draw(mutated_bytes(_saved(), max_ops=6))
    if kind in ("json", "json_text"):
        config = json.loads(str(np.load(io.BytesIO(members["config.npy"]))[()]))
        if kind == "json":
            paths = [p for p in _leaves(config) if p]
            path = draw(st.sampled_from(paths))
            target = config
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = draw(HOSTILE)
            text = json.dumps(config)
        else:  # text the json module would never write
            text = json.dumps(config)
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.sampled_from(
                ["1e400", "NaN", "Infinity", "9" * 5000, "[" * 50_000, "}", '"\\ud800"'])) + text[pos:]
        members["config.npy"] = _npy(np.array(text))
        return _zip(members)
    if kind == "header":
        name = draw(st.sampled_from(sorted(members)))
        data = members[name]
        f = io.BytesIO(data)
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        payload = data[f.tell():]
        header = {"descr": draw(st.sampled_from(["<f4", "<f8", ">f8", "<i8", "|b1", "<U3", "|O",
                                                 "<c16", "V8"])),
                  "fortran_order": draw(st.booleans()),
                  "shape": tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 12, 10**11]),
                                               max_size=3)))}
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        members[name] = buf.getvalue() + payload[:draw(st.integers(0, len(payload)))]
        return _zip(members)
    # members: drop some, add others (an inflating one among them)
    for name in draw(st.lists(st.sampled_from(sorted(members)), max_size=2)):
        members.pop(name, None)
    extra = draw(st.sampled_from([None, "extra.npy", "model/extra.npy", "config.npy"]))
    if extra:
        members[extra] = _npy(np.zeros(draw(st.sampled_from([1, 10**6, 10**7]))))
    return _zip(members, compress=zipfile.ZIP_DEFLATED)


@given(raw=mutated_detector())
def test_any_detector_file_loads_or_raises_an_npae_error(raw):
    series = synthetic_series(30, seed=1)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "det.npz"
        path.write_bytes(raw)
        det = _bounded(lambda: AnomalyDetector.load(path))
    if det is not None:  # it loaded: it must also score, or refuse with an npae error
        scores = _bounded(lambda: det.score_points(series))
        assert scores is None or scores.shape == (30,)
