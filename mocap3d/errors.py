"""User-facing errors.

Everything raised as :class:`MocapError` is a problem with the user's input or
environment, worded so that the message alone says what is wrong and how to
fix it. The CLI turns these into a one-paragraph message and a non-zero exit
code; anything else escaping to the CLI is a bug in mocap3d.
"""

from __future__ import annotations


class MocapError(Exception):
    """Bad input or configuration, explained for the user."""


class CalibrationError(MocapError):
    """A calibration file or rig with missing or impossible values."""


class PoseFileError(MocapError):
    """A 2D or 3D pose file that cannot be read or does not match the rig."""


class TriangulationError(MocapError):
    """Inputs that cannot be triangulated (e.g. nothing above the score threshold)."""


class FilterError(MocapError):
    """A filter configuration with unknown names or impossible values."""


class LabelFileError(MocapError):
    """A DeepLabCut label file (CollectedData) that cannot be read, written or merged as asked."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether an exception (an OSError, or HDF5's errors that carry the errno in their text) is a full disk."""
    import errno as _errno

    text = str(exc)
    return getattr(exc, "errno", None) in (_errno.ENOSPC, _errno.EDQUOT) or "errno = 28" in text or (
        "No space left" in text)


def describe_os_error(exc: BaseException) -> str:
    """One sentence for an operating-system error (permission, full disk, missing folder...), naming the path.

    HDF5 reports a full disk inside its own message (``errno = 28``); that is
    recognised too, so that a full disk is never reported as an HDF5 problem.
    """
    import errno as _errno

    path = getattr(exc, "filename", None) or ""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if is_disk_full(exc):
        code = _errno.ENOSPC
    where = f" '{path}'" if path else ""
    if getattr(exc, "filename2", None):
        where += f" -> '{exc.filename2}'"  # type: ignore[attr-defined]
    if code == _errno.ENOSPC or code == _errno.EDQUOT:
        return (f"the disk is full (no space left on the device) while writing{where or ' an output'}; free some "
                "space or write to another disk, then run the command again (complete outputs are kept).")
    if code in (_errno.EACCES, _errno.EPERM):
        return (f"permission denied for{where or ' a file'}; choose a folder you can write to (or read, for "
                "an input), or change its permissions.")
    if code == _errno.EROFS:
        return f"{where.strip() or 'the output'} is on a read-only file system; write the outputs somewhere else."
    if code == _errno.ENOENT:
        return f"no such file or folder:{where or ' (unnamed)'}; check the path (its folder must exist)."
    if code == _errno.ENOTDIR:
        return f"a part of the path{where} is a file, not a folder; check the path."
    if code == _errno.EISDIR:
        return f"{where.strip() or 'the path'} is a folder where a file was expected; give a file name."
    if code == _errno.ENAMETOOLONG:
        return f"the file name{where} is too long for this file system; use a shorter one."
    if code == _errno.EMFILE or code == _errno.ENFILE:
        return "too many open files; raise the limit (ulimit -n) or process fewer files at once."
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else type(exc).__name__)
    return f"cannot access{where or ' a file'}: {reason}."


def check_path_text(path, what: str = "file") -> None:
    """Raise :class:`PoseFileError` for a path whose name is not valid UTF-8 (PyTables, which reads
    DeepLabCut's HDF5 tables, cannot open those; h5py can)."""
    import os

    raw = os.fsencode(path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        shown = raw.decode("utf-8", "replace")
        raise PoseFileError(
            f"the {what} name '{shown}' is not valid UTF-8 (it was made on a system with another encoding); "
            "PyTables cannot open it: rename the file (or its folder) with plain characters."
        ) from None


class ProjectError(MocapError):
    """A project folder or config.toml that cannot be run as it is."""
