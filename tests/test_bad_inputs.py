"""Bad inputs, third round (issue 27): each is one line naming the cause and the fix, before training,
and a config or data error leaves no FAILED MLflow run."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oneclass.errors import ConfigError, DataError
from oneclass.run.engine import JobInfo, run

ROOT = Path(__file__).resolve().parents[1]


def _runs(folder: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


# ------------------------------------------------------------------ no FAILED-run clutter
def test_config_and_data_errors_leave_no_mlflow_run(cfg_factory, tmp_path, new_store):
    new_store(tmp_path)
    job = JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    with pytest.raises(ConfigError, match="model.lr must be positive"):
        run(cfg_factory("model.lr=-1"), job)
    with pytest.raises(DataError, match="not found"):
        run(cfg_factory("dataset=lhco", f"dataset.path={tmp_path / 'nope.npy'}"), job)
    assert _runs(tmp_path) == [] and job.run_id is None
    # a vectorised seed group opens its members' runs only after the same checks
    with pytest.raises(ConfigError, match="model.lr must be positive"):
        run(cfg_factory("vectorised.seeds=[0,1]", "model.lr=-1"), job)
    assert _runs(tmp_path) == []


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


@pytest.mark.system
def test_max_batch_zero_is_one_line_from_the_command_line(tmp_path):
    proc = _cli("-m", "hydra/sweeper=seed_batch", "hydra.sweeper.max_batch=0", "seed=0,1", "logger=none", cwd=tmp_path)
    assert proc.returncode == 2
    assert _one_error_line(proc) == "error: hydra.sweeper.max_batch must be a positive integer or null, got 0"


# ------------------------------------------------------------------ 27.3 a numeric ADBench name
def test_numeric_adbench_name_runs_and_an_unknown_number_is_named(cfg_factory, tmp_path, monkeypatch, new_store, shared_data):
    from oneclass.data.tabular_datasets import ADBench
    from oneclass.tracking import check_logger

    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench/38_thyroid.npz").parents[1]))
    new_store(tmp_path)
    # the experiment named after the set, not its collection: an int experiment name must work too
    cfg = cfg_factory("dataset=adbench", "dataset.name=38", "trainer.max_epochs=1",
                      "logger.experiment_name=${dataset.name}", small=False)
    assert cfg.dataset.name == 38 and cfg.logger.experiment_name == 38  # Hydra reads the number as an int
    check_logger(cfg.logger)
    job = JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    run(cfg, job)
    (finished,) = _runs(tmp_path)
    assert finished.info.status == "FINISHED" and finished.data.tags["dataset"] == "38"
    with pytest.raises(ConfigError, match=r"^unknown ADBench set '99': ADBench numbers its 47 Classical sets 1..47"):
        ADBench(name=99)


# ------------------------------------------------------------------ 27.5 a .npy given as an ADBench file
def test_npy_given_to_adbench_names_the_format_and_the_fix(tmp_path):
    from oneclass.data.tabular_datasets import ADBench

    path = tmp_path / "features.npy"
    np.save(path, np.zeros((20, 6)))
    with pytest.raises(DataError) as err:
        ADBench(name="mine", path=str(path)).load(0)
    assert str(err.value) == (f"{path}: a single NumPy array of shape (20, 6) (.npy), not an .npz archive; ADBench files "
                              "hold two arrays: save them with numpy.savez(path, X=features, y=labels)")


# ------------------------------------------------------------------ 27.7 an image net on tabular data
def test_image_net_on_tabular_data_names_the_cause():
    from conftest import compose_cfg

    from oneclass.config import build

    cfg = compose_cfg(["dataset=odds", "model=deepsvdd", "model/net=lenet_mnist"])
    with pytest.raises(ConfigError) as err:
        build(cfg.model, "model", input_shape=(274,))
    assert str(err.value) == ("model.net: MNISTLeNet is an image net (inputs of shape (1, 28, 28)) but the dataset gives "
                              "flat events of shape (274,); pick a flat net (e.g. model/net=svdd_mlp) or an image dataset")


def test_sweep_summary_links_to_runs_only_when_jobs_created_runs(tmp_path, new_store, capsys):
    from omegaconf import OmegaConf

    from oneclass.launch.sweep import SweepCallback, write_status
    from oneclass.tracking import MlflowTracker

    new_store(tmp_path)
    callback = SweepCallback()
    callback.tracker = MlflowTracker(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment_name="gaussian")
    callback.tracker.prepare()
    sweep_dir = tmp_path / "multirun"
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})
    for n, seed in enumerate("ab"):  # seed=a,b: refused before their runs existed
        write_status(sweep_dir / str(n), {"job_num": n, "overrides": [f"seed={seed}"], "status": "failed", "run_id": None,
                                          "error": f"seed must be an integer, got '{seed}' (str)", "sweep_id": "s-1"})
    with pytest.raises(SystemExit):
        callback.on_multirun_end(config)
    out = capsys.readouterr().out
    assert "sweep: 2 jobs: 0 finished, 2 failed" in out and "seed must be an integer, got 'a'" in out
    assert "this sweep's runs" not in out
    write_status(sweep_dir / "2", {"job_num": 2, "overrides": ["seed=0"], "status": "finished", "run_id": "abc", "sweep_id": "s-1"})
    with pytest.raises(SystemExit):
        callback.on_multirun_end(config)
    assert "MLflow: this sweep's runs in experiment 'gaussian'" in capsys.readouterr().out
