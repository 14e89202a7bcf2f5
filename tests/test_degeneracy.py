"""A collapsed detector is never reported as a result: the checks on the training rows, the
``degenerate`` tag and console line (single job and vectorised seed group), ``eval.on_degenerate=fail``,
and the report's mark and footnote."""

from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.degeneracy import code_degeneracy, degeneracy, score_degeneracy
from oneclass.run.engine import JobInfo, run
from oneclass.report.tabular import DEGENERATE_MARK, markdown_table, metric_table, records_from_runs

# the autoencoder preset before issue 25: d -> d/2 -> d/4 -> d/8 -> 1 with ReLU, 1-unit layers for d <= 9
OLD_FUNNEL = ["model.net.compression_factor=2", "model.net.n_layers=4", "model.net.rep_dim=1", "model.net.min_width=1"]


def test_code_and_score_checks_name_the_failure():
    rng = np.random.default_rng(0)
    healthy = rng.normal(size=(200, 3))
    assert code_degeneracy(healthy) is None and score_degeneracy(healthy[:, 0]) is None
    assert code_degeneracy(np.full((200, 3), 0.7)) == "constant_code"
    half_dead = healthy.copy()
    half_dead[:, 1] = -2.0
    assert code_degeneracy(half_dead) == "dead_code_units=1/3"
    assert code_degeneracy(np.where(healthy > 2, np.nan, healthy)) == "nan_code"
    assert score_degeneracy(np.full(50, 3.0) + 1e-9 * rng.normal(size=50)) == "constant_score"
    assert score_degeneracy(np.array([1.0, np.inf, 2.0])) == "nan_score"


def test_adapters_get_the_score_check():
    class Constant:
        def score(self, x):
            return np.zeros(len(x))

    class Spread(Constant):
        def score(self, x):
            return np.asarray(x)[:, 0]

    x = np.random.default_rng(1).normal(size=(30, 2))
    assert degeneracy(Constant(), x) == "constant_score"
    assert degeneracy(Spread(), x) is None


def _breastw(cfg_factory, shared_data, *overrides):
    shared_data("adbench/4_breastw.npz")
    return cfg_factory("experiment=nrcan/ae", "dataset=adbench", "dataset.name=breastw", f"dataset.path={shared_data('adbench/4_breastw.npz')}",
                       "trainer.max_epochs=5", "threads=1", *overrides, small=False)


def _runs(tmp_path: Path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name("adbench").experiment_id])


@pytest.mark.slow
def test_collapsing_funnel_is_tagged_and_marked_in_the_report(cfg_factory, shared_data, new_store, tmp_path, capsys):
    new_store(tmp_path)
    run(_breastw(cfg_factory, shared_data, *OLD_FUNNEL), JobInfo(output_dir=tmp_path / "old", launch_dir=tmp_path))
    assert "DEGENERATE: constant_code on the training rows" in capsys.readouterr().out
    run(_breastw(cfg_factory, shared_data), JobInfo(output_dir=tmp_path / "new", launch_dir=tmp_path))
    assert "DEGENERATE" not in capsys.readouterr().out
    runs = _runs(tmp_path)
    tags = sorted((r.data.params["model.net.rep_dim"], r.data.tags.get("degenerate", "")) for r in runs)
    # the old 1-unit funnel collapses; the preset (code max(4, d // 8) wide) does not
    assert tags == [("1", "constant_code"), ("None", "")]
    table = metric_table(records_from_runs(runs), "test_auc")
    assert list(table.degenerate.values()) == [["constant_code"]]
    md = markdown_table(table)
    assert md.count(DEGENERATE_MARK) == 2  # the cell and its footnote
    assert "1 of 2 (constant_code)" in md


@pytest.mark.slow
def test_on_degenerate_fail_fails_the_run_with_the_line(cfg_factory, shared_data, new_store, tmp_path):
    new_store(tmp_path)
    cfg = _breastw(cfg_factory, shared_data, *OLD_FUNNEL, "eval.on_degenerate=fail")
    with pytest.raises(TrainingError, match="DEGENERATE: constant_code .*eval.on_degenerate=fail"):
        run(cfg, JobInfo(output_dir=tmp_path / "old", launch_dir=tmp_path))
    (r,) = _runs(tmp_path)
    assert r.info.status == "FAILED" and r.data.tags["degenerate"] == "constant_code"
    with pytest.raises(ConfigError, match="eval.on_degenerate must be warn or fail"):
        run(_breastw(cfg_factory, shared_data, "eval.on_degenerate=stop"), JobInfo(output_dir=tmp_path / "x", launch_dir=tmp_path))


@pytest.mark.slow
def test_seed_group_members_are_checked(cfg_factory, shared_data, new_store, tmp_path, capsys):
    new_store(tmp_path)
    cfg = _breastw(cfg_factory, shared_data, *OLD_FUNNEL, "vectorised.seeds=[0,1]", "vectorised.ensemble=none")
    run(cfg, JobInfo(output_dir=tmp_path / "group", launch_dir=tmp_path))
    out = capsys.readouterr().out
    runs = {r.data.params["seed"]: r.data.tags.get("degenerate") for r in _runs(tmp_path)}
    # seed 0 collapses as its single job does (test above); every tagged member has its console line
    assert runs["0"] == "constant_code"
    assert out.count("DEGENERATE:") == sum(v is not None for v in runs.values())
    assert "autoencoder-breastw-seed0: DEGENERATE: constant_code" in out
