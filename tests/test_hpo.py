"""hydra/sweeper=optuna: a seeded TPE search of a validation metric, trials nested under one MLflow run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from oneclass.data.gaussian import GaussianToy
from oneclass.data.splits import one_class_split

ROOT = Path(__file__).resolve().parents[1]


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.system
@pytest.mark.slow
def test_optuna_search_of_the_logistic_ocdn_learning_rate(tmp_path):
    pytest.importorskip("optuna")
    out = run_cli(tmp_path, "-m", "hydra/sweeper=optuna", "model=logreg", "dataset.n_val=3000", "dataset.n_train=3000",
                  "dataset.n_test_background=2000", "dataset.n_test_signal=2000", "trainer.max_epochs=2",
                  "trainer.accelerator=cpu", "hydra.sweeper.n_trials=4", "model.lr=tag(log,interval(1e-4,3e-1))")
    assert out.returncode == 0, out.stderr[-3000:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("gaussian").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("hpo_study") == "true"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(trials) == 4 and all(r.info.status == "FINISHED" for r in trials)
    assert sorted(int(r.data.tags["hpo_trial"]) for r in trials) == [0, 1, 2, 3]
    # the preset holds the learning rate of a trial with the best validation AUC (a 1-D logistic
    # regression ranks events identically for every weight of one sign, so trials can tie)
    top = max(r.data.metrics["val_auc"] for r in trials)
    preset = OmegaConf.load(next((tmp_path / "multirun").glob("*/*/best.yaml")))
    (best,) = [r for r in trials if float(r.data.params["model.lr"]) == pytest.approx(preset.model.lr, rel=1e-12)]
    assert best.data.metrics["val_auc"] == top
    assert parent.data.metrics["best_value"] == pytest.approx(top)
    assert f"val_auc = {top:.4f}" in out.stdout
    assert len({r.data.params["model.lr"] for r in trials}) == 4  # TPE proposed four different rates


@pytest.mark.system
@pytest.mark.parametrize("args, message", [
    (["model.lr=tag(log,interval(1e-4,1e-1))"], "optimises val_auc on a validation split: set dataset.n_val=N"),
    (["hydra.sweeper.objective=test_auc", "dataset.n_val=10", "model.lr=interval(0.1,0.2)"],
     "must be a validation metric"),
    (["hydra.sweeper.objective=val_nosuch", "dataset.n_val=10", "model.lr=interval(0.1,0.2)"],
     "hydra.sweeper.objective: no validation metric 'val_nosuch'; the jobs report val_"),
    (["dataset.n_val=10"], "needs a search space"),
    (["dataset.n_val=10", "model.lr=tag(log,interval(0,1))"], "a log interval needs a positive start"),
])
def test_optuna_sweeper_bad_input_is_one_line(tmp_path, args, message):
    pytest.importorskip("optuna")
    out = run_cli(tmp_path, "-m", "hydra/sweeper=optuna", "logger=none", *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_validation_split_is_disjoint_from_train_and_test():
    labels = np.r_[np.zeros(20, np.int8), np.ones(10, np.int8)]
    s = one_class_split(labels, n_train=8, n_test_normal=6, n_val_normal=4, n_val_anomaly=3)
    assert not set(s.val) & set(s.train) and not set(s.val) & set(s.test)
    np.testing.assert_array_equal(s.val, [8, 9, 10, 11, 20, 21, 22])  # after the training rows, front of anomalies
    np.testing.assert_array_equal(s.y_val, [0, 0, 0, 0, 1, 1, 1])
    assert len(s.test) == 6 + 7  # the anomalies not used for validation
    toy = GaussianToy(n_train=100, n_test_background=50, n_test_signal=50, n_val=30).load(0)
    plain = GaussianToy(n_train=100, n_test_background=50, n_test_signal=50).load(0)
    np.testing.assert_array_equal(toy.x_test, plain.x_test)  # adding a validation split changes nothing else
    assert toy.x_val.shape == (60, 1) and toy.y_val.sum() == 30


@pytest.mark.system
@pytest.mark.slow
def test_optuna_on_real_lhco_validates_ranks_by_val_and_best_preset_runs(tmp_path, shared_data):
    """The README's LHCO search: validation events are scored without the test events' mjj, the
    trial lines show the validation metric (never the test AUC), and best.yaml, with a choice()
    of integers, loads back as a preset with typed values and runs."""
    pytest.importorskip("optuna")
    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    small = ["dataset=lhco", f"dataset.path={path}", "model=ocdn", "trainer.max_epochs=1", "trainer.accelerator=cpu",
             "dataset.n_train=2000", "dataset.n_test_background=1000", "dataset.n_test_signal=1000"]
    out = run_cli(tmp_path, "-m", "hydra/sweeper=optuna", *small, "dataset.n_val=600", "hydra.sweeper.n_trials=2",
                  "model.batch_size=choice(64,128)")
    assert out.returncode == 0, out.stderr[-3000:]
    trial_lines = [line for line in out.stdout.splitlines() if line.startswith("[trial ")]
    assert len(trial_lines) == 2 and all("val AUC" in line and "test AUC" not in line for line in trial_lines), out.stdout
    # the end-of-sweep table compares the trials on the objective too, never on a test metric
    assert "  val_auc per setting" in out.stdout and "test_auc" not in out.stdout, out.stdout
    best_file = next((tmp_path / "multirun").glob("*/*/best.yaml"))
    preset = OmegaConf.load(best_file)
    assert isinstance(preset.model.batch_size, int) and preset.model.batch_size in (64, 128)
    # used as the header says: copied into conf/experiment/ ... here through a config dir on the search path
    exp = tmp_path / "presets" / "experiment"
    exp.mkdir(parents=True)
    (exp / "lhco_best.yaml").write_text(best_file.read_text())
    out = run_cli(tmp_path, *small, f"hydra.searchpath=[file://{tmp_path / 'presets'}]", "experiment=lhco_best",
                  "--cfg", "job")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"batch_size: {preset.model.batch_size}\n" in out.stdout


def test_optuna_absent_is_one_line_with_the_install_command(monkeypatch, capsys):
    from oneclass.launch.hpo import OptunaSweeper

    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` sees without the hpo extra
    with pytest.raises(SystemExit) as exit_:
        OptunaSweeper()
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: hydra/sweeper=optuna needs Optuna: pip install 'oneclass[hpo]' (or pip install optuna)\n"


def test_an_objective_no_job_reports_is_refused_before_any_trial(capsys):
    pytest.importorskip("optuna")
    from oneclass.launch.hpo import OptunaSweeper, validation_metrics

    assert {"val_auc", "val_max_sic", "val_aupr", "val_f1"} <= set(validation_metrics())
    with pytest.raises(SystemExit):
        OptunaSweeper(objective="val_nosuch")
    assert "no validation metric 'val_nosuch'" in capsys.readouterr().err
    assert OptunaSweeper(objective="val_max_sic").objective == "val_max_sic"


def test_validation_on_the_real_lhco_file_scores_the_validation_events(cfg_factory, shared_data, tmp_path):
    """dataset.n_val > 0 on LHCO: the validation view carries the validation events' own mjj."""
    from oneclass.config import build
    from oneclass.run.engine import JobInfo, run, validation_view

    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    cfg = cfg_factory("dataset=lhco", f"dataset.path={path}", "dataset.n_val=600", "dataset.n_val_signal=200",
                      "model=logreg", "logger=none")
    data = build(cfg.dataset, "dataset").load(0)
    view = validation_view(data)
    assert view.x_test.shape == (800, 5) and view.test_aux["mjj"].shape == (800,)
    raw = np.load(path)
    # each validation event's mjj is its file row's first column, within the signal region
    assert set(np.round(view.test_aux["mjj"], 6)) <= set(np.round(raw[:, 0], 6))
    assert ((view.test_aux["mjj"] > 3.3) & (view.test_aux["mjj"] < 3.7)).all()
    metrics = run(cfg, JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path))
    assert 0.0 <= metrics["val_auc"] <= 1.0 and "test_auc" in metrics


def test_a_trial_prints_its_validation_metric_not_the_test_auc(cfg_factory, tmp_path, capsys):
    from oneclass.run.engine import JobInfo, run

    cfg = cfg_factory("dataset.n_val=300", "logger=none", "hpo.trial=3", "hpo.objective=val_auc")
    job = JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path, multirun=True, job_num=3,
                  overrides=["dataset.n_val=300", "model.lr=0.01", "hpo.trial=3", "hpo.objective=val_auc"])
    metrics = run(cfg, job)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("[trial 3] ") and "model.lr=0.01" in line and f"val AUC {metrics['val_auc']:.4f}" in line
    assert "test" not in line.lower() and "hpo." not in line
