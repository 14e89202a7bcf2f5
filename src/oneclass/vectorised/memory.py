"""Allocations on a CPU while a group trains: every allocation from the heap, none through ``mmap``
(:class:`heap_allocations`; see its docstring for the measurement)."""

from __future__ import annotations

from typing import Any


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4  # glibc's mallopt parameters
_LIBC: Any = None


def _mallopt() -> Any:
    """glibc's ``mallopt`` (None elsewhere: macOS, musl)."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC = libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") and hasattr(libc, "gnu_get_libc_version") else False
        except OSError:
            _LIBC = False
    return _LIBC or None


class heap_allocations:
    """Within it, on glibc: every allocation from the heap, none through ``mmap``.

    glibc serves allocations above 32 MiB by a fresh ``mmap`` and gives each back to the system
    when it is freed, so each one is page-faulted in again, page by page, when written. Stacked
    members' activations pass that size where a single net's do not (MNIST LeNet, 10 members,
    batch 200: 50 MB per layer), and every elementwise layer then ran 3-4x slower per value than
    the single nets' (one thread of 2 shared cores: the stacked LeNet's training step 1.4x faster
    than ten single nets' with mmap, 2.1x without). On leaving, the settings glibc reaches by
    itself once it has freed a large block (mmap above 32 MiB, trim above 64 MiB) are set and the
    unused heap is given back (``malloc_trim``). Does nothing when ``enabled`` is false (a GPU) or
    outside glibc."""

    depth = 0  # nested uses (fit scores the training data) restore once, at the outermost exit

    def __init__(self, enabled: bool = True) -> None:
        self.libc = _mallopt() if enabled else None

    def __enter__(self) -> "heap_allocations":
        if self.libc is not None:
            if heap_allocations.depth == 0:
                self.libc.mallopt(_M_MMAP_MAX, 0)
                self.libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
            heap_allocations.depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.libc is not None:
            heap_allocations.depth -= 1
            if heap_allocations.depth == 0:
                self.libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
                self.libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
                self.libc.mallopt(_M_MMAP_MAX, 65536)
                self.libc.malloc_trim(0)
