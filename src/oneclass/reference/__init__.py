"""Published reference values the report compares against.

``lhco_paper.csv``: test AUC and max SIC (thresholds keeping >= 10 test background events),
mean [min, max] over runs, computed from the OCDN authors' own published test scores on their
LHCO split (Karr, Nachman, Shih). Targets to compare with, never values the code returns.
Columns: model (config name), settings, epochs, nu, n_train (the paper's 97,081 training events),
runs, auc_mean/min/max, max_sic_mean/min/max.

``ruff2018_deepsvdd.csv``: one-class Deep SVDD test AUC (mean over seeds, as a fraction) per normal
class on MNIST and CIFAR-10 (Ruff et al., ICML 2018, Table 1, as copied into a reimplementation's
README: the issue's targets). Columns: model, settings, dataset, epochs (150), pretrain_epochs
(autoencoder pretraining: 150 on MNIST, 350 on CIFAR-10), n_train (``all``: every training image of
the normal class), normal_class, class_name, auc_mean.

The schedule and training-size columns (epochs, pretrain_epochs, nu, n_train) are what
``oneclass report`` checks a run's params against before it calls a published value comparable
(:func:`oneclass.report.stats.compare_settings`).
"""

from __future__ import annotations

import csv
from importlib import resources


def load(name: str = "lhco_paper") -> list[dict[str, object]]:
    """Rows of a committed reference table, numbers as floats (None where empty; a word such as
    ``all`` stays a string)."""
    text = resources.files(__package__).joinpath(f"{name}.csv").read_text()
    rows = []
    for row in csv.DictReader(text.splitlines()):
        parsed: dict[str, object] = {}
        for key, value in row.items():
            if key in ("model", "settings", "dataset", "class_name"):
                parsed[key] = value
            else:
                parsed[key] = None if value == "" else _number(value)
        rows.append(parsed)
    return rows


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value
