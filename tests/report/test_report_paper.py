"""`oneclass report` output that goes into a paper (issue 26, items 7 and 8): one F1 column for F1 =
precision = recall, no empty "paper" columns, no `± 0.0000` for one run, one number format per
physics column, published values marked where our schedule or training size differ; `--title` and
`--label` reaching the figures, std bands with edges, injection ticks at the injected fractions with
the axis' definition, rank bars from rank 1 and no critical difference over too few datasets, and
every figure at most 2400 px wide."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oneclass.report import main as report_main
from oneclass.report import numbers, physics_views, stats, tables, tabular
from oneclass.report.selection import RunScores

N_BKG, N_SIG = 3000, 1000
WIDE = 2400  # px: the widest a report figure may be


# --------------------------------------------------------------------------- helpers
def events(seed: int, shift: float, mass: bool = False):
    """Test scores, labels and mjj (flat in [3.3, 3.7] TeV); ``mass``: the background's score is its mjj."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(N_BKG, np.int8), np.ones(N_SIG, np.int8)]
    mjj = rng.uniform(3.3, 3.7, N_BKG + N_SIG)
    scores = rng.normal(0, 1, N_BKG + N_SIG) + shift * labels
    if mass:
        scores = np.where(labels == 0, 30 * (mjj - 3.5), scores)
    return scores, labels, mjj


def run_scores(model: str, seed: int, shift: float = 1.0, **params) -> RunScores:
    scores, labels, mjj = events(100 * seed + len(model), shift)
    return RunScores(run_id=f"{model}-{seed}-{sorted(params.items())}", name=f"{model}-seed{seed}", model=model,
                     seed=str(seed), params={"seed": str(seed), **params}, tags={}, experiment_id="0",
                     scores=scores, labels=labels, mjj=mjj)


@pytest.fixture
def store(tmp_path, monkeypatch, new_store):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    new_store(tmp_path)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.create_experiment("lhco", artifact_location=(tmp_path / "mlruns").as_uri())
    return client, exp


def log_run(client, exp, tmp_path, model, seed, shift=1.0, dataset="lhco", sweep="s1", mjj=False, **params):
    """A pipeline-like run with tags, params and scores.npz (mjj too with ``mjj``)."""
    from mlflow.entities import Param

    scores, labels, masses = events(100 * seed + len(model) + sum(len(str(v)) for v in params.values()), shift)
    run = client.create_run(exp, run_name=f"{model}-seed{seed}",
                            tags={"model": model, "dataset": dataset, "seed": str(seed), "sweep_id": sweep})
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(k, str(v)) for k, v in {"seed": seed, **params}.items()])
    d = tmp_path / "art" / rid
    d.mkdir(parents=True)
    extra = {"mjj": masses} if mjj else {}
    np.savez_compressed(d / "scores.npz", scores=scores, labels=labels, **extra)
    client.log_artifacts(rid, str(d))
    client.set_terminated(rid)


def table_rows(md: str) -> list[list[str]]:
    """The cells of a markdown table's lines (header included, the |---| line left out)."""
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in md.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def png_width(path: Path) -> int:
    with Image.open(path) as img:
        return img.size[0]


# --------------------------------------------------------------------------- tables
def test_lhco_table_has_one_f1_column_no_empty_paper_columns_and_marks_published_values(store, tmp_path):
    """ocdn at 2 epochs on 20,000 events beside the paper's 97,081-event numbers: shown, marked ‡,
    the footnote gives both settings; ocdn at the paper's 10 epochs and training size: unmarked;
    a one-run detector shows its values alone."""
    client, exp = store
    for seed in range(2):
        log_run(client, exp, tmp_path, "ocdn", seed, **{"trainer.max_epochs": 2, "dataset.n_train": 20000})
        log_run(client, exp, tmp_path, "ocdn", seed, **{"trainer.max_epochs": 10, "dataset.n_train": 97081})
    log_run(client, exp, tmp_path, "logreg", 0, shift=0.5, **{"trainer.max_epochs": 10, "dataset.n_train": 97081})
    out = tmp_path / "rep"
    assert report_main(["--output", str(out), "--no-mlflow", "--format", "png"]) == 0
    md = (out / "table.md").read_text()
    head, *rows = table_rows(md)
    # F1 = precision = recall by construction: one column (mean ± std and best), said in the heading and a note
    assert "F1 (= P = R) mean ± std" in head and "F1 (= P = R) best" in head
    assert not [h for h in head if "precision" in h or "recall" in h]
    assert "F1 = precision = recall: the cut flags as many test events as there are signal events" in md
    # paper columns only for the metrics the reference has (AUC, max SIC), never an all-"–" column
    assert [h for h in head if h.startswith("paper")] == ["paper AUC mean [min, max]", "paper max SIC mean [min, max]"]
    by = {r[0]: dict(zip(head, r)) for r in rows}
    assert set(by) == {"ocdn (dataset.n_train=20000, epochs=2)", "ocdn (dataset.n_train=97081, epochs=10)", "logreg"}
    short = by["ocdn (dataset.n_train=20000, epochs=2)"]["paper AUC mean [min, max]"]
    assert short == "0.629 [0.568, 0.695] (5 epochs, 5 runs) ‡"  # the nearest published row, marked
    assert by["ocdn (dataset.n_train=97081, epochs=10)"]["paper AUC mean [min, max]"] == "0.630 [0.437, 0.768] (10 epochs, 10 runs)"
    assert by["logreg"]["paper AUC mean [min, max]"] == "–"
    assert ("- ‡ ocdn (dataset.n_train=20000, epochs=2): our runs 2 epochs, 20,000 training events; published 5 epochs, "
            "97,081 training events: not comparable.") in md.splitlines()
    assert md.count("‡") == 4  # the two cells of the marked row, the note saying "marked ‡" and the footnote
    # one run: the value alone (the runs column says 1), never "± 0.0000"
    assert by["logreg"]["runs"] == "1" and "±" not in by["logreg"]["AUC mean ± std"]
    assert re.fullmatch(r"0\.\d{4}", by["logreg"]["AUC mean ± std"])
    assert re.fullmatch(r"0\.\d{4} ± 0\.\d{4}", by["ocdn (dataset.n_train=97081, epochs=10)"]["AUC mean ± std"])
    assert "± 0.0000" not in md
    # table.csv keeps every metric and says which published rows are comparable
    with open(out / "table.csv") as f:
        csv_rows = {r["detector"]: r for r in csv.DictReader(f)}
    assert {"precision_mean", "recall_mean", "f1_mean"} <= set(next(iter(csv_rows.values())))
    assert csv_rows["ocdn (dataset.n_train=20000, epochs=2)"]["ref_comparable"] == "false"
    assert csv_rows["ocdn (dataset.n_train=97081, epochs=10)"]["ref_comparable"] == "true"
    assert csv_rows["ocdn (dataset.n_train=20000, epochs=2)"]["ref_published"] == "5 epochs, 97,081 training events"


def test_no_reference_no_paper_columns_and_precision_kept_when_ties_make_it_differ():
    """Without published values the table has no paper column; scores tied at the threshold flag
    more events than there are anomalies, so precision and recall differ from F1 and stay."""
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(200, np.int8), np.ones(50, np.int8)]
    tied = np.round(rng.normal(size=250) + labels, 0)  # few distinct values: ties at the cut
    runs = [RunScores("t0", "tied-seed0", "tied", "0", {"seed": "0"}, {}, "0", tied, labels)]
    summary = stats.summarize(stats.group_runs(runs), 10, [])
    rows = tables.table_rows(summary)
    md = tables.markdown_table(rows, "# x", 10)
    head = table_rows(md)[0]
    assert not [h for h in head if h.startswith("paper")]
    assert "precision mean ± std" in head and "recall mean ± std" in head and "F1 mean ± std" in head
    assert "here precision and recall differ from F1" in md
    clean = [run_scores("ocdn", s) for s in range(2)]
    md = tables.markdown_table(tables.table_rows(stats.summarize(stats.group_runs(clean), 10, [])), "# x", 10)
    assert "precision" not in table_rows(md)[0][5:] and "F1 (= P = R) mean ± std" in table_rows(md)[0]


def test_number_formats_one_rule_per_column():
    # bounded scores: fixed decimals; one run: the value alone
    assert numbers.fixed(0.81234, 0.0123, 3, 4) == "0.8123 ± 0.0123"
    assert numbers.fixed(0.81234, 0.0, 1, 4) == "0.8123"
    # quantities spanning decades: the std at two significant digits, the mean at its decimal place
    assert numbers.by_std(313.4, 104.2, 5) == "310 ± 100"
    assert numbers.by_std(0.005594, 0.005712, 5) == "0.0056 ± 0.0057"
    assert numbers.by_std(12.3456, 0.0996, 2) == "12.35 ± 0.10"  # 0.0996 rounds up to 0.10
    assert numbers.by_std(1.05e4, 2345.0, 5) == "10500 ± 2300"
    assert numbers.by_std(4000.0, 0.0, 1) == "4000" and numbers.by_std(0.0055941, 0.0, 1) == "0.00559"
    assert numbers.by_std(0.37, 0.0, 3) == "0.370 ± 0"  # several runs that agree exactly
    assert numbers.by_std(-0.001, 0.1, 2) == "0.00 ± 0.10"  # never "-0.00"


def test_physics_table_never_mixes_notations():
    row = {"detector": "ocdn", "model": "ocdn", "n_runs": 5,
           "rej20_mean": 313.4, "rej20_std": 104.2, "rej20_lower_bound": False,
           "rej50_mean": 7.31, "rej50_std": 2.04, "rej50_lower_bound": False,
           "jsd10_mean": 0.005594, "jsd10_std": 0.005712, "jsd1_mean": 0.0213, "jsd1_std": 0.0009}
    one = {**row, "detector": "ae", "n_runs": 1, "rej20_std": 0.0, "rej50_std": 0.0, "jsd10_std": 0.0, "jsd1_std": 0.0,
           "rej20_lower_bound": True}
    md = physics_views.physics_markdown([row, one])
    cells = {r[0]: r for r in table_rows(md)}
    assert cells["ocdn"][2:] == ["310 ± 100", "7.3 ± 2.0", "0.0056 ± 0.0057", "0.02130 ± 0.00090"]
    assert cells["ae"][2:] == ["≥ 313", "7.31", "0.00559", "0.0213"]
    assert not re.search(r"\de[+-]\d", md)  # no exponent anywhere


def test_image_targets_marked_and_gap_left_out_when_the_schedule_differs():
    from oneclass.report.images import ImageRun, class_table, markdown

    labels = np.array([0, 0, 1, 1], np.int8)

    def run(seed, **params):
        return ImageRun("deepsvdd", "mnist", 3, str(seed), {"dataset.normal_class": "3", **params},
                        np.array([0.1, 0.35 * seed, 0.3, 0.4]), labels, np.arange(4))

    short = {"trainer.max_epochs": "2", "model.pretrain_epochs": "2", "dataset.n_train": "1000"}
    rows = class_table([run(0, **short), run(1, **short)])
    r3 = rows[0]
    assert r3["target"] == pytest.approx(0.919) and r3["gap"] is None and r3["target_comparable"] is False
    text = markdown(rows)
    assert "| 3 (3) | 2 | " in text and "| 91.9 ‡ | – |" in text
    assert ("‡ deepsvdd: our runs 2 epochs, 2 pretraining epochs, 1,000 training images; published 150 epochs, "
            "150 pretraining epochs, all training images: not comparable.") in text
    paper = {"trainer.max_epochs": "150", "model.pretrain_epochs": "150", "dataset.n_train": "None"}
    rows = class_table([run(0, **paper), run(1, **paper)])
    assert rows[0]["gap"] == pytest.approx(rows[0]["auc_mean"] - 0.919) and "‡" not in markdown(rows)


def test_tabular_f1_note_and_one_run_cells():
    recs = [tabular.RunRecord("a", "x", "0", "0", {"test_f1": 0.5}), tabular.RunRecord("a", "y", "0", "0", {"test_f1": 0.4}),
            tabular.RunRecord("a", "y", "1", "1", {"test_f1": 0.6})]
    md = tabular.markdown_table(tabular.metric_table(recs, "test_f1"))
    assert "| a | **0.500 (1)** | **0.500 ± 0.141 (2)** |" in md  # a tie: both best
    assert "F1 = precision = recall" in md


# --------------------------------------------------------------------------- figures
def test_title_and_labels_reach_every_figure_and_the_tables(store, tmp_path, monkeypatch):
    """--title replaces '<dataset>, <N> runs' in every figure's title; --label renames curves, rows and
    the injection scan's lines; read back from the SVGs' text (svg.fonttype none keeps text as text)."""
    import matplotlib

    client, exp = store
    for f in (0.0, 0.03):
        for seed in range(2):
            log_run(client, exp, tmp_path, "ocdn", seed, mjj=True, **{"dataset.train_signal_fraction": f})
    log_run(client, exp, tmp_path, "deepsvdd_soft", 0, shift=0.5, mjj=True)
    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")
    out = tmp_path / "rep"
    argv = ["--output", str(out), "--no-mlflow", "--format", "svg,png", "--title", "Signal region, 5 runs",
            "--label", "ocdn=OCDN", "--label", "deepsvdd_soft=soft-boundary Deep SVDD"]
    assert report_main(argv) == 0
    for stem in ("roc_sic_best", "roc_sic_mean", "sculpting", "injection"):
        svg = (out / f"{stem}.svg").read_text()
        assert "Signal region, 5 runs: " in svg, stem
        assert not [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg) if "s1" in t], stem  # no sweep id
        assert "OCDN" in svg, stem
        assert png_width(out / f"{stem}.png") <= WIDE
    mean = (out / "roc_sic_mean.svg").read_text()
    assert "OCDN (dataset.train_signal_fraction=0.03)" in mean and "soft-boundary Deep SVDD" in mean
    assert "ocdn (" not in mean
    md = (out / "table.md").read_text()
    assert "| OCDN (dataset.train_signal_fraction=0) | 2 |" in md and "| soft-boundary Deep SVDD | 1 |" in md
    # one detector by its full label (it wins over its model's name)
    assert report_main(["--output", str(tmp_path / "r2"), "--no-mlflow", "--format", "png", "--title", "",
                        "--label", "ocdn=OCDN", "--label", "ocdn (dataset.train_signal_fraction=0)=OCDN, clean"]) == 0
    md = (tmp_path / "r2" / "table.md").read_text()
    assert "| OCDN, clean | 2 |" in md and "| OCDN (dataset.train_signal_fraction=0.03) | 2 |" in md


@pytest.mark.parametrize("label, message", [
    ("nope=X", "--label 'nope=X': no model or detector 'nope' in these runs; they have deepsvdd_soft, ocdn"),
    ("ocdn", "--label 'ocdn': expected MODEL=TEXT"),
    ("ocdn=", "the display name after '=' is empty"),
    ("ocdn=soft", "two detectors would both be shown as 'soft'"),
])
def test_a_bad_label_is_one_line_and_writes_nothing(store, tmp_path, capsys, label, message):
    from oneclass.launch.cli import main as cli_main

    client, exp = store
    log_run(client, exp, tmp_path, "ocdn", 0)
    log_run(client, exp, tmp_path, "deepsvdd_soft", 0)
    argv = ["report", "--output", str(tmp_path / "r"), "--no-mlflow", "--label", label]
    if label == "ocdn=soft":
        argv += ["--label", "deepsvdd_soft=soft"]
    with pytest.raises(SystemExit) as exit_info:
        cli_main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not (tmp_path / "r").exists()


def test_mean_bands_have_faint_fills_and_dotted_edges_with_many_detectors():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from oneclass.report.figures import BAND_EDGE, band_alpha, draw_comparison

    runs = [run_scores(f"det{i}", s, shift=0.3 + 0.25 * i) for i in range(7) for s in range(3)]
    fig = draw_comparison(stats.summarize(stats.group_runs(runs), 10, []), "mean", "seven")
    assert band_alpha(7) < 0.1
    for ax in fig.axes:
        fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
        edges = [ln for ln in ax.get_lines() if ln.get_gid() == BAND_EDGE]
        assert len(fills) == 7 and all(c.get_alpha() == pytest.approx(band_alpha(7)) for c in fills)
        assert len(edges) == 14 and all(ln.get_linestyle() == ":" for ln in edges)
        # each band's edges in its detector's colour
        colours = {matplotlib_colour(ln.get_color()) for ln in edges}
        assert len(colours) == 7
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [f"det{i}" for i in range(7)] + ["random guess"]
    assert fig.get_suptitle() == "seven: mean over runs, band: $\\pm$1 std"
    plt.close(fig)


def matplotlib_colour(c) -> tuple:
    from matplotlib.colors import to_rgba

    return to_rgba(c)


def test_injection_axis_is_the_fraction_with_a_tick_at_every_injected_point():
    import matplotlib.pyplot as plt

    fractions = (0.0, 0.001, 0.003, 0.01, 0.03)
    runs = [run_scores("ocdn", s, shift=2.0 - 20 * f, **{physics_views.FRACTION: f}) for f in fractions for s in range(2)]
    fig = physics_views.injection_figure(stats.group_runs(runs), 10, None, title="LHCO", names={"ocdn": "OCDN"})
    fig.canvas.draw()
    for ax in fig.axes:
        np.testing.assert_allclose(ax.get_xticks(), fractions)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.001", "0.003", "0.01", "0.03"]
        assert "S/(S+B)" in ax.get_xlabel() and "dataset.train_signal_fraction" in ax.get_xlabel()
        # the points sit at the configured fractions (S/(S+B)), not at S/B = f / (1 - f)
        np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), fractions)
    assert fig.get_suptitle().startswith("LHCO: signal-injection scan")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["OCDN (2 runs per fraction)"]
    plt.close(fig)


def test_rank_bars_start_at_rank_one_and_no_cd_over_two_datasets(tmp_path, capsys):
    import matplotlib.pyplot as plt

    two = [tabular.RunRecord(ds, det, "0", "0", {"test_auc": v, "test_aupr": v / 2})
           for ds in ("a", "b") for det, v in (("x", 0.9), ("y", 0.8), ("z", 0.7))]
    ranks = tabular.mean_ranks(tabular.metric_table(two, "test_auc"))
    assert ranks["cd_skipped"] == ("no critical difference drawn: the Nemenyi test needs >= 3 datasets with every "
                                   "detector, these runs have 2")
    fig = tabular.draw_ranks(ranks, "test_auc")
    ax = fig.axes[0]
    bars = list(ax.containers[0])  # the barh rectangles
    assert [b.get_x() for b in bars] == [1.0, 1.0, 1.0]  # bars from rank 1 (the best possible), not 0.5
    assert sorted(b.get_x() + b.get_width() for b in bars) == [1.0, 2.0, 3.0]
    assert ax.get_xlim()[0] == 1.0 and list(ax.get_xticks()) == [1, 2, 3]
    assert not any("Nemenyi" in t.get_text() for t in ax.get_legend().get_texts())
    assert "no critical difference" in ax.get_title()
    plt.close(fig)
    files, md = tabular.write_report(two, "test_auc", tmp_path, ("png",))
    assert md.count("no critical difference drawn") == 1
    # eight datasets, five detectors: the CD is drawn
    rng = np.random.default_rng(0)
    many = [tabular.RunRecord(ds, det, "0", "0", {"test_auc": rng.uniform()}) for ds in "abcdefgh" for det in "vwxyz"]
    ranks = tabular.mean_ranks(tabular.metric_table(many, "test_auc"))
    assert ranks["cd_skipped"] is None
    fig = tabular.draw_ranks(ranks, "test_auc", "ADBench")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.startswith("within the Nemenyi CD") for t in texts)
    assert fig.axes[0].get_title() == "ADBench: mean rank over 8 datasets"
    plt.close(fig)
    # a CD wider than the rank range (2 detectors, 3 datasets) says nothing either: skipped
    three = [tabular.RunRecord(ds, det, "0", "0", {"test_auc": v}) for ds in "abc" for det, v in (("x", 0.9), ("y", 0.8))]
    assert "is not below the rank range" in tabular.mean_ranks(tabular.metric_table(three, "test_auc"))["cd_skipped"]


def test_report_warns_once_when_the_cd_is_left_out(tmp_path, monkeypatch, capsys, new_store):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    new_store(tmp_path)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.create_experiment("tab", artifact_location=(tmp_path / "mlruns").as_uri())
    for name in ("thyroid", "cardio"):
        for model, auc in (("pyod_iforest", 0.9), ("ae", 0.8), ("ocsvm", 0.7)):
            run = client.create_run(exp, run_name=f"{model}-{name}", tags={"model": model, "dataset": "adbench",
                                                                         "dataset_kind": "tabular", "sweep_id": "t1"})
            client.log_batch(run.info.run_id, metrics=[Metric("test_auc", auc, 0, 0), Metric("test_f1", auc / 2, 0, 0)],
                             params=[Param("dataset.name", name), Param("seed", "0")])
            client.set_terminated(run.info.run_id)
    out = tmp_path / "rep"
    assert report_main(["--output", str(out), "--no-mlflow", "--metric", "test_auc", "--metric", "test_f1",
                        "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--sweep", "t1",
                        "--format", "png", "--label", "pyod_iforest=IForest", "--title", "ADBench"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: no critical difference drawn: the Nemenyi test needs >= 3 datasets with every "
                        "detector, these runs have 2."]
    md = (out / "tabular_test_auc.md").read_text()
    assert table_rows(md)[0] == ["dataset", "IForest", "ae", "ocsvm"]
    assert "| thyroid | **0.900 (1)** | 0.800 (1) | 0.700 (1) |" in md
    assert png_width(out / "rank_test_auc.png") <= WIDE


def test_every_figure_stays_within_2400_px_with_ten_long_labels_and_a_long_title(tmp_path):
    """Ten detectors with long setting labels, a 300-character title: comparison, sculpting, injection,
    rank plot and the extremes figure all <= 2400 px wide; the extremes figure large enough to read."""
    from oneclass.report import figures
    from oneclass.report.images import ImageRun, image_report

    title = "A long title " * 23
    runs = [run_scores("ocsvm_oad", s, shift=0.2 + 0.1 * i,
                       **{"model.nu": f"{0.01 * (i + 1):.2f}", "model.gamma": f"scale-with-a-long-name-{i}",
                          physics_views.FRACTION: f"{0.003 * (i % 2)}"})
            for i in range(10) for s in range(2)]
    groups = stats.group_runs(runs)
    assert len(groups) == 10 and all(len(label) > 60 for label in groups)
    summary = stats.summarize(groups, 10, [])
    files = figures.comparison_figure(summary, "mean", tmp_path / "mean", title, ("png",))
    files += figures.comparison_figure(summary, "best", tmp_path / "best", title, ("png",))
    files += physics_views.sculpting_figure(groups, tmp_path / "sculpting", ("png",), title)
    files += physics_views.injection_figure(groups, 10, tmp_path / "injection", ("png",), title)
    recs = [tabular.RunRecord(ds, label, "0", "0", {"test_auc": np.random.default_rng(i).uniform()})
            for ds in "abcd" for i, label in enumerate(groups)]
    files += tabular.write_report(recs, "test_auc", tmp_path / "tab", ("png",), title)[0]
    labels = np.r_[np.zeros(40, np.int8), np.ones(40, np.int8)]
    image_runs = [ImageRun("deepsvdd", "mnist", c, "0", {"dataset.normal_class": str(c)},
                           np.random.default_rng(c).normal(size=80) + labels, labels, np.arange(80)) for c in range(10)]
    files += image_report(image_runs, tmp_path / "img", n_images=32, images=np.zeros((80, 1, 28, 28), np.uint8),
                          title=title)[0]
    pngs = [p for p in files if p.suffix == ".png"]
    assert {p.name for p in pngs} == {"mean.png", "best.png", "sculpting.png", "injection.png", "rank_test_auc.png",
                                      "extremes_deepsvdd.png"}
    for png in pngs:
        assert png_width(png) <= WIDE, png.name
    assert png_width(tmp_path / "img" / "extremes_deepsvdd.png") >= 1200  # was 768 px
    with Image.open(tmp_path / "img" / "extremes_deepsvdd.png") as img:
        # each 28-pixel digit at least ~2.5x: 10 classes x 4 rows of images
        assert img.size[1] >= 10 * 4 * 28 * 2.5
