"""``hydra/sweeper=seed_batch``: the sweep points that differ only in their seed become one job per
``max_batch`` seeds (``vectorised.seeds=[...]``), trained as one vectorised group (the sweeper class
Hydra finds is in ``src/hydra_plugins/oneclass_seed_batch/``)."""

from __future__ import annotations

import re
from typing import Any

from oneclass.errors import ConfigError


def check_max_batch(value: Any) -> int | None:
    """``hydra.sweeper.max_batch``: a positive integer or null (no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"hydra.sweeper.max_batch must be a positive integer or null, got {value!r}")
    return value


def _seed_position(point: list[str]) -> int | None:
    for i, override in enumerate(point):
        if override.split("=", 1)[0] == "seed":
            return i
    return None


def seed_groups(points: list[list[str]], max_batch: int | None,
                unsupported: Any = lambda point: None) -> tuple[list[list[str]], str]:
    """Jobs for ``hydra/sweeper=seed_batch``: sweep points that differ only in their ``seed=s``
    override become one job per ``max_batch`` seeds, with ``vectorised.seeds=[s1,s2,...]`` in the
    seed's place; a group of one seed stays a plain job, and so do the points of a model for which
    ``unsupported(point)`` gives a reason. Returns the jobs (in the order their first point came)
    and a one-line summary (with the reasons)."""
    groups: dict[tuple, list[tuple[int, list[str]]]] = {}
    for n, point in enumerate(points):
        i = _seed_position(point)
        value = point[i].split("=", 1)[1] if i is not None else None
        if i is None or not re.fullmatch(r"[+-]?\d+", value or ""):
            groups[("single", n)] = [(0, point)]
            continue
        key = (i, tuple(point[:i]), tuple(point[i + 1 :]))
        groups.setdefault(key, []).append((int(value), point))
    jobs: list[list[str]] = []
    notes: list[str] = []
    n_groups = 0
    for key, items in groups.items():
        seeds = [s for s, _ in items]
        why = unsupported(items[0][1]) if len(items) > 1 else None
        if len(items) == 1 or len(set(seeds)) != len(seeds) or why:
            if why:
                model = next((o for o in items[0][1] if o.split("=", 1)[0] == "model"), "the configured model")
                notes.append(f"[{model}] runs one job per seed: {why}")
            jobs.extend(point for _, point in items)
            continue
        i = key[0]
        size = max_batch or len(items)
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            point = list(chunk[0][1])
            if len(chunk) > 1:
                point[i] = "vectorised.seeds=[" + ",".join(str(s) for s, _ in chunk) + "]"
                n_groups += 1
            jobs.append(point)
    summary = f"seed_batch: {len(points)} sweep points -> {len(jobs)} jobs ({n_groups} vectorised seed groups)"
    return jobs, "\n".join([summary, *("  " + n for n in notes)])
