"""Biomechanics exports: C3D and netCDF (the ``movement`` package's layout).

TRC and anipose CSV live in :mod:`mocap3d.io.pose3d`; this module adds the two
formats that biomechanics and behaviour-analysis tools read directly.

C3D
    Written and read through ``ezc3d`` (the library OpenSim, Biorbd and
    Visual3D users rely on). C3D stores coordinates as 32-bit floats, so a
    round trip returns ``float32(points)`` exactly (a relative change of at
    most 6e-8: 0.1 µm at 2 m). Missing points are written with residual -1,
    the C3D convention, and read back as NaN. The point residual slot holds
    0 for valid points (C3D residuals are in length units, not pixels).

netCDF (``movement``)
    An ``xarray.Dataset`` with dimensions ``(time, space, keypoints,
    individuals)``, data variables ``position`` (time, space, keypoints,
    individuals) and ``confidence`` (time, keypoints, individuals), ``time``
    in seconds when the frame rate is known (frames otherwise) and attributes
    ``fps``, ``time_unit``, ``source_software``, ``ds_type = "poses"``, as
    ``movement.io.load_dataset``/``xarray.open_dataset`` loads poses; its
    kinematics functions then work on our output. mocap3d's diagnostics
    (``reprojection_error``, ``ncams``) ride along as extra variables, which
    movement keeps but ignores. Values round-trip exactly (float64).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..errors import PoseFileError
from ..poses import DEFAULT_INDIVIDUAL, Poses3D
from .atomic import atomic_path

__all__ = [
    "save_c3d", "load_c3d", "save_netcdf", "load_netcdf", "poses_to_movement_dataset", "load_any_poses3d",
    "save_any_poses3d",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------- C3D
def _ezc3d():
    try:
        import ezc3d
    except ImportError:  # pragma: no cover - ezc3d is a declared dependency
        raise PoseFileError("writing C3D needs the `ezc3d` package: pip install ezc3d") from None
    return ezc3d


def save_c3d(poses: Poses3D, path: str | Path, fps: float | None = None, units: str = "mm") -> Path:
    """Write 3D keypoints to a C3D file (atomically).

    Parameters
    ----------
    poses : Poses3D
        ``points`` (frames, keypoints, 3) in world units; NaN marks missing points.
    path : output ``.c3d`` file.
    fps : frame rate (Hz); defaults to ``poses.fps``. Required by C3D.
    units : the points' length unit written to ``POINT:UNITS`` (``"mm"`` or ``"m"``).

    Returns
    -------
    Path of the written file.
    """
    ezc3d = _ezc3d()
    rate = fps if fps is not None else poses.fps
    if rate is None or not np.isfinite(rate) or rate <= 0:
        raise PoseFileError("C3D needs a frame rate: pass fps (e.g. --fps 60) or set it on the poses.")
    pts = poses.points  # (F, K, 3)
    f, k, _ = pts.shape
    valid = np.isfinite(pts).all(-1)  # (F, K)
    data = np.ones((4, k, f))
    data[:3] = np.where(valid[..., None], pts, 0.0).transpose(2, 1, 0)
    residuals = np.where(valid, 0.0, -1.0).T[None]  # (1, K, F)
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [float(rate)]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = list(poses.keypoints)
    c3d["parameters"]["POINT"]["UNITS"]["value"] = [units]
    c3d["data"]["points"] = data
    c3d["data"]["meta_points"]["residuals"] = residuals
    c3d["data"]["meta_points"]["camera_masks"] = np.zeros((7, k, f), dtype=bool)
    path = Path(path)
    with atomic_path(path) as tmp:
        c3d.write(str(tmp))
    log.info("wrote %s (%d frames, %d points, %g Hz)", path, f, k, rate)
    return path


def load_c3d(path: str | Path) -> Poses3D:
    """Read a C3D file's 3D points as :class:`Poses3D`.

    Points with a negative residual (C3D's "invalid") become NaN. ``metadata``
    records the file and ``POINT:UNITS``.
    """
    ezc3d = _ezc3d()
    path = Path(path)
    if not path.exists():
        raise PoseFileError(f"C3D file '{path}' does not exist.")
    try:
        c3d = ezc3d.c3d(str(path))
    except Exception as exc:  # ezc3d raises plain RuntimeError on bad files
        raise PoseFileError(f"'{path}' is not a readable C3D file ({exc}).") from None
    params = c3d["parameters"]["POINT"]
    labels = [str(s).strip() for s in params["LABELS"]["value"]]
    data = np.asarray(c3d["data"]["points"], dtype=np.float64)  # (4, K, F)
    pts = data[:3].transpose(2, 1, 0).copy()
    residuals = np.asarray(c3d["data"]["meta_points"]["residuals"])[0].T  # (F, K)
    pts[residuals < 0] = np.nan
    rate = float(np.asarray(params["RATE"]["value"]).ravel()[0])
    units = params["UNITS"]["value"][0] if "UNITS" in params else ""
    return Poses3D(
        keypoints=tuple(labels[: pts.shape[1]]),
        points=pts,
        fps=rate,
        metadata={"source": str(path), "format": "c3d", "units": str(units).strip()},
    )


# ---------------------------------------------------------------- netCDF
def _xarray():
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a declared dependency
        raise PoseFileError("netCDF export needs `xarray` and `h5netcdf`: pip install xarray h5netcdf") from None
    return xr


def poses_to_movement_dataset(poses: Poses3D, individual: str = DEFAULT_INDIVIDUAL, units: str = "mm"):
    """A ``movement`` poses dataset (``xarray.Dataset``) from :class:`Poses3D`.

    ``position`` is (time, space=3, keypoints, individuals=1); ``confidence`` is
    the triangulation score (NaN where the point is missing, as movement
    expects); ``time`` is in seconds when ``poses.fps`` is set, else in frames.
    """
    xr = _xarray()
    f, k, _ = poses.points.shape
    valid = np.isfinite(poses.points).all(-1)
    time: np.ndarray = np.arange(f) / float(poses.fps) if poses.fps else np.arange(f)
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
            "units": units,
            "views": list(poses.views),
            "mocap3d_metadata": json.dumps(poses.metadata, default=str),
        },
    )
    if poses.fps:
        ds.attrs["fps"] = float(poses.fps)
    return ds


def save_netcdf(poses: Poses3D, path: str | Path, individual: str = DEFAULT_INDIVIDUAL, units: str = "mm") -> Path:
    """Write poses as a ``movement`` netCDF file (HDF5-based netCDF4, via h5netcdf), atomically."""
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
    meta = {"source": str(path), "format": "netcdf"}
    if "mocap3d_metadata" in ds.attrs:
        meta = {**json.loads(ds.attrs["mocap3d_metadata"]), **meta}
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


# ------------------------------------------------------------- any 3D file
_ALL_3D = ".csv (anipose), .h5 (mocap3d), .trc (OpenSim), .c3d, .nc (movement netCDF)"


def load_any_poses3d(path: str | Path, trc_yup: bool = True) -> Poses3D:
    """Read 3D poses from any format mocap3d writes, chosen by the suffix.

    TRC files are taken as OpenSim's Y-up (as Pose2Sim and mocap3d write
    them) and turned back into the Z-up world, world (X, Y, Z) = TRC (Z, X, Y),
    so that every format loads in the same frame and a TRC written again with
    ``yup=True`` is the same file; ``trc_yup=False`` keeps a TRC's axes.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".c3d":
        return load_c3d(path)
    if suffix in (".nc", ".netcdf"):
        return load_netcdf(path)
    from .pose3d import load_poses3d, load_trc

    if suffix == ".trc":
        return load_trc(path, yup=trc_yup)
    return load_poses3d(path)


def save_any_poses3d(
    poses: Poses3D, path: str | Path, fps: float | None = None, units: str | None = None, yup: bool = True,
    calibration=None,
) -> Path:
    """Write 3D poses in the format given by the suffix (``.trc``, ``.c3d``, ``.nc``, ``.csv``, ``.h5``).

    ``units`` is the points' length unit (default ``poses.metadata["units"]`` or mm);
    ``yup`` applies to TRC (OpenSim's Y-up axes, as Pose2Sim writes them).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    unit = units or str(poses.metadata.get("units") or "mm")
    if suffix == ".c3d":
        return save_c3d(poses, path, fps=fps, units=unit)
    if suffix in (".nc", ".netcdf"):
        if fps is not None:
            poses = Poses3D(keypoints=poses.keypoints, points=poses.points, error=poses.error, ncams=poses.ncams,
                            cameras_used=poses.cameras_used, score=poses.score, views=poses.views, fps=fps,
                            metadata=poses.metadata)
        return save_netcdf(poses, path, units=unit)
    from .pose3d import save_poses3d

    if suffix == ".trc":
        return save_poses3d(poses, path, fps=fps, units=unit, yup=yup)
    if suffix in (".h5", ".hdf5"):
        return save_poses3d(poses, path, calibration=calibration, units=units)
    if suffix == ".csv":
        return save_poses3d(poses, path)
    raise PoseFileError(f"{path}: unknown 3D output format '{suffix}'; use one of {_ALL_3D}.")
