"""The report's LHCO physics views: rejection at fixed signal efficiency and sculpting per detector
(against numbers computed here by hand), the sculpting and injection figures, the supervised
ceiling in the comparison figure, and all of it through `oneclass report` on an MLflow store."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from oneclass.report import main as report_main
from oneclass.report import physics_views, stats
from oneclass.report.selection import RunScores

N_BKG, N_SIG = 4000, 1000


def events(seed: int, kind: str, shift: float = 1.5):
    """Test events with mjj flat in [3.3, 3.7] TeV. ``flat``: score independent of mjj; ``mass``:
    the background's score is its mjj (a cut keeps the high-mass tail: sculpting by construction)."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(N_BKG, np.int8), np.ones(N_SIG, np.int8)]
    mjj = rng.uniform(3.3, 3.7, N_BKG + N_SIG)
    scores = rng.normal(0, 1, N_BKG + N_SIG) + shift * labels
    if kind == "mass":
        scores = np.where(labels == 0, 30 * (mjj - 3.5), scores)
    return scores, labels, mjj


def run_scores(model: str, seed: int, kind: str = "flat", shift: float = 1.5, fraction: float | None = None) -> RunScores:
    scores, labels, mjj = events(100 * seed + len(model), kind, shift)
    params = {"seed": str(seed)} | ({} if fraction is None else {physics_views.FRACTION: str(fraction)})
    return RunScores(run_id=f"{model}{seed}{fraction}", name=f"{model}-seed{seed}", model=model, seed=str(seed),
                     params=params, tags={}, experiment_id="0", scores=scores, labels=labels, mjj=mjj)


def test_rejection_and_jsd_per_detector_match_hand_computed_values():
    runs = [run_scores("ocdn", s) for s in range(3)] + [run_scores("massy", s, "mass") for s in range(3)]
    rows = {r["detector"]: r for r in physics_views.physics_rows(stats.group_runs(runs))}
    for model in ("ocdn", "massy"):
        rej = []
        for r in [x for x in runs if x.model == model]:
            sig = np.sort(r.scores[r.labels == 1])[::-1]
            threshold = sig[int(np.ceil(0.2 * len(sig))) - 1]  # the cut keeping 20 % of the signal
            rej.append(1.0 / np.mean(r.scores[r.labels == 0] >= threshold))
        assert rows[model]["rej20_mean"] == pytest.approx(np.mean(rej), rel=1e-12)
        assert rows[model]["rej20_std"] == pytest.approx(np.std(rej, ddof=1), rel=1e-12)
        assert not rows[model]["rej20_lower_bound"]
    # a score that is mjj keeps only the top 10 % of the mass range: JSD of a 2-of-20-bins histogram
    # against a flat one = 1 - 0.5 * (0.1 log2(0.1 / 0.55)... ) ~ 0.6; an mjj-blind score: ~0
    assert rows["massy"]["jsd10_mean"] > 0.5
    assert rows["ocdn"]["jsd10_mean"] < 0.01
    assert rows["massy"]["jsd1_mean"] > rows["massy"]["jsd10_mean"]


def test_a_cut_keeping_no_background_is_a_lower_bound():
    r = run_scores("perfect", 0, shift=50.0)
    rows = physics_views.physics_rows({"perfect": [r]})
    assert rows[0]["rej20_lower_bound"] and rows[0]["rej20_mean"] == N_BKG
    assert "| ≥ 4000 |" in physics_views.physics_markdown(rows)  # one run: the value alone, plain decimals


def test_injection_figure_only_when_fractions_vary(tmp_path):
    runs = [run_scores("ocdn", s, shift=2.0 - 20 * f, fraction=f) for f in (0.0, 0.01, 0.03) for s in range(2)]
    files = physics_views.injection_figure(stats.group_runs(runs), 10, tmp_path / "injection", ("png",))
    assert [p.name for p in files] == ["injection.png"]
    img = mpimg.imread(files[0])
    assert img.shape[1] > 600 and img.std() > 0.01
    one = [run_scores("ocdn", s, fraction=0.0) for s in range(2)]
    assert physics_views.injection_figure(stats.group_runs(one), 10, tmp_path / "none", ("png",)) == []


def test_physics_figures_keep_their_legends_off_the_curves():
    """Legends sit outside every axes (below the panels), with several detectors and fractions."""
    import matplotlib.pyplot as plt

    runs = [run_scores(m, s, kind, fraction=f) for m, kind in (("ocdn", "flat"), ("ae", "mass"), ("deepsvdd", "flat"), ("dsebm", "mass"))
            for f in (0.0, 0.01) for s in range(2)]
    groups = stats.group_runs(runs)
    for fig in (physics_views.sculpting_figure(groups, None), physics_views.injection_figure(groups, 10, None)):
        fig.canvas.draw()
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert legends
        axes = [ax for ax in fig.axes if ax.get_visible()]
        for legend in legends:
            box = legend.get_window_extent()
            assert not any(box.overlaps(ax.get_window_extent()) for ax in axes)
        plt.close(fig)


def test_supervised_is_drawn_as_the_ceiling():
    from oneclass.report import figures

    runs = [run_scores("ocdn", 0), run_scores("supervised", 0, shift=4.0)]
    summary = stats.summarize(stats.group_runs(runs), 10, [])
    fig = figures.draw_comparison(summary, "best")
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("supervised [supervised ceiling]") for t in texts)
    assert not any(t.startswith("ocdn [") for t in texts)
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_color() == "k" and ln.get_linestyle() == "--")
    assert len(line.get_xdata()) > 10


def test_report_writes_the_physics_views(tmp_path, monkeypatch, new_store):
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    new_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("lhco", artifact_location=(tmp_path / "mlruns").as_uri())
    for model, kind in (("ocdn", "flat"), ("massy", "mass")):
        for seed in range(2):
            r = run_scores(model, seed, kind)
            run = client.create_run(exp, run_name=r.name, tags={"model": model, "dataset": "lhco", "seed": str(seed),
                                                                "sweep_id": "s1"})
            client.log_batch(run.info.run_id, params=[Param("seed", str(seed))])
            d = tmp_path / "art" / run.info.run_id
            d.mkdir(parents=True)
            np.savez_compressed(d / "scores.npz", scores=r.scores, labels=r.labels, mjj=r.mjj)
            client.log_artifacts(run.info.run_id, str(d))
            client.set_terminated(run.info.run_id)
    out = tmp_path / "rep"
    assert report_main(["--output", str(out), "--tracking-uri", uri, "--no-mlflow", "--format", "png"]) == 0
    with open(out / "physics.csv") as f:
        rows = {row["detector"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"ocdn", "massy"} and float(rows["massy"]["jsd10_mean"]) > 0.5
    md = (out / "table.md").read_text()
    assert "## Physics" in md and "1/eps_B at eps_S=0.2" in md
    img = mpimg.imread(out / "sculpting.png")
    assert img.shape[1] > 800 and img.std() > 0.01
    assert not (out / "injection.png").exists()  # one fraction only
    assert Path(out / "physics.md").read_text() in md


def test_runs_group_by_value_not_by_string(tmp_path):
    """train_signal_fraction 0 and 0.0 are one setting: one table row, one injection point."""
    runs = [run_scores("ocdn", s, fraction=f) for s, f in ((0, 0.0), (1, 0.0), (2, 0.01), (3, 0.01))]
    runs[0].params[physics_views.FRACTION] = "0"  # the same value spelt as an integer
    runs[2].params[physics_views.FRACTION] = "1e-2"
    groups = stats.group_runs(runs)
    assert sorted(groups) == [f"ocdn ({physics_views.FRACTION.removeprefix('model.')}=0)",
                              f"ocdn ({physics_views.FRACTION.removeprefix('model.')}=0.01)"]
    assert [len(g) for g in groups.values()] == [2, 2]
    assert [stats.canonical(v) for v in ("0", "0.0", "1e-3", "0.001", "null", "True", "adam")] == \
        ["0", "0", "0.001", "0.001", "None", "true", "adam"]
