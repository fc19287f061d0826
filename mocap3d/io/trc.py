"""OpenSim TRC files (marker trajectories): load and save.

Layout (OpenSim 4.6's ``TRCFileAdapter`` reads every file written here)::

    PathFileType  4  (X/Y/Z)  <file name>  <Y-up|Z-up>
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  OrigDataStartFrame  OrigNumFrames
    <values of those 8 keys>
    Frame#  Time  <marker 1>  ""  ""  <marker 2>  ""  ""  ...
    ""  ""  X1  Y1  Z1  X2  Y2  Z2  ...
    <one tab-separated row per frame>

* **Missing values** are written ``NaN``. OpenSim splits rows on tabs and
  skips empty fields, so a frame whose last marker is empty has "too few
  columns" and the whole file is refused; whitespace-splitting readers
  silently shift later values onto the wrong markers. ``NaN`` avoids both.
  Empty fields (as Pose2Sim writes them) are read as NaN.
* **Units** (``Units``) are those of the data (:attr:`Poses3D.units
  <mocap3d.poses.Poses3D.units>`), converted when another unit is asked for;
  never guessed: points of unknown units need ``units=`` (said once, in a
  sentence). On read, ``Units`` becomes ``Poses3D.units``.
* **Axes.** mocap3d's world is the calibration's (Z up for board- and
  Pose2Sim-calibrated rigs); OpenSim is Y-up. ``axes="Y-up"`` (the default)
  writes TRC (X, Y, Z) = world (Y, Z, X), Pose2Sim's turn; ``axes="Z-up"``
  writes the world as it is. The choice is declared as the fifth field of line
  1 (OpenSim reads only the first four fields there; it refuses extra header
  keys), and a reader honours it, so a Z-up export comes back upright. A file
  without the declaration (Pose2Sim's, OpenSim's) is read as Y-up, the
  convention of OpenSim and of every tool that writes TRC for it; an explicit
  ``axes`` argument always wins.
* **Time base**: frame ``i`` (0-based, ``metadata["frame_start"] + row``) is
  at ``Time = i / DataRate`` seconds, as in netCDF's ``time`` and anipose
  CSV's ``fnum``; ``Frame#`` is TRC's 1-based counter, ``i + 1``.
  ``OrigDataStartFrame`` holds the first ``i``. Files whose ``Time`` starts at
  ``1 / DataRate`` (Pose2Sim's) are read by ``Frame#``; their ``Time`` column
  is not kept.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PoseFileError
from ..poses import Poses3D, normalize_units
from ._text import number_rows, parse_table
from .atomic import atomic_write_text

__all__ = ["save_trc", "load_trc", "AXES", "resolve_axes", "sniff_trc"]

log = logging.getLogger(__name__)

#: TRC axis conventions: the world's vertical axis in the file's columns.
AXES = ("Y-up", "Z-up")
_AXES_TOKEN = re.compile(r"^([YZ])-up$", re.IGNORECASE)


def resolve_axes(axes: str | None = None, yup: bool | None = None) -> str | None:
    """``"Y-up"``/``"Z-up"`` from the ``axes`` name (``"yup"``, ``"Z-up"``, ``"zup"``...) or the older ``yup`` flag."""
    if axes is not None:
        key = str(axes).strip().lower().replace("-", "").replace("_", "")
        if key not in ("yup", "zup"):
            raise PoseFileError(f"unknown TRC axes '{axes}'; use 'Y-up' (OpenSim's) or 'Z-up' (the world's).")
        return "Y-up" if key == "yup" else "Z-up"
    if yup is not None:
        return "Y-up" if yup else "Z-up"
    return None


def sniff_trc(path: Path) -> bool:
    """Whether ``path`` starts like a TRC file."""
    try:
        with open(path, "rb") as f:
            return f.read(12) == b"PathFileType"
    except OSError:
        return False


def _fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def save_trc(
    poses: Poses3D,
    path: str | Path,
    fps: float | None = None,
    units: str | None = None,
    yup: bool | None = None,
    axes: str | None = None,
) -> Path:
    """Write an OpenSim TRC file (see the module docstring), atomically.

    Parameters
    ----------
    poses : points (frames, keypoints, 3) in the world frame; NaN = missing.
    fps : frame rate (default ``poses.fps``; one of them is required).
    units : unit to write (``"mm"``, ``"cm"``, ``"m"``); the points are
        converted from ``poses.units``. Default: ``poses.units``. When
        ``poses.units`` is unknown, ``units`` labels the points as they are
        (the caller knows them); without either, an error.
    axes : ``"Y-up"`` (OpenSim's, default) or ``"Z-up"``; ``yup`` is the older
        boolean spelling. Default: the axes the poses were read with
        (``metadata["trc_axes"]``), else Y-up.

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    fps = poses.fps if fps is None else fps
    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise PoseFileError(
            f"{path}: a TRC file needs the frame rate; pass fps= (or --fps) with the cameras' frame rate."
        )
    target = normalize_units(units, "TRC units") if units is not None else None
    pts = poses.points
    if target is None:
        target = poses.require_units(f"writing the TRC file {path.name}")
    elif poses.units is not None and poses.units != target:
        pts = poses.with_units(target).points
        log.info("TRC %s: converting points from %s to %s", path.name, poses.units, target)
    chosen = resolve_axes(axes, yup) or resolve_axes(poses.metadata.get("trc_axes")) or "Y-up"
    if chosen == "Y-up":
        pts = pts[..., [1, 2, 0]]
    n_frames, n_markers = pts.shape[:2]
    start = int(poses.metadata.get("frame_start", 0))
    bad = [k for k in poses.keypoints if "\t" in k or "\n" in k or not k.strip()]
    if bad:
        raise PoseFileError(f"TRC marker names cannot be empty or contain tabs or newlines: {bad}.")
    if "\t" in path.name:
        raise PoseFileError(f"{path}: a TRC file name cannot contain a tab.")
    rate = _fmt_number(fps)
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}\t{chosen}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        "\t".join([rate, rate, str(n_frames), str(n_markers), target, rate, str(start), str(n_frames)]),
        "Frame#\tTime\t" + "\t\t\t".join(poses.keypoints) + "\t\t",
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(n_markers)),
    ]
    frames = np.arange(start, start + n_frames, dtype=np.int64)
    flat = pts.reshape(n_frames, 3 * n_markers)
    columns = [frames + 1, frames / float(fps)] + [flat[:, i] for i in range(flat.shape[1])]
    text = "\n".join(header) + "\n" + number_rows(columns, "\t", nan="NaN")
    return atomic_write_text(path, text)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: cannot read this file as text ({exc}).") from exc


def _declared_axes(first_line: str) -> str | None:
    for field in first_line.split("\t")[4:]:
        m = _AXES_TOKEN.match(field.strip())
        if m:
            return f"{m.group(1).upper()}-up"
    return None


def load_trc(path: str | Path, yup: bool | None = None, axes: str | None = None) -> Poses3D:
    """Read an OpenSim TRC file (ours, Pose2Sim's, OpenSim's) into the world frame.

    Parameters
    ----------
    axes : ``"Y-up"`` or ``"Z-up"``: the file's convention (``yup`` is the
        older boolean spelling). Default: the one declared in the file, else
        Y-up (OpenSim's). Y-up points are turned back, world (X, Y, Z) = TRC
        (Z, X, Y).

    Returns
    -------
    Poses3D with ``fps`` = ``DataRate``, ``units`` = ``Units`` (None when the
    header says none or an unknown unit), ``metadata["frame_start"]`` =
    ``Frame#`` of the first row - 1 and ``metadata["trc_axes"]`` the axes it
    was read with (so that writing it again keeps them). Empty fields and
    ``NaN`` are NaN.
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise PoseFileError(f"{path}: not a TRC file (it must start with 'PathFileType' and a 5-line header).")
    keys = [k.strip() for k in lines[1].split("\t")]
    vals = [v.strip() for v in lines[2].split("\t")]
    info = dict(zip(keys, vals, strict=False))
    try:
        fps = float(info["DataRate"])
        n_markers_hdr = int(info["NumMarkers"])
    except (KeyError, ValueError) as exc:
        raise PoseFileError(f"{path}: TRC header line 3 lacks a valid DataRate/NumMarkers ({exc}).") from exc
    try:
        units = normalize_units(info.get("Units"), f"{path}: TRC Units")
    except ValueError as exc:
        log.warning("%s; the points' units are unknown", exc)
        units = None
    names = [c.strip() for c in lines[3].split("\t")[2:] if c.strip()]
    if len(names) != n_markers_hdr:
        log.warning(
            "%s: header says %d markers, the names row has %d; using the names", path, n_markers_hdr, len(names)
        )
    values = parse_table(path, lines[5:], 2 + 3 * len(names), "\t")
    try:
        n_frames_hdr = int(info.get("NumFrames") or values.shape[0])
    except ValueError:
        n_frames_hdr = values.shape[0]
    if n_frames_hdr != values.shape[0]:
        raise PoseFileError(
            f"{path}: the header says {n_frames_hdr} frames but {values.shape[0]} data rows follow; the file is "
            "truncated or damaged."
        )
    chosen = resolve_axes(axes, yup) or _declared_axes(lines[0]) or "Y-up"
    pts = values[:, 2:].reshape(-1, len(names), 3)
    if chosen == "Y-up":
        pts = pts[..., [2, 0, 1]]
    first = values[0, 0] if len(values) else np.nan
    if np.isfinite(first):
        start = int(first) - 1
    else:
        start = int(float(info.get("OrigDataStartFrame") or 0))
    metadata: dict[str, Any] = {"frame_start": start, "trc_axes": chosen}
    return Poses3D(keypoints=tuple(names), points=pts, fps=fps, metadata=metadata, units=units)
