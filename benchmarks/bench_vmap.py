"""Micro timing: one training step (forward, loss, backward, Adam) of N seed members of a dense net,
the stacked layers of :mod:`oneclass.vectorised` against ``torch.func`` (``stack_module_state`` +
``functional_call`` + ``vmap``), each member on its own batch, same sizes.

    python benchmarks/bench_vmap.py                       # OCDN's 5 -> 3 x 128 -> 1, 10 members, batch 256
    python benchmarks/bench_vmap.py --net paper_fc --members 10 --batch 50

Prints ms per step (median of --repeats timings of --steps steps) and the ratio. The members'
losses of both paths are checked equal before timing. One torch thread unless --threads.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from oneclass import nets, vectorised

NETS = {
    "ocdn": lambda: nets.MLP((5,), hidden=[128, 128, 128], rep_dim=1),
    "paper_fc": lambda: nets.SVDDMLP((5,), hidden=[512, 512], rep_dim=128, activation="relu", bias=True,
                                     bn_affine=True, bn_eps=1e-5, dropout=0.0),
}


def stacked_step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> torch.Tensor:
    loss = net(x).pow(2).mean(dim=(1, 2))  # one loss per member
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    opt.step()
    return loss.detach()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", choices=sorted(NETS), default="ocdn")
    p.add_argument("--members", type=int, default=10)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    members = []
    for s in range(args.members):
        torch.manual_seed(s)
        members.append(NETS[args.net]())
    x = torch.randn(args.members, args.batch, 5, generator=torch.Generator().manual_seed(0))

    stacked = vectorised.stack_modules(members, "net")
    opt_s = torch.optim.Adam(stacked.parameters(), lr=1e-3)

    params, buffers = stack_module_state([copy.deepcopy(m) for m in members])
    base = copy.deepcopy(members[0]).to("meta")
    opt_f = torch.optim.Adam(params.values(), lr=1e-3)

    def one(p, b, xb):
        return functional_call(base, (p, b), (xb,)).pow(2).mean()

    batched = vmap(one, in_dims=(0, 0, 0), randomness="different")

    def func_step() -> torch.Tensor:
        loss = batched(params, buffers, x)
        opt_f.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt_f.step()
        return loss.detach()

    first_s, first_f = stacked_step(stacked, opt_s, x), func_step()
    same = torch.allclose(first_s, first_f, rtol=1e-5, atol=1e-7)

    def timed(step) -> float:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            times.append((time.perf_counter() - t0) / args.steps * 1e3)
        return statistics.median(times)

    t_stacked = timed(lambda: stacked_step(stacked, opt_s, x))
    t_func = timed(func_step)
    load = os.getloadavg()[0]
    print(f"{args.net}, {args.members} members, batch {args.batch}, {args.threads} thread(s), load {load:.1f}: "
          f"first-step losses equal: {same}")
    print(f"stacked layers: {t_stacked:.3f} ms/step; torch.func vmap: {t_func:.3f} ms/step; "
          f"vmap / stacked = {t_func / t_stacked:.2f}")


if __name__ == "__main__":
    main()
