"""Equation labels are unique across the package, and every one is in the index of docs/bptt.md.

A label is a parenthesised name of an equation — ``(R1)``, ``(7')``, ``(Adam 3)``, ``(Det 5)`` —
written in a comment or a docstring.  The index's rows define them (one row per label, no label
in two rows); every label the package's comments and docstrings write must be one of them, so
that ``(R1)`` cannot mean the RNN's pre-activation in one file and a repair pass in another.
"""

import io
import re
import tokenize
from pathlib import Path

from test_examples import index_rows

REPO = Path(__file__).resolve().parents[1]
# "(R1)", "(7')", "(Adam 3)", "(P)", "(M')"; not a call "f(3)", a value "(50)" or "(T 288)"
LABEL = re.compile(r"(?<![\w.])\((?:[A-Z]\d{1,2}|[A-Z][A-Za-z]+ \d{1,2}|\d|[PM])'?\)")


def _prose(path: Path):
    """The comments and string literals of a Python file (where labels are written)."""
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            yield tok.string


def _labels_in_package():
    found = {}
    for path in sorted((REPO / "npae").rglob("*.py")):
        for text in _prose(path):
            for label in LABEL.findall(text.replace("′", "'")):
                found.setdefault(label, set()).add(path.relative_to(REPO).as_posix())
    return found


def test_every_label_is_defined_once_in_the_index():
    rows = index_rows()
    seen = {}
    for labels, refs in rows:
        for label in labels:
            assert label not in seen, f"{label} is defined twice in the index"
            seen[label] = refs
    found = _labels_in_package()
    assert len(found) > 50
    undefined = {label: sorted(files) for label, files in found.items() if label not in seen}
    assert not undefined, f"labels written in npae/ but not in docs/bptt.md's index: {undefined}"


# the modules of the layers' and the autoencoders' math, and those that explain it: they write the
# short labels of docs/bptt.md §3–§8 ((L1), (R1), (1)–(7), (G1), (S1), (A1), (D1), (N1), (P), (M))
MATH = ("npae/linear.py", "npae/recurrent.py", "npae/rnn.py", "npae/lstm.py", "npae/gru.py",
        "npae/stacked.py", "npae/dense.py", "npae/losses.py", "npae/autoencoder.py", "npae/trace.py",
        "npae/fast/", "npae/commands/explain.py",
        "npae/train.py")  # a training step runs (A1)–(A5), (M) and (M')


def test_the_pipeline_writes_only_its_own_labels():
    """Everywhere else (data, training, detection, CSV reading, optimisers) labels carry a word
    prefix — (Det 3), (Fit 2), (Adam 1) — so a short label always means the math's equation."""
    short = re.compile(r"\((?:[A-Z]\d{1,2}|\d|[PM])'?\)")
    misplaced = {label: sorted(f for f in files if not f.startswith(MATH))
                 for label, files in _labels_in_package().items() if short.fullmatch(label)}
    misplaced = {k: v for k, v in misplaced.items() if v}
    assert not misplaced, f"short labels outside the math modules: {misplaced}"


def test_the_scan_finds_what_it_should():
    """The pattern takes the labels and leaves calls and numbers alone."""
    text = "# (R1) and (7') and (Adam 3); (Det 5)–(Det 6); not f(3), np.ones(1) or (B, H)"
    assert LABEL.findall(text) == ["(R1)", "(7')", "(Adam 3)", "(Det 5)", "(Det 6)"]
