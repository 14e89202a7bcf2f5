"""Reusing a trained detector: `oneclass score` and `oneclass.load_detector`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oneclass
from oneclass import pipeline, scoring
from oneclass.metrics import roc_auc
from oneclass.pipeline import JobInfo

ROOT = Path(__file__).resolve().parents[1]
LHCO = "lhco/lhco_rnd_sr_5features.npy"


def oneclass_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "oneclass.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def lhco_store(tmp_path_factory):
    """One finished standardized-LHCO OCDN run (shared by this module's tests) and a second file:
    the first 5000 events of the real file, reversed."""
    from conftest import compose_cfg, shared_data_dir

    path = shared_data_dir() / LHCO
    if not path.exists():
        pytest.skip(f"{path} missing") if os.environ.get("ONECLASS_REQUIRE_DATA") != "1" else pytest.fail(f"{path} missing")
    root = tmp_path_factory.mktemp("scoring")
    cfg = compose_cfg(["dataset=lhco", f"dataset.path={path}", "dataset.preprocess=standardize", "trainer.max_epochs=1",
                       "trainer.accelerator=cpu", f"logger.tracking_uri=sqlite:///{root / 'mlflow.db'}",
                       "dataset.n_train=3000", "dataset.n_test_background=1000", "dataset.n_test_signal=1000"])
    job = JobInfo(output_dir=root / "out", launch_dir=root)
    pipeline.run(cfg, job)
    other = root / "other.npy"
    np.save(other, np.load(path)[:5000][::-1])
    return job, other, path, root


@pytest.fixture
def lhco_run(lhco_store, tmp_path, monkeypatch):
    job, other, path, root = lhco_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    return job, other, path


@pytest.mark.system
def test_score_cli_rescoring_equals_the_runs_own_scores(lhco_run, tmp_path, shared_data):
    job, _, path = lhco_run
    out = oneclass_cli("score", "--run", job.run_id, "--data", str(path), "--output", "rescored.npz", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("scored 236651 events of") and "AUC" in out.stdout and "wrote rescored.npz" in out.stdout
    rescored = np.load(tmp_path / "rescored.npz")
    saved = np.load(job.output_dir / "scores.npz")
    # the run's test events, found by their file rows, get exactly the run's scores (same statistics, same net)
    where = {row: i for i, row in enumerate(rescored["index"])}
    picked = np.array([where[row] for row in saved["index"]])
    np.testing.assert_allclose(rescored["scores"][picked], saved["scores"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(rescored["labels"][picked], saved["labels"])
    from mlflow.tracking import MlflowClient

    runs = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).search_runs(["1"], "tags.scored_from != ''")
    assert runs == []  # logs nothing without --log


def test_load_detector_from_python_and_score_another_file(lhco_run, tmp_path, monkeypatch):
    job, other, _ = lhco_run
    monkeypatch.chdir(tmp_path)
    loaded = oneclass.load_detector(job.run_id)
    assert loaded.cfg.dataset.preprocess == "standardize" and loaded.data_info["preprocess_mean"]
    from oneclass.scoring import score_file

    result = score_file(loaded, other)
    assert result["scores"].dtype == np.float64 and len(result["scores"]) == len(result["index"])
    raw = np.load(other)
    assert roc_auc(result["scores"], result["labels"]) == pytest.approx(
        roc_auc(result["scores"], raw[result["index"], 5]), abs=0)


def test_score_with_log_records_a_run(lhco_run, tmp_path, monkeypatch, capsys):
    job, other, _ = lhco_run
    monkeypatch.chdir(tmp_path)
    assert scoring.main(["--run", job.run_id, "--data", str(other), "--log"]) == 0
    assert "logged as MLflow run" in capsys.readouterr().out
    from mlflow.tracking import MlflowClient

    runs = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).search_runs(["1"], "tags.scored_from != ''")
    assert len(runs) == 1 and runs[0].data.tags["scored_from"] == job.run_id
    assert "test_auc" in runs[0].data.metrics


def test_score_bad_inputs_are_one_line(lhco_run, tmp_path, monkeypatch, capsys):
    job, other, _ = lhco_run
    monkeypatch.chdir(tmp_path)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((10, 3)))
    for args, message in [
        (["--run", "0123456789abcdef", "--data", str(other)], "no MLflow run '0123456789abcdef'"),
        (["--run", job.run_id, "--data", str(tmp_path / "nope.npy")], "nope.npy: no such file"),
        (["--run", job.run_id, "--data", str(wrong)], "expected a 2-D array with 6 columns"),
        (["--run", job.run_id, "--data", str(other), "--output", str(tmp_path)], "is a folder"),
    ]:
        assert scoring.main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and err.startswith("error: "), (args, err)


def test_score_refuses_runs_it_cannot_reuse(cfg_factory, tmp_path, capsys):
    job = JobInfo(output_dir=tmp_path / "toy", launch_dir=tmp_path)
    pipeline.run(cfg_factory(), job)
    (tmp_path / "x.npy").write_bytes(b"")
    assert scoring.main(["--run", job.run_id, "--data", str(tmp_path / "x.npy")]) == 2
    assert "dataset 'gaussian' (GaussianToy) cannot score other files" in capsys.readouterr().err
    # a run without its model artifact
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    bare = client.create_run(client.get_run(job.run_id).info.experiment_id)
    client.log_artifact(bare.info.run_id, str(job.output_dir / "config.yaml"))
    client.set_terminated(bare.info.run_id)
    assert scoring.main(["--run", bare.info.run_id, "--data", str(tmp_path / "x.npy")]) == 2
    assert "has no model artifact (model.ckpt or model.joblib)" in capsys.readouterr().err
