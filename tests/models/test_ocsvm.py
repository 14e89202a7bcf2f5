"""The one-class SVM: the OCDN paper's presets (ocsvm_iad, ocsvm_oad) with the exact and the Nystroem
solver, the score's sign convention, gamma=auto, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.config import build
from oneclass.errors import ConfigError
from oneclass.metrics import roc_auc


@pytest.mark.parametrize("preset", ["ocsvm_iad", "ocsvm_oad"])
@pytest.mark.parametrize("solver", ["exact", "nystroem"])
def test_ocsvm_far_point_scores_higher_than_training_mean(preset, solver, cfg_factory):
    cfg = cfg_factory(f"model={preset}", f"model.solver={solver}", "model.n_components=200")
    x = np.random.default_rng(0).normal(size=(1000, 3))
    model = build(cfg.model, "model", n_features=3).fit(x)
    mean, far = model.score(np.stack([x.mean(axis=0), x.mean(axis=0) + 10.0]))
    assert far > mean


@pytest.mark.parametrize("preset", ["ocsvm_iad", "ocsvm_oad"])
def test_ocsvm_preset_default_matches_the_exact_solver_on_lhco(preset, cfg_factory, shared_data):
    """The presets' fast default (Nystroem + SGD) against libsvm on a subsample of the paper split
    (benchmarks/bench_ocsvm.py compares them on the full split, with timings)."""
    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    sizes = [f"model={preset}", "dataset=lhco", f"dataset.path={path}", "dataset.n_train=4000",
             "dataset.n_test_background=3000", "dataset.n_test_signal=3000"]
    aucs = {}
    for solver in ("exact", "nystroem"):
        cfg = cfg_factory(*sizes, f"model.solver={solver}", small=False)
        data = build(cfg.dataset, "dataset").load(0)
        model = build(cfg.model, "model", input_shape=data.input_shape).fit(data.x_train)
        aucs[solver] = roc_auc(model.score(data.x_test), data.y_test)
    assert cfg.model.n_components == 50
    assert aucs["nystroem"] == pytest.approx(aucs["exact"], abs=0.005)


def test_ocsvm_score_is_one_minus_score_samples(cfg_factory):
    cfg = cfg_factory("model=ocsvm_oad", "model.solver=exact")
    x = np.random.default_rng(0).normal(size=(300, 2))
    model = build(cfg.model, "model", n_features=2).fit(x)
    np.testing.assert_allclose(model.score(x), 1 - model.estimator_.score_samples(x))
    assert model.estimator_.nu == 0.15 and model.estimator_.gamma == 0.1


@pytest.mark.parametrize("override, message", [
    ("model.nu=0", r"model.nu must be in \(0, 1\]"),
    ("model.nu=1.2", r"model.nu must be in \(0, 1\]"),
    ("model.gamma=0", "model.gamma must be positive"),
    ("model.solver=fast", "model.solver must be one of"),
])
def test_ocsvm_bad_parameters_are_one_line_errors(override, message, cfg_factory):
    cfg = cfg_factory("model=ocsvm", override)
    model = build(cfg.model, "model", n_features=2)  # sklearn convention: validated in fit
    with pytest.raises(ConfigError, match=message) as info:
        model.fit(np.zeros((10, 2)))
    assert "\n" not in str(info.value)


def test_exact_ocsvm_refuses_nu_one(cfg_factory):
    import numpy as np

    from oneclass.config import build

    cfg = cfg_factory("model=ocsvm", "model.nu=1")
    with pytest.raises(ConfigError, match="model.nu=1 makes libsvm's exact solver fail"):
        build(cfg.model, "model", input_shape=(2,)).fit(np.zeros((10, 2)))


def test_ocsvm_gamma_auto_is_one_over_d_and_set_per_protocol():
    from sklearn.svm import OneClassSVM as SkOCSVM

    from conftest import compose_cfg
    from oneclass.models.ocsvm import OneClassSVM

    x = np.random.default_rng(0).normal(size=(200, 4))
    ours = OneClassSVM(gamma="auto", n_features=4).fit(x).score(x)
    ref = 1 - SkOCSVM(gamma=0.25, nu=0.5).fit(x).score_samples(x)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    with pytest.raises(ConfigError, match="model.gamma must be a positive number or auto"):
        OneClassSVM(gamma="scale", n_features=4).fit(x)
    assert compose_cfg(["experiment=adbench/ocsvm"]).model.gamma == "auto"
    assert compose_cfg(["experiment=adbench/ocsvm", "dataset=odds"]).model.gamma == "auto"
    assert compose_cfg(["model=ocsvm"]).model.gamma == 0.1  # the OCDN paper's value on LHCO
