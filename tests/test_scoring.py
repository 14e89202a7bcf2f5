"""Reusing a trained detector: `oneclass score` and `oneclass.load_detector`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oneclass
from oneclass.launch import scoring
from oneclass.run import engine
from oneclass.metrics import roc_auc
from oneclass.run.engine import JobInfo

ROOT = Path(__file__).resolve().parents[1]
LHCO = "lhco/lhco_rnd_sr_5features.npy"


def oneclass_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "oneclass.launch.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def lhco_store(tmp_path_factory, _migrated_store):
    """One finished standardized-LHCO OCDN run (shared by this module's tests) and a second file:
    the first 5000 events of the real file, reversed."""
    from conftest import compose_cfg, shared_data_dir

    path = shared_data_dir() / LHCO
    if not path.exists():
        pytest.skip(f"{path} missing") if os.environ.get("ONECLASS_REQUIRE_DATA") != "1" else pytest.fail(f"{path} missing")
    root = tmp_path_factory.mktemp("scoring")
    shutil.copy(_migrated_store, root / "mlflow.db")  # an empty store: no schema migrations to wait for
    cfg = compose_cfg(["dataset=lhco", f"dataset.path={path}", "dataset.preprocess=standardize", "trainer.max_epochs=1",
                       "trainer.accelerator=cpu", f"logger.tracking_uri=sqlite:///{root / 'mlflow.db'}",
                       "dataset.n_train=3000", "dataset.n_test_background=1000", "dataset.n_test_signal=1000"])
    job = JobInfo(output_dir=root / "out", launch_dir=root)
    engine.run(cfg, job)
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
    # a unique prefix of the run id is enough; the run's own file: its 3000 training events are left out
    out = oneclass_cli("score", "--run", job.run_id[:10], "--data", str(path), "--output", "rescored.npz", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("scored 233651 events of") and "AUC" in out.stdout and "wrote rescored.npz" in out.stdout
    assert "(3000 training events of the run left out; --include-training keeps them)" in out.stdout
    rescored = np.load(tmp_path / "rescored.npz")
    training = np.load(job.output_dir / "training_rows.npz")["index"]
    assert len(training) == 3000 and not np.isin(rescored["index"], training).any()
    # an existing --output is refused (as `oneclass report` refuses), --force overwrites it
    again = oneclass_cli("score", "--run", job.run_id, "--data", str(path), "--output", "rescored.npz",
                         "--include-training", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr == ("error: --output rescored.npz exists; choose another file or "
                                                      "pass --force to overwrite it\n")
    again = oneclass_cli("score", "--run", job.run_id, "--data", str(path), "--output", "all.npz",
                         "--include-training", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("scored 236651 events of"), again.stderr
    assert np.isin(training, np.load(tmp_path / "all.npz")["index"]).all()
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
    from oneclass.launch.scoring import score_file

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
    engine.run(cfg_factory(), job)
    (tmp_path / "x.npy").write_bytes(b"")
    assert scoring.main(["--run", job.run_id, "--data", str(tmp_path / "x.npy")]) == 2
    assert "dataset 'gaussian' (GaussianToy) is generated, not read from a file, so it cannot score other files" in capsys.readouterr().err
    # a run without its model artifact
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    bare = client.create_run(client.get_run(job.run_id).info.experiment_id)
    client.log_artifact(bare.info.run_id, str(job.output_dir / "config.yaml"))
    client.set_terminated(bare.info.run_id)
    assert scoring.main(["--run", bare.info.run_id, "--data", str(tmp_path / "x.npy")]) == 2
    assert "has no model artifact (model.ckpt or model.joblib)" in capsys.readouterr().err


@pytest.mark.slow
def test_score_tabular_run_reproduces_its_test_scores_and_skips_its_training_rows(cfg_factory, tmp_path, shared_data, capsys):
    """Tabular runs are scored too (ADBench .npz through ADBench.score_rows): the run's file gives
    the run's own test scores for its test rows, and none of its training rows."""
    path = shared_data("adbench/38_thyroid.npz")
    job = JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    engine.run(cfg_factory("dataset=adbench", f"dataset.path={path}", "model=ocsvm", small=False), job)
    capsys.readouterr()
    assert scoring.main(["--run", job.run_id, "--data", str(path), "--output", "s.npz"]) == 0
    out = capsys.readouterr().out
    saved, rescored = np.load(job.output_dir / "scores.npz"), np.load(tmp_path / "s.npz")
    training = np.load(job.output_dir / "training_rows.npz")["index"]
    assert len(training) + len(saved["index"]) == 3772  # ADBench's 70/30 split of the set's rows
    assert out.startswith(f"scored {3772 - len(training)} events of") and "AUC" in out
    np.testing.assert_array_equal(np.sort(rescored["index"]), np.sort(saved["index"]))
    where = {row: i for i, row in enumerate(rescored["index"])}
    picked = np.array([where[row] for row in saved["index"]])
    np.testing.assert_allclose(rescored["scores"][picked], saved["scores"], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(rescored["labels"][picked], saved["labels"])


def test_score_unlabelled_lhco_npy_and_ambiguous_prefix(lhco_run, tmp_path, monkeypatch, capsys):
    """27.9: a 5-column LHCO .npy (no labels) is scored without metrics; a run-id prefix that matches
    several runs is one line listing them."""
    job, other, _ = lhco_run
    monkeypatch.chdir(tmp_path)
    black_box = tmp_path / "black_box.npy"
    np.save(black_box, np.load(other)[:, :5])
    assert scoring.main(["--run", job.run_id, "--data", str(black_box), "--output", "bb.npz"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scored ") and "AUC" not in out and "wrote bb.npz" in out
    result = np.load(tmp_path / "bb.npz")
    assert "labels" not in result.files and len(result["scores"]) == len(result["index"]) > 0
    labelled = scoring.score_file(oneclass.load_detector(job.run_id), other)
    np.testing.assert_allclose(result["scores"], labelled["scores"], rtol=0, atol=0)  # same events, same scores
    # 17 runs in one store: two share a first hex digit (pigeonhole)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_run(job.run_id).info.experiment_id
    ids = [client.create_run(experiment).info.run_id for _ in range(17)]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids + [job.run_id]) > 1)
    assert scoring.main(["--run", shared, "--data", str(black_box), "--output", "x.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: run id prefix '{shared}' matches ") and "give more of the id" in err and err.count("\n") == 1
    for run_id in ids:
        client.delete_run(run_id)


@pytest.mark.slow
def test_score_image_run_on_the_official_test_images(cfg_factory, tmp_path, shared_data, capsys):
    """Image runs are scored too (IDX images through ImageOneClass.score_rows, labels from the labels
    file beside it): the run's test images get the run's own scores."""
    folder = shared_data("mnist")
    job = JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    engine.run(cfg_factory("dataset=mnist", f"dataset.path={folder}", "model=ocsvm", "dataset.n_train=200",
                             "dataset.n_test_background=100", "dataset.n_test_signal=100", small=False), job)
    capsys.readouterr()
    images = folder / "t10k-images-idx3-ubyte.gz"
    assert scoring.main(["--run", job.run_id, "--data", str(images), "--output", "s.npz"]) == 0
    assert capsys.readouterr().out.startswith(f"scored 10000 events of {images}")  # not its training file
    saved, rescored = np.load(job.output_dir / "scores.npz"), np.load(tmp_path / "s.npz")
    np.testing.assert_allclose(rescored["scores"][saved["index"]], saved["scores"], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(rescored["labels"][saved["index"]], saved["labels"])
