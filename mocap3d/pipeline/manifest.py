"""What a stage did, so that a re-run can tell finished work from work to redo.

After a stage has written its outputs (each atomically), it writes
``<session>/.mocap3d/<stage>.json`` (atomically too) with its parameters, a
fingerprint of every input and output (size, modification time, SHA-256) and
its summary. A stage is *complete* when that record exists, its parameters are
the current ones, every input is unchanged and every output is still there
unchanged. Anything else (no record: killed before it finished; a changed
parameter; an edited input; a deleted or edited output) makes the stage run
again. Size and modification time are compared first; the hash is only
computed when they differ, so checking a finished project is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import MocapError
from ..io.atomic import atomic_write_text, pid_alive, sweep_partial

__all__ = ["fingerprint", "is_complete", "write_record", "read_record", "remove_partial", "record_path",
           "session_lock", "shared_lock", "remove_stale_lock"]

log = logging.getLogger(__name__)


def _files(path: Path) -> list[Path]:
    """The files of ``path``: itself, or those of a folder (OpenPose JSON folders), sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    for f in _files(path):
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _stat(path: Path) -> tuple[int, int]:
    files = _files(path)
    return sum(f.stat().st_size for f in files), max((f.stat().st_mtime_ns for f in files), default=0)


def fingerprint(path: Path) -> dict[str, Any]:
    """``{"size", "mtime_ns", "sha256"}`` of a file or folder (folders: totals over their files)."""
    size, mtime = _stat(path)
    return {"size": size, "mtime_ns": mtime, "sha256": _sha256(path)}


def _unchanged(path: Path, recorded: Mapping[str, Any]) -> bool:
    if not path.exists():
        return False
    size, mtime = _stat(path)
    if size != recorded.get("size"):
        return False
    if mtime == recorded.get("mtime_ns"):
        return True
    return _sha256(path) == recorded.get("sha256")  # touched but maybe identical (copied, restored)


def record_path(manifests: Path, stage: str) -> Path:
    return manifests / f"{stage}.json"


def read_record(manifests: Path, stage: str) -> dict[str, Any] | None:
    path = record_path(manifests, stage)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def is_complete(
    manifests: Path, stage: str, base: Path, inputs: Sequence[Path], outputs: Sequence[Path], params: Mapping
) -> tuple[bool, str]:
    """Whether ``stage`` finished with these inputs and parameters and its outputs are intact; and why not."""
    record = read_record(manifests, stage)
    if record is None:
        return False, "not run yet"
    if record.get("params") != json.loads(json.dumps(params, sort_keys=True)):
        return False, "parameters changed"
    want_in = {_rel(p, base) for p in inputs}
    if set(record.get("inputs", {})) != want_in:
        return False, "inputs changed"
    for p in inputs:
        if not _unchanged(p, record["inputs"][_rel(p, base)]):
            return False, f"input {_rel(p, base)} changed"
    if set(record.get("outputs", {})) != {_rel(p, base) for p in outputs}:
        return False, "outputs changed"
    for p in outputs:
        if not _unchanged(p, record["outputs"][_rel(p, base)]):
            return False, f"output {_rel(p, base)} missing or changed"
    return True, "complete"


def write_record(
    manifests: Path, stage: str, base: Path, inputs: Iterable[Path], outputs: Iterable[Path], params: Mapping,
    summary: Sequence[str], started: float,
) -> Path:  # fmt: skip
    """Record a finished stage (after its outputs are all written)."""
    from .. import __version__

    record = {
        "stage": stage,
        "params": json.loads(json.dumps(params, sort_keys=True)),
        "inputs": {_rel(p, base): fingerprint(p) for p in inputs},
        "outputs": {_rel(p, base): fingerprint(p) for p in outputs},
        "summary": list(summary),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 3),
        "pid": os.getpid(),
        "mocap3d": __version__,
    }
    return atomic_write_text(record_path(manifests, stage), json.dumps(record, indent=1, sort_keys=True))


def remove_partial(outputs: Iterable[Path]) -> list[Path]:
    """Delete temporary files that an atomic write of one of ``outputs`` left behind when killed.

    :func:`mocap3d.io.atomic.atomic_path` writes ``<dir>/.<name>.<pid>-<random><suffix>``
    and removes it itself on an exception, but not when the process is killed
    (SIGKILL, power loss); see :func:`mocap3d.io.atomic.sweep_partial`.
    """
    return sweep_partial(outputs)


_pid_alive = pid_alive


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc); None where unknown."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _lock_holder(path: Path) -> dict | None:
    """The lock's holder; ``{}`` when the file is empty or unreadable; None when there is no lock."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


#: A lock file without a holder older than this is stale. Locks are created complete (:func:`_create_lock`),
#: so an empty one comes from a file system without hard links, where a process creating its lock leaves it
#: empty for an instant, or from a killed process there or of an older mocap3d.
EMPTY_LOCK_SECONDS = 2.0


def _holder_gone(holder: dict | None, path: Path) -> bool:
    """Whether a lock's holder was a process of this host that no longer exists.

    Also stale: an empty or unreadable lock file (a process killed between creating
    and writing it) a few seconds old, and a lock whose pid now belongs to another
    process (pid reused after a reboot or a kill: its start time differs).
    """
    if holder is None:
        return False
    if not holder:
        try:
            return time.time() - path.stat().st_mtime > EMPTY_LOCK_SECONDS
        except OSError:
            return False
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    if not _pid_alive(pid):
        return True
    started = holder.get("start")
    return isinstance(started, int) and _start_time(pid) not in (None, started)


def remove_stale_lock(manifests: Path, name: str) -> bool:
    """Delete ``<manifests>/lock`` if its holder is a process of this host that is gone; whether it did.

    A run killed between a session's last record and the release of its lock
    leaves the lock of a finished session behind; runs that find the session
    complete call this, so that nothing of the killed run is left.
    """
    path = manifests / "lock"
    holder = _lock_holder(path)
    if not _holder_gone(holder, path):
        return False
    log.info("session %s: removed the lock left by process %s, which is gone", name, (holder or {}).get("pid", "?"))
    path.unlink(missing_ok=True)
    return True


def _create_lock(path: Path, holder: dict) -> None:
    """Create ``path`` holding ``holder``, or raise FileExistsError; the file never exists empty.

    The holder is written to a temporary file first and hard-linked to the lock's
    name (atomic, fails if the lock exists), so that a process killed at any
    moment leaves either no lock or a complete one. File systems without hard
    links fall back to an exclusive create, then a write.
    """
    sweep_partial([path])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(holder, fh)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some network or FUSE file systems)
            fd2 = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd2, "w") as fh:
                json.dump(holder, fh)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def session_lock(manifests: Path, name: str, lock: str = "lock") -> Iterator[None]:
    """Hold ``<manifests>/lock`` while a session runs, so that two runs never work on one session at once.

    A lock left by a process of this host that no longer exists (killed) is taken
    over; a live holder, or one on another host, makes this raise a
    :class:`~mocap3d.errors.MocapError` that names it.
    """
    manifests.mkdir(parents=True, exist_ok=True)
    path = manifests / lock
    me = {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_time(os.getpid())}
    for _ in range(3):
        try:
            _create_lock(path, me)
        except FileExistsError:
            holder = _lock_holder(path)
            if holder is None:  # released meanwhile: try again
                continue
            if _holder_gone(holder, path):
                log.info("session %s: taking over the lock of process %s, which is gone", name,
                         (holder or {}).get("pid", "?"))  # fmt: skip
                path.unlink(missing_ok=True)
                continue
            holder = holder or {}
            raise MocapError(
                f"session {name} is being processed by process {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}; wait for it, or delete {path} if no run is active."
            ) from None
        break
    else:
        raise MocapError(f"session {name}: another run keeps taking its lock {path}; run one `mocap3d run` at a time.")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def shared_lock(folder: Path, what: str, stage: str, poll_s: float = 1.0) -> Iterator[None]:
    """Hold ``<folder>/<stage>.lock``, waiting while another live process holds it (see :func:`session_lock`).

    For work that several sessions need and one makes (the project's network):
    the sessions that come second wait for it instead of failing. Its own file,
    not ``lock``: the folder may be a session's, whose lock this process holds.
    """
    waited = 0.0
    while True:
        lock = session_lock(folder, what, lock=f"{stage}.lock")
        try:
            lock.__enter__()
        except MocapError as exc:
            if waited % 30 < poll_s:
                log.info("%s: waiting (%s)", what, exc)
            time.sleep(poll_s)
            waited += poll_s
            continue
        break
    try:
        yield
    finally:
        lock.__exit__(None, None, None)
