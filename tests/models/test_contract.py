"""The detector contract, checked for every model config in conf/model/ through the real config.

fit returns self; score is (n,), float64, finite; the same seed gives identical scores; on an easy
problem (5-D Gaussian toy, background N(-2, 1), signal N(+1, 1): 6.7 sigma apart) every detector
ranks signal above background.
"""

from __future__ import annotations

import re
import shlex

import lightning.pytorch as L
import numpy as np
import pytest

from oneclass.launch.cli import config_dir
from oneclass.config import build
from oneclass.metrics import roc_auc
from oneclass.models.base import SupervisedDetector
from oneclass.models.pyod import pyod_available
from oneclass.run.job import make_trainer

MODELS = sorted(p.stem for p in (config_dir() / "model").glob("*.yaml"))
# A model config may shorten the contract's run with `# contract test: <overrides>` lines (short schedules
# that keep each fit to about a second); the detector's own settings otherwise.
CONTRACT_LINE = re.compile(r"^# contract test:(.*)$", re.MULTILINE)
# PyOD configs run only where PyOD is installed (the dev extra, which CI installs)
PYOD_MODELS = {m for m in MODELS if m == "pyod" or m.startswith("pyod_")}


def contract_overrides(model: str) -> list[str]:
    """The overrides on the `# contract test:` lines of conf/model/<model>.yaml, in order."""
    text = (config_dir() / "model" / f"{model}.yaml").read_text()
    return [override for line in CONTRACT_LINE.findall(text) for override in shlex.split(line)]


def fit_and_score(cfg):
    L.seed_everything(cfg.seed, verbose=False)
    data = build(cfg.dataset, "dataset").load(cfg.seed)
    detector = build(cfg.model, "model", input_shape=data.input_shape)
    trainer = make_trainer(cfg, []) if isinstance(detector, L.LightningModule) else None
    labels = {"y": data.y_train} if isinstance(detector, SupervisedDetector) else {}
    fitted = detector.fit(data.x_train, trainer=trainer, **labels)
    return detector, fitted, detector.score(data.x_test), data


def test_every_model_config_is_covered():
    assert {"ocdn", "logreg", "ae", "deepsvdd", "deepsvdd_soft", "ocnn", "ocsvm", "ocsvm_iad", "ocsvm_oad"} <= set(MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_contract(model, cfg_factory):
    if model in PYOD_MODELS and not pyod_available():
        pytest.skip("PyOD not installed (pip install 'oneclass[pyod]')")
    cfg = cfg_factory(f"model={model}", "dataset.dim=5", "dataset.signal_mean=1.0", "dataset.n_train=1000",
                      "dataset.n_test_background=500", "dataset.n_test_signal=500", "trainer.max_epochs=2",
                      "logger=none", *contract_overrides(model))
    detector, fitted, scores, data = fit_and_score(cfg)
    assert fitted is detector
    assert scores.shape == (len(data.x_test),)
    assert scores.dtype == np.float64
    assert np.all(np.isfinite(scores))
    assert roc_auc(scores, data.y_test) > 0.8, model
    _, _, again, _ = fit_and_score(cfg)
    np.testing.assert_array_equal(scores, again)


def test_a_model_yaml_declares_its_contract_overrides(tmp_path, monkeypatch):
    """The short-run settings live in the model's own YAML: a new model config in a copy of conf/ is
    among the models tested here, run with its `# contract test:` lines; no test is edited."""
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(config_dir(), conf)
    (conf / "model" / "deepsvdd_small.yaml").write_text(
        "defaults:\n  - deepsvdd\n  - _self_\nbatch_size: 64\n"
        "# contract test: model.lr=1e-3 trainer.max_epochs=3\n# contract test: model.net.rep_dim=8\n")
    monkeypatch.setenv("ONECLASS_CONFIG_DIR", str(conf))
    assert sorted(p.stem for p in (config_dir() / "model").glob("*.yaml")) == sorted(MODELS + ["deepsvdd_small"])
    assert contract_overrides("deepsvdd_small") == ["model.lr=1e-3", "trainer.max_epochs=3", "model.net.rep_dim=8"]
    assert contract_overrides("ocsvm") == [] and contract_overrides("logreg") == ["trainer.max_epochs=100"]
