"""Metrics against hand-computed values."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from oneclass.errors import TrainingError
from oneclass.metrics import (METRICS, average_precision, evaluate, f1_at_ratio, max_sic, precision_at_ratio, ratio_cut,
                              recall_at_ratio, roc_auc, roc_curve, sic_curve)


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
    got = ev.metrics()
    # every declared metric (METRICS, from Evaluation's fields), by its MLflow name, finite
    assert list(got) == [m.key for m in METRICS] and all(np.isfinite(v) for v in got.values())
    assert all(got[m.key] == getattr(ev, m.name) for m in METRICS)
    assert ev.metrics("val") == {f"val_{m.name}": v for m, v in zip(METRICS, got.values())}
    assert (got["test_f1"], got["test_precision"], got["test_recall"]) == (ev.cut.f1, ev.cut.precision, ev.cut.recall)
    assert ev.max_sic == pytest.approx(np.nanmax(ev.sic[np.rint(ev.fpr * 1000) >= 10]))


# ---------------------------------------------------------------- AUPR and the anomaly-fraction cut
# Ten distinct scores 0.1 .. 1.0; the anomalies are the rows scored 1.0, 0.8 and 0.3.
SCORES10 = np.round(np.arange(1, 11) / 10, 1)
LABELS10 = np.isin(SCORES10, [1.0, 0.8, 0.3]).astype(int)


def test_average_precision_hand_computed():
    # ranked by score: A N A N N N N A ... -> precision at each anomaly 1, 2/3, 3/8; recall steps of 1/3
    assert average_precision(SCORES10, LABELS10) == pytest.approx((1 + 2 / 3 + 3 / 8) / 3)  # 49/72
    # ties form one step: scores 2 (A) then 1 (three rows, one A): AP = 1/2 * 1 + 1/2 * 2/4
    assert average_precision(np.array([0, 0, 1, 1, 1, 2.0]), np.array([0, 0, 0, 1, 0, 1])) == pytest.approx(0.75)


def test_ratio_cut_hand_computed():
    cut = ratio_cut(SCORES10, LABELS10)
    # ratio 0.3 -> 0.7 quantile: position 0.7 * 9 = 6.3 between 0.7 and 0.8 -> 0.73; flags 0.8, 0.9, 1.0
    assert cut.threshold == pytest.approx(0.73)
    assert cut.n_flagged == 3
    assert (cut.precision, cut.recall, cut.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert precision_at_ratio(SCORES10, LABELS10) == cut.precision
    assert recall_at_ratio(SCORES10, LABELS10) == cut.recall
    assert f1_at_ratio(SCORES10, LABELS10) == cut.f1


def test_ratio_cut_flags_every_row_tied_with_the_threshold():
    # 2 anomalies of 6 -> 2/3 quantile of [0 0 1 1 1 2]: position 3.33 between two 1s -> threshold 1;
    # all three rows scored 1 are flagged with the 2: 4 flagged, TP 2, FP 2, FN 0
    cut = ratio_cut(np.array([0, 0, 1, 1, 1, 2.0]), np.array([0, 0, 0, 1, 0, 1]))
    assert (cut.threshold, cut.n_flagged) == (1.0, 4)
    assert (cut.precision, cut.recall, cut.f1) == pytest.approx((0.5, 1.0, 2 / 3))


def test_ratio_cut_extremes():
    labels = np.r_[np.zeros(8), np.ones(2)]
    perfect = ratio_cut(np.arange(10.0), labels)
    assert (perfect.n_flagged, perfect.precision, perfect.recall, perfect.f1) == (2, 1.0, 1.0, 1.0)
    worst = ratio_cut(-np.arange(10.0), labels)  # the anomalies score lowest
    assert (worst.n_flagged, worst.precision, worst.recall, worst.f1) == (2, 0.0, 0.0, 0.0)
    everything = ratio_cut(np.zeros(10), labels)  # one tied value: all flagged
    assert (everything.n_flagged, everything.precision, everything.recall) == (10, 0.2, 1.0)


def test_ratio_cut_matches_sklearn_on_random_scores():
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(3)
    y = (rng.random(1000) < 0.2).astype(int)
    s = rng.normal(size=1000) + y
    cut = ratio_cut(s, y)
    assert cut.n_flagged == y.sum()  # distinct scores: exactly the anomaly count is flagged
    p, r, f, _ = precision_recall_fscore_support(y, (s >= np.percentile(s, 100 * (1 - y.mean()))).astype(int),
                                                 average="binary")
    assert (cut.precision, cut.recall, cut.f1) == pytest.approx((p, r, f))


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 2, 1]), "labels must be 0 .normal. or 1 .anomaly., found \\[0, 1, 2\\]"),
    (np.array([0, 0, 0]), "no anomalies"),
])
def test_aupr_and_cut_need_binary_labels_with_anomalies(labels, message):
    for fn in (average_precision, ratio_cut):
        with pytest.raises(ValueError, match=message):
            fn(np.array([0.1, 0.5, 0.9]), labels)


def test_evaluate_aupr_from_the_roc_curve_matches_sklearn_with_ties():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(5)
    y = (rng.random(3000) < 0.1).astype(np.int8)
    s = np.round(rng.normal(size=3000) + 1.5 * y, 1)  # coarse scores: many ties
    ev = evaluate(s, y, min_background=10)
    assert ev.aupr == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert ev.metrics()["test_f1"] == pytest.approx(ratio_cut(s, y).f1)
    assert evaluate(SCORES10, LABELS10, min_background=1).aupr == pytest.approx(49 / 72)
