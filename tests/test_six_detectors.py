"""The paper's six detectors in one command on the real LHCO file (short schedule, subsample)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.svm import OneClassSVM as SkOneClassSVM

from oneclass.metrics import max_sic, roc_auc

ROOT = Path(__file__).resolve().parents[1]
SIX = ["ocdn", "ae", "deepsvdd", "deepsvdd_soft", "ocsvm_iad", "ocsvm_oad"]


@pytest.mark.system
@pytest.mark.slow
def test_six_detectors_on_lhco_in_one_command(tmp_path, shared_data):
    path = shared_data("lhco/lhco_rnd_sr_5features.npy")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"model={','.join(SIX)}", "dataset=lhco",
           f"dataset.path={path}", "dataset.n_train=2000", "dataset.n_test_background=1000",
           "dataset.n_test_signal=1000", "trainer.max_epochs=1", "trainer.accelerator=cpu"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert sorted(r.data.tags["model"] for r in runs) == sorted(SIX)
    raw = np.load(path)
    inside = (raw[:, 0] > 3.3) & (raw[:, 0] < 3.7)
    bkg, sig = raw[inside & (raw[:, 5] == 0), :5], raw[inside & (raw[:, 5] == 1), :5]
    x_train, y_test = bkg[:2000], np.r_[np.zeros(1000), np.ones(1000)]
    x_test = np.concatenate([bkg[len(bkg) - 1000:], sig[len(sig) - 1000:]])
    for r in runs:
        metrics, model = r.data.metrics, r.data.tags["model"]
        saved = np.load(Path(r.data.tags["output_dir"]) / "scores.npz")
        assert metrics["test_auc"] == pytest.approx(roc_auc(saved["scores"], saved["labels"]), abs=1e-12), model
        assert metrics["test_max_sic"] == pytest.approx(max_sic(saved["scores"], saved["labels"]), abs=1e-12), model
        assert metrics["fit_time_s"] > 0 and metrics["score_time_s"] > 0
        if model.startswith("ocsvm"):
            # the presets' scalable solver matches libsvm's exact solution on the same split
            assert r.data.params["model.solver"] == "nystroem"
            nu = float(r.data.params["model.nu"])
            exact = -SkOneClassSVM(nu=nu, gamma=0.1).fit(x_train).score_samples(x_test)
            assert metrics["test_auc"] == pytest.approx(roc_auc(exact, y_test), abs=0.01), model
