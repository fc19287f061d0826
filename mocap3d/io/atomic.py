"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted run therefore leaves either the previous file or the complete new
one, never a truncated file that a resumed run would take as done.

Temporary files are named ``.<name>.<pid>-<random><suffix>`` beside the target.
They are removed on every error; a process killed outright (SIGKILL, power loss)
cannot remove its own, so the next atomic write of the same target removes those
whose process is gone (:func:`sweep_partial`).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "save_figure", "sweep_partial", "pid_alive"]

log = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a killed one that nobody reaped yet, a zombie, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OverflowError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill()
    return state not in ("Z", "X")


def _temp_owner(name: str, target: str) -> int | None:
    """The pid recorded in a temporary file name of ``target``; None for names without one (older runs)."""
    m = re.match(r"(\d+)-", name[len(target) + 2 :])
    return int(m.group(1)) if m else None


def sweep_partial(targets: Iterable[str | Path], suffix: str | None = None) -> list[Path]:
    """Delete temporary files that an atomic write of one of ``targets`` left behind when its process was killed.

    Only files of exactly the temporary pattern are touched, and only those whose
    process no longer runs (files of a live concurrent writer are left alone).
    Temporary files without a pid (written by older versions) are removed too.
    """
    removed = []
    for target in targets:
        target = Path(target)
        if not target.parent.is_dir():
            continue
        ext = suffix or target.suffix
        for p in target.parent.glob(f".{glob.escape(target.name)}.*{glob.escape(ext)}"):
            owner = _temp_owner(p.name, target.name)
            with contextlib.suppress(OSError):
                # a live writer's file is kept, unless a day old (its pid was reused by another process)
                if owner is not None and pid_alive(owner) and time.time() - p.stat().st_mtime < 86400:
                    continue
                if p.is_file():
                    p.unlink()
                    removed.append(p)
    if removed:
        log.info("removed %d partial file(s) left by an interrupted run: %s", len(removed),
                 ", ".join(p.name for p in removed))  # fmt: skip
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so that writers
    which dispatch on the extension (pandas, OpenCV) behave the same. On error
    the temporary file is removed and ``path`` is untouched. Temporary files of
    the same target left by a killed run are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_partial([path], suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=suffix or path.suffix, dir=path.parent)
    tmp_path = Path(tmp)
    try:
        os.close(fd)
        # mkstemp makes the file private (0600); give it the mode an ordinary open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_figure(fig, path: str | Path, **savefig_kwargs) -> Path:
    """Save a matplotlib figure atomically (``fig.savefig`` keywords pass through) and close it, also on error."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **savefig_kwargs)
    finally:
        plt.close(fig)
    return Path(path)
