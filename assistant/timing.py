"""Stage timings in milliseconds, the unit every `timings_ms` record uses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


def ms_since(t0: float) -> float:
    """Milliseconds since `t0`, a `time.perf_counter()` reading."""
    return (time.perf_counter() - t0) * 1000


class Stopwatch:
    """Named stage durations of one request, in the order the stages first ran."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage `name` (added up when a stage runs more than once)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + ms_since(t0)

    def rounded(self, total: bool = True) -> dict[str, float]:
        """The stages to 0.1 ms, with ``total`` since the stopwatch was made."""
        ms = dict(self.ms)
        if total:
            ms["total"] = ms_since(self.started)
        return {key: round(value, 1) for key, value in ms.items()}
