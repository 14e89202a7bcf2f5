"""Test-set scores at chosen epochs of ONE training (the paper's Fig. 1 toy study).

``eval.snapshot_epochs: [5, 10, 25, 50]`` makes the pipeline add a :class:`ScoreSnapshots`
callback: after each listed epoch it scores the test set (and, for 1-D data, a grid of x values)
with the model's own ``score`` and, when training ends, writes ``snapshots.npz`` into the job's
output folder (logged to MLflow with the other artifacts). ``oneclass report --toy`` draws the
figure from it; the job also writes ``snapshots.png`` itself.

The callback only reads the model; scoring uses no random numbers, so the training (weights,
batch order) is the same with and without snapshots.

``snapshots.npz`` keys: ``epochs`` (k,), ``scores`` (k, n_test), ``labels`` (n_test,), and for
1-D data ``x`` (n_test,), ``grid`` (g,), ``grid_scores`` (k, g); ``score_name`` says what the
scores are (``logit`` for the OCDN, whose paper score is sigmoid(logit)).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np

from oneclass.errors import ConfigError

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "snapshots.npz"


def snapshot_epochs(value: Any, max_epochs: int | None = None) -> list[int]:
    """Validated, sorted, de-duplicated list of positive epoch numbers (1 = after the first epoch)."""
    epochs = list(value or [])
    for e in epochs:
        if isinstance(e, bool) or not isinstance(e, int) or e < 1:
            raise ConfigError(f"eval.snapshot_epochs must be a list of epoch numbers >= 1, got {epochs!r}")
    if max_epochs is not None and max_epochs > 0 and epochs and max(epochs) > max_epochs:
        raise ConfigError(
            f"eval.snapshot_epochs asks for epoch {max(epochs)} but trainer.max_epochs={max_epochs}; "
            f"raise trainer.max_epochs or drop that epoch"
        )
    return sorted(set(epochs))


class ScoreSnapshots(L.Callback):
    """Scores ``x_test`` (and an x grid for 1-D data) after each epoch in ``epochs``.

    Parameters
    ----------
    epochs : epoch numbers counted from 1 (after the 5th epoch = 5).
    x_test, y_test : the test set (labels are stored beside the scores for ROC curves).
    path : where ``snapshots.npz`` is written at the end of training (None: keep in memory only).
    grid_points : size of the x grid for 1-D data.
    """

    def __init__(self, epochs: Sequence[int], x_test: np.ndarray, y_test: np.ndarray,
                 path: str | Path | None = None, grid_points: int = 400, title: str = "") -> None:
        self.title = title
        self.epochs = snapshot_epochs(epochs)
        self.x_test = np.asarray(x_test, dtype=np.float32)
        self.y_test = np.asarray(y_test)
        self.path = Path(path) if path is not None else None
        self.grid = None
        if self.x_test.ndim == 2 and self.x_test.shape[1] == 1:
            lo, hi = np.percentile(self.x_test[:, 0], [0.05, 99.95])
            pad = 0.05 * (hi - lo)
            self.grid = np.linspace(lo - pad, hi + pad, grid_points).astype(np.float32)
        self.saved_epochs: list[int] = []
        self.scores: list[np.ndarray] = []
        self.grid_scores: list[np.ndarray] = []
        self.score_name = "score"

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch not in self.epochs or epoch in self.saved_epochs:
            return
        self.saved_epochs.append(epoch)
        self.scores.append(np.asarray(pl_module.score(self.x_test), dtype=np.float64))
        if self.grid is not None:
            self.grid_scores.append(np.asarray(pl_module.score(self.grid[:, None]), dtype=np.float64))
        self.score_name = getattr(pl_module, "score_name", "score")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        missing = sorted(set(self.epochs) - set(self.saved_epochs))
        if missing:
            log.warning("training stopped before snapshot epochs %s", missing)
        if self.path is not None and self.saved_epochs:
            self.save(self.path)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "epochs": np.asarray(self.saved_epochs, dtype=np.int64),
            "scores": np.stack(self.scores) if self.scores else np.zeros((0, len(self.y_test))),
            "labels": self.y_test,
            "score_name": np.asarray(self.score_name),
        }
        if self.grid is not None:
            out.update(x=self.x_test[:, 0], grid=self.grid,
                       grid_scores=np.stack(self.grid_scores) if self.grid_scores else np.zeros((0, len(self.grid))))
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **self.arrays())
        try:  # the job's own copy of the figure; the report redraws it from the .npz
            from oneclass import plots

            plots.snapshot_figure([(self.title or path.parent.name, load(path))], path.with_suffix(".png"))
        except Exception as exc:  # a figure must never fail a finished training
            log.warning("could not draw %s: %s", path.with_suffix(".png"), exc)
        return path


def load(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a ``snapshots.npz`` file."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def snapshot_callbacks(epochs: Sequence[int], dataset: Any, x_test: np.ndarray, y_test: np.ndarray,
                       output_dir: str | Path) -> list[L.Callback]:
    """The engine's hook: a :class:`ScoreSnapshots` when ``epochs`` (the run spec's checked
    ``eval.snapshot_epochs``) is not empty; ``dataset`` (its config) titles the figure."""
    if not epochs:
        return []
    data = dataset
    title = str(data.get("name", "data"))
    if "signal_mean" in data and "background_mean" in data:
        title += f": signal mean {data.signal_mean}, background mean {data.background_mean}"
    return [ScoreSnapshots(epochs, x_test, y_test, Path(output_dir) / SNAPSHOT_FILE, title=title)]
