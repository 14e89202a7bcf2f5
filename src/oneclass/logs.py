"""What a job's console shows (used by ``conf/hydra/job_logging/oneclass.yaml``)."""

from __future__ import annotations

import logging

OURS = ("oneclass", "__main__")
# loggers whose records never reach the console, warnings included (they stay in the job log file):
# matplotlib's "building the font cache" on a first run is a warning about nothing the user can act on
FILE_ONLY = ("matplotlib.font_manager",)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class ConsoleFilter(logging.Filter):
    """Our records at any level; other libraries' records from WARNING up, except ``FILE_ONLY``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _under(record.name, OURS):
            return True
        return record.levelno >= logging.WARNING and not _under(record.name, FILE_ONLY)
