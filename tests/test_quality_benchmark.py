"""benchmarks.quality on a tiny stand-in for the evaluation folder: its --cells option, the
dense row, and a training set whose last batch would hold one window (41 normal series:
33 train at batch 32, 8 validation), which batch norm cannot train on.  About 3 s."""

import json

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


@pytest.mark.parametrize("args, says", [(["--cells", "lstm,transformer"], "transformer"),
                                        (["--param", "num_layers"], "NAME=VALUE")])
def test_quality_refuses_a_bad_option(tmp_path, capsys, args, says):
    (tmp_path / "README.md").write_text("stand-in\n")
    with pytest.raises(SystemExit) as e:
        quality.main(["--data", str(tmp_path), *args])
    assert e.value.code == 2
    assert says in capsys.readouterr().err
    assert quality.DEFAULT_CELLS.split(",") == ["lstm", "rnn", "gru", "dense"]


def _fake_nab(root, rng):
    """A 5-minute series of 1200 rows with a daily-like cycle of 48 rows and a jump labelled in
    the middle of the test part, under the name and layout of art_daily_jumpsup."""
    rel = quality.NAB["art_daily_jumpsup"][0]
    path = root / "nab" / "data" / rel
    path.parent.mkdir(parents=True)
    n = 1200
    values = np.sin(2 * np.pi * np.arange(n) / 48) + 0.05 * rng.normal(size=n)
    values[800:830] += 3.0
    stamps = np.datetime64("2014-04-01T00:00") + np.arange(n) * np.timedelta64(5, "m")
    lines = ["timestamp,value"] + [f"{str(t).replace('T', ' ')}:00,{v:.6f}"
                                   for t, v in zip(stamps, values)]
    path.write_text("\n".join(lines) + "\n")
    window = [f"{str(stamps[780]).replace('T', ' ')}:00.000000",
              f"{str(stamps[850]).replace('T', ' ')}:00.000000"]
    labels = root / "nab" / "labels"
    labels.mkdir(parents=True)
    (labels / "combined_windows.json").write_text(json.dumps({rel: [window]}))
    (root / "README.md").write_text("stand-in\n")


def test_quality_param_plain_auc_and_merged_alarms_on_a_stand_in_series(tmp_path):
    _fake_nab(tmp_path, np.random.default_rng(1))
    out, raw = tmp_path / "quality.md", tmp_path / "rows.json"
    assert quality.main(["--data", str(tmp_path), "--sets", "art_daily_jumpsup", "--cells",
                         "lstm", "--quick", "--out", str(out), "--json", str(raw),
                         "--param", "max_steps=60", "--param", "min_steps=10"]) == 0
    text = out.read_text()
    assert "--param max_steps=60 --param min_steps=10" in text
    assert "apart from max_steps=60, min_steps=10 for the autoencoders" in text
    rows = {r["model"]: r for r in json.loads(raw.read_text())}
    assert rows["LSTM"]["steps"] <= 60 < 1000           # the parameters reached the detector
    for r in rows.values():
        assert r["events_total"] == 1
        assert 0 <= r["merged_false_alarms"] <= r["false_alarms"]
        assert 0.0 <= r["roc_auc_plain"] <= 1.0
    # the PCA row keeps every default, and its plain pass ranks the jump
    assert rows["PCA"]["steps"] is None and rows["PCA"]["roc_auc_plain"] > 0.6
    assert "merged false-alarm events ≤ PCA's: art_daily_jumpsup" in text
