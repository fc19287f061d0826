"""netCDF in the ``movement`` package's poses layout: load and save.

An ``xarray.Dataset`` with dimensions ``(time, space, keypoints,
individuals)``, data variables ``position`` (time, space, keypoints,
individuals) and ``confidence`` (time, keypoints, individuals), ``time`` in
seconds (frame / fps, frames 0-based as everywhere in mocap3d) when the frame
rate is known (frame numbers otherwise) and attributes ``fps``,
``time_unit``, ``source_software``, ``ds_type = "poses"`` and ``units`` (the
points' length unit, when known), as ``movement`` builds poses datasets
(``movement.io.load_poses.from_numpy``) and ``xarray.open_dataset`` reads them
back; movement's kinematics then work on our output. mocap3d's diagnostics
(``reprojection_error``, ``ncams``) ride along as extra variables, which
movement keeps but ignores. Values round-trip exactly (float64).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PoseFileError
from ..poses import DEFAULT_INDIVIDUAL, Poses3D, normalize_units
from .atomic import atomic_path

__all__ = ["save_netcdf", "load_netcdf", "poses_to_movement_dataset", "sniff_netcdf"]

log = logging.getLogger(__name__)


def sniff_netcdf(path: Path) -> bool:
    """Whether ``path`` is an HDF5-based netCDF file holding a ``position`` variable (movement's poses)."""
    try:
        import h5py

        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return "position" in f and "_NCProperties" in f.attrs
    except (OSError, ImportError):
        return False


def _xarray():
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a declared dependency
        raise PoseFileError("netCDF export needs `xarray` and `h5netcdf`: pip install xarray h5netcdf") from None
    return xr


def poses_to_movement_dataset(poses: Poses3D, individual: str = DEFAULT_INDIVIDUAL, units: str | None = None):
    """A ``movement`` poses dataset (``xarray.Dataset``) from :class:`Poses3D`.

    ``position`` is (time, space=3, keypoints, individuals=1); ``confidence`` is
    the triangulation score (NaN where the point is missing, as movement
    expects); ``time`` is frame / fps in seconds when ``poses.fps`` is set
    (frame = ``metadata["frame_start"]`` + row, 0-based), else the frame
    number. ``units`` (default ``poses.units``; the points are converted when
    both are known and differ) is written as the ``units`` attribute of the
    dataset and of ``position``; unknown units are left out, never guessed.
    """
    xr = _xarray()
    if units is not None:
        poses = poses.with_units(units) if poses.units is not None else poses.replace(units=units)
    f, k, _ = poses.points.shape
    valid = np.isfinite(poses.points).all(-1)
    frames = np.arange(f) + int(poses.metadata.get("frame_start", 0))
    time: np.ndarray = frames / float(poses.fps) if poses.fps else frames
    time_unit = "seconds" if poses.fps else "frames"
    dims3 = ("time", "keypoints", "individuals")
    ds = xr.Dataset(
        data_vars={
            "position": (("time", "space", "keypoints", "individuals"), poses.points.transpose(0, 2, 1)[..., None]),
            "confidence": (dims3, np.where(valid, np.asarray(poses.score), np.nan)[..., None]),
            "reprojection_error": (dims3, np.asarray(poses.error)[..., None]),
            "ncams": (dims3, np.asarray(poses.ncams)[..., None]),
        },
        coords={
            "time": time,
            "space": ["x", "y", "z"],
            "keypoints": list(poses.keypoints),
            "individuals": [individual],
        },
        attrs={
            "time_unit": time_unit,
            "source_software": "mocap3d",
            "ds_type": "poses",
            "views": list(poses.views),
            "mocap3d_metadata": json.dumps(poses.metadata, default=str),
        },
    )
    if poses.fps:
        ds.attrs["fps"] = float(poses.fps)
    if poses.units is not None:
        ds.attrs["units"] = poses.units
        ds["position"].attrs["units"] = poses.units
    return ds


def save_netcdf(
    poses: Poses3D, path: str | Path, individual: str = DEFAULT_INDIVIDUAL, units: str | None = None,
    fps: float | None = None,
) -> Path:
    """Write poses as a ``movement`` netCDF file (HDF5-based netCDF4, via h5netcdf), atomically."""
    if fps is not None:
        poses = poses.replace(fps=fps)
    ds = poses_to_movement_dataset(poses, individual=individual, units=units)
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    log.info("wrote %s (%d frames, %d keypoints)", path, poses.points.shape[0], poses.points.shape[1])
    return path


def load_netcdf(path: str | Path, individual: str | int = 0) -> Poses3D:
    """Read a ``movement`` poses netCDF file (ours or movement's own) as :class:`Poses3D`.

    Only 3D datasets can become :class:`Poses3D`; one individual is taken.
    """
    xr = _xarray()
    path = Path(path)
    if not path.exists():
        raise PoseFileError(f"netCDF file '{path}' does not exist.")
    try:
        ds = xr.load_dataset(path)
    except Exception as exc:  # xarray raises many kinds of errors on foreign files
        raise PoseFileError(f"'{path}' is not a readable netCDF file ({exc}).") from None
    if "position" not in ds or set(ds["position"].dims) != {"time", "space", "keypoints", "individuals"}:
        raise PoseFileError(
            f"'{path}' is not a movement poses dataset (needs a `position` variable with dims "
            "time, space, keypoints, individuals)."
        )
    if ds.sizes["space"] != 3:
        raise PoseFileError(f"'{path}' holds {ds.sizes['space']}D poses; only 3D poses can be loaded as Poses3D.")
    names = [str(n) for n in ds["individuals"].values]
    if isinstance(individual, str):
        if individual not in names:
            raise PoseFileError(f"'{path}': individual '{individual}' not found (individuals: {', '.join(names)}).")
        ds = ds.sel(individuals=individual)
    else:
        if not 0 <= individual < len(names):
            raise PoseFileError(f"'{path}': has {len(names)} individuals, asked for #{individual}.")
        ds = ds.isel(individuals=individual)
    pts = ds["position"].transpose("time", "keypoints", "space").values.astype(np.float64)
    valid = np.isfinite(pts).all(-1)
    conf = ds["confidence"].transpose("time", "keypoints").values if "confidence" in ds else np.where(valid, 1.0, 0.0)
    err = ds["reprojection_error"].transpose("time", "keypoints").values if "reprojection_error" in ds else None
    ncams = ds["ncams"].transpose("time", "keypoints").values if "ncams" in ds else None
    meta: dict[str, Any] = {"source": str(path), "format": "netcdf"}
    if "mocap3d_metadata" in ds.attrs:
        meta = {**json.loads(ds.attrs["mocap3d_metadata"]), **meta}
    raw_units = ds.attrs.get("units", ds["position"].attrs.get("units"))
    try:
        meta["units"] = normalize_units(raw_units, f"{path}: units attribute")
    except ValueError as exc:
        log.warning("%s; the points' units are unknown", exc)
        meta.pop("units", None)
    if meta.get("units") is None:
        meta.pop("units", None)
    fps_attr = ds.attrs.get("fps")
    if "time" in ds.coords and ds.sizes["time"] and ds.attrs.get("time_unit") == "seconds" and fps_attr:
        meta["frame_start"] = int(round(float(ds["time"].values[0]) * float(fps_attr)))
    elif "time" in ds.coords and ds.sizes["time"] and ds.attrs.get("time_unit") == "frames":
        meta["frame_start"] = int(ds["time"].values[0])
    if not meta.get("frame_start"):
        meta.pop("frame_start", None)
    views = ds.attrs.get("views", [])
    views = [views] if isinstance(views, str) else list(views)
    fps = ds.attrs.get("fps")
    return Poses3D(
        keypoints=tuple(str(k) for k in ds["keypoints"].values),
        points=pts,
        error=err,
        ncams=ncams,
        score=np.where(np.isfinite(conf), conf, 0.0),
        views=tuple(views),
        fps=float(fps) if fps is not None else None,
        metadata=meta,
    )
