"""The teaching material never rots: every example runs headless, and ``docs/bptt.md`` points at
functions that exist and cite the equations it lists.

The examples carry their own oracles (asserts against ``npae.LSTM``, torch autograd, the
tutorial's metric); here they run as scripts with ``MPLBACKEND=Agg`` and
``NPAE_EXAMPLE_EPOCHS=1``.  Runtime: about 20–30 s in all (03 and 04 train for one epoch).
"""

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("[0-9][0-9]_*.py"))
DOC = REPO / "docs" / "bptt.md"
EVALDATA = Path(os.environ.get("NPAE_EVALDATA", REPO / ".." / "shared" / "evaldata"))
HAS_NAB = (EVALDATA / "nab" / "data" / "realKnownCause" / "nyc_taxi.csv").is_file()


def run_example(path, cwd, *args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NPAE_EXAMPLE")}
    full_env.update(MPLBACKEND="Agg", NPAE_EXAMPLE_EPOCHS="1", **env)
    return subprocess.run([sys.executable, str(path), *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=600)


def test_the_four_examples_exist():
    assert [p.name for p in EXAMPLES] == [
        "01_lstm_step_by_hand.py", "02_one_training_step.py",
        "03_seed_tutorial_numpy.py", "04_visual_workflow_real_data.py"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_jupytext_percent_format(path):
    """Opens as a notebook: a jupytext header, markdown cells and code cells that each parse."""
    text = path.read_text()
    assert text.startswith("# ---\n# jupyter:\n#   jupytext:") and "format_name: percent" in text
    cells = re.split(r"^# %%.*$", text, flags=re.M)[1:]
    kinds = re.findall(r"^# %%(.*)$", text, flags=re.M)
    assert "[markdown]" in kinds[0] and sum("[markdown]" in k for k in kinds) >= 2
    assert sum(k.strip() == "" for k in kinds) >= 2
    for kind, cell in zip(kinds, cells):
        if "[markdown]" in kind:
            assert all(line.startswith("#") for line in cell.strip().splitlines())
        else:
            ast.parse(cell)  # each code cell is valid Python on its own


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not p.name.startswith("04")], ids=lambda p: p.stem)
def test_example_runs(path, tmp_path):
    figures = tmp_path / "figures"
    proc = run_example(path, tmp_path, figures)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().endswith("all checks passed")
    if path.name.startswith("03"):
        pngs = sorted(figures.glob("*.png"))
        assert len(pngs) == 5 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        assert "F1" not in proc.stderr
        assert re.search(r"^f1\s+[\d.]+\s+[\d.]+$", proc.stdout, re.M)  # the tutorial's table


def test_example_04_on_real_data(tmp_path):
    proc = run_example(EXAMPLES[3], tmp_path)  # no output folder: figures are built, not saved
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    if not HAS_NAB:
        assert proc.stdout.startswith("skipped:")
        pytest.skip(f"NAB data not found at {EVALDATA}")
    assert "215 days scored" in proc.stdout
    assert "built 6 figures" in proc.stdout and proc.stdout.rstrip().endswith("all checks passed")
    assert list(tmp_path.iterdir()) == []  # nothing written without an output folder


def test_example_04_skips_politely_without_data(tmp_path):
    proc = run_example(EXAMPLES[3], tmp_path, NPAE_EVALDATA=str(tmp_path / "missing"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("skipped: the NAB data is not at")
    assert "all checks passed" not in proc.stdout


# ---------------------------------------------------------------------- docs/bptt.md

REF = re.compile(r"`(npae/[\w/]+\.py)::([\w.]+)`")


def resolve(file, qualname):
    module = importlib.import_module(file[:-3].replace("/", "."))
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def test_doc_references_exist():
    refs = REF.findall(DOC.read_text())
    assert len(refs) > 40
    for file, qualname in refs:
        assert (REPO / file).is_file(), file
        obj = resolve(file, qualname)
        assert inspect.getsourcefile(obj) == str(REPO / file), (file, qualname)


def _labels(cell):
    """'(2)–(5)' → ['(2)', '(3)', '(4)', '(5)']; "(Adam 1)–(Adam 7)" → ['(Adam 1)', …, '(Adam 7)']."""
    m = re.fullmatch(r"\(([A-Z]?|[A-Z][A-Za-z]+ )(\d)('?)\)–\(\1(\d)\3\)", cell)
    if m:
        prefix, lo, prime, hi = m.groups()
        return [f"({prefix}{k}{prime})" for k in range(int(lo), int(hi) + 1)]
    assert re.fullmatch(r"\(([A-Z]?|[A-Z][A-Za-z]+ )\d?'?\)", cell), cell
    return [cell]


def index_rows():
    text = DOC.read_text()
    index = text[text.index("## 12. Index"):]
    rows = []
    for line in index.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("("):
            rows.append((_labels(cells[0]), REF.findall(cells[2])))
    return rows


def test_doc_index_cites_each_equation_in_its_function():
    rows = index_rows()
    assert len(rows) >= 29
    for labels, refs in rows:
        assert refs, labels
        for file, qualname in refs:
            source = inspect.getsource(resolve(file, qualname))
            for label in labels:
                assert label in source, f"{file}::{qualname} does not cite {label}"


def test_every_equation_number_in_the_code_is_derived_in_the_doc():
    doc = DOC.read_text()
    defined = {label for labels, _ in index_rows() for label in labels}
    pattern = re.compile(r"\((?:[RALPMGSDN]?\d'?|[PM]'?)\)")
    for name in ("rnn", "lstm", "gru", "stacked", "dense", "recurrent", "linear", "losses", "autoencoder"):
        for label in set(pattern.findall((REPO / "npae" / f"{name}.py").read_text())):
            assert label in defined or label.replace("'", "′") in doc, f"npae/{name}.py cites {label}"
            assert label in doc, f"npae/{name}.py cites {label}, which docs/bptt.md never writes"


def test_doc_glossary_defines_every_size_symbol():
    doc = DOC.read_text()
    glossary = doc[doc.index("## 1. Glossary"):doc.index("## 2.")]
    for symbol in "TBDHGLN":
        assert re.search(rf"^\| {symbol} \| \S", glossary, re.M), symbol
