"""benchmarks.quality on a tiny stand-in for the evaluation folder: its --cells option, the
dense row, and a training set whose last batch would hold one window (41 normal series:
33 train at batch 32, 8 validation), which batch norm cannot train on.  About 3 s."""

import numpy as np
import pytest

from benchmarks import quality


def _fake_ecg200(root, rng):
    folder = root / "ucr_ecg" / "ECG200"
    folder.mkdir(parents=True)
    t = np.linspace(0, 2 * np.pi, 16)

    def rows(n_normal, n_abnormal):
        normal = np.sin(t) + 0.05 * rng.normal(size=(n_normal, 16))
        abnormal = np.cos(2 * t) + 0.05 * rng.normal(size=(n_abnormal, 16))
        labels = np.r_[np.ones(n_normal), -np.ones(n_abnormal)]
        return np.column_stack([labels, np.vstack([normal, abnormal])])

    np.savetxt(folder / "ECG200_TRAIN.txt", rows(41, 5))
    np.savetxt(folder / "ECG200_TEST.txt", rows(10, 10))
    (root / "README.md").write_text("stand-in\n")


def test_quality_runs_the_chosen_cells_with_a_last_batch_of_one(tmp_path, capsys):
    _fake_ecg200(tmp_path, np.random.default_rng(0))
    out = tmp_path / "quality.md"
    assert quality.main(["--data", str(tmp_path), "--sets", "ecg200", "--cells", "dense",
                         "--quick", "--out", str(out)]) == 0
    text = out.read_text()
    for model in ("dense", "PCA"):
        assert f"| ecg200 | {model} | 16 |" in text
    for model in ("LSTM", "RNN", "GRU"):
        assert f"| ecg200 | {model} |" not in text
    assert "--cells dense" in text
    dense = next(line for line in text.splitlines() if line.startswith("| ecg200 | dense |"))
    auc = float(dense.split("|")[4])
    assert auc > 0.9          # sine against cosine shapes: a trained model separates them


def test_quality_refuses_an_unknown_cell(tmp_path, capsys):
    (tmp_path / "README.md").write_text("stand-in\n")
    with pytest.raises(SystemExit) as e:
        quality.main(["--data", str(tmp_path), "--cells", "lstm,transformer"])
    assert e.value.code == 2
    assert "transformer" in capsys.readouterr().err
    assert quality.DEFAULT_CELLS.split(",") == ["lstm", "rnn", "gru", "dense"]
