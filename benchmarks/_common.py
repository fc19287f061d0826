"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import time
from pathlib import Path


def best_time(fn, repeats: int = 3) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn`` (s): the least disturbed by other jobs."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def write_results(text: str, out: Path) -> None:
    """Print a results table and save it (``benchmarks/results/...``)."""
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
