"""3D pose files: anipose CSV, mocap3d HDF5 and OpenSim TRC.

Every writer takes a :class:`~mocap3d.poses.Poses3D` (points ``(frames,
keypoints, 3)`` in the calibration's units, NaN where not triangulated) and
writes atomically; every reader returns one. What each format keeps:

========================  =======  =====  ======  =====  ============  ===  ========
format                    points   error  ncams   score  cameras_used  fps  metadata
========================  =======  =====  ======  =====  ============  ===  ========
anipose ``.csv``          yes      yes    yes     yes    no            no   alignment
mocap3d ``.h5``           yes      yes    yes     yes    yes           yes  all (JSON)
OpenSim ``.trc``          yes      no     no      no     no            yes  units
========================  =======  =====  ======  =====  ============  ===  ========

Numbers are written with Python's shortest round-trip representation, so
every format above returns the float64 values it was given exactly.

anipose CSV
    As anipose 1.1.24's ``triangulate`` writes it. Per body part ``{bp}_x,
    {bp}_y, {bp}_z``, ``{bp}_error`` (mean reprojection error over the cameras
    used, px), ``{bp}_ncams`` (cameras used) and ``{bp}_score`` (the
    *smallest* 2D score among them); ``_ncams``, ``_score`` and ``_error`` are
    empty (NaN) where the point was not triangulated, and ``_score`` and
    ``_error`` also where no camera saw a point that a smoother bridged (ncams
    0). Then ``M_00 .. M_22`` (the alignment matrix, identity unless
    ``metadata["alignment_M"]``), ``center_0..2`` and ``fnum`` (frame number,
    0-based, from ``metadata["frame_start"]``). ``center_i`` is anipose's: the
    origin *in the aligned frame*, ``M @ metadata["alignment_center"]``, so
    that anipose maps a row back to the calibration's frame with
    ``(q + center) @ inv(M.T)``. These are also the columns the ``movement``
    package's anipose loader checks. Missing values are empty fields, as
    pandas writes NaN.
mocap3d HDF5
    Datasets ``points`` (F, K, 3), ``error``, ``ncams``, ``score`` (F, K),
    ``cameras_used`` (F, K, V); attributes ``keypoints``, ``views``, ``fps``
    (NaN when unknown), ``units``, ``metadata`` (JSON), ``format``; an optional
    group ``calibration`` with the rig's arrays (``names``, ``sizes``, ``K``,
    ``dist``, ``rvec``, ``tvec``, ``fisheye``) so that a result records the
    calibration it was computed with. The last axis of ``cameras_used`` and
    the calibration's arrays are positional: they follow ``views`` / ``names``
    (the calibration file's numeric ``cam_N`` order), which with 11 or more
    cameras is not aniposelib's string order (``cam_10`` before ``cam_2``);
    match cameras by these names, never by position.
OpenSim TRC
    See :mod:`mocap3d.io.trc` (``NaN`` for missing values, units from the
    data, declared axes, time from 0).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..camera import CameraRig
from ..errors import PoseFileError
from ..poses import Poses3D
from ._text import number_rows_chunks
from ._text import parse_table as _parse_table
from .atomic import atomic_path
from .trc import load_trc, save_trc

__all__ = [
    "save_poses3d",
    "load_poses3d",
    "save_anipose_csv",
    "load_anipose_csv",
    "save_h5",
    "load_h5",
    "load_h5_calibration",
    "save_trc",
    "load_trc",
]

log = logging.getLogger(__name__)

_H5_FORMAT = "mocap3d.poses3d"
_WRITER_OPTIONS = {"calibration", "units", "fps", "yup", "axes", "individual"}


def save_poses3d(poses: Poses3D, path: str | Path, **kw) -> Path:
    """Write ``poses`` in the format given by the suffix (see :mod:`mocap3d.io.registry`).

    Keyword arguments go to the format's writer (:func:`save_h5`'s
    ``calibration``, ``units``; :func:`~mocap3d.io.trc.save_trc`'s ``fps``,
    ``units``, ``axes``/``yup``...). Those a format cannot store are dropped
    (an anipose CSV has no place for ``fps`` or ``units``), so one call serves
    every output suffix; any other keyword is an error.
    """
    unknown = set(kw) - _WRITER_OPTIONS
    if unknown:
        raise TypeError(f"save_poses3d() got unexpected keyword arguments {sorted(unknown)}")
    from .registry import save_poses3d as _save

    return _save(poses, path, **kw)


def load_poses3d(path: str | Path, **kw) -> Poses3D:
    """Read a 3D pose file of any registered format (anipose CSV, mocap3d HDF5, TRC, C3D, netCDF, NWB)."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f"{path}: no such file.")
    from .registry import load_poses3d as _load

    return _load(path, **kw)


def sniff_h5(path: Path) -> bool:
    """Whether ``path`` is a mocap3d 3D result (HDF5 with ``format = "mocap3d.poses3d"``)."""
    try:
        h5py = _h5py()
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == _H5_FORMAT
    except OSError:
        return False


def sniff_anipose_csv(path: Path) -> bool:
    """Whether ``path``'s header has anipose's ``<bodypart>_x`` columns (not DeepLabCut's ``scorer`` rows)."""
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return "_x," in header and not header.startswith("scorer")


# --------------------------------------------------------------------------- shared text helpers


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: cannot read this file as text ({exc}).") from exc


# --------------------------------------------------------------------------- anipose CSV

_ANIPOSE_SUFFIXES = ("_x", "_y", "_z", "_error", "_ncams", "_score")
_ANIPOSE_EXTRA = [f"M_{i}{j}" for i in range(3) for j in range(3)] + [f"center_{i}" for i in range(3)] + ["fnum"]


def save_anipose_csv(poses: Poses3D, path: str | Path) -> Path:
    """Write anipose's 3D CSV (see module docstring); ``cameras_used`` and ``fps`` are not kept."""
    f = poses.points.shape[0]
    alignment = np.asarray(poses.metadata.get("alignment_M", np.eye(3)), dtype=np.float64)
    center = np.asarray(poses.metadata.get("alignment_center", np.zeros(3)), dtype=np.float64)
    if alignment.shape != (3, 3) or center.shape != (3,):
        raise PoseFileError("metadata 'alignment_M' must be 3x3 and 'alignment_center' 3 values.")
    if abs(np.linalg.det(alignment)) < 1e-12:
        raise PoseFileError("metadata 'alignment_M' is singular; it must map the calibration frame one to one.")
    # anipose's center_i: the origin in the aligned frame (see the module docstring)
    center = alignment @ center
    made = np.isfinite(poses.points).all(-1)
    seen = made & (np.asarray(poses.ncams) > 0)
    ncams = np.where(made, np.asarray(poses.ncams, dtype=np.float64), np.nan)
    error = np.where(seen, np.asarray(poses.error, dtype=np.float64), np.nan)
    score = np.where(seen, np.asarray(poses.score, dtype=np.float64), np.nan)
    header: list[str] = []
    columns: list[np.ndarray] = []
    for j, bp in enumerate(poses.keypoints):
        header += [bp + s for s in _ANIPOSE_SUFFIXES]
        columns += [poses.points[:, j, 0], poses.points[:, j, 1], poses.points[:, j, 2]]
        columns += [error[:, j], ncams[:, j], score[:, j]]
    header += _ANIPOSE_EXTRA
    columns += [np.full(f, v) for v in alignment.ravel()] + [np.full(f, v) for v in center]
    columns.append(np.arange(f, dtype=np.int64) + int(poses.metadata.get("frame_start", 0)))
    if any("," in name for name in poses.keypoints):
        raise PoseFileError(f"keypoint names must not contain commas for a CSV file: {list(poses.keypoints)}.")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write((",".join(header) + "\n").encode("utf-8"))
        for chunk in number_rows_chunks(columns, ","):  # a few MB at a time: no 50 MB text in memory
            fh.write(chunk)
    return Path(path)


def load_anipose_csv(path: str | Path) -> Poses3D:
    """Read an anipose 3D CSV (anipose's own or ours).

    Body parts are the names with ``_x``, ``_y`` and ``_z`` columns, in
    column order; missing ``_error``/``_ncams``/``_score`` columns give NaN,
    0 and 1 (where a point exists), and empty ``_ncams``/``_score`` fields 0
    (:class:`~mocap3d.poses.Poses3D`'s meaning of "not triangulated"). A
    non-identity alignment (``M_ij``) or non-zero ``center_i`` is returned in
    ``metadata`` as ``alignment_M`` and ``alignment_center`` (the origin in the
    calibration's frame, ``inv(M) @ center``); the points are returned as
    stored (anipose stores them already aligned).
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    if not lines:
        raise PoseFileError(f"{path}: empty file; expected anipose's 3D CSV.")
    header = lines[0].split(",")
    col = {name: i for i, name in enumerate(header)}
    keypoints = [c[:-2] for c in header if c.endswith("_x") and c[:-2] + "_y" in col and c[:-2] + "_z" in col]
    if not keypoints:
        raise PoseFileError(
            f"{path}: no '<bodypart>_x, _y, _z' columns; not an anipose 3D CSV (header starts {lines[0][:80]!r})."
        )
    values = _parse_table(path, lines[1:], len(header), ",")
    n = values.shape[0]

    def take(suffix: str, default: float) -> np.ndarray:
        have = [i for i, bp in enumerate(keypoints) if bp + suffix in col]
        out = np.full((n, len(keypoints)), default)
        out[:, have] = values[:, [col[keypoints[i] + suffix] for i in have]]
        return out

    points = np.stack([take("_x", np.nan), take("_y", np.nan), take("_z", np.nan)], axis=-1)
    valid = np.isfinite(points).all(-1)
    error = take("_error", np.nan)
    ncams = np.nan_to_num(take("_ncams", 0.0)).astype(np.int64)
    score = np.nan_to_num(np.where(valid, take("_score", 1.0), take("_score", 0.0)))
    metadata: dict[str, Any] = {}
    m = np.eye(3)
    if all(c in col for c in _ANIPOSE_EXTRA[:9]) and n:
        m = values[0, [col[c] for c in _ANIPOSE_EXTRA[:9]]].reshape(3, 3)
        if not np.array_equal(m, np.eye(3)):
            metadata["alignment_M"] = m.tolist()
    if all(c in col for c in _ANIPOSE_EXTRA[9:12]) and n:
        c0 = values[0, [col[c] for c in _ANIPOSE_EXTRA[9:12]]]
        if np.any(c0 != 0):
            if not abs(np.linalg.det(m)) > 1e-12:
                raise PoseFileError(f"{path}: the alignment matrix M_00..M_22 is singular; the file is damaged.")
            metadata["alignment_center"] = np.linalg.solve(m, c0).tolist()
    if "fnum" in col and n and values[0, col["fnum"]] != 0:
        metadata["frame_start"] = int(values[0, col["fnum"]])
    return Poses3D(keypoints=tuple(keypoints), points=points, error=error, ncams=ncams, score=score, metadata=metadata)


# --------------------------------------------------------------------------- HDF5


def _h5py():
    import h5py  # local: importing mocap3d.io should stay light

    return h5py


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in metadata")


def save_h5(poses: Poses3D, path: str | Path, calibration: CameraRig | None = None, units: str | None = None) -> Path:
    """Write the arrays, parameters and (optionally) the calibration used to an HDF5 file.

    Parameters
    ----------
    calibration : the rig the points were triangulated with; stored in group ``calibration``.
    units : length unit to store (default ``poses.units``; ``""`` in the file when unknown). The points are
        converted when ``poses.units`` is known and differs; when it is unknown, ``units`` labels them.

    Metadata must be JSON-serialisable (numpy arrays and scalars, paths and
    tuples are converted to lists, numbers and strings).
    """
    h5py = _h5py()
    str_dt = h5py.string_dtype()
    if units is not None:
        poses = poses.with_units(units) if poses.units is not None else poses.replace(units=units)
    try:
        meta_json = json.dumps(poses.metadata, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise PoseFileError(
            f"cannot store the metadata in HDF5 ({exc}); use numbers, strings, lists and dicts."
        ) from exc
    # No chunk cache: each chunk is written when its dataset is, not when the dataset object happens to be
    # garbage-collected, so the file's layout (hence its bytes) depends only on its content.
    with atomic_path(path) as tmp, h5py.File(tmp, "w", rdcc_nbytes=0) as f:
        opts = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
        f.create_dataset("points", data=poses.points, **opts)
        f.create_dataset("error", data=poses.error, **opts)
        f.create_dataset("ncams", data=poses.ncams, **opts)
        f.create_dataset("score", data=poses.score, **opts)
        f.create_dataset("cameras_used", data=poses.cameras_used, **opts)
        f.attrs["format"] = _H5_FORMAT
        f.attrs["version"] = 1
        f.attrs.create("keypoints", np.array(poses.keypoints, dtype=object), dtype=str_dt)
        f.attrs.create("views", np.array(poses.views, dtype=object), dtype=str_dt)
        f.attrs["fps"] = np.nan if poses.fps is None else float(poses.fps)
        f.attrs["units"] = poses.units or ""
        f.attrs["metadata"] = meta_json
        if calibration is not None:
            g = f.create_group("calibration")
            g.create_dataset("names", data=np.array(calibration.names, dtype=object), dtype=str_dt)
            for name in ("sizes", "K", "dist", "rvec", "tvec", "fisheye"):
                g.create_dataset(name, data=np.asarray(getattr(calibration, name)))
    return Path(path)


def _open_h5(path: Path):
    h5py = _h5py()
    if not path.is_file():
        raise PoseFileError(f"{path}: no such file.")
    if not h5py.is_hdf5(path):
        raise PoseFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?).")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PoseFileError(f"{path}: cannot open this HDF5 file ({first}); it is probably truncated.") from exc
    if f.attrs.get("format") != _H5_FORMAT:
        f.close()
        raise PoseFileError(f"{path}: not a mocap3d 3D pose file (no format='{_H5_FORMAT}' attribute).")
    return f


def load_h5(path: str | Path) -> Poses3D:
    """Read a file written by :func:`save_h5`. ``metadata["units"]`` carries the units attribute when set."""
    path = Path(path)
    f = _open_h5(path)
    try:
        with f:
            arrays = {name: f[name][()] for name in ("points", "error", "ncams", "score", "cameras_used")}
            keypoints = tuple(str(k) for k in f.attrs["keypoints"])
            views = tuple(str(v) for v in f.attrs["views"])
            fps = float(f.attrs["fps"])
            units = str(f.attrs.get("units", ""))
            metadata = json.loads(f.attrs.get("metadata", "{}"))
    except PoseFileError:
        raise
    except Exception as exc:
        raise PoseFileError(f"{path}: damaged mocap3d HDF5 file ({type(exc).__name__}: {exc}).") from exc
    if units:
        metadata["units"] = units
    try:
        return Poses3D(
            keypoints=keypoints,
            views=views,
            fps=None if np.isnan(fps) else fps,
            metadata=metadata,
            **arrays,
        )
    except ValueError as exc:
        raise PoseFileError(f"{path}: inconsistent arrays ({exc}).") from exc


def load_h5_calibration(path: str | Path) -> CameraRig | None:
    """The calibration stored with a mocap3d HDF5 result, or None when none was stored."""
    path = Path(path)
    f = _open_h5(path)
    with f:
        if "calibration" not in f:
            return None
        g = f["calibration"]
        fields = {name: g[name][()] for name in ("sizes", "K", "dist", "rvec", "tvec", "fisheye")}
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in g["names"][()])
    return CameraRig(names=names, **fields)


# TRC: see mocap3d.io.trc (save_trc and load_trc are re-exported here).
