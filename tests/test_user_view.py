"""What a user sees: the console of a first run and of a sweep against a tracking server, the
MLflow UI links, experiment kind and run names, and the README's query recipe."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from oneclass.run.engine import JobInfo, run
from oneclass.tracking import EXPERIMENT_TAGS, VIEW_TAG, ui_url, view_key

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["trainer.max_epochs=1", "trainer.accelerator=cpu", "dataset.n_train=1000", "dataset.n_test_background=1000",
         "dataset.n_test_signal=1000", "threads=1"]


def test_ui_links():
    assert (ui_url("http://mlflow-host:5000/", "7", search_filter="tags.sweep_id = 'a-1'")
            == "http://mlflow-host:5000/#/experiments/7/runs?workflowType=machine_learning"
               "&searchFilter=tags.sweep_id%20%3D%20%27a-1%27")
    assert ui_url("https://h/mlflow", "7", run_id="abc") == \
        "https://h/mlflow/#/experiments/7/runs/abc?workflowType=machine_learning"
    local = ui_url("sqlite:////data/mlflow.db", "2")
    assert local == ("http://127.0.0.1:5000/#/experiments/2/runs?workflowType=machine_learning "
                     "(start the UI first: mlflow ui --backend-store-uri sqlite:////data/mlflow.db)")


def test_run_name_experiment_kind_link_and_short_params(cfg_factory, tmp_path, capsys):
    run(cfg_factory("seed=4", "model=logreg"),
        JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path, choices={"model": "logreg", "dataset": "gaussian"}))
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("gaussian")
    assert exp.tags["mlflow.experimentKind"] == EXPERIMENT_TAGS["mlflow.experimentKind"] == "custom_model_development"
    (r,) = client.search_runs([exp.experiment_id])
    assert r.info.run_name == "logreg-gaussian-seed4"
    assert r.data.metrics.keys() >= {"test_auc", "test_max_sic"}
    assert max(len(v) for v in r.data.params.values()) < 100 and "overrides" not in r.data.params
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"MLflow run {r.info.run_id} in experiment 'gaussian'; runs table: "
                           f"http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning"
                           f"&viewStateShareKey={view_key(None)} ")
    # the link opens the runs table with our metric columns (MLflow shows none by default)
    assert "metrics.`test_auc`" in exp.tags[VIEW_TAG + view_key(None)]


@pytest.mark.system
@pytest.mark.slow
def test_first_run_prints_only_our_lines(tmp_path):
    """A fresh matplotlib cache (as on a new machine): its 'generated new fontManager' goes to the
    job's log file, not to the console."""
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mplconfig"), "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *SMALL], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.strip().splitlines()
    assert len(out) == 3, proc.stdout
    assert out[0].startswith("ocdn-gaussian-seed0: test AUC = ")
    assert out[1].startswith("results: ")
    assert re.match(r"MLflow run \w+ in experiment 'gaussian'; runs table: http://127\.0\.0\.1:5000/#/experiments/1/runs\?workflowType=machine_learning&viewStateShareKey=oneclass-\w+ ",
                    out[2])
    assert all("ocdn-gaussian-seed0" in line for line in proc.stderr.strip().splitlines())  # the progress bar
    log = Path(out[1].removeprefix("results: "), "oneclass.log").read_text()
    assert "generated new fontManager" in log  # it happened in this run, and went to the file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tracking_server(tmp_path):
    """An MLflow tracking server (HTTP) on a free local port, stopped after the test."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(tmp_path / "art")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow server did not start on {url}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


@pytest.mark.system
@pytest.mark.slow
def test_sweep_against_a_tracking_server_prints_no_mlflow_lines_and_one_link(tmp_path, tracking_server):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", None)
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", "seed=0,1", f"logger.tracking_uri={tracking_server}",
                           *SMALL], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "View run" not in proc.stdout and "View experiment" not in proc.stdout, proc.stdout
    lines = proc.stdout.strip().splitlines()
    assert sorted(line.split(":")[0] for line in lines if re.match(r"\[\d+/\d+\] ", line)) == ["[1/2] seed=0", "[2/2] seed=1"]
    client = MlflowClient(tracking_uri=tracking_server)
    exp = client.get_experiment_by_name("gaussian")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([exp.experiment_id])
    (sweep_id,) = {r.data.tags["sweep_id"] for r in runs}
    assert lines[-1] == (f"MLflow: this sweep's runs in experiment 'gaussian': {tracking_server}/#/experiments/"
                         f"{exp.experiment_id}/runs?workflowType=machine_learning&viewStateShareKey=" + view_key(f"tags.sweep_id = '{sweep_id}'"))
    assert sum("#/experiments/" in line for line in lines) == 1


def _docs_recipe() -> str:
    """The Python snippet of docs/tracking.md's "Comparing runs" (it was the README's)."""
    text = (ROOT / "docs" / "tracking.md").read_text()
    start = text.index("**Comparing runs in the MLflow UI.**")
    begin = text.index("```python\n", start) + len("```python\n")
    return text[begin:text.index("```\n", begin)]


def test_docs_query_recipe_selects_a_sweep_and_charts_auc_against_a_param(cfg_factory, tmp_path, monkeypatch):
    """The docs' Python recipe, run as written on the docs' 2 nu x 2 seed OC-SVM sweep (the latest),
    beside an earlier sweep's run and a report summary run."""
    import mlflow.tracking._tracking_service.utils as tracking_utils

    from oneclass.report import main as report_main

    def job(seed: int, nu: float, sweep: str, num: int) -> None:
        cfg = cfg_factory("model=ocsvm", "model.solver=exact", f"model.nu={nu}", f"seed={seed}")
        run(cfg, JobInfo(output_dir=tmp_path / f"{sweep}-{num}", launch_dir=tmp_path, multirun=True, job_num=num,
                         sweep_id=sweep, sweep_dir=str(tmp_path / sweep), choices={"model": "ocsvm"}))

    job(0, 0.5, "other-sweep", 0)
    points = [(seed, nu) for nu in (0.1, 0.5) for seed in (0, 1)]
    for i, (seed, nu) in enumerate(points):
        job(seed, nu, "nu-sweep", i)
    assert report_main(["--sweep", "nu-sweep", "--output", str(tmp_path / "rep")]) == 0  # a summary run in the experiment
    recipe = _docs_recipe()
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)  # the recipe sets it; restored afterwards
    namespace: dict = {}
    exec(compile(recipe, "docs/tracking.md recipe", "exec"), namespace)
    assert namespace["SWEEP"] == "nu-sweep"
    runs = namespace["runs"]
    assert len(runs) == 4 and set(runs["tags.sweep_id"]) == {"nu-sweep"}  # neither the other sweep nor the report
    assert list(runs["metrics.test_auc"]) == sorted(runs["metrics.test_auc"], reverse=True)
    assert sorted(runs["params.model.nu"]) == [0.1, 0.1, 0.5, 0.5]
    assert sorted(runs["tags.mlflow.runName"]) == ["ocsvm-gaussian-seed0"] * 2 + ["ocsvm-gaussian-seed1"] * 2
    assert (tmp_path / "auc_vs_param.png").stat().st_size > 1000
    # the documented filter that hides summary runs keeps every training run
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp_id = client.get_experiment_by_name("gaussian").experiment_id
    assert len(client.search_runs([exp_id], "tags.report IS NULL")) == 5
    assert len(client.search_runs([exp_id])) == 6


def test_long_param_values_are_shortened_with_the_full_text_in_a_tag(tmp_path, new_store):
    from oneclass.tracking import SHORT_PARAM, MlflowTracker

    new_store(tmp_path)
    tracker = MlflowTracker(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment_name="t", root_dir=tmp_path)
    features = [f"feature_{i}" for i in range(300)]
    with tracker.start_run("r"):
        tracker.log_params({"model.lr": 0.001, "dataset.features": features})
    r = tracker.client.get_run(tracker.run_id)
    assert r.data.params["model.lr"] == "0.001"
    short = r.data.params["dataset.features"]
    assert len(short) < SHORT_PARAM + 30 and short.startswith("['feature_0', 'feature_1'")
    assert short.endswith(f"... ({len(str(features))} chars: tag param.dataset.features)")
    assert r.data.tags["param.dataset.features"] == str(features)


def test_docs_query_recipe_on_a_store_without_sweeps_says_so(tmp_path, monkeypatch, new_store):
    """Run as written where no sweep ran, the recipe stops with one line (it used to raise KeyError)."""
    import mlflow
    import mlflow.tracking._tracking_service.utils as tracking_utils

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    new_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    # MLflow caches stores and engines by URI: the relative sqlite:///mlflow.db of an earlier test's folder
    monkeypatch.setattr(SqlAlchemyStore, "_engine_map", {})
    tracking_utils._tracking_store_registry._get_store_with_resolved_uri.cache_clear()
    MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}").create_experiment("gaussian")
    with pytest.raises(SystemExit, match="no sweep in experiment 'gaussian'"):
        exec(compile(_docs_recipe(), "docs/tracking.md recipe", "exec"), {})
    assert mlflow.get_tracking_uri() == "sqlite:///mlflow.db"
    tracking_utils._tracking_store_registry._get_store_with_resolved_uri.cache_clear()


def test_job_line_shows_k_of_n_only_the_varying_overrides_and_the_kinds_metrics(tmp_path):
    """A sweep over 2 models x 3 seeds with a constant override: the job line names the job's place
    among the 6, the model and seed only, and the metrics of the dataset's kind."""
    from omegaconf import OmegaConf

    from oneclass import logs

    OmegaConf.save(OmegaConf.create({"hydra": {"overrides": {"task": [
        "model=ae,ocsvm", "seed=range(0,3)", "dataset.n_train=5000", "dataset=adbench"]}, "sweeper": {}}}),
        tmp_path / "multirun.yaml")
    job = JobInfo(output_dir=tmp_path / "4", launch_dir=tmp_path, multirun=True, job_num=4, sweep_dir=str(tmp_path),
                  overrides=["model=ocsvm", "seed=1", "dataset.n_train=5000", "dataset=adbench"])
    metrics = {"test_auc": 0.91234, "test_aupr": 0.5, "test_f1": 0.25, "test_max_sic": 3.0}
    assert logs.job_prefix(job) == "[5/6] model=ocsvm seed=1"
    varying, n = logs.sweep_plan(tmp_path)
    line = logs.job_line(4, n, logs.varying_overrides(job.overrides, varying), metrics,
                         logs.dataset_kind("oneclass.data.tabular_datasets.ADBench"), 2.04)
    assert line == "[5/6] model=ocsvm seed=1: AUC 0.9123, AUPR 0.5000, F1 0.2500 (2.0 s)"
    physics = logs.job_line(0, 6, "seed=0", metrics, logs.dataset_kind("oneclass.data.lhco.LHCO"), 1.0)
    assert physics == "[1/6] seed=0: AUC 0.9123, max SIC 3.000 (1.0 s)"


@pytest.mark.parametrize("overrides, job_overrides, expected", [
    ([], [], "ocdn-gaussian-seed0"),
    (["dataset.signal_mean=-4"], ["dataset.signal_mean=-4"], "ocdn-gaussian-mu-4-seed0"),
    (["dataset.signal_mean=0"], ["dataset.signal_mean=0"], "ocdn-gaussian-seed0"),  # the default, spelt as an int
    (["dataset=adbench", "dataset.name=cardio", "model=ae", "seed=2", "dataset.split_seed=3"],
     ["dataset=adbench", "dataset.name=cardio", "model=ae", "seed=2", "dataset.split_seed=3"], "ae-cardio-split3-seed2"),
    (["dataset=adbench", "dataset.name=cardio", "model=ae"], ["dataset=adbench", "model=ae"], "ae-cardio-seed0"),
    (["dataset=mnist", "dataset.normal_class=3", "model=deepsvdd"], ["model=deepsvdd"], "deepsvdd-mnist-class3-seed0"),
    (["hpo.trial=7"], ["hpo.trial=7"], "ocdn-gaussian-seed0-trial7"),
    (["name=my baseline"], ["name=my baseline"], "my baseline"),
])
def test_run_names_identify_the_run(cfg_factory, tmp_path, overrides, job_overrides, expected):
    from oneclass.run.job import run_name

    cfg = cfg_factory(*overrides, small=False)
    choices = {k: v for k, v in (o.split("=", 1) for o in overrides) if k in ("model", "dataset")}
    job = JobInfo(output_dir=tmp_path, launch_dir=tmp_path, overrides=job_overrides, choices=choices)
    assert run_name(cfg, job) == expected


def test_a_sweep_over_several_tabular_sets_is_one_experiment(cfg_factory):
    """ADBench and ODDS sets log to the collection's experiment, so a sweep's link shows all its runs."""
    def experiment(*overrides: str) -> str:
        return cfg_factory(*overrides, small=False).logger.experiment_name

    assert {experiment("dataset=adbench", f"dataset.name={n}") for n in ("cardio", "thyroid")} == {"adbench"}
    assert experiment("dataset=odds", "dataset.name=arrhythmia") == "odds"
    assert experiment("dataset=lhco") == "lhco" and experiment() == "gaussian"


def test_params_are_the_hyperparameters_and_overrides_and_the_config_is_an_artifact(cfg_factory, tmp_path):
    """The runs table shows metrics without "show more columns": params are model.*, dataset.*, the
    seed, the epoch budget and the command's overrides; the whole config is config.yaml."""
    import yaml

    cfg = cfg_factory("eval.min_background=5", "seed=2")
    run(cfg, JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path, overrides=["eval.min_background=5", "seed=2"]))
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    (r,) = client.search_runs([client.get_experiment_by_name("gaussian").experiment_id])
    params = r.data.params
    assert {"model.lr", "model.batch_size", "dataset.signal_mean", "seed", "trainer.max_epochs"} <= set(params)
    assert params["eval.min_background"] == "5" and params["seed"] == "2"  # overridden on the command line
    assert not [k for k in params if k.startswith(("trainer.accelerator", "logger.", "hpo.", "vectorised.", "eval.s"))]
    assert "model._target_" not in params and r.data.tags["model_class"] == cfg.model._target_
    assert len(params) < 30
    saved = yaml.safe_load(Path(client.download_artifacts(r.info.run_id, "config.yaml", str(tmp_path / "dl"))).read_text())
    assert saved["model"]["_target_"] == cfg.model._target_ and saved["trainer"]["accelerator"] == "cpu"
    assert saved["eval"]["min_background"] == 5


def test_no_progress_frames_when_stderr_is_not_a_terminal(cfg_factory, tmp_path, capsys):
    """A single run redirected to a file writes no tqdm \\r frames (stderr is captured here, not a TTY)."""
    run(cfg_factory("logger=none", "trainer.max_epochs=2"), JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path))
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "epoch" not in captured.err
    assert captured.out.startswith("ocdn-gaussian-seed0: test AUC = ")


@pytest.mark.system
def test_a_sweep_console_has_no_numexpr_or_joblib_repr_line(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NUMEXPR_MAX_THREADS", None)
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", "hydra/launcher=local_parallel",
                           "hydra.launcher.n_jobs=2", "seed=0,1", "logger=none", *SMALL], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    both = proc.stdout + proc.stderr
    assert "NumExpr" not in both and "Joblib.Parallel(" not in both
    assert sorted(line.split(":")[0] for line in proc.stdout.splitlines() if re.match(r"\[\d+/\d+\] ", line)) == \
        ["[1/2] seed=0", "[2/2] seed=1"]
    assert "test_auc per setting" in proc.stdout
