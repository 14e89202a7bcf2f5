"""Per-epoch training time of the OCDN: our Lightning path vs a plain PyTorch loop vs the naive
Lightning + DataLoader(TensorDataset) path, on the paper's LHCO training size (97,081 events x 5
features) at the paper's batch size 32. All three run the same model, the same batches (same
permutation) and the same optimizer steps.

    python benchmarks/bench_training.py                 # 2 epochs each, batch 32
    python benchmarks/bench_training.py --batch-size 4096 --epochs 3
"""

from __future__ import annotations

import argparse
import time
import warnings

import lightning.pytorch as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from oneclass.models.ocdn import OCDN

warnings.filterwarnings("ignore")


def trainer(epochs: int) -> L.Trainer:
    # the settings of conf/trainer/default.yaml
    return L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)


def ours(x: np.ndarray, bs: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = OCDN(n_features=x.shape[1], batch_size=bs)
    t = time.perf_counter()
    model.fit(x, trainer=trainer(epochs))
    return (time.perf_counter() - t) / epochs


def plain(x: np.ndarray, bs: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = OCDN(n_features=x.shape[1], batch_size=bs)
    opt = model.configure_optimizers()
    xt = torch.as_tensor(x)
    t = time.perf_counter()
    for _ in range(epochs):
        for batch in xt[torch.randperm(len(xt))].split(bs):
            opt.zero_grad()
            loss = model.training_loss(batch)
            loss.backward()
            opt.step()
    return (time.perf_counter() - t) / epochs


class _Naive(OCDN):
    """The textbook Lightning module: automatic optimization, per-step self.log, DataLoader batches."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.automatic_optimization = True

    def training_step(self, batch, batch_idx):
        loss = self.training_loss(batch[0])
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self):
        pass


def naive(x: np.ndarray, bs: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = _Naive(n_features=x.shape[1], batch_size=bs)
    loader = DataLoader(TensorDataset(torch.as_tensor(x)), batch_size=bs, shuffle=True)
    t = time.perf_counter()
    trainer(epochs).fit(model, train_dataloaders=loader)
    return (time.perf_counter() - t) / epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=97_081)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    x = np.random.default_rng(0).normal(size=(a.n, 5)).astype(np.float32)
    print(f"OCDN 3x128, {a.n} events x 5 features, batch {a.batch_size}, {a.epochs} epochs each, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    results = {"plain PyTorch loop": plain(x, a.batch_size, a.epochs),
               "oneclass Lightning path": ours(x, a.batch_size, a.epochs),
               "naive Lightning + DataLoader": naive(x, a.batch_size, a.epochs)}
    base = results["plain PyTorch loop"]
    for name, sec in results.items():
        print(f"  {name:30s} {sec:7.3f} s/epoch   {sec / base:5.2f}x plain")


if __name__ == "__main__":
    main()
