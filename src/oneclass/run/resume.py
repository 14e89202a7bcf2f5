"""Resuming: config fingerprints, a ``last.ckpt`` per job, and safe checkpoint loading.

A job's checkpoint directory is derived from its resolved config, not from the timestamped Hydra
output folder, so the *same job run again* (a SLURM requeue, or the user re-running the command
after Ctrl-C) finds it: ``<launch dir>/checkpoints/<run name>-<fingerprint>/last.ckpt``, written
atomically at the end of every epoch together with the torch random state (so the resumed run
draws the same batches as an uninterrupted one) and removed when the job finishes.

The fingerprint (``config_fingerprint`` tag on every MLflow run) is a hash of the resolved config
without the keys that cannot change a result (``resume``, ``threads``, ``logger``, ``hpo``); ``resume=true``
skips a job whose fingerprint already has a FINISHED run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import Checkpoint
from omegaconf import DictConfig, OmegaConf

from oneclass.errors import first_line

log = logging.getLogger(__name__)

# `vectorised` (seed groups) changes no single run's result: a group's members share the fingerprint of
# the single-seed job they stand for; the group itself has its own (oneclass.run.seed_group.group_fingerprint)
NOT_IN_FINGERPRINT = ("resume", "threads", "logger", "hpo", "vectorised", "name")
CHECKPOINT_ROOT = "checkpoints"
LAST = "last.ckpt"


def fingerprint(cfg: DictConfig) -> str | None:
    """16 hex digits identifying what a job computes; None when the config does not resolve."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # a broken interpolation: the job fails inside its run, with the message
        return None
    for key in NOT_IN_FINGERPRINT:
        container.pop(key, None)
    text = json.dumps(container, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_dir(launch_dir: Path, run_name: str, fp: str) -> Path:
    return Path(launch_dir) / CHECKPOINT_ROOT / f"{run_name}-{fp}"


class LastCheckpoint(Checkpoint):
    """Writes ``<directory>/last.ckpt`` at the end of every training epoch (atomically).

    A :class:`~lightning.pytorch.callbacks.Checkpoint` so that Lightning runs it after the
    module's ``on_train_epoch_end`` (loss checked, schedulers stepped), like ModelCheckpoint.
    Its state carries the torch random state, restored when training resumes.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.epochs_done = 0

    @property
    def state_key(self) -> str:
        return "oneclass.LastCheckpoint"

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epochs_done = trainer.current_epoch + 1
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / (LAST + ".tmp")
        trainer.save_checkpoint(tmp)
        os.replace(tmp, self.directory / LAST)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"epochs_done": self.epochs_done, "torch_rng": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs_done = int(state_dict.get("epochs_done", 0))
        if "torch_rng" in state_dict:
            torch.set_rng_state(state_dict["torch_rng"].cpu())
        cuda = state_dict.get("cuda_rng")
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


SET_ASIDE = "set_aside"


def set_aside(path: Path, why: str) -> Path:
    """Move an unusable checkpoint to ``<checkpoints>/set_aside/`` (outside the job's folder, which is
    removed when the job finishes) and return its new path."""
    path = Path(path)
    root = path.parent.parent if path.parent.parent.name == CHECKPOINT_ROOT else path.parent
    target_dir = root / SET_ASIDE
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{path.parent.name}-{time.strftime('%Y%m%d-%H%M%S')}-{why}.ckpt"
    os.replace(path, target)
    return target


def _mismatch(found: dict[str, Any], module: torch.nn.Module) -> str | None:
    """The first difference between a checkpoint's state_dict and ``module``'s, else None."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        return f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
    for key, value in expected.items():
        got = found[key]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(value.shape):
            return f"{key}: shape {tuple(getattr(got, 'shape', ()))} in the file, {tuple(value.shape)} in the model"
    return None


def usable_checkpoint(path: Path, module: torch.nn.Module | None = None) -> tuple[Path | None, int]:
    """``(path, epochs done)`` if ``path`` is a readable Lightning checkpoint that fits ``module``,
    else ``(None, 0)``.

    Loaded with ``weights_only=True`` (tensors and plain containers only: a checkpoint cannot run
    code). A corrupt or truncated file, or one written by other code or another network (its
    parameters do not fit ``module``), is reported in one warning, moved to
    ``checkpoints/set_aside/`` (kept after the job ends) and training starts from scratch.
    """
    path = Path(path)
    if not path.is_file():
        return None, 0
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
            raise ValueError("not a Lightning training checkpoint (no state_dict/loops)")
    except Exception as exc:  # truncated zip, garbage bytes, pickled code refused by weights_only
        bad = set_aside(path, "corrupt")
        # torch's own text for this case advises weights_only=False (running the file's pickled code):
        # never pass that advice on for a file that failed the safe load
        why = first_line(exc)[:200]
        if "Weights only load failed" in why:
            why = "not a plain tensor checkpoint: the safe loader (weights_only=True) refused it"
        log.warning("checkpoint %s is unreadable (%s: %s); moved to %s, training starts from scratch",
                    path, type(exc).__name__, why, bad)
        return None, 0
    if module is not None and (why := _mismatch(ckpt["state_dict"], module)):
        bad = set_aside(path, "incompatible")
        log.warning("checkpoint %s does not fit this model (%s; the code or network changed since it was written); "
                    "moved to %s, training starts from scratch", path, why, bad)
        return None, 0
    state = (ckpt.get("callbacks") or {}).get("oneclass.LastCheckpoint") or {}
    done = int(state.get("epochs_done", ckpt.get("epoch", -1) + 1))
    return path, done


def discard(directory: Path | None) -> None:
    """Remove a finished job's resume directory (its final model is in the job's output folder)."""
    if directory is not None and directory.parent.name == CHECKPOINT_ROOT and directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)
