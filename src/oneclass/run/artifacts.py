"""What a run leaves in its output folder (and logs to MLflow as artifacts): ``config.yaml``,
``scores.npz``, ``data_info.json``, ``training_rows.npz``, ``roc.png``, ``sic.png`` and the fitted
detector (``model.ckpt``, or ``model.joblib`` for a scikit-learn adapter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from oneclass import plots
from oneclass.data.base import DataBundle
from oneclass.metrics import Evaluation

TRAINING_ROWS = "training_rows.npz"


def write_artifacts(cfg: DictConfig, data: DataBundle, scores: np.ndarray, ev: Evaluation, label: str, out: Path) -> None:
    """A run's files in ``out``: its config, test scores (with labels, row index, per-event arrays),
    data facts, training rows, ROC and SIC figures (titled ``label``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    # index: each test row's position in its source (file row, image number), to trace a score back
    np.savez_compressed(out / "scores.npz", scores=scores, labels=data.y_test, index=data.test_index, **data.test_aux)
    # the data facts (selection, counts, preprocessing statistics) that re-scoring needs (oneclass score)
    (out / "data_info.json").write_text(json.dumps(data.info, indent=1, default=_json_default))
    if data.train_index is not None:  # the training rows, which `oneclass score` leaves out of their file
        np.savez_compressed(out / TRAINING_ROWS, index=data.train_index)
    plots.roc_figure(ev, out / "roc.png", label)
    plots.sic_figure(ev, out / "sic.png", label)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)




def save_detector(detector: Any, trainer: L.Trainer | None, directory: Path) -> Path:
    """Checkpoint a fitted detector: Lightning checkpoint, or a joblib pickle for adapters."""
    if isinstance(detector, L.LightningModule) and trainer is not None:
        path = directory / "model.ckpt"
        trainer.save_checkpoint(path)
        return path
    import joblib

    path = directory / "model.joblib"
    joblib.dump(detector, path)
    return path


def save_member_checkpoint(model: L.LightningModule, path: Path, epoch: int, global_step: int) -> Path:
    """A Lightning checkpoint of one member of a vectorised group (``Model.load_from_checkpoint(path,
    weights_only=True)`` rebuilds it), as a single-seed job's ``model.ckpt``."""
    import lightning

    ckpt = {"epoch": epoch, "global_step": global_step, "pytorch-lightning_version": lightning.__version__,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "hyper_parameters": dict(model.hparams)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path
