"""The output policy every command that writes follows (one place, so that no command forgets a rule).

1. An output is never one of the command's inputs (resolved paths, or the same
   file through a link): ``mocap3d triangulate -o p2d/*.h5`` would otherwise
   replace camera 1's 2D file.
2. An existing file of another kind is never replaced, not even with
   ``--overwrite``: a video, a network, a 2D pose file, a calibration are not
   results to be written over by, say, a calibration or a 3D file
   (``mocap3d calibrate --out videos/*.mp4`` gives ``--out`` the first video).
3. An existing output of the same kind is replaced only with ``--overwrite``.
4. Outputs are written atomically (:mod:`mocap3d.io.atomic`); temporary files
   of a killed run are removed by the next write of the same output.

Pipeline stages keep their own outputs up to date through their manifests
(:mod:`mocap3d.pipeline.manifest`) instead of ``--overwrite``; rule 1 holds for
them too (:func:`check_not_inputs`), and their outputs are in their own folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import MocapError

__all__ = ["OutputError", "check_not_inputs", "check_output", "check_output_folder", "file_kind", "KINDS"]


class OutputError(MocapError):
    """An output that would destroy an input or another kind of file, or replace a file without --overwrite."""


VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".webm", ".wmv", ".flv", ".mj2", ".mts"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".pdf", ".svg"}

#: The kinds of files mocap3d tells apart, with how a message names them.
KINDS = {
    "video": "a video",
    "image": "a picture",
    "torch-model": "a trained network (PyTorch)",
    "onnx-model": "an exported network (ONNX)",
    "calibration": "a calibration",
    "settings": "a settings file",
    "pose2d": "a 2D pose file",
    "labels": "a label file",
    "pose3d": "a 3D pose file",
    "table": "a table",
    "other": "a file mocap3d does not write",
}


def _read_head(path: Path, n: int = 4096) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _h5_kind(path: Path) -> str:
    try:
        import h5py

        with h5py.File(path, "r") as f:
            if "points" in f and "keypoints" in f.attrs:
                return "pose3d"
            if "tracks" in f and "node_names" in f:
                return "pose2d"
            if path.name.startswith("CollectedData") or path.name.startswith("machinelabels"):
                return "labels"
            if "df_with_missing" in f or "keypoints" in f or len(f.keys()):
                return "pose2d"  # pandas HDF (DeepLabCut predictions)
    except Exception:  # not HDF5 at all, or unreadable: not a file of ours
        return "other"
    return "other"


def _csv_kind(path: Path) -> str:
    head = _read_head(path).decode("utf-8", "replace")
    first = head.splitlines()[0] if head else ""
    cols = [c.strip() for c in first.split(",")]
    if cols and cols[0] == "scorer":
        return "labels" if path.name.startswith("CollectedData") else "pose2d"
    if any(c.endswith("_x") for c in cols) and any(c.endswith("_z") for c in cols):
        return "pose3d"
    return "table" if head.isprintable() or "\n" in head else "other"


def _toml_kind(path: Path) -> str:
    import toml

    try:
        data = toml.loads(_read_head(path, 1 << 20).decode("utf-8"))
    except Exception:  # noqa: BLE001 - not TOML: not a file of ours
        return "other"
    tables = [v for v in data.values() if isinstance(v, dict)]
    if any("matrix" in t for t in tables) or isinstance(data.get("cameras"), dict):
        return "calibration"
    return "settings"


def file_kind(path: str | Path) -> str:
    """The kind of an existing file (a key of :data:`KINDS`), from its suffix and, where ambiguous, its content."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in (".pt", ".pth", ".ckpt"):
        return "torch-model"
    if suffix == ".onnx":
        return "onnx-model"
    if suffix in (".h5", ".hdf5", ".hdf"):
        return _h5_kind(path)
    if suffix == ".csv":
        return _csv_kind(path)
    if suffix == ".toml":
        return _toml_kind(path)
    if suffix in (".trc", ".c3d", ".nc", ".netcdf"):
        return "pose3d"
    if suffix == ".json":
        return "table"
    return "other"


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_not_inputs(outs: Iterable[str | Path], inputs: Iterable[str | Path], option: str = "--out") -> None:
    """Rule 1 alone: no output is one of the inputs (pipeline stages, whose outputs their manifests manage)."""
    ins = [Path(p) for p in inputs]
    for out in outs:
        out = Path(out)
        for inp in ins:
            if _same(out, inp):
                raise OutputError(
                    f"{option} '{out}' is one of the inputs of this command; mocap3d never writes over its inputs. "
                    f"Give {option} a new file name (did the shell expand a wildcard such as *.h5 into {option}?)."
                )


def check_output(
    out: str | Path, inputs: Iterable[str | Path] = (), *, overwrite: bool = False, kinds: Sequence[str] = (),
    option: str = "--out",
) -> Path:  # fmt: skip
    """Refuse an output that breaks the policy (see the module docstring); return it as a Path.

    ``inputs`` are every file (or folder) the command reads; ``kinds`` the kinds
    (keys of :data:`KINDS`) an existing file may have to be replaced with
    ``overwrite``; ``option`` names the output in the messages (``--out``).
    Raises :class:`OutputError` with a sentence that says what to do instead.
    """
    out = Path(out)
    check_not_inputs([out], inputs, option)
    if out.is_dir():
        raise OutputError(f"{option} '{out}' is a folder; give a file name (e.g. {out / ('result' + '.csv')}).")
    if not out.exists():
        return out
    kind = file_kind(out) if out.stat().st_size else "empty"
    if kinds and kind not in (*kinds, "empty"):  # an empty file holds no data: --overwrite may replace it
        raise OutputError(
            f"{option} '{out}' is {KINDS.get(kind, 'a file')}, not {KINDS[kinds[0]]}; mocap3d does not replace it, "
            "even with --overwrite. Give another file name (did the shell expand a wildcard into "
            f"{option}?)."
        )
    if not overwrite:
        raise OutputError(f"{option} '{out}' exists; pass --overwrite to replace it, or choose another name.")
    return out


def check_output_folder(folder: str | Path, inputs: Iterable[str | Path] = (), option: str = "--out") -> Path:
    """An output folder must not be an existing file nor one of the inputs."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(
            f"{option} '{folder}' is a file ({KINDS.get(file_kind(folder), 'a file')}), not a folder; "
            "give a folder name (did the shell expand a wildcard into it?)."
        )
    for inp in inputs:
        if _same(folder, Path(inp)):
            raise OutputError(f"{option} '{folder}' is one of the inputs of this command; give a new folder.")
    return folder
