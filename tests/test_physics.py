"""Rejection at fixed signal efficiency and mass sculpting, against hand-computed and statistical answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oneclass.errors import ConfigError
from oneclass.physics import jensen_shannon, physics_metrics, sculpting, working_point


def test_working_point_by_hand():
    # signal scores 10..1 (10 events), background 0..99 scaled below: 4 background events above 7.5
    sig = np.arange(10, 0, -1, dtype=float)
    bkg = np.r_[np.full(4, 7.5), np.zeros(96)]
    scores, labels = np.r_[sig, bkg], np.r_[np.ones(10), np.zeros(100)]
    wp = working_point(scores, labels, 0.2)  # keeps the 2 highest signal events: cut at score >= 9
    assert wp.achieved_efficiency == 0.2 and wp.n_background_pass == 0 and wp.lower_bound
    assert wp.rejection == 100 and math.isnan(wp.rejection_err)  # lower bound: n_B, never infinity
    wp = working_point(scores, labels, 0.5)  # cut at 6: the 4 background events at 7.5 pass
    assert wp.n_background_pass == 4 and wp.background_efficiency == 0.04
    assert wp.rejection == pytest.approx(25.0) and wp.rejection_err == pytest.approx(25.0 / 2)
    assert wp.sic == pytest.approx(0.5 / math.sqrt(0.04))
    m = physics_metrics(scores, labels, [0.2, 0.5])
    assert m["rej_eff20_lower_bound"] == 1.0 and m["rej_eff50"] == pytest.approx(25.0) and m["sic_eff50"] == pytest.approx(2.5)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1])
def test_efficiency_outside_the_unit_interval_is_refused(bad):
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        working_point(np.r_[1.0, 0.0], np.r_[1, 0], bad)


def test_jensen_shannon_limits():
    assert jensen_shannon(np.array([1, 2, 3]), np.array([2, 4, 6])) == pytest.approx(0.0, abs=1e-15)
    assert jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


def test_a_score_that_is_a_function_of_mjj_sculpts_and_an_independent_one_does_not():
    rng = np.random.default_rng(0)
    n = 40_000
    mjj = rng.uniform(3.3, 3.7, n)
    labels = np.zeros(n, int)
    labels[:2000] = 1
    independent = rng.normal(size=n)
    correlated = mjj + 0.01 * rng.normal(size=n)
    bins = 20
    for eff in (0.1, 0.01):
        n_pass = eff * (labels == 0).sum()
        # a random subsample's JSD against the inclusive histogram is of order (bins - 1) / (8 ln 2 n_pass):
        # allow four times that for the independent score, demand ten times more for the correlated one
        noise = 4 * (bins - 1) / (8 * math.log(2) * n_pass)
        flat = sculpting(independent, labels, mjj, eff, n_bins=bins)
        bump = sculpting(correlated, labels, mjj, eff, n_bins=bins)
        assert flat.jsd < noise, (eff, flat.jsd, noise)
        assert bump.jsd > 10 * noise, (eff, bump.jsd, noise)
        assert flat.passing.sum() == pytest.approx(n_pass, abs=1)


def test_lhco_runs_log_rejection_and_sculpting(cfg_factory, tmp_path, shared_data):
    from oneclass.run import engine

    cfg = cfg_factory("dataset=lhco", f"dataset.path={shared_data('lhco/lhco_rnd_sr_5features.npy')}", "logger=none",
                      "dataset.n_train=3000", "dataset.n_test_background=3000", "dataset.n_test_signal=3000")
    metrics = engine.run(cfg, engine.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path))
    saved = np.load(tmp_path / "out" / "scores.npz")
    assert saved["mjj"].shape == (6000,) and 3.3 < saved["mjj"].min() and saved["mjj"].max() < 3.7
    expected = physics_metrics(saved["scores"], saved["labels"], [0.2, 0.5], mjj=saved["mjj"])
    assert {f"test_{k}": v for k, v in expected.items()} == {k: metrics[k] for k in metrics if f"{k[5:]}" in expected}
    assert {"test_rej_eff20", "test_sic_eff50", "test_jsd_bkg10", "test_inv_jsd_bkg1"} <= set(metrics)


@pytest.mark.parametrize("override, message", [
    ("eval.signal_efficiencies=[0.2,1.0]", "eval.signal_efficiencies must be numbers strictly between 0 and 1"),
    ("eval.sculpting_efficiencies=[0]", "eval.sculpting_efficiencies must be numbers strictly between 0 and 1"),
    ("eval.sculpting_efficiencies=[0.1]", "needs the test events' mjj, which dataset 'gaussian' does not have"),
])
def test_bad_physics_settings_fail_before_training(cfg_factory, tmp_path, override, message):
    from oneclass.run import engine

    with pytest.raises(ConfigError, match=message):
        engine.run(cfg_factory(override, "logger=none"), engine.JobInfo(output_dir=tmp_path / "o", launch_dir=tmp_path))
