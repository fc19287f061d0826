"""Several cores for numpy work on independent pieces (cameras, blocks of points), with threads.

numpy's element-wise loops release the GIL on large arrays, so two threads working
on two halves of a long recording run on two cores. Each piece is computed exactly
as it would be alone (the same calls on the same arrays), so the results do not
depend on the number of threads; small inputs stay on one thread, where starting
threads would cost more than it saves.

``MOCAP3D_THREADS`` caps the threads (``1``: everything on the calling thread);
the default is the cores this process may use, at most :data:`MAX_THREADS`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["threads", "map_threads", "MIN_POINTS", "MAX_THREADS", "BLOCK"]

T = TypeVar("T")
R = TypeVar("R")

# Points (per camera) below which work stays on one thread.
MIN_POINTS = 50_000
MAX_THREADS = 4
# Points per block of the element-wise solvers (lens inversion, DLT, and `--method dlt` from pixels to errors),
# which work on blocks that stay in the CPU's cache. Below ~16k elements a numpy call is so short that two
# threads queue on the GIL instead of running on two cores (8192: no gain from a second thread); 32768 runs 1.4x
# faster on two threads and as fast on one (500k points x 4 cameras, measured on 2 cores).
BLOCK = 32768


def threads() -> int:
    """The number of threads to use: ``MOCAP3D_THREADS``, else this process's cores (at most :data:`MAX_THREADS`)."""
    text = os.environ.get("MOCAP3D_THREADS", "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def map_threads(fn: Callable[[T], R], items: Sequence[T], n_points: int = MIN_POINTS) -> list[R]:
    """``[fn(item) for item in items]``, the items shared out over :func:`threads` threads (in order).

    ``n_points`` is the size of the work (points per camera); below :data:`MIN_POINTS`, or with one
    item or one thread, everything runs on the calling thread. The first exception raised by any
    item is raised here, after every thread has finished.
    """
    n = min(threads(), len(items))
    if n <= 1 or n_points < MIN_POINTS:
        return [fn(item) for item in items]
    out: list = [None] * len(items)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(worker, len(items), n):  # round robin: pieces of similar size
                out[i] = fn(items[i])
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
            errors.append(exc)

    helpers = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(1, n)]
    for t in helpers:
        t.start()
    work(0)
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]
    return out
