"""One job end to end: exactly one MLflow run with the promised metrics, params and artifacts;
a multirun over `seed=0..2` through the real command line, and the paper's six detectors in one
command on the real LHCO file (short schedule, subsample)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.svm import OneClassSVM as SkOneClassSVM

from oneclass.errors import ConfigError
from oneclass.run import engine
from oneclass.run.job import make_trainer
from oneclass.metrics import max_sic, roc_auc
from oneclass.run.engine import JobInfo, run

ROOT = Path(__file__).resolve().parents[1]


def _client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_one_job_is_one_mlflow_run_with_metrics_params_and_artifacts(cfg_factory, tmp_path):
    cfg = cfg_factory("trainer.max_epochs=3", "seed=7")
    metrics = run(cfg, JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path))
    client = _client(tmp_path)
    experiment = client.get_experiment_by_name("gaussian")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    r = runs[0]
    assert r.info.status == "FINISHED"
    assert r.data.metrics["test_auc"] == pytest.approx(metrics["test_auc"])
    assert r.data.metrics["test_max_sic"] == pytest.approx(metrics["test_max_sic"])
    history = client.get_metric_history(r.info.run_id, "train_loss")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert all(np.isfinite(m.value) for m in history)
    assert r.data.params["model.lr"] == "0.001"
    assert r.data.params["dataset.signal_mean"] == "0.0"
    assert r.data.params["seed"] == "7"
    assert r.data.tags["seed"] == "7" and r.data.tags["model"] == "ocdn" and r.data.tags["dataset"] == "gaussian"
    names = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"config.yaml", "scores.npz", "roc.png", "sic.png", "model.ckpt"} <= names
    local = Path(client.download_artifacts(r.info.run_id, "scores.npz", str(tmp_path / "dl")))
    with np.load(local) as npz:
        assert npz["scores"].shape == npz["labels"].shape == (4000,)
        from sklearn.metrics import roc_auc_score

        assert roc_auc_score(npz["labels"], npz["scores"]) == pytest.approx(metrics["test_auc"])


def test_same_seed_twice_gives_identical_scores(cfg_factory, tmp_path):
    out = []
    for i in range(2):
        job = JobInfo(output_dir=tmp_path / f"job{i}", launch_dir=tmp_path)
        run(cfg_factory("logger=none", "seed=3"), job)
        with np.load(job.output_dir / "scores.npz") as npz:
            out.append(npz["scores"])
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize(
    "override, message",
    [("model.batch_size=-1", "model.batch_size must be positive"),
     ("dataset.signal_mean=abc", "dataset.signal_mean must be a number"),
     ("seed=abc", "seed must be an integer")],
)
def test_bad_values_raise_config_errors(cfg_factory, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        run(cfg_factory("logger=none", override), JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path))


@pytest.mark.system
@pytest.mark.slow
def test_seed_range_sweep_makes_three_runs_sharing_a_sweep_id(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "-m", "seed=0..2", "trainer.max_epochs=1", "dataset.n_train=1000",
         "dataset.n_test_background=1000", "dataset.n_test_signal=1000"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = re.findall(r"^\[(\d)/3\] seed=(\d): AUC 0\.\d{4}, max SIC \d+\.\d{3} \(", proc.stdout, re.M)
    assert jobs == [("1", "0"), ("2", "1"), ("3", "2")], proc.stdout  # one line per finished job
    client = _client(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("gaussian").experiment_id])
    assert sorted(int(r.data.params["seed"]) for r in runs) == [0, 1, 2]
    assert len({r.data.tags["sweep_id"] for r in runs}) == 1
    assert sorted(r.data.tags["job_num"] for r in runs) == ["0", "1", "2"]
    assert all("test_auc" in r.data.metrics and "test_max_sic" in r.data.metrics for r in runs)


# ------------------------------------------------------------------ values checked before training (issue 11)
@pytest.mark.parametrize("override, message", [
    ("eval.min_background=0", "eval.min_background must be a positive integer"),
    ("eval.min_background=-3", "eval.min_background must be a positive integer"),
    ("eval.min_background=2001", "eval.min_background=2001 exceeds the 2000 test background events"),
    ("trainer.max_epochs=0", r"trainer.max_epochs must be a positive integer \(epochs to train\), got 0"),
    ("trainer.max_epochs=-1", "trainer.max_epochs must be a positive integer"),
    ("trainer.max_epochs=1.5", "got 1.5"),
    ("trainer.max_epochs=abc", "got 'abc'"),
    ("seed=-1", r"seed must be an integer in \[0, 4294967295\], got -1"),
    ("seed=4294967296", r"seed must be an integer in \[0, 4294967295\], got 4294967296"),
])
def test_bad_values_fail_before_training(cfg_factory, tmp_path, override, message):
    cfg = cfg_factory(override, "logger=none")
    job = JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "_fit", lambda *a, **k: calls.append(a))
        with pytest.raises(ConfigError, match=message) as err:
            engine.run(cfg, job)
    assert not calls and "\n" not in str(err.value)  # nothing trained


def test_max_steps_allows_unbounded_epochs(cfg_factory, tmp_path):
    cfg = cfg_factory("trainer.max_epochs=-1", "+trainer.max_steps=3", "logger=none")
    job = JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    metrics = engine.run(cfg, job)
    assert set(metrics) >= {"test_auc", "test_max_sic"}


def test_gpu_trainer_on_cpu_machine_names_the_cause(cfg_factory, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cfg = cfg_factory("trainer=gpu", "logger=none")
    cfg.trainer.accelerator = "gpu"  # the factory pins tests to the CPU
    with pytest.raises(ConfigError, match=r"cannot build lightning.pytorch.Trainer: No supported gpu backend found!; "
                                          r"on a machine without that device use trainer=default"):
        make_trainer(cfg, [])


def test_small_networks_train_on_one_thread_unless_threads_is_set(cfg_factory, tmp_path):
    """The toy OCDN (a few hundred weights) runs on 1 CPU thread by default; `threads=N` wins; a
    large network keeps torch's default."""
    import torch

    from oneclass.config import build
    from oneclass.run.jobenv import SMALL_NETWORK_PARAMS, small_network
    from oneclass.run.engine import prepare

    job = JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path)
    cfg = cfg_factory("logger=none")
    detector = build(cfg.model, "model", input_shape=(1,))
    assert small_network(detector)
    assert prepare(cfg, job).threads(detector) == 1
    assert prepare(cfg_factory("logger=none", "threads=2"), job).threads(detector) == 2
    big = torch.nn.Linear(1000, SMALL_NETWORK_PARAMS // 1000 + 1)
    assert not small_network(big) and prepare(cfg, job).threads(big) is None
    assert not small_network(object())  # an sklearn-style detector: no torch weights
    before = torch.get_num_threads() + 1  # not the job's 1 thread, so that the check below can fail
    torch.set_num_threads(before)
    try:
        run(cfg, job)
        assert torch.get_num_threads() == before  # restored after the job
    finally:
        torch.set_num_threads(before - 1)
    status = job.process
    assert status["threads_used"] == 1


# ----------------------------------------------------------------- the paper's six detectors
SIX = ["ocdn", "ae", "deepsvdd", "deepsvdd_soft", "ocsvm_iad", "ocsvm_oad"]


@pytest.mark.system
@pytest.mark.slow
def test_six_detectors_on_lhco_in_one_command(tmp_path, shared_data):
    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"model={','.join(SIX)}", "dataset=lhco",
           f"dataset.path={path}", "dataset.n_train=2000", "dataset.n_test_background=1000",
           "dataset.n_test_signal=1000", "trainer.max_epochs=1", "trainer.accelerator=cpu"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert sorted(r.data.tags["model"] for r in runs) == sorted(SIX)
    raw = np.load(path)
    inside = (raw[:, 0] > 3.3) & (raw[:, 0] < 3.7)
    bkg, sig = raw[inside & (raw[:, 5] == 0), :5], raw[inside & (raw[:, 5] == 1), :5]
    x_train, y_test = bkg[:2000], np.r_[np.zeros(1000), np.ones(1000)]
    x_test = np.concatenate([bkg[len(bkg) - 1000:], sig[len(sig) - 1000:]])
    for r in runs:
        metrics, model = r.data.metrics, r.data.tags["model"]
        saved = np.load(Path(r.data.tags["output_dir"]) / "scores.npz")
        assert metrics["test_auc"] == pytest.approx(roc_auc(saved["scores"], saved["labels"]), abs=1e-12), model
        assert metrics["test_max_sic"] == pytest.approx(max_sic(saved["scores"], saved["labels"]), abs=1e-12), model
        assert metrics["fit_time_s"] > 0 and metrics["score_time_s"] > 0
        if model.startswith("ocsvm"):
            # the presets' scalable solver matches libsvm's exact solution on the same split
            assert r.data.params["model.solver"] == "nystroem"
            nu = float(r.data.params["model.nu"])
            exact = -SkOneClassSVM(nu=nu, gamma=0.1).fit(x_train).score_samples(x_test)
            assert metrics["test_auc"] == pytest.approx(roc_auc(exact, y_test), abs=0.01), model
