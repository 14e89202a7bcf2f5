"""The paper's six detectors in one command on the real LHCO file (short schedule, subsample)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIX = ["ocdn", "ae", "deepsvdd", "deepsvdd_soft", "ocsvm_iad", "ocsvm_oad"]


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
    for r in runs:
        metrics = r.data.metrics
        assert 0.0 <= metrics["test_auc"] <= 1.0, r.data.tags["model"]
        assert metrics["test_max_sic"] > 0, r.data.tags["model"]
        assert metrics["fit_time_s"] > 0 and metrics["score_time_s"] > 0
        if r.data.tags["model"].startswith("ocsvm"):  # the presets' scalable solver
            assert r.data.params["model.solver"] == "nystroem"
