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


def npae_commands():
    """Each ``npae …`` command of the bash blocks (continuation lines joined), install lines out."""
    found = []
    for body in blocks("bash"):
        text = body.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("npae ") and "pip install" not in line:
                found.append(line)
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


@pytest.mark.parametrize("command", npae_commands())
def test_every_npae_command_runs_as_written(command, tmp_path):
    argv = shlex.split(command)
    if any(a.startswith("../shared/") for a in argv) and not (ROOT.parent / "shared" / "evaldata").is_dir():
        pytest.skip("needs ../shared/evaldata beside the checkout")
    # run from the repository root, as the README's reader does, writing into a temporary folder
    argv = [str(ROOT / a) if a.startswith("../") else a for a in argv]
    if "--out" in argv:
        argv[argv.index("--out") + 1] = str(tmp_path / "out")
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "npae", *argv[1:]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
