"""The report of the image benchmark: the per-class table beside Ruff's targets, the extremes figure
(normal-class images by score), and `oneclass report` on image runs in an MLflow store."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.data.images import load_idx_split


def image_run(model: str, c: int, seed: int, scores, labels, index=None, **params):
    from oneclass.report.images import ImageRun

    scores, labels = np.asarray(scores, float), np.asarray(labels, np.int8)
    return ImageRun(model=model, dataset="mnist", normal_class=c, seed=str(seed),
                    params={"dataset.normal_class": str(c), "seed": str(seed), **params}, scores=scores,
                    labels=labels, index=np.arange(len(scores)) if index is None else np.asarray(index),
                    fit_time_s=10.0 + seed)


def test_class_table_means_stds_targets_and_gaps():
    from oneclass.report.images import class_table, markdown

    labels = [0, 0, 1, 1]
    # Ruff et al.'s schedule and training size: the targets are comparable, so the gap is given
    paper = {"trainer.max_epochs": "150", "model.pretrain_epochs": "150", "dataset.n_train": "None"}
    runs = [image_run("deepsvdd", 1, 0, [0.1, 0.2, 0.3, 0.4], labels, **paper),    # AUC 1
            image_run("deepsvdd", 1, 1, [0.1, 0.35, 0.3, 0.4], labels, **paper),   # AUC 0.75
            image_run("deepsvdd", 5, 0, [0.4, 0.3, 0.2, 0.1], labels, **paper),    # AUC 0
            image_run("ae", 5, 0, [0.1, 0.2, 0.3, 0.4], labels)]
    rows = class_table(runs)
    by = {(r["detector"], r["normal_class"]): r for r in rows}
    r1 = by["deepsvdd", 1]
    assert r1["n_runs"] == 2 and r1["auc_mean"] == pytest.approx(0.875)
    assert r1["auc_std"] == pytest.approx(np.std([1.0, 0.75], ddof=1))
    assert r1["target"] == pytest.approx(0.997) and r1["gap"] == pytest.approx(0.875 - 0.997)
    assert r1["fit_time_s"] == pytest.approx(10.5)
    assert by["deepsvdd", "mean"]["auc_mean"] == pytest.approx((0.875 + 0.0) / 2)
    assert by["deepsvdd", "mean"]["target"] == pytest.approx((0.997 + 0.885) / 2)
    assert by["ae", 5]["target"] is None and by["ae", 5]["auc_mean"] == 1.0  # no published DCAE target
    text = markdown(rows)
    assert "| 1 (1) | 2 | 87.5 ± 17.7 | 99.7 | -12.2 | 10 |" in text
    # runs of one model with different settings become separate detectors; class and seed do not split
    split = class_table([image_run("ocnn", 0, 0, [0, 1, 1, 0], labels, **{"model.activation": "linear"}),
                         image_run("ocnn", 1, 0, [0, 1, 1, 0], labels, **{"model.activation": "sigmoid"})])
    assert {r["detector"] for r in split} == {"ocnn (activation=linear)", "ocnn (activation=sigmoid)"}


def test_extremes_are_the_normal_class_images_by_score(tmp_path):
    from PIL import Image

    from oneclass.report.images import extremes, image_report

    index = np.array([10, 11, 12, 13, 14, 15])
    run = image_run("deepsvdd", 3, 0, [5.0, 1.0, 9.0, 3.0, 0.0, 7.0], [0, 0, 1, 0, 1, 0], index=index)
    low, high = extremes(run, 2)
    np.testing.assert_array_equal(low, [11, 13])   # normal-class images (label 0) with the lowest scores
    np.testing.assert_array_equal(high, [15, 10])  # ... and the highest; anomalies (12, 14) never shown
    images = np.zeros((20, 1, 28, 28), np.uint8)
    files, metrics, text = image_report([run], tmp_path / "rep", n_images=2, images=images)
    names = {p.name for p in files}
    assert names == {"classes.md", "classes.csv", "extremes_deepsvdd.png"}
    assert Image.open(tmp_path / "rep" / "extremes_deepsvdd.png").size[0] > 100
    assert metrics["auc_deepsvdd_class_3"] == pytest.approx(0.5)  # anomalies at 9 and 0 vs normals 5 1 3 7
    assert "91.9" in text  # the class-3 target


def test_report_images_command_without_a_store_is_one_line(tmp_path, capsys):
    from oneclass.launch import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["report-images", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "none.db" in err and "\n" not in err


def test_oneclass_report_on_image_runs_gives_the_class_table_and_extremes(tmp_path, monkeypatch, shared_data, new_store):
    """`oneclass report` on MNIST runs in an MLflow store: the per-class table beside Ruff's targets
    (mean and std over seeds) and the extremes figure read from the runs' own dataset files."""
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient
    from PIL import Image

    from oneclass.report import main as report_main

    folder = shared_data("mnist")
    _, test_labels = load_idx_split(folder, "test")
    new_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("mnist", artifact_location=(tmp_path / "mlruns").as_uri())
    rng = np.random.default_rng(0)
    index = np.arange(0, 10000, 10)  # a subsample of the official test set, by number
    aucs = {}
    for c in (0, 3):
        for seed, shift in ((0, 1.0), (1, 2.0)):
            labels = (test_labels[index] != c).astype(np.int8)
            scores = rng.normal(size=len(index)) + shift * labels
            run = client.create_run(exp, run_name=f"deepsvdd-mnist-{c}-{seed}",
                                    tags={"model": "deepsvdd", "dataset": "mnist", "seed": str(seed), "sweep_id": "s1"})
            client.log_batch(run.info.run_id, params=[
                Param("seed", str(seed)), Param("dataset.normal_class", str(c)),
                Param("dataset._target_", "oneclass.data.image_sets.MNIST"), Param("dataset.path", str(folder))])
            d = tmp_path / "art" / run.info.run_id
            d.mkdir(parents=True)
            np.savez_compressed(d / "scores.npz", scores=scores, labels=labels, index=index)
            client.log_artifacts(run.info.run_id, str(d))
            client.set_terminated(run.info.run_id)
            from sklearn.metrics import roc_auc_score
            aucs.setdefault(c, []).append(100 * roc_auc_score(labels, scores))
    out = tmp_path / "rep"
    assert report_main(["--output", str(out), "--tracking-uri", uri, "--no-mlflow", "--n-images", "4"]) == 0
    import csv
    with open(out / "classes.csv") as f:
        rows = {int(r["normal_class"]): r for r in csv.DictReader(f) if r["normal_class"] not in ("", "mean")}
    assert set(rows) == {0, 3}
    for c in (0, 3):
        assert float(rows[c]["auc_mean"]) * 100 == pytest.approx(np.mean(aucs[c]), abs=0.01)
        assert int(rows[c]["n_runs"]) == 2
    md = (out / "classes.md").read_text()
    assert "98.0" in md and "91.9" in md  # Ruff's targets for classes 0 and 3
    assert Image.open(out / "extremes_deepsvdd.png").size[0] > 100
    with pytest.raises(Exception, match="--n-images must be >= 1"):
        report_main(["--output", str(out), "--tracking-uri", uri, "--no-mlflow", "--n-images", "0"])
