"""Results tables of the docs, generated from the CSVs under ``docs/results/data/``.

A page holds a table as a marked block::

    <!-- results: lhco_paper.csv -->
    (the table and its caption, written by this script)
    <!-- /results -->

Each CSV has the table's columns (cells as printed) and four columns that say where the numbers come
from: ``machine``, ``load`` (the load average while it ran), ``date`` and ``command``. They become the
caption under the table.

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


def render(path: Path, page_dir: Path = DOCS / "results") -> str:
    """The Markdown table of one CSV and its provenance line (its link relative to ``page_dir``)."""
    fields, rows = read(path)
    columns = [f for f in fields if f not in META]
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(_cell(r[c]) for c in columns) + " |" for r in rows]

    def values(key: str) -> str:
        seen = list(dict.fromkeys(r[key] for r in rows if r[key]))
        return "; ".join(seen) if seen else "not recorded"

    commands = list(dict.fromkeys(r["command"] for r in rows if r["command"]))
    source = "; ".join(f"`{c}`" for c in commands) if commands else "not recorded"
    link = os.path.relpath(path, page_dir).replace(os.sep, "/")
    caption = (f"*Measured on {values('machine')}, load average {values('load')}, {values('date')}; "
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
