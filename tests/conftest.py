"""Shared fixtures: the real config composed and shrunk, and access to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from oneclass.launch.cli import config_dir

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$ONECLASS_SHARED_DATA`` or the ``shared/data`` folder beside the checkout."""
    env = os.environ.get("ONECLASS_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def missing_data(message: str) -> None:
    """A test that needs shared data it cannot find: skipped, or failed when ONECLASS_REQUIRE_DATA=1 (CI)."""
    if os.environ.get("ONECLASS_REQUIRE_DATA") == "1":
        pytest.fail(message + " (ONECLASS_REQUIRE_DATA=1: CI must have it)")
    pytest.skip(message)


@pytest.fixture
def shared_data():
    """Path to a file under shared/data; skips when absent, fails when ONECLASS_REQUIRE_DATA=1 (CI)."""

    def get(relative: str) -> Path:
        path = shared_data_dir() / relative
        if not path.exists():
            missing_data(f"shared data file {path} is missing")
        return path

    return get


def compose_cfg(overrides: list[str] | None = None) -> DictConfig:
    """The real config from conf/, with overrides, as run.py would see it (without Hydra's run)."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides or [])


@pytest.fixture
def cfg_factory(tmp_path, monkeypatch, new_store):
    """Compose a small, fast config; tracking goes to a SQLite store in tmp_path (an empty one is
    there already: see ``new_store``)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    new_store(tmp_path)

    def make(*overrides: str, small: bool = True) -> DictConfig:
        base = []
        if small:
            base = ["trainer.max_epochs=1", "dataset.n_train=2000", "dataset.n_test_background=2000",
                    "dataset.n_test_signal=2000"]
        cfg = compose_cfg(base + list(overrides))
        with open_dict(cfg):
            cfg.trainer.accelerator = "cpu"
        return cfg

    return make


@pytest.fixture(scope="session")
def _migrated_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its tables created once per session."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def new_store(_migrated_store):
    """``new_store(folder)`` puts an empty, already migrated ``mlflow.db`` in ``folder`` (the default
    store of jobs launched there): a fresh store costs MLflow's schema migrations, ~10 s on a busy
    2-core machine, and the content is the same."""
    import shutil

    def put(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(_migrated_store, folder / "mlflow.db"))

    return put


@pytest.fixture(scope="session", autouse=True)
def _a_share_of_the_cores():
    """Under pytest-xdist each worker computes with its share of the cores (torch's and the BLAS thread
    pools): N workers each running torch's default of one thread per core fight over the cores, and
    the small networks of the tests then take 10 to 20 times longer (busy-waiting thread pools)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    from oneclass.run.jobenv import available_cores

    threads = max(1, available_cores() // int(workers))
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        yield


@pytest.fixture(autouse=True)
def _no_global_seed_env():
    """``lightning.seed_everything`` writes PL_GLOBAL_SEED into os.environ, a module-scoped fixture's
    training too (before this fixture runs): every test starts without it, and so do the
    subprocesses it starts (a sweep's jobs check that they found a clean process)."""
    os.environ.pop("PL_GLOBAL_SEED", None)
    yield
    os.environ.pop("PL_GLOBAL_SEED", None)


# ---------------------------------------------------------------- LHC Olympics black box files
def black_box_events(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Dijets back to back along x with mjj about 3.5 TeV (every event in the signal region); signal
    events (key 1, every 8th) have heavy, two-prong light jets. No label column, as in a black box."""
    rng = np.random.default_rng(seed)
    key = (np.arange(n) % 8 == 3).astype(int)
    m1 = np.where(key == 1, 480.0, rng.uniform(20, 150, n))
    m2 = np.where(key == 1, 110.0, rng.uniform(20, 150, n))
    e = 1750.0  # each jet: E = 1750 GeV -> mjj = 3500 GeV for back-to-back jets
    p1, p2 = np.sqrt(e ** 2 - m1 ** 2), np.sqrt(e ** 2 - m2 ** 2)
    # |p| must be equal for back to back: use the smaller and recompute the energies exactly
    p = np.minimum(p1, p2)
    zeros = np.zeros(n)
    tau1 = rng.uniform(0.3, 0.6, (n, 2))
    tau2 = np.where(key[:, None] == 1, 0.2 * tau1, rng.uniform(0.6, 0.9, (n, 2)) * tau1)
    frame = pd.DataFrame(dict(pxj1=p, pyj1=zeros, pzj1=zeros, mj1=m1, tau1j1=tau1[:, 0], tau2j1=tau2[:, 0],
                              tau3j1=0.5 * tau2[:, 0], pxj2=-p, pyj2=zeros, pzj2=zeros, mj2=m2, tau1j2=tau1[:, 1],
                              tau2j2=tau2[:, 1], tau3j2=0.5 * tau2[:, 1]))
    return frame, key


def write_black_box(folder: Path, n: int = 400, box: int = 1) -> tuple[Path, np.ndarray]:
    """A black box's two files, as the Zenodo record names them, with :func:`black_box_events`."""
    from oneclass.data.lhco_files import box_files

    features, key_file = box_files(box)
    frame, key = black_box_events(n)
    frame.to_hdf(folder / features, key="df")
    (folder / key_file).write_text("\n".join(map(str, key)) + "\n")
    return folder / features, key
