"""A newcomer's additions touch only their own files: in a temporary copy of conf/ (and a folder of
their own Python modules), a new dense net is one module plus one YAML and is seed-batched by the
seed_batch sweeper; a new tabular .npz dataset is one YAML and gets the tabular report tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from oneclass.launch.cli import config_dir

# a store, server, launcher or subprocess in every test: `make test-fast` leaves them out
pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[1]

NET_MODULE = '''
import torch
from torch import nn


class SkipNet(nn.Module):
    """A dense net with a skip connection: the net group's layers under its own forward."""

    def __init__(self, input_shape, rep_dim=4, width=16):
        super().__init__()
        self.input_shape, self.rep_dim = tuple(input_shape), rep_dim
        self.inp = nn.Linear(self.input_shape[0], width, bias=False)
        self.block = nn.Sequential(nn.Linear(width, width, bias=False), nn.BatchNorm1d(width, affine=False), nn.LeakyReLU())
        self.out = nn.Linear(width, rep_dim, bias=False)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        return self.out(h + self.block(h))
'''
NET_YAML = "_target_: my_nets.SkipNet\n_partial_: true\nrep_dim: 4\nwidth: 16\n"


@pytest.fixture
def own_conf(tmp_path):
    """(a copy of conf/, a folder for new modules, the environment that runs the CLI with both)."""
    conf = tmp_path / "conf"
    shutil.copytree(config_dir(), conf)
    modules = tmp_path / "modules"
    modules.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["ONECLASS_CONFIG_DIR"] = str(conf)
    env["PYTHONPATH"] = os.pathsep.join([str(modules), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return conf, modules, env


def cli(tmp_path: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def runs(tmp_path: Path, experiment: str):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


@pytest.mark.slow
def test_a_new_dense_net_is_seed_batched_with_no_list_edited(tmp_path, own_conf):
    conf, modules, env = own_conf
    (modules / "my_nets.py").write_text(NET_MODULE)
    (conf / "model" / "net" / "skip_net.yaml").write_text(NET_YAML)
    proc = cli(tmp_path, env, "-m", "model=deepsvdd", "model/net=skip_net", "seed=0,1", "hydra/sweeper=seed_batch",
               "trainer.max_epochs=1", "dataset.n_train=500", "dataset.n_test_background=500",
               "dataset.n_test_signal=500", "trainer.accelerator=cpu", "threads=1")
    assert "seed_batch: 2 sweep points -> 1 jobs (1 vectorised seed groups)" in proc.stdout, proc.stdout[-2000:]
    found = runs(tmp_path, "gaussian")
    assert sorted(r.info.run_name for r in found) == ["deepsvdd-gaussian-ensemble2", "deepsvdd-gaussian-seed0",
                                                      "deepsvdd-gaussian-seed1"]
    assert all(r.data.tags["vectorised"] == "true" and r.data.params["model.net._target_"] == "my_nets.SkipNet"
               for r in found)
    assert [r.data.tags.get("ensemble") for r in found].count("true") == 1
    assert all(r.data.tags["dataset_kind"] == "physics" for r in found)  # the toy stands for LHCO


@pytest.mark.slow
def test_a_new_tabular_npz_dataset_by_yaml_alone_gets_the_tabular_report(tmp_path, own_conf):
    conf, _, env = own_conf
    rng = np.random.default_rng(0)
    y = (np.arange(400) < 40).astype(np.int64)
    x = rng.normal(size=(400, 4)) + 2.5 * y[:, None]
    np.savez(tmp_path / "blobs.npz", X=x, y=y)
    (conf / "dataset" / "blobs.yaml").write_text(
        "_target_: oneclass.data.tabular_datasets.ADBench\n"
        f"name: blobs\npath: {tmp_path / 'blobs.npz'}\nprotocol: adbench\nsplit_seed: 0\n")
    cli(tmp_path, env, "-m", "dataset=blobs", "model=ocsvm,pyod_iforest", "dataset.split_seed=0,1", "threads=1")
    found = runs(tmp_path, "blobs")
    assert len(found) == 4 and {r.data.tags["dataset_kind"] for r in found} == {"tabular"}
    out = tmp_path / "report"
    proc = cli(tmp_path, env, "report", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--output", str(out),
               "--no-mlflow", "--format", "png")
    table = (out / "tabular_test_auc.md").read_text()
    assert "blobs [adbench]" in table and "ocsvm" in table and "pyod_iforest" in table, table
    assert "LHCO" not in proc.stdout and not (out / "roc_sic_best.png").exists()  # not the physics comparison
