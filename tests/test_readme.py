"""The README is executed: every ``python`` block runs as written, in order, in one namespace
(later blocks use names the earlier ones define, as a reader following along would), and every
``npae`` command line in a ``bash`` block that does not install anything is run too.

The two setup commands at the top (virtual environment, ``pip install``) are what ``.ci/run``
runs itself; they are checked there, not here.  The command-line examples that read
``../shared/evaldata`` skip when that folder is absent.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(lang):
    return [body for kind, body in FENCE.findall(README.read_text(encoding="utf-8")) if kind == lang]


def npae_blocks():
    """The ``npae …`` command lines of each bash block (continuation lines joined), install lines
    out: a block's commands run in order in one folder (a later one may use an earlier one's
    files, as ``npae score --model`` uses what ``npae detect --save-model`` wrote)."""
    found = []
    for body in blocks("bash"):
        text = body.replace("\\\n", " ")
        cmds = [line.strip() for line in text.splitlines()
                if line.strip().startswith("npae ") and "pip install" not in line]
        if cmds:
            found.append(cmds)
    return found


def test_readme_has_python_blocks_and_commands():
    assert len(blocks("python")) >= 3
    assert any("pip install" in b and "npae demo" in b for b in blocks("bash"))
    assert any("pip install" in b and "pytest" in b for b in blocks("bash"))


def test_every_python_block_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)            # the blocks may write files (det.save)
    namespace = {"__name__": "__readme__"}
    for i, code in enumerate(blocks("python")):
        try:
            exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the failure message is the point
            pytest.fail(f"README python block {i + 1} fails: {type(e).__name__}: {e}\n{code}")


@pytest.mark.parametrize("commands", npae_blocks(), ids=lambda c: c[0][:40])
def test_every_npae_command_runs_as_written(commands, tmp_path):
    needs_data = any("../shared/" in c for c in commands)
    if needs_data and not (ROOT.parent / "shared" / "evaldata").is_dir():
        pytest.skip("needs ../shared/evaldata beside the checkout")
    env = dict(os.environ, MPLBACKEND="Agg")
    for command in commands:
        # as the README's reader runs it from the repository root; the outputs go to a
        # temporary folder (relative paths land there), ../shared is the checkout's neighbour
        argv = [str(ROOT / a) if a.startswith("../") else a for a in shlex.split(command)]
        done = subprocess.run([sys.executable, "-m", "npae", *argv[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def test_the_readme_quotes_the_suites_test_count():
    from conftest import COLLECTED

    if not COLLECTED.get("whole_suite"):
        pytest.skip("only a run of the whole suite knows its test count")
    quoted = re.search(r"The whole suite \((\d+) tests\)", README.read_text(encoding="utf-8"))
    assert quoted, "the README should say how many tests the suite has"
    assert int(quoted.group(1)) == COLLECTED["count"], (
        f"the README says {quoted.group(1)} tests, the suite has {COLLECTED['count']}: update it")


def _table_rows(text):
    """``{label: [cells]}`` of the demo's comparison table in ``text`` (Train time left out: it
    is the machine's, not the code's)."""
    start = text.index("Tutorial's metric")
    rows, section = {}, ""
    for line in text[start:].splitlines():
        if line.startswith("---") and rows:
            break
        if line and not line.startswith(" "):
            section = line.split("(")[0].strip()     # Tutorial's metric, Point metric, Training
            continue
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 3 and not line.strip().startswith("Train time"):
            rows[f"{section}: {cells[0]}"] = cells[1:]
    return rows


def _close(readme_cell, printed_cell, label):
    """The same number up to the last digits float32 rounding moves (the README's run used the
    default BLAS threads, as CI does): metrics within 0.01, counts within 3, the final loss within
    2 %.  The 0.2843 / 0.3137 of a run on another machine would fail."""
    a = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", readme_cell)]
    b = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", printed_cell)]
    if len(a) != len(b):
        return False
    tol = (lambda x: 0.02 * abs(x)) if label.endswith("Final loss") else \
        (lambda x: 3.0 if "/" in readme_cell or float(x).is_integer() else 0.01)
    return all(abs(x - y) <= tol(x) for x, y in zip(a, b))


def test_the_readme_demo_table_is_what_npae_demo_prints(tmp_path):
    """The README's table, row by row, against a fresh ``npae demo`` at the documented seed."""
    readme = README.read_text(encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "npae", "demo", "--out", str(tmp_path / "d"),
                           "--no-figures", "--quiet"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    want, got = _table_rows(readme), _table_rows(done.stdout)
    assert set(want) == set(got) and len(want) >= 12
    for label, cells in want.items():
        assert len(cells) == len(got[label]) and all(
            _close(a, b, label) for a, b in zip(cells, got[label])), \
            f"README row {label!r} says {cells}, npae demo prints {got[label]}"
