"""``python -m oneclass.report ...``: the same as ``oneclass report ...``."""

import sys

from oneclass.report.cli import entry

sys.exit(entry())
