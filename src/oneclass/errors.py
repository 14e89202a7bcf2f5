"""User-facing errors.

Anything raised as a :class:`OneClassError` is reported to the user as one line (``error: ...``)
naming the problem and the fix, never as a traceback from inside a library.
"""


class OneClassError(Exception):
    """Base class of the errors that are the user's to fix (config, data, environment)."""


class ConfigError(OneClassError, ValueError):
    """A configuration value is invalid (wrong type, out of range, unknown name)."""


class DataError(OneClassError, ValueError):
    """An input file or dataset is missing, malformed or unusable."""


class TrainingError(OneClassError, RuntimeError):
    """Training or scoring produced unusable numbers (NaN loss, non-finite scores)."""


def first_line(exc: object) -> str:
    """The first non-empty line of an exception's message, else its type name (for one-line errors).
    The one helper for this: modules wrap it rather than copy it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class StoreError(OneClassError, RuntimeError):
    """The tracking store is unreachable, broken or not a store (named in the message with the fix)."""


def interrupted(exc: BaseException, advice: str) -> str:
    """Why a job stopped without failing: Ctrl-C / SIGTERM reach it as KeyboardInterrupt or as the
    SystemExit(code) Lightning turns them into, whose own text is only the exit code."""
    code = f", exit code {exc.code}" if isinstance(exc, SystemExit) else ""
    return f"interrupted ({type(exc).__name__}{code}): Ctrl-C or preemption; {advice}"
