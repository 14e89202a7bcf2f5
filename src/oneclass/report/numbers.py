"""How the report's tables print numbers: one rule per kind of column, so a column never mixes
notations (``313 ± 1e+02`` beside ``5.59e-03 ± 5.7e-03``).

- **Bounded scores** (AUC, AUPR, F1, max SIC: :func:`fixed`): a fixed number of decimals per
  column (the metric's ``digits``), mean and std alike.
- **Quantities spanning decades** (background rejection, JSD: :func:`by_std`): the std rounded to
  two significant digits and the mean to the same decimal place (``310 ± 100``, ``0.0056 ±
  0.0057``); plain decimals, never exponents.
- **One run**: the value alone, no ``± 0.0000`` (the table's runs column says n = 1); a value
  without a std to round it to keeps three significant digits (:func:`significant`).
"""

from __future__ import annotations

import math

PM = " ± "


def fixed(mean: float, std: float, n: int, digits: int) -> str:
    """``mean ± std`` at ``digits`` decimals; the mean alone for one run (n = 1)."""
    if not math.isfinite(mean):
        return "–"
    if n <= 1 or not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f}{PM}{std:.{digits}f}"


def significant(value: float, digits: int = 3) -> str:
    """``value`` at ``digits`` significant digits in plain decimals: 4000 -> ``4000``,
    0.005594 -> ``0.00559``, 12.345 -> ``12.3``."""
    if not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    return _at(value, decimals)


def by_std(mean: float, std: float, n: int, std_digits: int = 2) -> str:
    """``mean ± std`` with the std at ``std_digits`` significant digits and the mean at the same
    decimal place: (313.4, 104.2) -> ``310 ± 100``, (0.005594, 0.005712) -> ``0.0056 ± 0.0057``;
    one run (or a zero / undefined std): the value alone at three significant digits, plus ``± 0``
    when several runs agree exactly."""
    if not math.isfinite(mean):
        return "–"
    if n <= 1 or not math.isfinite(std):
        return significant(mean)
    if std == 0:
        return significant(mean) + PM + "0"
    decimals = std_digits - 1 - math.floor(math.log10(abs(std)))
    # rounding can carry into the next digit (0.0996 -> 0.10): recompute the place from the rounded std
    rounded = round(std, decimals)
    decimals = std_digits - 1 - math.floor(math.log10(abs(rounded)))
    return _at(mean, decimals) + PM + _at(std, decimals)


def _at(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` decimal places (negative: tens, hundreds...), plain decimals."""
    rounded = round(value, decimals) + 0.0  # + 0.0: no "-0.00"
    return f"{rounded:.{max(0, decimals)}f}"
