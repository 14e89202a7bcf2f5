"""The KDD Cup 99 nrcan split (split seed 0) as the RecForest probes read it: float64 train / test
features and test labels, composed from the project's configs."""

import numpy as np
from hydra import compose, initialize_config_dir

from oneclass.launch.cli import config_dir
from oneclass.config import build


def load_kdd_nrcan() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["dataset=kdd", "model=recforest", "dataset.protocol=nrcan",
                                                        "dataset.split_seed=0", "seed=0", "logger=none"])
    data = build(cfg.dataset, "dataset").load(0)
    return data.x_train.astype(np.float64), data.x_test.astype(np.float64), data.y_test
