"""Published reference values the report compares against.

``lhco_paper.csv``: test AUC and max SIC (thresholds keeping >= 10 test background events),
mean [min, max] over runs, computed from the OCDN authors' own published test scores on their
LHCO split (Karr, Nachman, Shih). Targets to compare with, never values the code returns.
Columns: model (config name), settings, epochs, nu, runs, auc_mean/min/max, max_sic_mean/min/max.

``ruff2018_deepsvdd.csv``: one-class Deep SVDD test AUC (mean over seeds, as a fraction) per normal
class on MNIST and CIFAR-10 (Ruff et al., ICML 2018, Table 1, as copied into a reimplementation's
README: the issue's targets). Columns: model, settings, dataset, normal_class, class_name, auc_mean.
"""

from __future__ import annotations

import csv
from importlib import resources


def load(name: str = "lhco_paper") -> list[dict[str, object]]:
    """Rows of a committed reference table, numbers as floats (None where empty)."""
    text = resources.files(__package__).joinpath(f"{name}.csv").read_text()
    rows = []
    for row in csv.DictReader(text.splitlines()):
        parsed: dict[str, object] = {}
        for key, value in row.items():
            if key in ("model", "settings", "dataset", "class_name"):
                parsed[key] = value
            else:
                parsed[key] = float(value) if value != "" else None
        rows.append(parsed)
    return rows
