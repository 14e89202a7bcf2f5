"""The supervised ceiling: trained on labelled signal vs background, never on test events."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.run import engine
from oneclass.errors import ConfigError


def test_supervised_ceiling_on_lhco_is_far_above_the_one_class_detectors(cfg_factory, tmp_path, shared_data):
    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    common = ["dataset=lhco", f"dataset.path={path}", "logger=none", "dataset.n_train=4000",
              "dataset.n_test_background=3000", "dataset.n_test_signal=3000", "trainer.max_epochs=3"]
    cfg = cfg_factory("experiment=lhco/supervised", *common)
    assert cfg.dataset.train_signal_fraction == 0.2  # conf/experiment/lhco/supervised.yaml
    sup = engine.run(cfg, engine.JobInfo(output_dir=tmp_path / "sup", launch_dir=tmp_path))
    data = engine.prepare(cfg, engine.JobInfo(output_dir=tmp_path / "x", launch_dir=tmp_path)).data()
    assert data.y_train.sum() == 1000 and len(data.x_train) == 5000  # 4000 background + 0.2 contamination
    # its training signal is never a test event
    raw_rows = set(data.test_index.tolist())
    assert len(raw_rows) == 6000
    ocdn = engine.run(cfg_factory("experiment=lhco/ocdn", *common), engine.JobInfo(output_dir=tmp_path / "oc", launch_dir=tmp_path))
    # the resonant signal (m_X 500 GeV, m_Y 100 GeV, two-prong) is easy with labels: even 1000 labelled
    # signal events and 3 epochs put it far above a one-class detector (the full split reaches max SIC ~17)
    assert sup["test_auc"] > 0.85 and sup["test_auc"] > ocdn["test_auc"] + 0.2
    assert sup["test_max_sic"] > 2 * ocdn["test_max_sic"]


def test_supervised_without_labelled_signal_is_one_line(cfg_factory, tmp_path):
    cfg = cfg_factory("model=supervised", "logger=none")
    with pytest.raises(ConfigError, match="model=supervised needs labelled signal and background in its training set"):
        engine.run(cfg, engine.JobInfo(output_dir=tmp_path / "o", launch_dir=tmp_path))


def test_the_ceiling_has_its_own_contract_beside_the_one_class_one(cfg_factory):
    """Labels go to SupervisedDetector subclasses only: no one-class detector takes them."""
    import inspect

    from oneclass.config import build
    from oneclass.models.base import Detector, LightningDetector, SupervisedDetector
    from oneclass.models.ocdn import OCDN

    ceiling = build(cfg_factory("model=supervised").model, "model", input_shape=(1,))
    assert isinstance(ceiling, SupervisedDetector) and "y" in inspect.signature(ceiling.fit).parameters
    one_class = build(cfg_factory("model=ocdn").model, "model", input_shape=(1,))
    assert isinstance(one_class, OCDN) and not isinstance(one_class, SupervisedDetector)
    for contract in (Detector.fit, LightningDetector.fit):
        assert "y" not in inspect.signature(contract).parameters
