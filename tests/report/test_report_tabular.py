"""The tabular report pieces: dataset x detector table (mean ± std over runs), ranks and the rank plot,
from hand-made run records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oneclass.errors import DataError
from oneclass.report.tabular import (
    RunRecord, dataset_label, markdown_table, mean_ranks, metric_table, records_from_rows, write_report,
)


def rec(ds, det, auc, seed="0", fit=1.0):
    return RunRecord(ds, det, seed, seed, {"test_auc": auc, "fit_time_s": fit})


RECORDS = [rec("a", "x", 0.9, "0"), rec("a", "x", 0.8, "1"), rec("a", "y", 0.7), rec("a", "z", 0.7),
           rec("b", "x", 0.6), rec("b", "y", 0.95), rec("b", "z", 0.5), rec("c", "x", 0.99)]


def test_table_means_stds_and_counts():
    t = metric_table(RECORDS, "test_auc")
    assert t.datasets == ["a", "b", "c"] and t.detectors == ["x", "y", "z"]
    assert t.mean("a", "x") == pytest.approx(0.85) and t.std("a", "x") == pytest.approx(math.sqrt(0.005))
    assert t.std("a", "y") == 0.0 and math.isnan(t.mean("c", "y"))
    md = markdown_table(t)
    assert "| a | **0.850 ± 0.071 (2)** | 0.700 (1) | 0.700 (1) |" in md  # one run: the value alone
    assert "| c | **0.990 (1)** | – | – |" in md
    with pytest.raises(DataError, match="no run has metric 'test_f1'; the runs have: fit_time_s, test_auc"):
        metric_table(RECORDS, "test_f1")


def test_ranks_ties_and_lower_is_better_for_times():
    r = mean_ranks(metric_table(RECORDS, "test_auc"))
    assert r["datasets"] == ["a", "b"]  # c lacks y and z
    np.testing.assert_allclose(r["ranks"], [[1.0, 2.5, 2.5], [2.0, 1.0, 3.0]])
    np.testing.assert_allclose(r["mean_rank"], [1.5, 1.75, 2.75])
    assert r["cd"] == pytest.approx(2.343 * math.sqrt(3 * 4 / 12))
    fast = [rec("a", "x", 0.5, fit=10.0), rec("a", "y", 0.5, fit=1.0)]
    np.testing.assert_allclose(mean_ranks(metric_table(fast, "fit_time_s"))["mean_rank"], [2.0, 1.0])


def test_write_report_and_labels(tmp_path):
    files, md = write_report(RECORDS, "test_auc", tmp_path)
    names = sorted(f.name for f in files)
    assert names == ["rank_test_auc.pdf", "rank_test_auc.png", "tabular_test_auc.csv", "tabular_test_auc.md"]
    assert all(f.stat().st_size > 0 for f in files) and "| mean rank | 1.50 | 1.75 | 2.75 |" in md
    lines = (tmp_path / "tabular_test_auc.csv").read_text().splitlines()
    assert lines[0] == "dataset,detector,metric,mean,std,runs" and "a,x,test_auc,0.85,0.0707107,2" in lines
    assert dataset_label({"dataset": "adbench"}, {"dataset.name": "thyroid", "dataset.protocol": "nrcan"}) == "thyroid [nrcan]"
    assert dataset_label({"dataset": "lhco"}, {"dataset.name": "lhco"}) == "lhco"
    rows = [{"set": "cardio", "protocol": "adbench", "split_seed": "1", "detector": "ae", "auc": "0.9", "aupr": "0.5",
             "f1": "0.4", "fit_s": "2", "error": ""}, {"set": "cardio", "protocol": "adbench", "split_seed": "1",
                                                       "detector": "ocsvm", "error": "boom"}]
    assert records_from_rows(rows) == [RunRecord("cardio [adbench]", "ae", "1", "1",
                                                 {"auc": 0.9, "aupr": 0.5, "f1": 0.4, "fit_s": 2.0})]


def test_oneclass_report_on_tabular_runs(tmp_path, monkeypatch, capsys, new_store):
    """`oneclass report` on a sweep over two tabular sets: one table and rank plot per metric, the
    summary run's numbers, and `--metric` refused for a metric no run logged."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from oneclass.report import main as report_main
    from oneclass.errors import ConfigError

    new_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("tab", artifact_location=(tmp_path / "mlruns").as_uri())
    expected = {}
    for name, base in (("thyroid", 0.9), ("cardio", 0.7)):
        for model, plus in (("pyod_iforest", 0.05), ("ae", -0.05)):
            for split in range(2):
                auc = base + plus + 0.01 * split
                expected.setdefault((name, model), []).append(auc)
                run = client.create_run(exp, run_name=f"{model}-{name}-{split}",
                                        tags={"model": model, "dataset": "adbench", "dataset_kind": "tabular", "seed": "0",
                                              "sweep_id": "t1"})
                client.log_batch(run.info.run_id,
                                 metrics=[Metric("test_auc", auc, 0, 0), Metric("fit_time_s", 1.0 + split, 0, 0)],
                                 params=[Param("dataset.name", name), Param("dataset.protocol", "nrcan"),
                                         Param("dataset.split_seed", str(split)), Param("seed", "0")])
                client.set_terminated(run.info.run_id)
    out = tmp_path / "rep"
    assert report_main(["--tracking-uri", uri, "--output", str(out), "--metric", "test_auc", "--metric", "fit_time_s",
                        "--format", "png"]) == 0
    md = (out / "tabular_test_auc.md").read_text()
    assert "| thyroid [nrcan] | 0.855 ± 0.007 (2) | **0.955 ± 0.007 (2)** |" in md
    assert (out / "rank_test_auc.png").stat().st_size > 1000 and (out / "tabular_fit_time_s.csv").exists()
    summary = client.search_runs([exp], "tags.report = 'true'")[0].data.metrics
    assert summary["thyroid_nrcan.pyod_iforest.test_auc_mean"] == pytest.approx(np.mean(expected["thyroid", "pyod_iforest"]))
    capsys.readouterr()
    with pytest.raises(ConfigError, match=r"--metric test_f1: no selected run logged it; the runs have fit_time_s, test_auc"):
        report_main(["--tracking-uri", uri, "--no-mlflow", "--metric", "test_f1", "--sweep", "t1"])
