"""Results tables of the docs, generated from the CSVs under ``docs/results/data/``.

A page holds a table as a marked block::

    <!-- results: lhco_paper.csv -->
    (the table and its caption, written by this script)
    <!-- /results -->

A CSV is in one of two layouts, plus four columns that say where the numbers come from:
``machine``, ``load`` (the load average, or how many jobs shared the machine), ``date`` and
``command`` (the caption under the table).

- long (numbers, one row per cell): the row's key columns (e.g. ``set, protocol, split_seeds``),
  ``detector``, then value columns (``mean`` and its ``std``; or ``f1``, ``f1_std``, ``auroc``,
  ``aupr``); the table has one row per key and one column per detector (in order of appearance),
  cells ``mean ± std`` or ``f1 ± f1_std / auroc / aupr``;
- wide: the table's own columns, cells as printed.

    python docs/gen_results.py           # rewrite the blocks of every page from their CSVs
    python docs/gen_results.py --check   # exit 1 (and name the pages) where a page and its CSV disagree
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DATA = DOCS / "results" / "data"
META = ("machine", "load", "date", "command")
BLOCK = re.compile(r"<!-- results: (?P<name>[\w.-]+\.csv) -->\n.*?<!-- /results -->", re.S)


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        fields = list(reader.fieldnames or [])
    missing = [m for m in META if m not in fields]
    if missing:
        raise SystemExit(f"error: {path} lacks the column(s) {', '.join(missing)}")
    return fields, rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _std_of(value: str) -> str:
    return "std" if value == "mean" else f"{value}_std"


def _pivot(fields: list[str], rows: list[dict[str, str]]) -> tuple[list[str], list[list[str]]]:
    """A long CSV as a table: one row per key (the columns before ``detector``), one column per
    detector; a cell joins the value columns after it with " / ", each with `` ± `` its std column
    (``std`` for ``mean``, ``X_std`` for ``X``) where given."""
    at = fields.index("detector")
    keys = fields[:at]
    stds = {_std_of(v) for v in fields[at + 1:]}
    values = [f for f in fields[at + 1:] if f not in META and f not in stds]
    label = keys[0] + (f" ({', '.join(keys[1:])})" if keys[1:] else "")
    header = [label.replace("_", " ")]
    table: dict[tuple[str, ...], dict[str, str]] = {}
    for r in rows:
        if r["detector"] not in header:
            header.append(r["detector"])
        parts = [r[v] + (f" ± {r[_std_of(v)]}" if r.get(_std_of(v)) else "") for v in values if r[v]]
        table.setdefault(tuple(r[k] for k in keys), {})[r["detector"]] = " / ".join(parts)
    body = [[key[0] + (f" ({', '.join(key[1:])})" if key[1:] else ""), *(cells.get(d, "") for d in header[1:])]
            for key, cells in table.items()]
    return header, body


def render(path: Path, page_dir: Path = DOCS / "results") -> str:
    """The Markdown table of one CSV and its provenance line (its link relative to ``page_dir``)."""
    fields, rows = read(path)
    if "detector" in fields[1:]:  # long layout: key columns, then detector, then values
        columns, body = _pivot(fields, rows)
    else:
        columns = [f for f in fields if f not in META]
        body = [[r[c] for c in columns] for r in rows]
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in cells) + " |" for cells in body]

    def values(key: str) -> str:
        seen = list(dict.fromkeys(r[key] for r in rows if r[key]))
        return "; ".join(seen) if seen else "not recorded"

    commands = list(dict.fromkeys(r["command"] for r in rows if r["command"]))
    source = "; ".join(f"`{c}`" for c in commands) if commands else "not recorded"
    link = os.path.relpath(path, page_dir).replace(os.sep, "/")
    caption = (f"*Measured on {values('machine')}, load {values('load')}, {values('date')}; "
               f"from {source} ([data]({link}) → table: `python docs/gen_results.py`).*")
    return "\n".join(lines) + "\n\n" + caption


def update(text: str, page_dir: Path, data: Path = DATA) -> str:
    """``text`` (a page in ``page_dir``) with every results block rewritten from its CSV."""
    def block(m: re.Match) -> str:
        return f"<!-- results: {m['name']} -->\n{render(data / m['name'], page_dir)}\n<!-- /results -->"

    return BLOCK.sub(block, text)


def pages(docs: Path = DOCS) -> list[Path]:
    return sorted(p for p in docs.rglob("*.md") if "<!-- results: " in p.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only compare; exit 1 where a page differs from its CSV")
    args = p.parse_args(argv)
    stale = []
    for page in pages():
        text = page.read_text()
        new = update(text, page.parent)
        if new != text:
            stale.append(page)
            if not args.check:
                page.write_text(new)
    if args.check and stale:
        print("out of date (run python docs/gen_results.py): " + ", ".join(str(p.relative_to(DOCS)) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
