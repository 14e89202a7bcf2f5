"""`oneclass report`: a small MLflow store with known scores -> figures, tables, errors; and the
epoch snapshots of the toy study."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from oneclass import metrics
from oneclass.report import ReportError, main as report_main

N_BKG, N_SIG = 3000, 1000


def _scores(rng, shift: float) -> tuple[np.ndarray, np.ndarray]:
    labels = np.r_[np.zeros(N_BKG, np.int8), np.ones(N_SIG, np.int8)]
    scores = rng.normal(0.0, 1.0, N_BKG + N_SIG) + shift * labels
    return scores, labels


def log_run(client, exp_id, tmp_path, model, seed, shift=1.0, sweep="sweep-a", dataset="gaussian", epochs=20,
            with_scores=True, status="FINISHED", params=None) -> tuple[str, float]:
    """One pipeline-like run: tags, params and (optionally) a scores.npz artifact. Returns (run id, AUC)."""
    from mlflow.entities import Param

    rng = np.random.default_rng(1000 * seed + len(model))
    scores, labels = _scores(rng, shift + 0.15 * seed)
    tags = {"model": model, "dataset": dataset, "seed": str(seed)}
    if sweep:
        tags.update(sweep_id=sweep, job_num=str(seed))
    run = client.create_run(exp_id, run_name=f"{model}-seed{seed}", tags=tags)
    rid = run.info.run_id
    ps = {"seed": seed, "trainer.max_epochs": epochs, "model.lr": 0.001, "trainer.accelerator": f"cpu{seed}"}
    ps.update(params or {})
    client.log_batch(rid, params=[Param(k, str(v)) for k, v in ps.items()])
    if with_scores:
        d = tmp_path / "art" / rid
        d.mkdir(parents=True)
        np.savez_compressed(d / "scores.npz", scores=scores, labels=labels)
        client.log_artifacts(rid, str(d))
    client.set_terminated(rid, status=status)
    return rid, float(roc_auc_score(labels, scores))


@pytest.fixture(scope="module")
def empty_db(_migrated_store) -> Path:
    """A freshly initialised SQLite store, made once per session (MLflow's schema migrations take seconds)."""
    return _migrated_store


@pytest.fixture
def store(tmp_path, monkeypatch, empty_db):
    """An empty SQLite store in tmp_path (the report's default location when run from there)."""
    import shutil

    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    shutil.copy(empty_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment("gaussian", artifact_location=(tmp_path / "mlruns").as_uri())
    return client, exp_id, uri


@pytest.fixture
def two_detectors(store, tmp_path):
    """LHCO-tagged runs of ocdn (matches the reference row 'ocdn, 20 epochs') and logreg, three
    seeds each, one sweep; plus an older sweep and a failed run that must not be picked."""
    client, exp_id, uri = store
    log_run(client, exp_id, tmp_path, "ocdn", 0, shift=0.2, sweep="old-sweep", dataset="lhco")
    aucs = {}
    for model, shift in (("ocdn", 1.0), ("logreg", 0.5)):
        for seed in range(3):
            _, auc = log_run(client, exp_id, tmp_path, model, seed, shift=shift, dataset="lhco")
            aucs.setdefault(model, []).append(auc)
    log_run(client, exp_id, tmp_path, "ocdn", 7, with_scores=False, status="FAILED", dataset="lhco")
    return client, exp_id, uri, aucs


def _read_table(path: Path) -> dict[str, dict]:
    with open(path) as f:
        return {row["detector"]: row for row in csv.DictReader(f)}


def test_report_latest_sweep(two_detectors, tmp_path, capsys):
    client, exp_id, uri, aucs = two_detectors
    out = tmp_path / "rep"
    assert report_main(["--output", str(out)]) == 0
    for stem in ("roc_sic_best", "roc_sic_mean"):
        img = mpimg.imread(out / f"{stem}.png")
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
        assert img.std() > 0.01  # not blank
        assert (out / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    table = _read_table(out / "table.csv")
    assert set(table) == {"ocdn", "logreg"}  # the old sweep's and the failed run are left out
    for model, values in aucs.items():
        row = table[model]
        assert int(row["n_runs"]) == 3
        assert float(row["auc_mean"]) == pytest.approx(np.mean(values), abs=1e-5)
        assert float(row["auc_std"]) == pytest.approx(np.std(values, ddof=1), abs=1e-5)
        assert float(row["auc_best"]) == pytest.approx(max(values), abs=1e-5)
    # reference columns: the committed table has 'ocdn, 20 epochs'; it has no logreg
    assert table["ocdn"]["ref_settings"] == "20 epochs"
    assert float(table["ocdn"]["ref_auc_mean"]) == pytest.approx(0.466)
    assert table["logreg"]["ref_auc_mean"] == ""
    md = (out / "table.md").read_text()
    assert "paper AUC" in md and "0.466 [0.391, 0.544]" in md
    # the summary run: in the same experiment, tagged, never an input of the next report
    reports = client.search_runs([exp_id], "tags.report = 'true'")
    assert len(reports) == 1
    assert reports[0].data.metrics["ocdn.auc_mean"] == pytest.approx(np.mean(aucs["ocdn"]), abs=1e-9)
    assert "table.md" in {a.path for a in client.list_artifacts(reports[0].info.run_id)}
    # the report run carries tag dataset=lhco too, but is never an input (it has no scores.npz)
    assert report_main(["--output", str(tmp_path / "rep2"), "--no-mlflow", "--filter", "tags.dataset = 'lhco'"]) == 0
    again = _read_table(tmp_path / "rep2" / "table.csv")
    assert (again["ocdn"]["n_runs"], again["logreg"]["n_runs"]) == ("4", "3")  # + the old sweep's ocdn run
    assert "did not finish" in capsys.readouterr().err


def test_max_sic_matches_pipeline_metric(two_detectors, tmp_path):
    client, exp_id, uri, aucs = two_detectors
    assert report_main(["--output", str(tmp_path / "r"), "--sweep", "sweep-a", "--no-mlflow"]) == 0
    with open(tmp_path / "r" / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert len(runs) == 6
    for r in runs:
        path = client.download_artifacts(r["run_id"], "scores.npz", str(tmp_path / "dl" / r["run_id"]))
        with np.load(path) as f:
            s, y = f["scores"], f["labels"]
        fpr, tpr, _ = roc_curve(y, s)
        ok = np.rint(fpr * N_BKG) >= 10
        assert float(r["max_sic"]) == pytest.approx(np.max(tpr[ok] / np.sqrt(fpr[ok])), rel=1e-5)


def test_seed_band_lies_between_seed_curves():
    rng = np.random.default_rng(0)
    curves = []
    for shift in (0.3, 0.8, 1.5):
        s, y = _scores(rng, shift)
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        curves.append((fpr, tpr, N_BKG))
    grid = metrics.fpr_grid(200)
    band = metrics.seed_band(curves, grid, min_background=10)
    # each seed's sklearn curve, interpolated independently: the last (highest-TPR) point of each FPR
    last = [np.r_[f[1:] != f[:-1], True] for f, _, _ in curves]
    each = np.stack([np.interp(grid, f[k], t[k]) for (f, t, _), k in zip(curves, last)])
    np.testing.assert_allclose(band.tpr_runs, each, atol=1e-12)
    assert np.all(band.tpr_mean >= each.min(axis=0) - 1e-9)
    assert np.all(band.tpr_mean <= each.max(axis=0) + 1e-9)
    assert np.all(band.tpr_std >= 0)
    ok = np.isfinite(band.sic_mean)
    assert ok.any() and not ok[grid < 10 / N_BKG].any()  # SIC only where >= 10 background events survive
    sic_each = each[:, ok] / np.sqrt(grid[ok])
    assert np.all(band.sic_mean[ok] >= sic_each.min(axis=0) - 1e-9)
    assert np.all(band.sic_mean[ok] <= sic_each.max(axis=0) + 1e-9)
    # perfect separation: TPR 1 at every FPR > 0
    perfect = metrics.roc_on_grid(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.5]))
    assert perfect.tolist() == [1.0, 1.0]


def test_settings_split_detectors(store, tmp_path):
    """One model with two epoch settings in one selection: two detectors, each with its reference row."""
    client, exp_id, uri = store
    for epochs in (5, 10):
        for seed in range(2):
            log_run(client, exp_id, tmp_path, "ocdn", seed, epochs=epochs, sweep="s", dataset="lhco_rnd")
    assert report_main(["--output", str(tmp_path / "r"), "--no-mlflow"]) == 0
    table = _read_table(tmp_path / "r" / "table.csv")
    assert set(table) == {"ocdn (epochs=5)", "ocdn (epochs=10)"}
    assert table["ocdn (epochs=5)"]["ref_settings"] == "5 epochs"
    assert float(table["ocdn (epochs=10)"]["ref_auc_mean"]) == pytest.approx(0.630)


def test_filter_selects_single_runs(store, tmp_path):
    client, exp_id, uri = store
    for seed in range(2):
        log_run(client, exp_id, tmp_path, "logreg", seed, sweep=None)
    with pytest.raises(ReportError, match="no sweep runs"):
        report_main(["--no-mlflow"])
    log_run(client, exp_id, tmp_path, "ocdn", 0, sweep=None)
    assert report_main(["--filter", "tags.model = 'logreg'", "--output", str(tmp_path / "r"), "--no-mlflow"]) == 0
    assert set(_read_table(tmp_path / "r" / "table.csv")) == {"logreg"}
    assert _read_table(tmp_path / "r" / "table.csv")["logreg"]["n_runs"] == "2"
    # the LHCO reference is never put beside another dataset's numbers
    assert report_main(["--filter", "tags.model = 'ocdn'", "--output", str(tmp_path / "o"), "--no-mlflow"]) == 0
    assert _read_table(tmp_path / "o" / "table.csv")["ocdn"]["ref_auc_mean"] == ""


@pytest.mark.parametrize("case", ["no_store", "no_match", "no_scores", "mixed", "bad_filter", "no_experiment"])
def test_bad_input_one_line_no_figure(store, tmp_path, case, capsys):
    client, exp_id, uri = store
    log_run(client, exp_id, tmp_path, "ocdn", 0, sweep="s")
    argv = ["--output", str(tmp_path / "r"), "--no-mlflow"]
    expected = {
        "no_store": "no MLflow store",
        "no_match": "no runs match",
        "no_scores": "have no logged scores.npz",
        "mixed": "mix datasets",
        "bad_filter": "invalid --filter",
        "no_experiment": "no MLflow experiment 'nope'",
    }[case]
    if case == "no_store":
        argv += ["--tracking-uri", f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"]
    elif case == "no_match":
        argv += ["--sweep", "missing"]
    elif case == "no_scores":
        log_run(client, exp_id, tmp_path, "ocdn", 1, sweep="s", with_scores=False)
    elif case == "mixed":
        log_run(client, exp_id, tmp_path, "ocdn", 1, sweep="s", dataset="lhco")
    elif case == "bad_filter":
        argv += ["--filter", "tags.model === 'x'"]
    elif case == "no_experiment":
        argv += ["--experiment", "nope"]
    from oneclass.launch.cli import main as cli_main

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["report", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and expected in err[-1]
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / "elsewhere").exists()  # no store created by looking


@pytest.mark.system
def test_python_m_entry(two_detectors, tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "oneclass.report", "--sweep", "nope", "--no-mlflow"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: no runs match")


# --------------------------------------------------------------------------- snapshots (paper Fig. 1)
def test_snapshot_callback_logreg_toy(cfg_factory, tmp_path):
    """One training of the logistic OCDN on the 1-D toy, scores saved after epochs 2, 4, 6: the
    slope turns positive, so every snapshot ranks events the same way (the paper's point)."""
    from oneclass.run.engine import JobInfo, run
    from oneclass.run.snapshots import load

    cfg = cfg_factory("experiment=gaussian_epochs", "eval.snapshot_epochs=[2,4,6]", "trainer.max_epochs=6",
                      "logger=none", "dataset.n_train=20000", "model.lr=0.01", small=True)
    out = tmp_path / "job"
    result = run(cfg, JobInfo(output_dir=out, launch_dir=tmp_path))
    snap = load(out / "snapshots.npz")
    assert snap["epochs"].tolist() == [2, 4, 6]
    n_test = 4000
    assert snap["scores"].shape == (3, n_test) and snap["labels"].shape == (n_test,)
    assert snap["x"].shape == (n_test,) and snap["grid_scores"].shape == (3, len(snap["grid"]))
    assert str(snap["score_name"]) == "logit"
    # the final snapshot is the trained model's score
    with np.load(out / "scores.npz") as f:
        np.testing.assert_allclose(snap["scores"][-1], f["scores"], rtol=1e-6, atol=1e-6)
    # f is monotone in x at every epoch: increasing once the slope has turned positive (the
    # gradient pushes it there), before that decreasing, which ranks events exactly reversed
    slope = np.sign(np.diff(snap["grid_scores"], axis=1))
    assert (slope == slope[:, :1]).all()
    positive = slope[:, 0] > 0
    assert positive.sum() >= 2 and positive[-1]
    aucs = np.array([roc_auc_score(snap["labels"], s) for s in snap["scores"]])
    assert aucs[positive].max() - aucs[positive].min() < 0.005
    assert aucs[positive].min() > 0.9  # Phi(2 / sqrt(2)) = 0.921 for any increasing score
    np.testing.assert_allclose(aucs[~positive], 1 - aucs[positive].mean(), atol=0.005)
    assert result["test_auc"] == pytest.approx(aucs[-1], abs=1e-9)
    assert mpimg.imread(out / "snapshots.png").ndim == 3


def test_snapshot_epochs_validated(cfg_factory, tmp_path):
    from oneclass.errors import ConfigError
    from oneclass.run.engine import JobInfo, run

    cfg = cfg_factory("eval.snapshot_epochs=[5]", "trainer.max_epochs=2", "logger=none")
    with pytest.raises(ConfigError, match="trainer.max_epochs=2"):
        run(cfg, JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path))
    cfg = cfg_factory("eval.snapshot_epochs=[0]", "logger=none")
    with pytest.raises(ConfigError, match=">= 1"):
        run(cfg, JobInfo(output_dir=tmp_path / "job", launch_dir=tmp_path))


def test_toy_report_from_mlflow(cfg_factory, tmp_path):
    """experiment=gaussian_epochs logged to MLflow, then `report --toy` draws Fig. 1 from the artifact."""
    from oneclass.run.engine import JobInfo, run

    for i, mean in enumerate((0.0, -4.0)):
        cfg = cfg_factory("experiment=gaussian_epochs", "eval.snapshot_epochs=[1,2]", "trainer.max_epochs=2",
                          f"dataset.signal_mean={mean}")
        run(cfg, JobInfo(output_dir=tmp_path / f"job{i}", launch_dir=tmp_path, multirun=True, job_num=i,
                         sweep_id="toy-sweep", sweep_dir=str(tmp_path)))
    out = tmp_path / "toy"
    assert report_main(["--toy", "--output", str(out)]) == 0
    img = mpimg.imread(out / "toy_epochs.png")
    assert img.shape[0] > img.shape[1] * 0.6  # two rows
    with open(out / "toy_auc.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["signal_mean"], r["epoch"]) for r in rows) == [("-4.0", "1"), ("-4.0", "2"), ("0.0", "1"), ("0.0", "2")]
    # same seed, same training data and init: one monotone f for both runs, so a signal 2 sigma left
    # of the background is ranked exactly opposite to one 2 sigma right (AUCs add up to 1)
    auc = {(r["signal_mean"], r["epoch"]): float(r["auc"]) for r in rows}
    for epoch in ("1", "2"):
        assert auc[("0.0", epoch)] + auc[("-4.0", epoch)] == pytest.approx(1.0, abs=0.01)
    # --title and --label reach the toy figure too (svg.fonttype none keeps its text as text)
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        assert report_main(["--toy", "--output", str(tmp_path / "toy2"), "--no-mlflow", "--format", "svg",
                            "--title", "The toy, two signals", "--label", "ocdn=Logistic OCDN"]) == 0
    svg = (tmp_path / "toy2" / "toy_epochs.svg").read_text()
    assert "The toy, two signals" in svg and "ocdn-gaussian" not in svg
    assert "Logistic OCDN-gaussian-seed0: signal mean 0.0" in svg and "Logistic OCDN-gaussian-mu-4-seed0: signal mean -4.0" in svg
    from oneclass.errors import ConfigError

    with pytest.raises(ConfigError, match="no model or detector 'nosuch' in these runs"):
        report_main(["--toy", "--output", str(tmp_path / "toy3"), "--no-mlflow", "--label", "nosuch=X"])


# --------------------------------------------------------------------------- seeds, split seeds, metrics, figures
def test_seed_derived_params_and_split_seeds_never_split_a_detector(store, tmp_path):
    """model.random_state = seed in every run (the OC-SVM presets' ${seed}) and dataset.split_seed:
    one detector; a setting that only sometimes equals the seed (a cartesian k x seed sweep) still splits."""
    client, exp_id, uri = store
    for seed in range(3):
        for split in (0, 1):
            log_run(client, exp_id, tmp_path, "ocsvm_oad", seed, sweep="s", dataset="lhco",
                    params={"model.random_state": seed, "dataset.split_seed": split})
        for k in (0, 1, 2):
            log_run(client, exp_id, tmp_path, "knn", seed, sweep="s", dataset="lhco", params={"model.k": k})
    assert report_main(["--output", str(tmp_path / "r"), "--no-mlflow"]) == 0
    table = _read_table(tmp_path / "r" / "table.csv")
    assert set(table) == {"ocsvm_oad", "knn (k=0)", "knn (k=1)", "knn (k=2)"}
    assert table["ocsvm_oad"]["n_runs"] == "6" and table["ocsvm_oad"]["split_seeds"] == "0, 1"
    assert all(table[f"knn (k={k})"]["n_runs"] == "3" and table[f"knn (k={k})"]["split_seeds"] == "" for k in range(3))
    md = (tmp_path / "r" / "table.md").read_text()
    assert "| split seeds |" in md and "| 0, 1 |" in md
    with open(tmp_path / "r" / "runs.csv") as f:
        runs = [r for r in csv.DictReader(f) if r["detector"] == "ocsvm_oad"]
    assert sorted((r["seed"], r["split_seed"]) for r in runs) == [(s, p) for s in "012" for p in "01"]


def test_a_metric_added_to_evaluation_reaches_every_table(two_detectors, tmp_path, monkeypatch):
    """The tables read oneclass.metrics.METRICS: one more spec (here the Evaluation field
    min_background, 10 in every run) gives columns in table.csv, table.md, runs.csv and the summary run."""
    from oneclass.metrics import METRICS, MetricSpec

    client, exp_id, uri, aucs = two_detectors
    monkeypatch.setattr(metrics, "METRICS", METRICS + (MetricSpec("min_background", "cut events", 1),))
    out = tmp_path / "r"
    assert report_main(["--output", str(out), "--sweep", "sweep-a"]) == 0
    row = _read_table(out / "table.csv")["ocdn"]
    assert (row["min_background_mean"], row["min_background_std"], row["min_background_best"]) == ("10", "0", "10")
    assert float(row["auc_mean"]) == pytest.approx(np.mean(aucs["ocdn"]), abs=1e-5)  # the others unchanged
    assert "| cut events mean ± std | cut events best |" in (out / "table.md").read_text()
    with open(out / "runs.csv") as f:
        assert {r["min_background"] for r in csv.DictReader(f)} == {"10"}
    (summary,) = client.search_runs([exp_id], "tags.report = 'true'")
    assert summary.data.metrics["logreg.min_background_mean"] == 10.0


def test_format_option_and_bad_format(two_detectors, tmp_path, capsys):
    from oneclass.launch.cli import main as cli_main

    out = tmp_path / "r"
    assert report_main(["--output", str(out), "--no-mlflow", "--format", "png,svg"]) == 0
    for stem in ("roc_sic_best", "roc_sic_mean"):
        assert (out / f"{stem}.png").is_file() and not (out / f"{stem}.pdf").exists()
        assert "<svg" in (out / f"{stem}.svg").read_text()[:2000]
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["report", "--output", str(tmp_path / "bad"), "--no-mlflow", "--format", "png,docx"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: figure format docx is not supported; pick from ") and "svg" in err
    assert not (tmp_path / "bad").exists()


def _summary(n_detectors: int) -> list[dict]:
    from oneclass.report.selection import RunScores
    from oneclass.report.stats import group_runs, summarize

    rng = np.random.default_rng(5)
    runs = []
    for i in range(n_detectors):
        for seed in range(2):
            s, y = _scores(rng, 0.2 + 0.3 * i)
            runs.append(RunScores(f"r{i}{seed}", f"m{i}-seed{seed}", f"detector_{i}", str(seed), {}, {}, "1", s, y))
    return summarize(group_runs(runs), 10, [])


@pytest.mark.parametrize("kind", ["best", "mean"])
def test_comparison_legend_outside_every_panel_and_rejection_is_one_over_fpr(kind):
    from oneclass.report.figures import draw_comparison

    summary = _summary(10)
    fig = draw_comparison(summary, kind, "ten detectors")
    fig.canvas.draw()
    (legend,) = fig.legends
    assert len(legend.get_texts()) == 11  # ten detectors + random guess
    box = legend.get_window_extent()
    ax_roc, ax_rej, ax_sic = fig.axes
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent())
    assert ax_rej.get_yscale() == "log"
    # the first detector's rejection curve: 1/FPR at TPR, only for cuts keeping >= 10 background events
    x, y = ax_rej.get_lines()[0].get_xdata(), ax_rej.get_lines()[0].get_ydata()
    d = summary[0]
    if kind == "best":
        fpr, tpr = d["best"]["fpr"], d["best"]["tpr"]
        kept = np.rint(fpr * N_BKG) >= 10
        np.testing.assert_allclose(y, 1 / fpr[kept])
        np.testing.assert_allclose(x, tpr[kept])
    else:
        band = d["band"]
        np.testing.assert_allclose(x, np.interp(1 / y, band.fpr, band.tpr_mean), atol=1e-9)
    assert y.max() <= N_BKG / 10 + 1e-9
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_job_sic_figure_draws_excluded_cuts_apart():
    """sic.png: the solid curve holds exactly the cuts max SIC is taken over, its maximum is the
    legend's max SIC; the cuts keeping < min_background events are a separate grey dashed line."""
    import matplotlib.pyplot as plt

    from oneclass.plots import EXCLUDED, draw_sic

    s, y = _scores(np.random.default_rng(3), 2.0)
    ev = metrics.evaluate(s, y, min_background=25)
    fig = draw_sic(ev, "job")
    ax = fig.axes[0]
    excluded, solid = ax.get_lines()[0], ax.get_lines()[1]
    assert excluded.get_color() == EXCLUDED and excluded.get_linestyle() == "--"
    assert "not in max SIC" in excluded.get_label()
    kept = np.rint(ev.fpr * N_BKG) >= 25
    np.testing.assert_allclose(solid.get_xdata(), ev.tpr[kept])
    assert solid.get_ydata().max() == pytest.approx(ev.max_sic)
    assert f"max SIC = {ev.max_sic:.2f}" in solid.get_label()
    assert ev.max_sic < ax.get_ylim()[1]  # the maximum is inside the plot
    plt.close(fig)


@pytest.mark.slow
def test_three_ocsvm_oad_seeds_on_lhco_are_one_detector(cfg_factory, tmp_path, shared_data):
    """The issue's sweep, scaled down: ocsvm_oad (random_state: ${seed}) on an LHCO subsample, three
    seeds through the pipeline, then the report: one row with 3 runs."""
    from oneclass.run.engine import JobInfo, run

    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    for seed in range(3):
        cfg = cfg_factory("model=ocsvm_oad", "dataset=lhco", f"dataset.path={path}", f"seed={seed}",
                          "dataset.n_train=2000", "dataset.n_test_background=1000", "dataset.n_test_signal=1000",
                          "model.n_components=200", small=False)
        run(cfg, JobInfo(output_dir=tmp_path / f"job{seed}", launch_dir=tmp_path, multirun=True, job_num=seed,
                         sweep_id="oad-sweep", sweep_dir=str(tmp_path), choices={"model": "ocsvm_oad", "dataset": "lhco"}))
    assert report_main(["--experiment", "lhco", "--output", str(tmp_path / "r"), "--no-mlflow"]) == 0
    table = _read_table(tmp_path / "r" / "table.csv")
    assert list(table) == ["ocsvm_oad"] and table["ocsvm_oad"]["n_runs"] == "3"
    with open(tmp_path / "r" / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert sorted(r["run_name"] for r in runs) == [f"ocsvm_oad-lhco-seed{s}" for s in range(3)]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    # the params really differ per seed (the reason they used to split into three rows)
    assert sorted(client.get_run(r["run_id"]).data.params["model.random_state"] for r in runs) == ["0", "1", "2"]


def test_output_that_is_an_existing_file_is_one_line(two_detectors, tmp_path, capsys):
    from oneclass.launch.cli import main as cli_main

    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["report", "--output", str(taken), "--no-mlflow"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: --output {taken} is a file, not a folder; choose another --output"
    assert taken.read_text() == "mine\n"


def test_ten_detector_mean_figure_stays_within_2400_px(tmp_path):
    """A 10-detector LHCO-like comparison with long setting labels: roc_sic_mean.png <= 2400 px wide."""
    import matplotlib.image as mpimg

    from oneclass.report.figures import comparison_figure

    summary = _summary(10)
    for i, d in enumerate(summary):
        d["label"] = f"ocsvm_oad (model.nu={0.01 * (i + 1)}, dataset.train_signal_fraction=0.003, epochs=50)"
    (png,) = comparison_figure(summary, "mean", tmp_path / "roc_sic_mean", "lhco: 14-02-11-3fa2c1de (20 runs)", ("png",))
    height, width = mpimg.imread(png).shape[:2]
    assert width <= 2400 and height < width
