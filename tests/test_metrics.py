"""Metrics against hand-computed values."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from oneclass.errors import TrainingError
from oneclass.metrics import evaluate, max_sic, roc_auc, roc_curve, sic_curve


def test_sic_is_tpr_over_sqrt_fpr():
    fpr = np.array([0.0, 0.01, 0.25, 1.0])
    tpr = np.array([0.0, 0.2, 0.5, 1.0])
    sic = sic_curve(fpr, tpr)
    assert np.isnan(sic[0])
    np.testing.assert_allclose(sic[1:], [2.0, 1.0, 1.0])


def test_max_sic_hand_computed_and_min_background():
    # 100 background scored 0..99, 10 signal scored 95..104.
    bkg = np.arange(100, dtype=float)
    sig = np.arange(95, 105, dtype=float)
    scores = np.concatenate([bkg, sig])
    labels = np.r_[np.zeros(100), np.ones(10)]
    # Cut "score >= t" keeping k background events (t = 100 - k, k >= 1) keeps
    # signal 10 if k >= 5 else 5 + k. SIC(k) = TPR / sqrt(k/100).
    def sic(k):
        n_sig = 10 if k >= 5 else 5 + k
        return (n_sig / 10) / np.sqrt(k / 100)

    # with at least 10 background events kept the best cut keeps exactly 10: SIC = 1/sqrt(0.1)
    assert max_sic(scores, labels, min_background=10) == pytest.approx(sic(10))
    assert max_sic(scores, labels, min_background=10) == pytest.approx(np.sqrt(10))
    # with 5 allowed, k = 5 keeps all signal: SIC = sqrt(20)
    assert max_sic(scores, labels, min_background=5) == pytest.approx(sic(5)) == pytest.approx(np.sqrt(20))
    # with 1 allowed, k=1 keeps 6 signal: 0.6 / 0.1 = 6
    assert max_sic(scores, labels, min_background=1) == pytest.approx(6.0)


def test_auc_matches_sklearn_and_counts_ties_as_half():
    rng = np.random.default_rng(1)
    s = rng.normal(size=500)
    y = rng.integers(0, 2, 500)
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))
    assert roc_auc(np.zeros(4), np.array([0, 1, 0, 1])) == 0.5


def test_roc_curve_starts_at_origin_and_ends_at_one():
    fpr, tpr, _ = roc_curve(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    assert (fpr[0], tpr[0]) == (0, 0) and (fpr[-1], tpr[-1]) == (1, 1)


def test_non_finite_scores_are_a_training_error():
    with pytest.raises(TrainingError, match="1 of 3 scores are NaN or infinite"):
        evaluate(np.array([0.0, np.nan, 1.0]), np.array([0, 1, 1]))


def test_evaluate_bundles_consistent_numbers():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(1000), np.ones(1000)]
    s = rng.normal(size=2000) + y
    ev = evaluate(s, y, min_background=10)
    assert ev.auc == pytest.approx(roc_auc_score(y, s))
    assert ev.metrics() == {"test_auc": ev.auc, "test_max_sic": ev.max_sic}
    assert ev.max_sic == pytest.approx(np.nanmax(ev.sic[np.rint(ev.fpr * 1000) >= 10]))
