"""One MNIST class epoch of Deep SVDD with Ruff's MNIST LeNet: our training path (DeepSVDD.fit with a
Lightning Trainer on the in-memory tensor batches) vs a plain PyTorch loop with the same net, the
same batches (batch 200), the same Adam (lr 1e-4, weight decay 0.5e-6) and the same centre c.

The data are the training images of one MNIST class after Ruff's preprocessing (about 6,000), read
from ``--data`` / ``$ONECLASS_DATA_DIR/mnist``; without the files, 6,000 random images.

    python benchmarks/bench_images.py                        # class 0, 3 epochs per run, 3 rounds
    python benchmarks/bench_images.py --normal-class 1 --rounds 5 --threads 2
    python benchmarks/bench_images.py --device cuda          # images on the GPU (trainer=gpu)

Runs alternate (ours, plain, ours, plain ...) so that a busy machine slows both alike; the table
gives the median and the best epoch time of each, per epoch (epoch start to end; set-up such as
the Trainer and the centre's forward pass excluded) and per fit (everything, divided by epochs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from functools import partial

import lightning.pytorch as L
import numpy as np
import torch

from oneclass.models.deep_svdd import DeepSVDD
from oneclass.nets import MNISTLeNet

warnings.filterwarnings("ignore")

HP = {"lr": 1e-4, "weight_decay": 0.5e-6, "batch_size": 200}


def load(normal_class: int, data: str | None) -> tuple[np.ndarray, str]:
    from oneclass.data.image_sets import MNIST
    from oneclass.errors import DataError

    try:
        bundle = MNIST(normal_class=normal_class, path=data).load(0)
        return bundle.x_train, f"MNIST class {normal_class} ({len(bundle.x_train)} images)"
    except DataError as exc:
        x = np.random.default_rng(0).random((6000, 1, 28, 28), dtype=np.float32)
        return x, f"6000 random images (no MNIST: {exc})"


def model() -> DeepSVDD:
    return DeepSVDD(input_shape=(1, 28, 28), net=partial(MNISTLeNet, rep_dim=32), pretrain=False, **HP)


class EpochTimer(L.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._sync(pl_module)
        self.t = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._sync(pl_module)
        self.times.append(time.perf_counter() - self.t)

    @staticmethod
    def _sync(pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()


def ours(x: np.ndarray, epochs: int, device: str) -> tuple[list[float], float]:
    torch.manual_seed(0)
    m = model()
    timer = EpochTimer()
    trainer = L.Trainer(max_epochs=epochs, accelerator="gpu" if device == "cuda" else "cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[timer])
    t = time.perf_counter()
    m.fit(x, trainer=trainer)
    return timer.times, (time.perf_counter() - t) / epochs


def plain(x: np.ndarray, epochs: int, device: str) -> tuple[list[float], float]:
    torch.manual_seed(0)
    m = model().to(device)
    net = m.net
    t0 = time.perf_counter()
    xt = torch.as_tensor(x, device=device)
    net.eval()
    with torch.no_grad():
        c = net(xt).mean(dim=0)
    small = c.abs() < 0.1
    c[small] = torch.where(c[small] < 0, -0.1, 0.1)
    opt = torch.optim.Adam(net.parameters(), lr=HP["lr"], weight_decay=HP["weight_decay"])
    times = []
    net.train()
    for _ in range(epochs):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for batch in xt[torch.randperm(len(xt), device=device)].split(HP["batch_size"]):
            loss = (net(batch) - c).pow(2).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return times, (time.perf_counter() - t0) / epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--normal-class", type=int, default=0)
    p.add_argument("--data", help="folder with the MNIST IDX files (default $ONECLASS_DATA_DIR/mnist)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run")
    p.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, what = load(a.normal_class, a.data)
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Deep SVDD, MNIST LeNet, {what}, batch {HP['batch_size']}, {a.epochs} epochs x {a.rounds} rounds, "
          f"device {a.device}, torch {torch.__version__}, {a.threads} thread(s), load average {load_avg:.1f}")
    runs = {"plain PyTorch loop": ([], []), "oneclass training path": ([], [])}
    for _ in range(a.rounds):
        for name, fn in (("oneclass training path", ours), ("plain PyTorch loop", plain)):
            epochs, per_fit = fn(x, a.epochs, a.device)
            runs[name][0].extend(epochs)
            runs[name][1].append(per_fit)
    base_med = statistics.median(runs["plain PyTorch loop"][0])
    base_min = min(runs["plain PyTorch loop"][0])
    base_fit = statistics.median(runs["plain PyTorch loop"][1])
    print(f"  {'':26s} {'median s/epoch':>15s} {'best s/epoch':>13s} {'fit s/epoch':>12s}   ratio (median, best, fit)")
    for name, (epochs, fits) in runs.items():
        med, best, fit = statistics.median(epochs), min(epochs), statistics.median(fits)
        print(f"  {name:26s} {med:15.3f} {best:13.3f} {fit:12.3f}   "
              f"{med / base_med:4.2f}x {best / base_min:4.2f}x {fit / base_fit:4.2f}x plain")
    print(f"load average after: {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")


if __name__ == "__main__":
    main()
